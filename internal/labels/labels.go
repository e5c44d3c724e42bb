// Package labels bounds metric label values: each value cleaned and cut to
// a length, and each metric's label sets capped, beyond which samples go to
// one overflow series and are counted. Every package that makes metrics
// from what senders write uses it, so that no flood can blind an alert.
package labels

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace prefixes every metric of the exporter.
const Namespace = "vsphere_audit"

// Overflow is the value every label takes in a metric's overflow series.
const Overflow = "__overflow__"

// DefaultMaxLabelLen bounds one label value, in bytes.
const DefaultMaxLabelLen = 128

// Limiter bounds the number of label sets of one metric family (or of a
// group of families that share labels, such as a counter and its last-seen
// gauge). Beyond the cap, new label sets go to a single overflow series
// and every such sample is counted.
type Limiter struct {
	name     string
	max      int
	maxLen   int
	mu       sync.Mutex
	seen     map[string]struct{}
	overflow prometheus.Counter
	ovVals   []string
	budget   *Budget // shared with the process's other bounded metrics; nil: none
}

// NewLimiter returns the limiter of the metric (or group) called name with
// nLabels labels; overflow counts the samples beyond max, by name.
func NewLimiter(name string, nLabels, max, maxLen int, overflow *prometheus.CounterVec) *Limiter {
	l := &Limiter{name: name, max: max, maxLen: maxLen, seen: map[string]struct{}{}, overflow: overflow.WithLabelValues(name)}
	l.ovVals = make([]string, nLabels)
	for i := range l.ovVals {
		l.ovVals[i] = Overflow
	}
	return l
}

// Admit cleans vals in place and returns the label values to use: vals, or
// the overflow series' values.
func (l *Limiter) Admit(vals []string) []string {
	n := 0
	for i, v := range vals {
		v = Clean(v, l.maxLen)
		vals[i] = v
		n += len(v) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for _, v := range vals {
		b.WriteString(v)
		b.WriteByte(0xff)
	}
	k := b.String()
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[k]; ok {
		return vals
	}
	if len(l.seen) >= l.max || !l.budget.Take(1, false) {
		l.overflow.Inc()
		return l.ovVals
	}
	l.seen[k] = struct{}{}
	return vals
}

// Clean makes v a bounded, valid UTF-8 label value without control bytes
// (below 0x20, and 0x7f), which are stripped.
func Clean(v string, maxLen int) string {
	if len(v) <= maxLen && printableASCII(v) {
		return v // the common case: nothing to clean or cut
	}
	return clean(v, maxLen)
}

// clean is Clean without its fast path for printable ASCII.
func clean(v string, maxLen int) string {
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	if strings.IndexFunc(v, isControl) >= 0 {
		v = strings.Map(func(r rune) rune {
			if isControl(r) {
				return -1
			}
			return r
		}, v)
	}
	if len(v) > maxLen {
		cut := maxLen
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut]
	}
	return v
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// printableASCII reports whether every byte of v is ASCII and no control
// byte: valid UTF-8 that Clean leaves as it is.
func printableASCII(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// Bounds are the caps every limited metric of one process shares, and the
// counter of the samples that overflowed them.
type Bounds struct {
	MaxSeries   int
	MaxLabelLen int
	Overflow    *prometheus.CounterVec
	// Budget, when set, is the process's series budget the limiters draw
	// from (as series that do not page) beside their own cap.
	Budget *Budget
}

// NewLimiter returns a limiter with b's caps.
func (b Bounds) NewLimiter(name string, nLabels int) *Limiter {
	l := NewLimiter(name, nLabels, b.MaxSeries, b.MaxLabelLen, b.Overflow)
	l.budget = b.Budget
	return l
}

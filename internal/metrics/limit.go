package metrics

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Overflow is the value every label takes in a metric's overflow series.
const Overflow = "__overflow__"

// DefaultMaxLabelLen bounds one label value, in bytes.
const DefaultMaxLabelLen = 128

// limiter bounds the number of label sets of one metric family (or of a
// group of families that share labels, such as a counter and its last-seen
// gauge). Beyond the cap, new label sets go to a single overflow series
// and every such sample is counted.
type limiter struct {
	name     string
	max      int
	maxLen   int
	mu       sync.Mutex
	seen     map[string]struct{}
	overflow prometheus.Counter
	ovVals   []string
}

func newLimiter(name string, nLabels, max, maxLen int, overflow *prometheus.CounterVec) *limiter {
	l := &limiter{name: name, max: max, maxLen: maxLen, seen: map[string]struct{}{}, overflow: overflow.WithLabelValues(name)}
	l.ovVals = make([]string, nLabels)
	for i := range l.ovVals {
		l.ovVals[i] = Overflow
	}
	return l
}

// admit cleans vals in place and returns the label values to use.
func (l *limiter) admit(vals []string) []string {
	n := 0
	for i, v := range vals {
		v = cleanLabel(v, l.maxLen)
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
	if len(l.seen) >= l.max {
		l.overflow.Inc()
		return l.ovVals
	}
	l.seen[k] = struct{}{}
	return vals
}

// cleanLabel makes v a bounded, valid UTF-8 label value.
func cleanLabel(v string, maxLen int) string {
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
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

package metrics

import (
	"sort"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/labels"
)

// The audit metrics are kept here rather than in client_golang vectors:
// each label set is one series struct whose label pairs are built once, so
// that counting an event is a map lookup and a scrape copies numbers into
// ready label sets (no Collect channel, no per-sample hashing and sorting
// of label pairs). A family's series are sorted only when one was added or
// dropped since the last scrape.

// maxOverflowSeries bounds the overflow series of one family: one per
// combination of the values its overflow keeps (bounded vocabularies: a
// kind, an action), then one with every label overflowed.
const maxOverflowSeries = 64

// kind of a family's samples.
type famKind int

const (
	// counterFamily is a counter (name_total) with, when seenName is set,
	// a gauge of the newest event time over the same labels.
	counterFamily famKind = iota
	// stateFamily is a gauge of a state (1 or 0) with the event time of
	// the change that set it: the newest by event time wins.
	stateFamily
)

// pageRule marks the label sets of a family that page: label has one of
// values, or any non-empty value when values is empty.
type pageRule struct {
	label  string
	values []string
}

// spec is one audit metric's table entry.
type spec struct {
	kind     famKind
	name     string // exported name of the main metric (counter: with _total)
	help     string
	seenName string // the second metric: last-seen (counter) or state timestamp (state); "" for none
	seenHelp string
	labels   []string // in the order Record passes values
	// keep are the labels whose values the overflow series keeps, so that
	// an alert that selects on them (direct="true", action="remove_all")
	// still matches after the family or the budget is full. Only labels
	// of bounded vocabularies belong here.
	keep []string
	// page: label sets that drive a paging alert. They may use the
	// budget's reserve, and their overflow is counted apart.
	page    []pageRule
	pageAll bool
}

type series struct {
	pairs []*dto.LabelPair // sorted by label name, built once
	key   string
	value float64 // counter: the count; state: 1 or 0
	ts    float64 // counter: newest event time; state: the event time of value
	has   bool    // ts set
	seen  int64   // wall time of the last observation (UnixNano), for the TTL
	ov    bool    // an overflow series (not charged to the budget, never expires)
}

type family struct {
	spec
	cost   int   // series per label set charged to the budget
	order  []int // label indexes by label name
	keepIx []bool
	max    int
	maxLen int
	budget *labels.Budget
	names  []*string // label names, shared by every label pair

	overflow       func() // counts a sample sent to an overflow series
	pagingOverflow func() // counts a paging sample sent to an overflow series

	mu     sync.Mutex
	buf    []byte
	ovBuf  []string // the overflow series' values, built in get (f.mu held)
	series map[string]*series
	ovs    map[string]*series
	sorted []*series
	dirty  bool
}

func newFamily(sp spec, o Options, budget *labels.Budget) *family {
	f := &family{spec: sp, cost: 1, max: o.MaxSeries, maxLen: o.MaxLabelLen, budget: budget,
		series: map[string]*series{}, ovs: map[string]*series{}, keepIx: make([]bool, len(sp.labels))}
	if sp.seenName != "" {
		f.cost = 2
	}
	idx := map[string]int{}
	for i, l := range sp.labels {
		if _, dup := idx[l]; dup {
			panic("metrics: " + sp.name + ": label " + l + " twice")
		}
		idx[l] = i
		f.order = append(f.order, i)
	}
	sort.Slice(f.order, func(a, b int) bool { return sp.labels[f.order[a]] < sp.labels[f.order[b]] })
	f.names = make([]*string, len(sp.labels))
	for i, l := range sp.labels {
		f.names[i] = proto.String(l)
	}
	for _, k := range sp.keep {
		i, ok := idx[k]
		if !ok {
			panic("metrics: " + sp.name + ": overflow keeps unknown label " + k)
		}
		f.keepIx[i] = true
	}
	for _, r := range sp.page {
		if _, ok := idx[r.label]; !ok {
			panic("metrics: " + sp.name + ": paging rule on unknown label " + r.label)
		}
	}
	return f
}

// pages reports whether the label set vals drives a paging alert.
func (f *family) pages(vals []string) bool {
	if f.pageAll {
		return true
	}
	for _, r := range f.page {
		v := vals[f.index(r.label)]
		if len(r.values) == 0 {
			if v != "" {
				return true
			}
			continue
		}
		for _, want := range r.values {
			if v == want {
				return true
			}
		}
	}
	return false
}

func (f *family) index(label string) int {
	for i, l := range f.labels {
		if l == label {
			return i
		}
	}
	return -1
}

func (f *family) paging() bool { return f.pageAll || len(f.page) > 0 }

// key writes the map key of vals into f.buf (f.mu held).
func (f *family) key(vals []string) {
	f.buf = f.buf[:0]
	for _, v := range vals {
		f.buf = append(f.buf, v...)
		f.buf = append(f.buf, 0xff)
	}
}

// get returns the series of vals (cleaned in place), a new one, or an
// overflow series. f.mu held.
func (f *family) get(vals []string, now int64) *series {
	for i, v := range vals {
		vals[i] = labels.Clean(v, f.maxLen) // no allocation for a clean value
	}
	f.key(vals)
	if s := f.series[string(f.buf)]; s != nil {
		s.seen = now
		return s
	}
	paging := f.pages(vals)
	if len(f.series) < f.max && f.budget.Take(f.cost, paging) {
		s := f.newSeries(string(f.buf), vals)
		s.seen = now
		f.series[s.key] = s
		f.sorted = append(f.sorted, s)
		f.dirty = true
		return s
	}
	f.overflow()
	if paging {
		f.pagingOverflow()
	}
	ov := append(f.ovBuf[:0], vals...)
	f.ovBuf = ov
	for i := range ov {
		if !f.keepIx[i] {
			ov[i] = labels.Overflow
		}
	}
	f.key(ov)
	if s := f.ovs[string(f.buf)]; s != nil {
		return s
	}
	if len(f.ovs) >= maxOverflowSeries-1 {
		for i := range ov {
			ov[i] = labels.Overflow
		}
		f.key(ov)
		if s := f.ovs[string(f.buf)]; s != nil {
			return s
		}
	}
	s := f.newSeries(string(f.buf), ov) // its values are cut from the key: ov is free to reuse
	s.ov = true
	f.ovs[s.key] = s
	f.sorted = append(f.sorted, s)
	f.dirty = true
	return s
}

// newSeries returns the series of vals, whose map key (f.key) is key. Its
// label values are substrings of key (the values in order, each followed
// by 0xff): they share its memory instead of a copy each.
func (f *family) newSeries(key string, vals []string) *series {
	n := len(vals)
	s := &series{key: key, pairs: make([]*dto.LabelPair, n)}
	values := make([]string, n)
	off := 0
	for i, v := range vals {
		values[i] = key[off : off+len(v)]
		off += len(v) + 1
	}
	lps := make([]dto.LabelPair, n)
	for j, i := range f.order {
		lps[j].Name, lps[j].Value = f.names[i], &values[i]
		s.pairs[j] = &lps[j]
	}
	return s
}

// observe counts one event of time ts (a counter family); now is the wall
// time of the observation (UnixNano), for the TTL.
func (f *family) observe(ts float64, now int64, vals ...string) {
	f.mu.Lock()
	s := f.get(vals, now)
	s.value++
	// Last seen means the newest event, even when events arrive out of order.
	if !s.has || ts > s.ts {
		s.ts, s.has = ts, true
	}
	f.mu.Unlock()
}

// set records state v stamped ts (a state family) unless a newer state is
// held: a late "enabled" stamped 10:30 does not undo a "disabled" stamped
// 11:00 (syslog over UDP, relays and the vCenter replay deliver out of
// order). At equal times the later arrival wins. now is as for observe.
func (f *family) set(ts, v float64, now int64, vals ...string) {
	f.mu.Lock()
	s := f.get(vals, now)
	if !s.has || ts >= s.ts {
		s.value, s.ts, s.has = v, ts, true
	}
	f.mu.Unlock()
}

// expire drops the label sets not observed since cutoff and returns how
// many it dropped.
func (f *family) expire(cutoff int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, s := range f.series {
		if s.seen < cutoff {
			delete(f.series, k)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	kept := f.sorted[:0]
	for _, s := range f.sorted {
		if s.ov || s.seen >= cutoff {
			kept = append(kept, s)
		}
	}
	for i := len(kept); i < len(f.sorted); i++ {
		f.sorted[i] = nil
	}
	f.sorted = kept
	f.budget.Release(n * f.cost)
	return n
}

// sortLocked sorts the series by their label values when one was added or
// dropped since the last scrape. f.mu held.
func (f *family) sortLocked() {
	if !f.dirty {
		return
	}
	sort.Slice(f.sorted, func(a, b int) bool {
		pa, pb := f.sorted[a].pairs, f.sorted[b].pairs
		for i := range pa {
			if va, vb := *pa[i].Value, *pb[i].Value; va != vb {
				return va < vb
			}
		}
		return false
	})
	f.dirty = false
}

// gather appends the family's metric families to out.
func (f *family) gather(out []*dto.MetricFamily) []*dto.MetricFamily {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sorted) == 0 {
		return out
	}
	f.sortLocked()
	n := len(f.sorted)
	main := &dto.MetricFamily{Name: proto.String(f.name), Help: proto.String(f.help), Metric: make([]*dto.Metric, n)}
	ms := make([]dto.Metric, n)
	vs := make([]float64, n)
	var second *dto.MetricFamily
	var ms2 []dto.Metric
	var gs2 []dto.Gauge
	var ts []float64
	if f.seenName != "" {
		second = &dto.MetricFamily{Name: proto.String(f.seenName), Help: proto.String(f.seenHelp),
			Type: dto.MetricType_GAUGE.Enum(), Metric: make([]*dto.Metric, 0, n)}
		ms2 = make([]dto.Metric, n)
		gs2 = make([]dto.Gauge, n)
		ts = make([]float64, n)
	}
	if f.kind == counterFamily {
		main.Type = dto.MetricType_COUNTER.Enum()
		cs := make([]dto.Counter, n)
		for i, s := range f.sorted {
			vs[i] = s.value
			cs[i].Value = &vs[i]
			ms[i].Label, ms[i].Counter = s.pairs, &cs[i]
			main.Metric[i] = &ms[i]
		}
	} else {
		main.Type = dto.MetricType_GAUGE.Enum()
		gs := make([]dto.Gauge, n)
		for i, s := range f.sorted {
			vs[i] = s.value
			gs[i].Value = &vs[i]
			ms[i].Label, ms[i].Gauge = s.pairs, &gs[i]
			main.Metric[i] = &ms[i]
		}
	}
	out = append(out, main)
	if second != nil {
		for i, s := range f.sorted {
			if !s.has {
				continue
			}
			ts[i] = s.ts
			gs2[i].Value = &ts[i]
			ms2[i].Label, ms2[i].Gauge = s.pairs, &gs2[i]
			second.Metric = append(second.Metric, &ms2[i])
		}
		if len(second.Metric) > 0 {
			out = append(out, second)
		}
	}
	return out
}

// lookup returns the value and time of a label set (for tests).
func (f *family) lookup(vals ...string) (value, ts float64, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, v := range vals {
		vals[i] = labels.Clean(v, f.maxLen)
	}
	f.key(vals)
	s := f.series[string(f.buf)]
	if s == nil {
		s = f.ovs[string(f.buf)]
	}
	if s == nil {
		return 0, 0, false
	}
	return s.value, s.ts, true
}

// Package reassembly joins messages that a sender split: ESXi's multi-line
// messages ("-->" continuation lines, the "+" line marker) and vCenter's
// split events ("Event [id] [1-3] ..." ... "[3-3]"). Memory is bounded: a
// limited number of messages wait, each up to a size limit, and a timeout
// releases what is incomplete.
package reassembly

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
)

// Options configure an Assembler.
type Options struct {
	// Hold reports whether a complete-looking record may still be followed
	// by continuation lines that its classification needs. Only such
	// records wait; others pass straight through.
	Hold func(*logline.Record) bool
	// MaxBytes caps one reassembled message (default 64 KiB).
	MaxBytes int
	// MaxPending caps the number of messages waiting (default 4096).
	MaxPending int
	// Timeout releases a waiting message (default 2s).
	Timeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnTimeout is called once for every message released by the timeout
	// or by eviction while incomplete.
	OnTimeout func()
}

type key struct {
	host, program string
}

type partKey struct {
	host, id string
}

type pending struct {
	seq   uint64 // arrival order: what waits is released in it
	rec   logline.Record
	sb    strings.Builder
	added time.Time
	full  bool
}

type parts struct {
	seq      uint64
	rec      logline.Record
	sb       strings.Builder
	next     int // the part number expected next
	total    int
	added    time.Time
	full     bool
	complete bool
}

// Assembler reassembles records. It is safe for concurrent use.
type Assembler struct {
	opts    Options
	emit    func(*logline.Record)
	mu      sync.Mutex
	lines   map[key]*pending
	parts   map[partKey]*parts
	waiting atomic.Int64
	lastKey key    // the most recently held multi-line message
	seq     uint64 // the last arrival number given
}

// released is a record leaving the assembler, with its arrival number.
type released struct {
	seq uint64
	rec *logline.Record
}

// inOrder returns the records of out by arrival, so that what is released
// together (at a timeout, at the end of input) comes out in the same order
// on every run, whatever the maps' iteration order.
func inOrder(out []released) []*logline.Record {
	slices.SortFunc(out, func(a, b released) int { return cmp.Compare(a.seq, b.seq) })
	recs := make([]*logline.Record, len(out))
	for i := range out {
		recs[i] = out[i].rec
	}
	return recs
}

// New returns an Assembler that hands complete records to emit.
func New(o Options, emit func(*logline.Record)) *Assembler {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 10
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 4096
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Hold == nil {
		o.Hold = func(*logline.Record) bool { return false }
	}
	return &Assembler{opts: o, emit: emit, lines: map[key]*pending{}, parts: map[partKey]*parts{}}
}

// Pending returns the number of messages waiting.
func (a *Assembler) Pending() int { return int(a.waiting.Load()) }

// Add takes one record. Complete records are emitted before Add returns,
// possibly together with an earlier record that rec completes.
func (a *Assembler) Add(rec *logline.Record) {
	part, total, id, rest, isPart := splitPart(rec)
	if !rec.Continuation && !isPart && a.waiting.Load() == 0 {
		if !a.opts.Hold(rec) {
			a.emit(rec)
			return
		}
	}
	var out []*logline.Record
	a.mu.Lock()
	k := key{rec.Host, rec.Program}
	switch {
	case rec.Continuation:
		if rec.Host == "" && rec.Program == "" {
			// A bare "--> ..." line of a log file (ESXi 6/7 hostd.log) names
			// no program: it continues the message held last.
			k = a.lastKey
		}
		if p := a.lines[k]; p != nil {
			if !p.full {
				if p.sb.Len()+1+len(rec.Body) > a.opts.MaxBytes {
					p.full = true
				} else {
					p.sb.WriteByte('\n')
					p.sb.WriteString(rec.Body)
				}
			}
			p.added = a.opts.Now()
		}
		// A continuation with nothing waiting belongs to a message that
		// needed none: it is dropped, never classified on its own.
		a.mu.Unlock()
		return
	case isPart:
		if p := a.lines[k]; p != nil {
			out = append(out, a.releaseLine(k, p))
		}
		pk := partKey{rec.Host, id}
		ps := a.parts[pk]
		if part == 1 {
			if ps != nil { // a restarted event: release what we had
				out = append(out, a.releasePart(pk, ps, true))
			}
			if len(a.parts)+len(a.lines) >= a.opts.MaxPending {
				out = append(out, a.evictOldest()...)
			}
			a.seq++
			ps = &parts{seq: a.seq, rec: *rec, next: 2, total: total, added: a.opts.Now()}
			ps.sb.WriteString(rec.Body)
			a.parts[pk] = ps
			a.waiting.Add(1)
		} else if ps != nil && part == ps.next {
			if !ps.full && ps.sb.Len()+len(rest) > a.opts.MaxBytes {
				ps.full = true
			}
			if !ps.full {
				ps.sb.WriteString(rest)
			}
			ps.next++
			ps.added = a.opts.Now()
		}
		// else: a part whose first part we never saw, or out of order: dropped.
		if ps != nil && ps.next > ps.total {
			ps.complete = true
			out = append(out, a.releasePart(pk, ps, false))
		}
	default:
		if p := a.lines[k]; p != nil {
			out = append(out, a.releaseLine(k, p))
		}
		if a.opts.Hold(rec) {
			if len(a.parts)+len(a.lines) >= a.opts.MaxPending {
				out = append(out, a.evictOldest()...)
			}
			a.seq++
			p := &pending{seq: a.seq, rec: *rec, added: a.opts.Now()}
			p.sb.WriteString(rec.Body)
			a.lines[k] = p
			a.lastKey = k
			a.waiting.Add(1)
		} else {
			r := *rec
			out = append(out, &r)
		}
	}
	a.mu.Unlock()
	for _, r := range out {
		a.emit(r)
	}
}

// releaseLine removes a waiting multi-line message; the caller holds mu.
func (a *Assembler) releaseLine(k key, p *pending) *logline.Record {
	delete(a.lines, k)
	a.waiting.Add(-1)
	p.rec.Body = p.sb.String()
	return &p.rec
}

func (a *Assembler) releasePart(k partKey, ps *parts, incomplete bool) *logline.Record {
	delete(a.parts, k)
	a.waiting.Add(-1)
	if incomplete && a.opts.OnTimeout != nil {
		a.opts.OnTimeout()
	}
	ps.rec.Body = ps.sb.String()
	return &ps.rec
}

// evictOldest releases the oldest waiting message; the caller holds mu.
func (a *Assembler) evictOldest() []*logline.Record {
	var oldest uint64
	var lk *key
	var pk *partKey
	for k, p := range a.lines {
		if lk == nil && pk == nil || p.seq < oldest {
			k := k
			lk, pk, oldest = &k, nil, p.seq
		}
	}
	for k, p := range a.parts {
		if lk == nil && pk == nil || p.seq < oldest {
			k := k
			lk, pk, oldest = nil, &k, p.seq
		}
	}
	switch {
	case lk != nil:
		return []*logline.Record{a.releaseLine(*lk, a.lines[*lk])}
	case pk != nil:
		return []*logline.Record{a.releasePart(*pk, a.parts[*pk], true)}
	}
	return nil
}

// Expire releases messages that waited longer than the timeout. A split
// vCenter event released this way is counted by OnTimeout.
func (a *Assembler) Expire() {
	if a.waiting.Load() == 0 {
		return
	}
	deadline := a.opts.Now().Add(-a.opts.Timeout)
	var out []released
	a.mu.Lock()
	for k, p := range a.lines {
		if p.added.Before(deadline) {
			out = append(out, released{p.seq, a.releaseLine(k, p)})
		}
	}
	for k, p := range a.parts {
		if p.added.Before(deadline) {
			out = append(out, released{p.seq, a.releasePart(k, p, true)})
		}
	}
	a.mu.Unlock()
	for _, r := range inOrder(out) {
		a.emit(r)
	}
}

// Flush releases everything that waits (end of input), in arrival order.
// Incomplete split events are counted by OnTimeout.
func (a *Assembler) Flush() {
	var out []released
	a.mu.Lock()
	for k, p := range a.lines {
		out = append(out, released{p.seq, a.releaseLine(k, p)})
	}
	for k, p := range a.parts {
		out = append(out, released{p.seq, a.releasePart(k, p, true)})
	}
	a.mu.Unlock()
	for _, r := range inOrder(out) {
		a.emit(r)
	}
}

// splitPart recognizes a part of a split vCenter event:
// "Event [id] [k-N] ..." with N > 1. rest is the raw text after the part
// header of a continuation part (k > 1).
func splitPart(rec *logline.Record) (part, total int, id, rest string, ok bool) {
	s, found := strings.CutPrefix(rec.Body, "Event [")
	if !found {
		return 0, 0, "", "", false
	}
	end := strings.IndexByte(s, ']')
	if end <= 0 || !strings.HasPrefix(s[end:], "] [") {
		return 0, 0, "", "", false
	}
	id = s[:end]
	s = s[end+3:]
	end = strings.IndexByte(s, ']')
	if end < 0 {
		return 0, 0, "", "", false
	}
	k, n, found := strings.Cut(s[:end], "-")
	if !found {
		return 0, 0, "", "", false
	}
	part, err1 := strconv.Atoi(k)
	total, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil || total < 2 || part < 1 || part > total || total > 1000 {
		return 0, 0, "", "", false
	}
	rest = s[end+1:]
	// "Event [id] [2-3]  <slice>": the slice follows two spaces (one is the separator).
	if strings.HasPrefix(rest, "  ") {
		rest = rest[2:]
	} else {
		rest = strings.TrimPrefix(rest, " ")
	}
	return part, total, id, rest, true
}

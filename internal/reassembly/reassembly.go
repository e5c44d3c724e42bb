// Package reassembly joins messages that a sender split: ESXi's multi-line
// messages ("-->" continuation lines, the "+" line marker) and vCenter's
// split events ("Event [id] [1-3] ..." ... "[3-3]"). Memory is bounded: a
// limited number of messages wait, each up to a size limit, with a limit on
// their total size, and a timeout releases what is incomplete. What waits
// is kept in order of last activity, so that releasing the oldest (by
// eviction or timeout) costs the same however many wait: a flood of
// messages that never complete does not slow the others.
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
	// MaxPendingBytes caps the text of all waiting messages together
	// (default 16 MiB, at least MaxBytes). Beyond it, the messages waiting
	// longest are released, as beyond MaxPending.
	MaxPendingBytes int
	// Timeout releases a waiting message (default 2s).
	Timeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnRelease, when set, is called once for every message that waited,
	// as it leaves: with its program (as sent: the caller bounds it) and
	// why it left. It is called without the Assembler's lock held, just
	// before the message is emitted.
	OnRelease func(program string, why Reason)
}

// Reason is why a waiting message left the Assembler.
type Reason uint8

// The reasons a waiting message is released. Only Complete is a whole
// message; the others may lack parts or lines.
const (
	// Complete: the last part of a split event arrived, or the next record
	// of the same sender ended a multi-line message.
	Complete Reason = iota
	// Timeout: nothing arrived for it within Options.Timeout.
	Timeout
	// Evicted: released early to respect MaxPending or MaxPendingBytes.
	Evicted
	// Restarted: the first part of the same split event arrived again.
	Restarted
	// Flushed: end of input or shutdown (Flush).
	Flushed
	nReasons
)

// Reasons lists every Reason, to pre-initialize a metric's series.
var Reasons = []Reason{Complete, Timeout, Evicted, Restarted, Flushed}

var reasonNames = [nReasons]string{"complete", "timeout", "evicted", "restarted", "flushed"}

// String is the reason's metric label value.
func (r Reason) String() string {
	if r < nReasons {
		return reasonNames[r]
	}
	return "unknown"
}

type key struct {
	host, program string
}

type partKey struct {
	host, id string
}

// entry is a waiting message: a record held for its continuation lines or
// the parts of a split event received so far. Every entry is on one list,
// ordered by last activity (the order of added), so that the oldest one
// is evicted, and the timed-out ones expired, without a scan.
type entry struct {
	prev, next *entry
	seq        uint64 // arrival order: what is released together comes out in it
	rec        logline.Record
	sb         strings.Builder
	added      time.Time // the last time a line or part joined it
	full       bool
	// A split event's parts.
	split bool
	pk    partKey
	want  int // the part number expected next
	total int
}

// Assembler reassembles records. It is safe for concurrent use.
type Assembler struct {
	opts    Options
	emit    func(*logline.Record)
	mu      sync.Mutex
	lines   map[key]*entry
	parts   map[partKey]*entry
	age     entry // the list's sentinel: age.next is the entry idle longest
	waiting atomic.Int64
	bytes   atomic.Int64 // the text of every waiting message
	lastKey key          // the most recently held multi-line message
	seq     uint64       // the last arrival number given
}

// released is a record leaving the assembler, with its arrival number and
// why it leaves.
type released struct {
	seq uint64
	rec *logline.Record
	why Reason
}

// New returns an Assembler that hands complete records to emit.
func New(o Options, emit func(*logline.Record)) *Assembler {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 10
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 4096
	}
	if o.MaxPendingBytes <= 0 {
		o.MaxPendingBytes = 16 << 20
	}
	o.MaxPendingBytes = max(o.MaxPendingBytes, o.MaxBytes)
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Hold == nil {
		o.Hold = func(*logline.Record) bool { return false }
	}
	a := &Assembler{opts: o, emit: emit, lines: map[key]*entry{}, parts: map[partKey]*entry{}}
	a.age.next, a.age.prev = &a.age, &a.age
	return a
}

// Pending returns the number of messages waiting.
func (a *Assembler) Pending() int { return int(a.waiting.Load()) }

// PendingBytes returns the size of the text of the messages waiting.
func (a *Assembler) PendingBytes() int64 { return a.bytes.Load() }

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
	var out []released
	var pass *logline.Record
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
					a.bytes.Add(int64(1 + len(rec.Body)))
				}
			}
			a.touch(p)
			out = a.shrink(out, p)
		}
		// A continuation with nothing waiting belongs to a message that
		// needed none: it is dropped, never classified on its own.
	case isPart:
		if p := a.lines[k]; p != nil {
			out = append(out, a.release(p, Complete))
		}
		pk := partKey{rec.Host, id}
		ps := a.parts[pk]
		if part == 1 {
			if ps != nil { // a restarted event: release what we had
				out = append(out, a.release(ps, Restarted))
			}
			out = a.makeRoom(out)
			ps = a.hold(rec, rec.Body)
			ps.split, ps.pk, ps.want, ps.total = true, pk, 2, total
			a.parts[pk] = ps
			out = a.shrink(out, ps)
		} else if ps != nil && part == ps.want {
			if !ps.full && ps.sb.Len()+len(rest) > a.opts.MaxBytes {
				ps.full = true
			}
			if !ps.full {
				ps.sb.WriteString(rest)
				a.bytes.Add(int64(len(rest)))
			}
			ps.want++
			a.touch(ps)
			out = a.shrink(out, ps)
		}
		// else: a part whose first part we never saw, or out of order: dropped.
		if ps != nil && ps.want > ps.total && a.parts[pk] == ps {
			out = append(out, a.release(ps, Complete))
		}
	default:
		if p := a.lines[k]; p != nil {
			out = append(out, a.release(p, Complete))
		}
		if a.opts.Hold(rec) {
			out = a.makeRoom(out)
			p := a.hold(rec, rec.Body)
			a.lines[k] = p
			a.lastKey = k
			out = a.shrink(out, p)
		} else {
			r := *rec
			pass = &r
		}
	}
	a.mu.Unlock()
	a.send(out)
	if pass != nil {
		a.emit(pass)
	}
}

// hold starts a waiting message with rec and its first text; the caller
// holds mu and puts it in its map.
func (a *Assembler) hold(rec *logline.Record, text string) *entry {
	a.seq++
	e := &entry{seq: a.seq, rec: *rec, added: a.opts.Now()}
	e.sb.WriteString(text)
	a.bytes.Add(int64(len(text)))
	a.waiting.Add(1)
	a.pushBack(e)
	return e
}

// makeRoom evicts the message idle longest when MaxPending are waiting;
// the caller holds mu.
func (a *Assembler) makeRoom(out []released) []released {
	if int(a.waiting.Load()) >= a.opts.MaxPending && a.age.next != &a.age {
		out = append(out, a.release(a.age.next, Evicted))
	}
	return out
}

// shrink evicts the messages idle longest, but keep, while the waiting
// text exceeds MaxPendingBytes; the caller holds mu.
func (a *Assembler) shrink(out []released, keep *entry) []released {
	for a.bytes.Load() > int64(a.opts.MaxPendingBytes) {
		e := a.age.next
		if e == keep {
			e = e.next
		}
		if e == &a.age {
			break
		}
		out = append(out, a.release(e, Evicted))
	}
	return out
}

func (a *Assembler) pushBack(e *entry) {
	e.prev, e.next = a.age.prev, &a.age
	e.prev.next, a.age.prev = e, e
}

func (a *Assembler) unlink(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

// touch records activity on e: it becomes the youngest.
func (a *Assembler) touch(e *entry) {
	e.added = a.opts.Now()
	if a.age.prev != e {
		a.unlink(e)
		a.pushBack(e)
	}
}

// release removes a waiting message; the caller holds mu.
func (a *Assembler) release(e *entry, why Reason) released {
	if e.split {
		delete(a.parts, e.pk)
	} else {
		delete(a.lines, key{e.rec.Host, e.rec.Program})
	}
	a.unlink(e)
	a.waiting.Add(-1)
	a.bytes.Add(-int64(e.sb.Len()))
	e.rec.Body = e.sb.String()
	return released{e.seq, &e.rec, why}
}

// send reports and emits what was released, in the order given.
func (a *Assembler) send(out []released) {
	for _, r := range out {
		if a.opts.OnRelease != nil {
			a.opts.OnRelease(r.rec.Program, r.why)
		}
		a.emit(r.rec)
	}
}

// sendInOrder sends out by arrival, so that what is released together (at
// a timeout, at the end of input) comes out in the same order on every
// run.
func (a *Assembler) sendInOrder(out []released) {
	slices.SortFunc(out, func(x, y released) int { return cmp.Compare(x.seq, y.seq) })
	a.send(out)
}

// Expire releases messages that waited longer than the timeout since
// their last line or part; each is reported to OnRelease as Timeout. The
// list is by last activity: Expire looks at no message that has not
// timed out but the first one.
func (a *Assembler) Expire() {
	if a.waiting.Load() == 0 {
		return
	}
	deadline := a.opts.Now().Add(-a.opts.Timeout)
	var out []released
	a.mu.Lock()
	for e := a.age.next; e != &a.age && e.added.Before(deadline); e = a.age.next {
		out = append(out, a.release(e, Timeout))
	}
	a.mu.Unlock()
	a.sendInOrder(out)
}

// Flush releases everything that waits (end of input), in arrival order;
// each is reported to OnRelease as Flushed.
func (a *Assembler) Flush() {
	var out []released
	a.mu.Lock()
	for e := a.age.next; e != &a.age; e = a.age.next {
		out = append(out, a.release(e, Flushed))
	}
	a.mu.Unlock()
	a.sendInOrder(out)
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

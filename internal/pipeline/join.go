package pipeline

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// LoginJoin makes one login of the two halves of a vSphere Client login:
// the SSO login that carries the client's real address, and the vCenter
// session vCenter's UI service opened for it from 127.0.0.1
// (audit.AwaitsLoginPartner). Either may come first, from either source. A
// half waits for its partner up to the window; one that finds none goes on
// unchanged (an SSO login with no vCenter session stays an sso login).
//
// A waiting half is released when its partner arrives, when an event of
// its source dated more than the window after it arrives (event time: a
// replay releases deterministically), when it has waited the window on the
// wall clock (Tick), or at Flush. Whatever is released together goes on in
// event-time order, then arrival order. Every other event passes at once.
//
// Mark lets a source save its checkpoint once every event it recorded has
// been emitted. A checkpoint saved between the two halves of a joined
// login would, after a crash, have the later half read again alone and
// counted a second time (or joined to another session): the marks set
// before a join therefore wait for a later mark, which supersedes them.
type LoginJoin struct {
	mu      sync.Mutex
	window  time.Duration
	max     int
	now     func() time.Time
	emit    func(*audit.Event) // what passes goes on; emit must not keep the pointer
	held    []held
	seq     uint64
	newest  map[string]time.Time // per source: the newest event time seen
	markers []marker
	// emitting counts the releases taken from held and not yet emitted:
	// no marker runs while one is in flight.
	emitting int
}

// marker is a function to call once every half held when it was set has
// been released (Mark).
type marker struct {
	seq uint64
	fn  func()
	// joined: a join happened after the mark was set, so the mark's
	// position may lie between the joined halves. It runs only at Flush;
	// before, a later mark that runs drops it.
	joined bool
}

type held struct {
	e       audit.Event
	seq     uint64
	arrived time.Time
}

// NewLoginJoin holds up to max halves for window; now is the wall clock
// (time.Now when nil); emit receives every event that passes.
func NewLoginJoin(window time.Duration, max int, now func() time.Time, emit func(audit.Event)) *LoginJoin {
	return newLoginJoin(window, max, now, func(e *audit.Event) { emit(*e) })
}

// newLoginJoin is NewLoginJoin with an emit that takes the event by
// pointer (no copy of it per stage).
func newLoginJoin(window time.Duration, max int, now func() time.Time, emit func(*audit.Event)) *LoginJoin {
	if now == nil {
		now = time.Now
	}
	return &LoginJoin{window: window, max: max, now: now, emit: emit, newest: map[string]time.Time{}}
}

// Add takes one normalized event.
func (j *LoginJoin) Add(e audit.Event) { j.add(&e) }

// add is Add by pointer: e itself is emitted (and may be changed on the
// way) when it passes at once, a copy of it held otherwise.
func (j *LoginJoin) add(e *audit.Event) {
	var out []audit.Event
	j.mu.Lock()
	if e.Time.After(j.newest[e.Source]) {
		j.newest[e.Source] = e.Time
		if len(j.held) > 0 {
			out = j.releaseLocked(func(h *held) bool {
				return h.e.Source == e.Source && e.Time.Sub(h.e.Time) > j.window
			})
		}
	}
	if !audit.AwaitsLoginPartner(e) {
		// The common case: nothing to hold, nothing copied.
		if len(out) > 0 {
			j.emitting++
		}
		j.mu.Unlock()
		for i := range out {
			j.emit(&out[i])
		}
		j.emit(e)
		if len(out) > 0 {
			j.emitted(false)
		}
		return
	}
	if i := j.partner(e); i >= 0 {
		p := j.held[i].e
		j.held = slices.Delete(j.held, i, i+1)
		out = append(out, audit.JoinLogin(*e, p))
		for k := range j.markers {
			j.markers[k].joined = true
		}
	} else {
		if len(j.held) >= j.max {
			out = append(out, j.held[0].e)
			j.held = j.held[1:]
		}
		j.seq++
		j.held = append(j.held, held{e: *e, seq: j.seq, arrived: j.now()})
	}
	if len(out) > 0 {
		j.emitting++
	}
	j.mu.Unlock()
	for i := range out {
		j.emit(&out[i])
	}
	if len(out) > 0 {
		j.emitted(false)
	}
}

// Mark calls fn once every event added before it has been emitted: at once
// when no half waits, else when the halves waiting now are released. A
// source's checkpoint is saved this way, never ahead of the events it
// covers. A mark set before a login join may be dropped when a later one
// runs (see LoginJoin): a later checkpoint supersedes it.
func (j *LoginJoin) Mark(fn func()) {
	j.mu.Lock()
	if len(j.held) == 0 && len(j.markers) == 0 && j.emitting == 0 {
		j.mu.Unlock()
		fn()
		return
	}
	j.markers = append(j.markers, marker{seq: j.seq, fn: fn})
	j.mu.Unlock()
	j.fireMarkers(false)
}

// emitted ends a release that emitted events, then runs the markers it freed.
func (j *LoginJoin) emitted(flush bool) {
	j.mu.Lock()
	j.emitting--
	j.mu.Unlock()
	j.fireMarkers(flush)
}

// fireMarkers calls, in order, the markers whose halves are all released
// and emitted; a marker set before a join waits for a later one, which
// drops it, or for Flush.
func (j *LoginJoin) fireMarkers(flush bool) {
	j.mu.Lock()
	if j.emitting > 0 {
		// Released halves are on their way to the sink; the release
		// fires the markers once they are there.
		j.mu.Unlock()
		return
	}
	oldest := uint64(1<<64 - 1)
	for i := range j.held {
		oldest = min(oldest, j.held[i].seq)
	}
	n := 0
	for n < len(j.markers) && j.markers[n].seq < oldest {
		n++
	}
	if !flush {
		// Up to the last ready marker set after every join.
		for n > 0 && j.markers[n-1].joined {
			n--
		}
	}
	var fire []func()
	for _, m := range j.markers[:n] {
		if flush || !m.joined {
			fire = append(fire, m.fn)
		}
	}
	j.markers = slices.Delete(j.markers, 0, n)
	j.mu.Unlock()
	for _, fn := range fire {
		fn()
	}
}

// partner returns the index of e's held partner, the closest in time, or -1.
func (j *LoginJoin) partner(e *audit.Event) int {
	best := -1
	var bestD time.Duration
	for i := range j.held {
		if !audit.LoginPartners(e, &j.held[i].e) {
			continue
		}
		d := e.Time.Sub(j.held[i].e.Time)
		if d < 0 {
			d = -d
		}
		if best < 0 || d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

// Tick releases the halves that have waited the window on the wall clock.
func (j *LoginJoin) Tick() {
	j.mu.Lock()
	deadline := j.now().Add(-j.window)
	out := j.releaseLocked(func(h *held) bool { return h.arrived.Before(deadline) })
	j.emitting++
	j.mu.Unlock()
	for i := range out {
		j.emit(&out[i])
	}
	j.emitted(false)
}

// Flush releases every waiting half.
func (j *LoginJoin) Flush() {
	j.mu.Lock()
	out := j.releaseLocked(func(*held) bool { return true })
	j.emitting++
	j.mu.Unlock()
	for i := range out {
		j.emit(&out[i])
	}
	j.emitted(true)
}

// Held is the number of waiting halves.
func (j *LoginJoin) Held() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.held)
}

func (j *LoginJoin) releaseLocked(pred func(*held) bool) []audit.Event {
	if len(j.held) == 0 {
		return nil
	}
	var rel []held
	kept := j.held[:0]
	for _, h := range j.held {
		if pred(&h) {
			rel = append(rel, h)
		} else {
			kept = append(kept, h)
		}
	}
	clear(j.held[len(kept):])
	j.held = kept
	slices.SortFunc(rel, func(a, b held) int {
		if c := a.e.Time.Compare(b.e.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out := make([]audit.Event, len(rel))
	for i := range rel {
		out[i] = rel[i].e
	}
	return out
}

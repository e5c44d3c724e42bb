package syslog

import (
	"net/netip"
	"sync"
	"time"
)

// logLimiter allows one log line per source address and interval, and at
// most perInterval lines in all per interval, so that a flood of rejected
// datagrams or connections writes a line a minute per source, not one per
// packet, and a flood from many (spoofed) sources a bounded number. It
// holds at most max addresses: when full, the entries older than the
// interval are dropped (a scan at most once a second), and while it stays
// full new addresses are not logged until one ages out. What is not logged
// is still counted by the caller's metrics; a source's next line reports
// how many of its lines were suppressed.
type logLimiter struct {
	interval    time.Duration
	max         int
	perInterval int
	now         func() time.Time

	mu     sync.Mutex
	last   map[netip.Addr]*logEntry
	pruned time.Time // the last scan for aged entries (at most one a second)
	// winStart and winN count the lines of the current interval, for
	// perInterval.
	winStart time.Time
	winN     int
}

type logEntry struct {
	at         time.Time
	suppressed int
}

func newLogLimiter(interval time.Duration, max, perInterval int) *logLimiter {
	return &logLimiter{interval: interval, max: max, perInterval: perInterval, now: time.Now, last: map[netip.Addr]*logEntry{}}
}

// allow reports whether a line about addr may be logged now, and how many
// lines about it were suppressed since its last one.
func (l *logLimiter) allow(addr netip.Addr) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.last[addr]
	if e != nil && now.Sub(e.at) < l.interval {
		e.suppressed++
		return false, 0
	}
	if now.Sub(l.winStart) >= l.interval {
		l.winStart, l.winN = now, 0
	}
	if l.winN >= l.perInterval {
		if e != nil {
			e.suppressed++
		}
		return false, 0
	}
	if e == nil {
		if len(l.last) >= l.max && now.Sub(l.pruned) >= time.Second {
			l.pruned = now
			for a, e := range l.last {
				if now.Sub(e.at) >= l.interval {
					delete(l.last, a)
				}
			}
		}
		if len(l.last) >= l.max {
			return false, 0
		}
		e = &logEntry{}
		l.last[addr] = e
	}
	l.winN++
	suppressed, e.at, e.suppressed = e.suppressed, now, 0
	return true, suppressed
}

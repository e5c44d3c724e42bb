package syslog

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
)

// Host binding modes (--syslog.host-binding).
const (
	HostBindingOff     = "off"     // host names are not checked
	HostBindingFlag    = "flag"    // a mismatch is counted and logged; the message is still processed
	HostBindingEnforce = "enforce" // a mismatch is counted and logged, and the message dropped
)

// ParseHostBinding checks a --syslog.host-binding value.
func ParseHostBinding(s string) (string, error) {
	switch s {
	case "", HostBindingOff:
		return HostBindingOff, nil
	case HostBindingFlag, HostBindingEnforce:
		return s, nil
	}
	return "", fmt.Errorf("%q: want off, flag or enforce", s)
}

// DefaultMaxHostBindings bounds the host binding table.
const DefaultMaxHostBindings = 16384

// hostBinder binds each sending address to the first host name it sends
// (the message's HOSTNAME). A later message from that address naming
// another host is a mismatch: a sender that forges another host's
// messages. The table holds at most max addresses; once full, a new
// address is not bound (its messages are not checked) and full reports it.
type hostBinder struct {
	max int

	mu sync.Mutex
	m  map[netip.Addr]string
}

func newHostBinder(max int) *hostBinder {
	if max <= 0 {
		max = DefaultMaxHostBindings
	}
	return &hostBinder{max: max, m: map[netip.Addr]string{}}
}

// check reports whether host is the name addr is bound to, binding it if
// addr has none; bound is addr's name. host may alias a read buffer. A
// name of no host in particular (unboundName) is not checked.
func (b *hostBinder) check(addr netip.Addr, host string) (ok bool, bound string, full bool) {
	if unboundName(host) {
		return true, "", false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	bound, have := b.m[addr]
	if !have {
		if len(b.m) >= b.max {
			return true, "", true
		}
		bound = strings.Clone(host)
		b.m[addr] = bound
		return true, bound, false
	}
	return sameHost(bound, host), bound, false
}

// unboundName reports whether host names no host in particular: none, the
// RFC 5424 nil value, or localhost (a host whose name is not yet set, early
// in its boot). Such a name is neither bound nor checked, so that it cannot
// bind an address and make every later message of its host a mismatch.
func unboundName(host string) bool {
	switch strings.ToLower(host) {
	case "", "-", "localhost", "localhost.localdomain", "localhost6", "localhost6.localdomain6":
		return true
	}
	return false
}

// sameHost compares host names as ESXi and vCenter vary them: case
// aside, and a short name matches its fully qualified form (esx01 and
// esx01.lab.local), as one host's programs send either.
func sameHost(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	if isAddr(a) || isAddr(b) {
		return false // an address is no short name of anything
	}
	as, _, aq := strings.Cut(a, ".")
	bs, _, bq := strings.Cut(b, ".")
	if aq == bq {
		return false // two different short names, or two different fully qualified ones
	}
	return strings.EqualFold(as, bs)
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

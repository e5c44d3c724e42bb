package syslog

import (
	"net/netip"
	"sync"
)

// Reasons a datagram or connection is rejected, as in
// vsphere_audit_syslog_rejected_total.
const (
	RejectNotAllowed      = "not_allowed"             // the source is outside --syslog.allowed-sources
	RejectConnLimit       = "connection_limit"        // --syslog.max-connections reached (or only the reserve left)
	RejectSourceConnLimit = "source_connection_limit" // --syslog.max-connections-per-source reached
	RejectTLSHandshake    = "tls_handshake"           // the TLS handshake failed or timed out
	RejectClientCert      = "client_cert"             // mTLS: no client certificate, or one that does not verify
)

// slots admits TCP and TLS connections: at most max at once, at most
// perSource from one address, and the last reserve slots only for
// addresses that have no connection yet, so that one source cannot take
// every slot and lock the others out.
type slots struct {
	max, perSource, reserve int

	mu    sync.Mutex
	total int
	by    map[netip.Addr]int // bounded by max: an entry exists only while its address holds a slot
}

func newSlots(max, perSource, reserve int) *slots {
	return &slots{max: max, perSource: perSource, reserve: reserve, by: map[netip.Addr]int{}}
}

// acquire takes a slot for addr, or returns the reason it cannot.
func (s *slots) acquire(addr netip.Addr) (reason string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.by[addr]
	switch {
	case s.perSource > 0 && n >= s.perSource:
		return RejectSourceConnLimit, false
	case s.total >= s.max:
		return RejectConnLimit, false
	case n > 0 && s.total >= s.max-s.reserve:
		return RejectConnLimit, false
	}
	s.by[addr] = n + 1
	s.total++
	return "", true
}

// release frees a slot acquired for addr.
func (s *slots) release(addr netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.by[addr]; n > 1 {
		s.by[addr] = n - 1
	} else {
		delete(s.by, addr)
	}
	s.total--
}

// defaultReserve is the reserve for max connections when none is
// configured: an eighth of them.
func defaultReserve(max int) int { return max / 8 }

package syslog

import (
	"errors"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// udpBatch is the most datagrams one read takes from the socket: one
// recvmmsg(2) on Linux (one recvmsg elsewhere), so that a burst costs a
// system call per batch, not per datagram.
const udpBatch = 32

// udpReader reads batches of datagrams from one socket into buffers of
// its own (one per reader goroutine).
type udpReader struct {
	msgs []ipv4.Message
	// read is the ipv4 or ipv6 PacketConn's ReadBatch (the same call;
	// the socket's family picks the one that documents it).
	read func([]ipv4.Message, int) (int, error)
}

func newUDPReader(c *net.UDPConn, size int) *udpReader {
	r := &udpReader{msgs: make([]ipv4.Message, udpBatch)}
	bufs := make([]byte, udpBatch*size)
	oobs := make([]byte, udpBatch*dropOOBSize)
	for i := range r.msgs {
		r.msgs[i].Buffers = [][]byte{bufs[i*size : (i+1)*size : (i+1)*size]}
		r.msgs[i].OOB = oobs[i*dropOOBSize : (i+1)*dropOOBSize : (i+1)*dropOOBSize]
	}
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() != nil {
		r.read = ipv4.NewPacketConn(c).ReadBatch
	} else {
		r.read = ipv6.NewPacketConn(c).ReadBatch
	}
	return r
}

// dropOOBSize holds one SO_RXQ_OVFL control message (and room to spare).
const dropOOBSize = 64

func (s *Server) readUDP() {
	r := s.newReceiver(TransportUDP)
	dropped := s.health.Messages.WithLabelValues(TransportUDP, ResultDropped)
	empty := s.health.Messages.WithLabelValues(TransportUDP, ResultEmpty)
	notAllowed := s.health.Rejected.WithLabelValues(TransportUDP, RejectNotAllowed)
	ur := newUDPReader(s.udp, s.cfg.MaxMessageSize+1)
	for {
		n, err := ur.read(ur.msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("UDP read failed", "err", err)
			if n == 0 {
				continue
			}
		}
		for i := range ur.msgs[:n] {
			m := &ur.msgs[i]
			// Each datagram carries the socket's drop count as of its
			// own arrival.
			if d, ok := parseDropCount(m.OOB[:m.NN]); ok {
				s.countDrops(d, dropped)
			}
			r.src = sourceAddr(m.Addr)
			if !s.cfg.AllowedSources.Allowed(TransportUDP, r.src) {
				notAllowed.Inc()
				s.logReject(TransportUDP, RejectNotAllowed, r.src)
				continue
			}
			if m.N > s.cfg.MaxMessageSize || m.Flags&msgTrunc != 0 {
				r.oversize()
				continue
			}
			if m.N == 0 {
				empty.Inc()
				continue
			}
			r.message(m.Buffers[0][:m.N])
		}
	}
}

// sourceAddr is a datagram's sending address, unmapped (an IPv4 sender on
// a dual-stack socket is its IPv4 address), with its zone.
func sourceAddr(a net.Addr) netip.Addr {
	ua, ok := a.(*net.UDPAddr)
	if !ok {
		return netip.Addr{}
	}
	return ua.AddrPort().Addr().Unmap()
}

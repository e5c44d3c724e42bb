package syslog

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Datagrams queued while the reader is busy are read together (one
// recvmmsg): each is still judged on its own, by its own sender, size and
// length, on an IPv4 socket and on a dual-stack one (IPv4 senders
// unmapped).
func TestUDPBatchJudgesEachDatagram(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:0", ":0"} {
		t.Run(listen, func(t *testing.T) {
			allowed, err := ParseAllowedSources([]string{"udp=127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{gate: make(chan struct{})}
			open := sync.OnceFunc(func() { close(rec.gate) })
			defer open() // a failure must not leave the reader waiting
			s, h, _ := startServerWith(t, Config{UDPAddress: listen, UDPReaders: 1, MaxMessageSize: 200, AllowedSources: allowed}, rec)
			dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: s.UDPAddr().(*net.UDPAddr).Port}
			u, err := net.DialUDP("udp", nil, dst)
			if err != nil {
				t.Fatal(err)
			}
			defer u.Close()
			other, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, dst)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			msg := func(i int) []byte {
				return []byte("<14>1 2024-01-01T00:00:00Z esx01 app - - - message " + string(rune('a'+i)))
			}
			// The reader takes the first and waits in Process; the rest queue.
			u.Write(msg(0))
			waitFor(t, "the reader to hold the first", func() bool {
				return testutil.ToFloat64(h.Messages.WithLabelValues(TransportUDP, ResultParsed)) == 1
			})
			u.Write(msg(1))
			other.Write(msg(9))
			u.Write([]byte("<14>1 2024-01-01T00:00:00Z esx01 app - - - " + strings.Repeat("x", 200)))
			u.Write(nil)
			u.Write(msg(2))
			other.Write(msg(9))
			u.Write(msg(3))
			open()
			waitFor(t, "4 messages", func() bool { return rec.count() == 4 })
			waitFor(t, "the rest counted", func() bool {
				return testutil.ToFloat64(h.Messages.WithLabelValues(TransportUDP, ResultParsed)) == 4 &&
					testutil.ToFloat64(h.Rejected.WithLabelValues(TransportUDP, RejectNotAllowed)) == 2
			})
			for _, c := range []struct {
				result string
				want   float64
			}{{ResultOversize, 1}, {ResultEmpty, 1}, {ResultUnparsed, 0}, {ResultDropped, 0}} {
				if got := testutil.ToFloat64(h.Messages.WithLabelValues(TransportUDP, c.result)); got != c.want {
					t.Errorf("messages_total{result=%q} = %v, want %v", c.result, got, c.want)
				}
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for i, r := range rec.recs {
				if want := "message " + string(rune('a'+i)); r.Body != want {
					t.Errorf("record %d: body %q, want %q", i, r.Body, want)
				}
			}
		})
	}
}

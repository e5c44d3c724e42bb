//go:build linux

package syslog

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// kernelDrops reads the drop count the kernel keeps for the UDP socket
// bound to port (the last column of /proc/net/udp).
func kernelDrops(t *testing.T, port int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 12 && strings.HasSuffix(f[1], want) {
			n, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no socket on port %d in /proc/net/udp", port)
	return 0
}

// The kernel reports one cumulative drop count per socket, with every
// datagram, to whichever reader gets it: with two readers, each once
// counted all of it (437,985 shown for 219,564 dropped).
func TestUDPDropsCountedOnceWithTwoReaders(t *testing.T) {
	rec := &recorder{gate: make(chan struct{})}
	s, h, _ := startServerWith(t, Config{UDPAddress: "127.0.0.1:0", UDPReaders: 2, UDPReceiveBuffer: 4096}, rec)
	port := s.UDPAddr().(*net.UDPAddr).Port
	c, err := net.Dial("udp", s.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := []byte("<13>Dec  2 10:00:00 esx01 hostd[1]: " + strings.Repeat("x", 200))
	const sent = 3000
	for i := 0; i < sent; i++ {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	drops := kernelDrops(t, port)
	if drops == 0 {
		t.Fatal("the kernel dropped nothing; the test cannot tell one count from two")
	}
	close(rec.gate)
	waitFor(t, "the buffered datagrams", func() bool { return rec.count() == sent-drops })
	// Datagrams queued after the last drop carry the final count. Each
	// reader gets one: the first waits in Process for the second, which
	// is sent only then (a reader takes every datagram queued in one
	// read).
	rec.mu.Lock()
	rec.pairs = true
	rec.mu.Unlock()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a reader to hold the first", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.waiting != nil
	})
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a datagram in each reader", func() bool { return rec.count() == sent-drops+2 })
	if got := testutil.ToFloat64(h.Messages.WithLabelValues(TransportUDP, ResultDropped)); got != float64(drops) {
		t.Errorf("dropped = %v, the kernel dropped %d", got, drops)
	}
	t.Logf("kernel drops %d of %d", drops, sent)
}

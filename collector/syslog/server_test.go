package syslog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/labels"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
)

// recorder is a Handler that keeps every record; with gate set, Process
// waits until gate is closed.
type recorder struct {
	mu   sync.Mutex
	recs []logline.Record
	gate chan struct{}
	// pairs, when set, makes Process wait for a second concurrent call
	// (the other reader): a barrier of two.
	pairs   bool
	waiting chan struct{}
}

func (r *recorder) Skip([]byte) (string, bool) { return "", false }

func (r *recorder) Process(rec *logline.Record) {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	if r.pairs {
		if r.waiting == nil {
			w := make(chan struct{})
			r.waiting = w
			r.mu.Unlock()
			<-w
			r.mu.Lock()
		} else {
			close(r.waiting)
			r.waiting = nil
		}
	}
	r.recs = append(r.recs, *rec)
	r.mu.Unlock()
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.recs)
}

func testBounds() labels.Bounds {
	return labels.Bounds{MaxSeries: 100, MaxLabelLen: labels.DefaultMaxLabelLen,
		Overflow: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "overflow_total"}, []string{"metric"})}
}

func startServer(t *testing.T, cfg Config) (*Server, *Health, *recorder) {
	return startServerWith(t, cfg, &recorder{})
}

func startServerWith(t *testing.T, cfg Config, rec *recorder) (*Server, *Health, *recorder) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h := NewHealth(reg, testBounds(), []string{TransportUDP, TransportTCP, TransportTLS})
	s := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), h, rec)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, h, rec
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A connection that sends garbage is closed and counted; the others go on.
func TestGarbageClosesOnlyItsConnection(t *testing.T) {
	s, h, rec := startServer(t, Config{TCPAddress: "127.0.0.1:0", MaxMessageSize: 1024})
	addr := s.TCPAddr().String()
	good1, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer good1.Close()
	bad, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	good2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer good2.Close()

	msg := "<38>2023-12-05T17:35:43.320Z esx01 sshd[1]: Accepted keyboard-interactive/pam for root from 192.168.127.10 port 58470 ssh2"
	fmt.Fprintf(good1, "%d %s", len(msg), msg)
	// Octet-counting framing, then garbage where the next length should be.
	fmt.Fprintf(bad, "%d %sNOT-A-LENGTH\n", len(msg), msg)
	fmt.Fprintf(good2, "%s\n", msg)

	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bad.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("garbage connection: read err = %v, want EOF (closed by the server)", err)
	}
	// The good connections still work after the bad one was closed.
	fmt.Fprintf(good1, "%d %s", len(msg), msg)
	fmt.Fprintf(good2, "%s\n", msg)
	waitFor(t, "5 messages", func() bool { return rec.count() == 5 })
	if got := testutil.ToFloat64(h.ConnectionsClosed.WithLabelValues(TransportTCP, "framing_error")); got != 1 {
		t.Errorf("connections closed for framing errors = %v, want 1", got)
	}
	if got := testutil.ToFloat64(h.Messages.WithLabelValues(TransportTCP, ResultParsed)); got != 5 {
		t.Errorf("parsed messages = %v, want 5", got)
	}
}

func TestOversizeMessages(t *testing.T) {
	s, h, rec := startServer(t, Config{TCPAddress: "127.0.0.1:0", UDPAddress: "127.0.0.1:0", MaxMessageSize: 200})
	big := "<14>1 2024-01-01T00:00:00Z h app - - - " + string(make([]byte, 300))
	small := "<14>1 2024-01-01T00:00:00Z h app - - - fine"

	u, err := net.Dial("udp", s.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.Write([]byte(big))
	u.Write([]byte(small))

	// LF framing: the long line is dropped and counted, the connection stays.
	c, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "%s\n%s\n", big, small)

	// Octet counting: a frame over the limit closes the connection.
	c2, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	fmt.Fprintf(c2, "%d %s", len(big), big)

	waitFor(t, "2 small messages", func() bool { return rec.count() == 2 })
	waitFor(t, "oversize counts", func() bool {
		return testutil.ToFloat64(h.Messages.WithLabelValues(TransportUDP, ResultOversize)) == 1 &&
			testutil.ToFloat64(h.Messages.WithLabelValues(TransportTCP, ResultOversize)) == 2 &&
			testutil.ToFloat64(h.ConnectionsClosed.WithLabelValues(TransportTCP, "oversize")) == 1
	})
}

func TestConnectionLimit(t *testing.T) {
	s, h, _ := startServer(t, Config{TCPAddress: "127.0.0.1:0", MaxConnections: 1})
	c1, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	waitFor(t, "first connection", func() bool { return testutil.ToFloat64(h.Connections.WithLabelValues(TransportTCP)) == 1 })
	c2, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("second connection: err = %v, want EOF", err)
	}
	if got := testutil.ToFloat64(h.ConnectionsClosed.WithLabelValues(TransportTCP, "limit")); got != 1 {
		t.Errorf("closed for limit = %v, want 1", got)
	}
}

// A connection whose first line has no PRI and starts with a digit is read
// as LF framing: every message arrives. Before, the first digit was taken
// for an octet count and the connection closed on a framing error.
func TestFramingDetectionDigitFirstLine(t *testing.T) {
	for _, first := range []string{
		"2024-05-02T10:00:00Z esx01 app: first line without PRI",
		"123 not a frame",
	} {
		t.Run(first, func(t *testing.T) {
			s, h, rec := startServer(t, Config{TCPAddress: "127.0.0.1:0"})
			c, err := net.Dial("tcp", s.TCPAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			msg := "<38>2023-12-05T17:35:43.320Z esx01 sshd[1]: Accepted password for root from 192.168.127.10 port 58470 ssh2"
			fmt.Fprintf(c, "%s\n", first)
			const n = 21
			for i := 0; i < n; i++ {
				fmt.Fprintf(c, "%s\n", msg)
			}
			c.Close()
			messages := func() float64 {
				return testutil.ToFloat64(h.Messages.WithLabelValues(TransportTCP, ResultParsed)) +
					testutil.ToFloat64(h.Messages.WithLabelValues(TransportTCP, ResultUnparsed))
			}
			waitFor(t, "the connection to close", func() bool {
				return testutil.ToFloat64(h.ConnectionsClosed.WithLabelValues(TransportTCP, "eof"))+
					testutil.ToFloat64(h.ConnectionsClosed.WithLabelValues(TransportTCP, "framing_error")) == 1
			})
			if got := messages(); got != n+1 {
				t.Errorf("messages counted = %v, want %d", got, n+1)
			}
			if got := rec.count(); got < n {
				t.Errorf("records = %d, want at least %d", got, n)
			}
			if got := testutil.ToFloat64(h.ConnectionsClosed.WithLabelValues(TransportTCP, "framing_error")); got != 0 {
				t.Errorf("closed for framing errors = %v, want 0", got)
			}
		})
	}
}

// One size rule for every framing: a message of exactly
// --syslog.max-message-size bytes is accepted, one byte more is dropped and
// counted oversize; an LF or CR LF trailer is not part of the message.
// Before, LF framing accepted max+1 bytes (the limit allowed for a CR LF
// even after a bare LF).
func TestMessageSizeLimitEveryFraming(t *testing.T) {
	const max = 200
	msg := func(size int) string {
		m := "<14>1 2024-01-01T00:00:00Z h app - - - "
		return m + strings.Repeat("x", size-len(m))
	}
	small := "<14>1 2024-01-01T00:00:00Z h app - - - fine"
	for _, framing := range []string{"octet", "lf", "crlf"} {
		for _, size := range []int{max, max + 1} {
			t.Run(fmt.Sprintf("%s/%d", framing, size), func(t *testing.T) {
				s, h, rec := startServer(t, Config{TCPAddress: "127.0.0.1:0", MaxMessageSize: max})
				c, err := net.Dial("tcp", s.TCPAddr().String())
				if err != nil {
					t.Fatal(err)
				}
				m := msg(size)
				if len(m) != size {
					t.Fatalf("built a %d-byte message, want %d", len(m), size)
				}
				switch framing {
				case "octet":
					fmt.Fprintf(c, "%d %s%d %s", len(m), m, len(small), small)
				case "lf":
					fmt.Fprintf(c, "%s\n%s\n", m, small)
				case "crlf":
					fmt.Fprintf(c, "%s\r\n%s\r\n", m, small)
				}
				c.Close()
				waitFor(t, "the connection to close", func() bool {
					return testutil.ToFloat64(h.ConnectionsClosed.WithLabelValues(TransportTCP, "eof"))+
						testutil.ToFloat64(h.ConnectionsClosed.WithLabelValues(TransportTCP, "oversize")) == 1
				})
				oversize := testutil.ToFloat64(h.Messages.WithLabelValues(TransportTCP, ResultOversize))
				big := 0
				for _, r := range rec.recs {
					if strings.HasPrefix(r.Body, "xxx") {
						big++
					}
				}
				if size <= max {
					if big != 1 || oversize != 0 {
						t.Errorf("%d-byte message (limit %d): accepted %d, oversize %v; want accepted 1, oversize 0", size, max, big, oversize)
					}
				} else if big != 0 || oversize != 1 {
					t.Errorf("%d-byte message (limit %d): accepted %d, oversize %v; want accepted 0, oversize 1", size, max, big, oversize)
				}
			})
		}
	}
}

// TestEmptyDatagramsCounted (issue 11, finding 12): empty UDP datagrams
// never reached messages_total; they are counted as result "empty", a
// series that exists from the start so that increase() sees the first.
func TestEmptyDatagramsCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewHealth(reg, testBounds(), []string{TransportUDP})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() != namespace+"_syslog_messages_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == ResultEmpty {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf(`messages_total{result=%q} is not pre-initialized`, ResultEmpty)
	}

	s, h, rec := startServer(t, Config{UDPAddress: "127.0.0.1:0", MaxMessageSize: 200})
	u, err := net.Dial("udp", s.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.Write(nil)
	u.Write([]byte{})
	u.Write([]byte("<14>1 2024-01-01T00:00:00Z h app - - - fine"))
	waitFor(t, "1 message", func() bool { return rec.count() == 1 })
	waitFor(t, "2 empty datagrams", func() bool {
		return testutil.ToFloat64(h.Messages.WithLabelValues(TransportUDP, ResultEmpty)) == 2
	})
}

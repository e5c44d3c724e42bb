package syslog

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
)

// holder is a SplitHandler: messages whose body starts with "noise" are
// skippable; a body "hold" makes it hold (Holding) until a body
// "release" is processed, as reassembly holds a split message.
type holder struct {
	mu      sync.Mutex
	holding bool
	bodies  []string
}

func (h *holder) Skippable(b []byte) (string, bool) {
	pk, ok := logline.Peek(b)
	return pk.Host, ok && strings.HasPrefix(pk.Body, "noise")
}

func (h *holder) Holding() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.holding
}

func (h *holder) Skip(b []byte) (string, bool) {
	host, ok := h.Skippable(b)
	return host, ok && !h.Holding()
}

func (h *holder) Process(rec *logline.Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch rec.Body {
	case "hold":
		h.holding = true
	case "release":
		h.holding = false
	}
	h.bodies = append(h.bodies, rec.Body)
}

// A stream connection's reader peeks ahead while its worker parses: a
// skippable message that arrives while a message is held is still parsed
// (Holding is asked when its turn comes, not when it was read), the
// others are skipped, every message is counted once, in order, across
// many batches; the skipped ones still mark their host as seen.
func TestStreamHoldingDecidedInOrder(t *testing.T) {
	reg := prometheus.NewRegistry()
	health := NewHealth(reg, testBounds(), []string{TransportTCP})
	h := &holder{}
	s := New(Config{TCPAddress: "127.0.0.1:0"}, slog.New(slog.NewTextHandler(io.Discard, nil)), health, h)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	c, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(c)
	const rounds = 700 // 2,800 messages: many batches of streamBatchMessages
	var want []string
	for i := range rounds {
		for _, body := range []string{"hold", fmt.Sprintf("noise held %d", i), "release", fmt.Sprintf("noise free %d", i)} {
			fmt.Fprintf(w, "<14>2024-01-01T00:00:00Z esx%02d app: %s\n", i%7, body)
			if !strings.HasPrefix(body, "noise free") {
				want = append(want, body)
			}
		}
	}
	w.Flush()
	c.Close()
	waitFor(t, "every message counted", func() bool {
		return testutil.ToFloat64(health.Messages.WithLabelValues(TransportTCP, ResultParsed)) == 4*rounds
	})
	waitFor(t, "the connection closed", func() bool {
		return testutil.ToFloat64(health.ConnectionsClosed.WithLabelValues(TransportTCP, "eof")) == 1
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bodies) != len(want) {
		t.Fatalf("processed %d messages, want %d (the held noise parsed, the free noise skipped)", len(h.bodies), len(want))
	}
	for i := range want {
		if h.bodies[i] != want[i] {
			t.Fatalf("message %d processed is %q, want %q", i, h.bodies[i], want[i])
		}
	}
	if got := testutil.CollectAndCount(health.LastMessage); got != 7 {
		t.Errorf("hosts seen = %d, want 7", got)
	}
}

package demo

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The demo posts only events the simulator can format: before, about 4
// times a minute it logged "template: DrsVmMigratedEvent ... nil pointer".
func TestVCSimEventsFormat(t *testing.T) {
	var logs syncBuffer
	log.SetOutput(&logs) // the simulator reports template errors with package log
	defer log.SetOutput(io.Discard)
	s, err := StartVCSim(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	s.rnd = rand.New(rand.NewPCG(seed, 7))
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		s.step(ctx)
	}
	if l := logs.String(); strings.Contains(l, "template:") {
		t.Errorf("the simulator could not format a demo event:\n%s", l)
	}
}

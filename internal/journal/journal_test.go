package journal

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// collect is a Sink, safe for concurrent use as a Sink must be (Restore
// records from every core).
type collect struct {
	mu  sync.Mutex
	got []audit.Event
}

func (c *collect) Record(e audit.Event) {
	c.mu.Lock()
	c.got = append(c.got, e)
	c.mu.Unlock()
}

func ev(i int, src string) audit.Event {
	e := audit.Event{Time: time.Date(2026, 11, 1, 10, 0, i, 0, time.UTC), Source: src, Host: "esx01", Kind: audit.KindLogin,
		User: fmt.Sprintf("u%d", i%3), ClientIP: "10.0.0.9", Method: audit.MethodHostd, Outcome: audit.OutcomeSuccess}
	if src == audit.SourceVCenter {
		e.EventID = fmt.Sprintf("vcenter:%d:%d", i, e.Time.UnixNano())
	}
	return e
}

// Events are stored once each, in order, and passed on only once stored; a
// vCenter event read again (after a crash) is neither stored nor passed on.
func TestJournalStoresOnce(t *testing.T) {
	dir := t.TempDir()
	next := &collect{}
	reg := prometheus.NewRegistry()
	j, err := Open(Options{Path: dir, Registerer: reg}, next)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		j.Record(ev(i, audit.SourceVCenter))
		j.Record(ev(i, audit.SourceSyslog))
	}
	if err := j.SaveCheckpoint("vc1", []byte(`{"k":1}`)); err != nil {
		t.Fatal(err)
	}
	if len(next.got) != 200 {
		t.Fatalf("passed on %d events before the checkpoint, want 200", len(next.got))
	}
	j.Close()

	next = &collect{}
	j, err = Open(Options{Path: dir, Registerer: prometheus.NewRegistry()}, next)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	cp, err := j.Checkpoint("vc1")
	if err != nil || string(cp) != `{"k":1}` {
		t.Fatalf("checkpoint %q, %v", cp, err)
	}
	// The vCenter page read again: nothing new; syslog events have no id.
	for i := 90; i < 110; i++ {
		j.Record(ev(i, audit.SourceVCenter))
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if len(next.got) != 10 {
		t.Fatalf("passed on %d events of the replayed page, want the 10 new ones", len(next.got))
	}
	n, err := j.Count(context.Background(), Query{})
	if err != nil || n != 210 {
		t.Fatalf("count %d, %v; want 210", n, err)
	}
	var times []time.Time
	if err := j.Scan(context.Background(), Query{User: "u1", Kinds: []audit.Kind{audit.KindLogin}, Since: ev(50, "").Time, Until: ev(60, "").Time}, func(r Row) error {
		times = append(times, r.Event.Time)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// u1 is i%3 == 1: 52, 55, 58, both sources.
	if len(times) != 6 || !times[0].Equal(ev(52, "").Time) || !times[5].Equal(ev(58, "").Time) {
		t.Fatalf("scan = %v", times)
	}
	restored := &collect{}
	if n, err := j.Restore(context.Background(), restored); err != nil || n != 210 || len(restored.got) != 210 {
		t.Fatalf("restore %d, %v", n, err)
	}
	if got := testutil.ToFloat64(j.m.ignored); got != 10 {
		t.Errorf("duplicates_total %v, want 10", got)
	}
}

// Retention by age drops old events, and the size metrics follow.
func TestJournalRetention(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	j, err := Open(Options{Path: t.TempDir(), Retention: 24 * time.Hour, Now: func() time.Time { return now }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, age := range []time.Duration{48 * time.Hour, 25 * time.Hour, time.Hour} {
		e := ev(0, audit.SourceSyslog)
		e.Time = now.Add(-age)
		j.Record(e)
	}
	j.Sync()
	j.enforce()
	n, _ := j.Count(context.Background(), Query{})
	if n != 1 {
		t.Fatalf("%d events after retention, want 1", n)
	}
	if got := testutil.ToFloat64(j.m.rows); got != 1 {
		t.Errorf("rows gauge %v", got)
	}
	if got := testutil.ToFloat64(j.m.oldest); got != float64(now.Add(-time.Hour).Unix()) {
		t.Errorf("oldest %v", got)
	}
}

// Retention by size keeps the newest events under the cap.
func TestJournalMaxSize(t *testing.T) {
	j, err := Open(Options{Path: t.TempDir(), MaxSize: 1 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for i := 0; i < 10000; i++ {
		e := ev(i, audit.SourceSyslog)
		e.Time = e.Time.Add(time.Duration(i) * time.Second)
		e.Message = fmt.Sprintf("%0200d", i)
		j.Record(e)
	}
	j.Sync()
	j.enforce()
	if s := j.size(); s > 1<<20 {
		t.Fatalf("size %d after enforcing 1 MiB", s)
	}
	var newest audit.Event
	j.Scan(context.Background(), Query{Desc: true, Limit: 1}, func(r Row) error { newest = r.Event; return nil })
	if newest.Message != fmt.Sprintf("%0200d", 9999) {
		t.Fatalf("the newest event was dropped: %q", newest.Message)
	}
	n, _ := j.Count(context.Background(), Query{})
	t.Logf("%d of 10000 events kept in %d bytes", n, j.size())
	if n == 0 || n == 10000 {
		t.Fatalf("%d events kept", n)
	}
}

// An I/O error does not stop events reaching the metrics; it is counted.
func TestJournalErrorKeepsCounting(t *testing.T) {
	next := &collect{}
	j, err := Open(Options{Path: t.TempDir()}, next)
	if err != nil {
		t.Fatal(err)
	}
	// Break the writer's database: every later commit fails.
	j.db.Exec(`DROP TABLE blocks`)
	for i := 0; i < 5; i++ {
		j.Record(ev(i, audit.SourceSyslog))
	}
	j.Sync()
	if len(next.got) != 5 {
		t.Fatalf("%d events passed on after a failed append, want 5", len(next.got))
	}
	if got := testutil.ToFloat64(j.m.errors.WithLabelValues("append")); got < 1 {
		t.Errorf("append errors %v", got)
	}
	j.Close()
}

// Many small batches, more than the writer's buffers: every event is
// passed on once, in the order recorded, and each Sync returns only once
// the events before it were passed on (the passer runs beside the writer).
func TestJournalPassesBatchesInOrder(t *testing.T) {
	next := &collect{}
	j, err := Open(Options{Path: t.TempDir(), BatchEvents: 7, BatchInterval: time.Millisecond}, next)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	const n = 2000
	for i := 0; i < n; i++ {
		e := ev(i%60, audit.SourceSyslog)
		e.User = fmt.Sprintf("u%d", i)
		j.Record(e)
		if i%500 == 499 {
			if err := j.Sync(); err != nil {
				t.Fatal(err)
			}
			next.mu.Lock()
			got := len(next.got)
			next.mu.Unlock()
			if got != i+1 {
				t.Fatalf("after the Sync following event %d, %d events passed on, want %d", i, got, i+1)
			}
		}
	}
	for i, e := range next.got {
		if want := fmt.Sprintf("u%d", i); e.User != want {
			t.Fatalf("event %d passed on is %s, want %s", i, e.User, want)
		}
	}
}

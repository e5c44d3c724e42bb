package ship

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/journal"
)

// received is one log record as the OTLP receiver decoded it.
type received struct {
	resource map[string]string
	scope    string
	time     time.Time
	observed time.Time
	sevNum   int32
	sevText  string
	body     string
	attrs    map[string]any
}

// receiver is an OTLP/HTTP logs endpoint: it decodes each request (gzip or
// not) and answers with status(), so a test can make it fail.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	requests int
	status   func(n int) int // the status for the n-th request (1-based)
	partial  int64           // rejected records to report in a 200
	headers  http.Header
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{status: func(int) int { return http.StatusOK }}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/logs" || req.Method != http.MethodPost {
			http.Error(w, "not here", http.StatusNotFound)
			return
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = gz
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.requests++
		n := r.requests
		r.headers = req.Header.Clone()
		status, partial := r.status(n), r.partial
		r.mu.Unlock()
		if status != http.StatusOK {
			http.Error(w, "unavailable", status)
			return
		}
		var msg collogs.ExportLogsServiceRequest
		if err := proto.Unmarshal(b, &msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var recs []received
		for _, rl := range msg.ResourceLogs {
			res := map[string]string{}
			for _, kv := range rl.GetResource().GetAttributes() {
				res[kv.Key] = kv.Value.GetStringValue()
			}
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					rec := received{resource: res, scope: sl.GetScope().GetName(), time: time.Unix(0, int64(lr.TimeUnixNano)), observed: time.Unix(0, int64(lr.ObservedTimeUnixNano)),
						sevNum: int32(lr.SeverityNumber), sevText: lr.SeverityText, body: lr.GetBody().GetStringValue(), attrs: map[string]any{}}
					for _, kv := range lr.Attributes {
						rec.attrs[kv.Key] = anyValue(kv.Value)
					}
					recs = append(recs, rec)
				}
			}
		}
		r.mu.Lock()
		r.got = append(r.got, recs...)
		r.mu.Unlock()
		resp := &collogs.ExportLogsServiceResponse{}
		if partial > 0 {
			resp.PartialSuccess = &collogs.ExportLogsPartialSuccess{RejectedLogRecords: partial, ErrorMessage: "too old"}
		}
		out, _ := proto.Marshal(resp)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(r.Close)
	return r
}

func anyValue(v *commonpb.AnyValue) any {
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	}
	return fmt.Sprint(v)
}

func (r *receiver) records() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (r *receiver) setStatus(f func(n int) int) {
	r.mu.Lock()
	r.status = f
	r.mu.Unlock()
}

func openJournal(t *testing.T, dir string) *journal.Journal {
	t.Helper()
	j, err := journal.Open(journal.Options{Path: dir, BatchInterval: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// login is a direct SSH login of user, at a distinct time.
func login(i int, user string) audit.Event {
	return audit.Event{Time: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second), Source: audit.SourceSyslog,
		Host: "esx01.lab.local", Kind: audit.KindLogin, User: user, ClientIP: "172.16.5.5", Method: audit.MethodSSH, Direct: true,
		Outcome: audit.OutcomeSuccess, Message: "Accepted keyboard-interactive/pam for " + user + " from 172.16.5.5 port 58470 ssh2", Rule: "sshd/accepted"}
}

func appendLogins(t *testing.T, j *journal.Journal, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		j.Record(login(i, fmt.Sprintf("user%05d", i)))
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
}

func newShipper(t *testing.T, j Outbox, endpoint string, reg prometheus.Registerer) *Shipper {
	t.Helper()
	exp, err := NewOTLPExporter(context.Background(), OTLPConfig{Endpoint: endpoint, Gzip: true, Timeout: 5 * time.Second, Headers: map[string]string{"X-Scope-OrgID": "audit"}})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := LogsURL(endpoint)
	s, err := New(j, exp, Options{Name: SinkName(u), ServiceVersion: "1.2.3", Registerer: reg, Poll: 20 * time.Millisecond,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// Every journaled event is one record, in journal order, in batches of at
// most 500, with the event's fields as attributes, the event time as the
// timestamp, the message as the body, WARN for a direct login, and the
// resource naming the exporter; the cursor is saved at the last event.
func TestShipsEveryEventInOrder(t *testing.T) {
	j := openJournal(t, t.TempDir())
	appendLogins(t, j, 0, 1234)
	other := audit.Event{Time: time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC), Source: audit.SourceVCenter, Host: "vcsa01", Kind: audit.KindVMMigrated,
		User: "DRS", VM: "web01", SourceHost: "esx01", TargetHost: "esx02"}
	j.Record(other)
	j.Sync()
	rcv := newReceiver(t)
	reg := prometheus.NewRegistry()
	s := newShipper(t, j, rcv.URL, reg)
	before := time.Now()
	for {
		n, err := s.ShipBatch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n > DefaultBatch {
			t.Fatalf("a batch of %d events, more than %d", n, DefaultBatch)
		}
		if n == 0 {
			break
		}
	}
	got := rcv.records()
	if len(got) != 1235 || rcv.requests != 3 {
		t.Fatalf("received %d records in %d requests, want 1235 in 3", len(got), rcv.requests)
	}
	for i, r := range got[:1234] {
		if u := fmt.Sprintf("user%05d", i); r.attrs["user"] != u {
			t.Fatalf("record %d is user %v, want %s (journal order)", i, r.attrs["user"], u)
		}
	}
	r := got[7]
	want := map[string]any{"kind": "login", "user": "user00007", "client_ip": "172.16.5.5", "host": "esx01.lab.local", "method": "ssh",
		"direct": true, "source": "syslog", "outcome": "success", "rule": "sshd/accepted"}
	for k, v := range want {
		if r.attrs[k] != v {
			t.Errorf("attribute %s = %v, want %v", k, r.attrs[k], v)
		}
	}
	if id, _ := r.attrs["event.id"].(string); !regexp.MustCompile(`^8-[0-9a-f]{16}$`).MatchString(id) || r.attrs["log.record.uid"] != id {
		t.Errorf("event.id %q (log.record.uid %v), want 8-<16 hex>", id, r.attrs["log.record.uid"])
	}
	for _, k := range []string{"message", "time", "vm", "cross_vm", "Reporter", "OpID", "EventID"} {
		if _, ok := r.attrs[k]; ok {
			t.Errorf("attribute %s present", k)
		}
	}
	if !r.time.Equal(login(7, "").Time) {
		t.Errorf("timestamp %v, want the event time %v", r.time, login(7, "").Time)
	}
	if r.observed.Before(before.Add(-time.Second)) || r.observed.After(time.Now().Add(time.Second)) {
		t.Errorf("observed time %v, want now", r.observed)
	}
	if r.sevText != "WARN" || r.sevNum != 13 {
		t.Errorf("severity %s/%d, want WARN/13 for a direct login", r.sevText, r.sevNum)
	}
	if r.body != login(7, "user00007").Message {
		t.Errorf("body %q", r.body)
	}
	if h, _ := os.Hostname(); r.resource["service.name"] != "vsphere_audit_exporter" || r.resource["service.version"] != "1.2.3" || r.resource["service.instance.id"] != h || r.scope != instrumentationName {
		t.Errorf("resource %v scope %q", r.resource, r.scope)
	}
	m := got[1234]
	if m.sevText != "INFO" || m.body != "vm_migrated" || m.attrs["vm"] != "web01" || m.attrs["source_host"] != "esx01" || m.attrs["target_host"] != "esx02" || m.attrs["direct"] != false {
		t.Errorf("migration record: %+v", m)
	}
	if rcv.headers.Get("X-Scope-OrgID") != "audit" {
		t.Errorf("header X-Scope-OrgID = %q", rcv.headers.Get("X-Scope-OrgID"))
	}
	last, _ := j.LastSeq()
	if c, _ := j.Cursor(s.o.Name); c != last || c != 1235 {
		t.Errorf("saved cursor %d, want the last seq %d", c, last)
	}
	if v := testutil.ToFloat64(s.events); v != 1235 {
		t.Errorf("ship_events_total %v", v)
	}
	if v := testutil.ToFloat64(s.lag); v != 0 {
		t.Errorf("ship_lag_events %v", v)
	}
	if v := testutil.ToFloat64(s.lastOK); v < float64(before.Unix()) {
		t.Errorf("ship_last_success_timestamp_seconds %v", v)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP vsphere_audit_ship_errors_total Failed exports to the log store (each is retried; the cursor stays) and failed cursor writes.
# TYPE vsphere_audit_ship_errors_total counter
vsphere_audit_ship_errors_total{sink="otlp:`+rcv.URL+`/v1/logs"} 0
`), "vsphere_audit_ship_errors_total"); err != nil {
		t.Error(err)
	}
}

// While the store fails, nothing is lost and the cursor stays; each
// failure is counted; when it answers again every event arrives once, in
// order. A restarted shipper (a new process: the journal reopened) goes on
// after its saved cursor.
func TestOutageLosesNothingAndRestartResumes(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir)
	appendLogins(t, j, 0, 700)
	rcv := newReceiver(t)
	rcv.setStatus(func(int) int { return http.StatusServiceUnavailable })
	reg := prometheus.NewRegistry()
	s := newShipper(t, j, rcv.URL, reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, 5*time.Second, "5 failed exports", func() bool { return testutil.ToFloat64(s.errs) >= 5 })
	if c, _ := j.Cursor(s.o.Name); c != 0 || s.Cursor() != 0 {
		t.Fatalf("cursor moved to %d (saved %d) while the store failed", s.Cursor(), c)
	}
	if v := testutil.ToFloat64(s.lag); v != 700 {
		t.Errorf("lag %v during the outage, want 700", v)
	}
	appendLogins(t, j, 700, 100) // journaled during the outage
	rcv.setStatus(func(int) int { return http.StatusOK })
	waitFor(t, 10*time.Second, "800 records", func() bool { return len(rcv.records()) >= 800 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.Close(context.Background())

	// The exporter restarts: a new journal handle, a new shipper, more events.
	j.Close()
	j = openJournal(t, dir)
	appendLogins(t, j, 800, 50)
	s2 := newShipper(t, j, rcv.URL, prometheus.NewRegistry())
	if n, err := s2.Drain(context.Background()); err != nil || n != 0 {
		t.Fatalf("drain: %d remaining, %v", n, err)
	}
	got := rcv.records()
	if len(got) != 850 {
		t.Fatalf("received %d records, want 850 (each event once)", len(got))
	}
	for i, r := range got {
		if u := fmt.Sprintf("user%05d", i); r.attrs["user"] != u {
			t.Fatalf("record %d is %v, want %s: out of order or twice", i, r.attrs["user"], u)
		}
	}
	if c, _ := j.Cursor(s2.o.Name); c != 850 {
		t.Errorf("saved cursor %d, want 850", c)
	}
}

// Run ships new events promptly: within a poll or two of their commit.
func TestRunWakesUpForNewEvents(t *testing.T) {
	j := openJournal(t, t.TempDir())
	rcv := newReceiver(t)
	s := newShipper(t, j, rcv.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	time.Sleep(50 * time.Millisecond)
	for round := 0; round < 3; round++ {
		start := time.Now()
		appendLogins(t, j, round*10, 10)
		waitFor(t, 2*time.Second, "the new events", func() bool { return len(rcv.records()) == (round+1)*10 })
		t.Logf("round %d: shipped %s after the commit", round, time.Since(start).Round(time.Millisecond))
	}
}

// Drain gives up at its deadline while the store is down, and says how
// many events remain; the cursor stays.
func TestDrainBoundedWhileStoreDown(t *testing.T) {
	j := openJournal(t, t.TempDir())
	appendLogins(t, j, 0, 10)
	rcv := newReceiver(t)
	rcv.setStatus(func(int) int { return http.StatusBadGateway })
	s := newShipper(t, j, rcv.URL, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	n, err := s.Drain(ctx)
	if err == nil || n != 10 {
		t.Fatalf("drain: %d remaining, %v; want 10 and the deadline", n, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("drain took %s past a 300ms deadline", d)
	}
	if c, _ := j.Cursor(s.o.Name); c != 0 {
		t.Errorf("cursor %d", c)
	}
}

// An OTLP partial success is the store's verdict on the batch: the cursor
// moves on (sending it again gives the same answer) and it is counted.
func TestPartialSuccessAdvances(t *testing.T) {
	j := openJournal(t, t.TempDir())
	appendLogins(t, j, 0, 3)
	rcv := newReceiver(t)
	rcv.partial = 1
	s := newShipper(t, j, rcv.URL, nil)
	if n, err := s.ShipBatch(context.Background()); n != 3 || err != nil {
		t.Fatalf("ship: %d, %v", n, err)
	}
	if s.Cursor() != 3 || testutil.ToFloat64(s.errs) != 1 {
		t.Errorf("cursor %d errors %v, want 3 and 1", s.Cursor(), testutil.ToFloat64(s.errs))
	}
}

// The id depends on seq and content only: the same journaled event has the
// same id every time it is sent.
func TestEventIDStable(t *testing.T) {
	a := journal.Row{Seq: 42, Event: login(1, "root")}
	if EventID(a) != EventID(journal.Row{Seq: 42, Event: login(1, "root")}) {
		t.Error("same event, different ids")
	}
	if EventID(a) == EventID(journal.Row{Seq: 43, Event: login(1, "root")}) || EventID(a) == EventID(journal.Row{Seq: 42, Event: login(1, "admin")}) {
		t.Error("different events, same id")
	}
}

func TestLogsURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://collector:4318":                              "http://collector:4318/v1/logs",
		"http://collector:4318/":                             "http://collector:4318/v1/logs",
		"https://otel.example.com/v1/logs":                   "https://otel.example.com/v1/logs",
		"http://127.0.0.1:9428/insert/opentelemetry":         "http://127.0.0.1:9428/insert/opentelemetry/v1/logs",
		"http://127.0.0.1:9428/insert/opentelemetry/v1/logs": "http://127.0.0.1:9428/insert/opentelemetry/v1/logs",
	} {
		u, err := LogsURL(in)
		if err != nil || u.String() != want {
			t.Errorf("LogsURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"collector:4318", "ftp://x/", "http://", "http://user:secret@collector:4318", "http://c:4318/?a=b"} {
		if _, err := LogsURL(bad); err == nil {
			t.Errorf("LogsURL(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("LogsURL(%q): the error shows the password: %v", bad, err)
		}
	}
}

func TestHeaders(t *testing.T) {
	for in, want := range map[string][2]string{
		"Authorization=Bearer abc==": {"Authorization", "Bearer abc=="},
		"Authorization: Basic dTpw":  {"Authorization", "Basic dTpw"},
		"AccountID=12":               {"AccountID", "12"},
		"X-Empty=":                   {"X-Empty", ""},
	} {
		k, v, err := ParseHeader(in)
		if err != nil || k != want[0] || v != want[1] {
			t.Errorf("ParseHeader(%q) = %q, %q, %v", in, k, v, err)
		}
	}
	for _, bad := range []string{"novalue", "=x", "bad name=x"} {
		if _, _, err := ParseHeader(bad); err == nil {
			t.Errorf("ParseHeader(%q) accepted", bad)
		}
	}
	p := filepath.Join(t.TempDir(), "headers")
	os.WriteFile(p, []byte("# tenant\nAccountID=12\n\nAuthorization: Bearer s3cret\n"), 0o600)
	h, err := ReadHeadersFile(p)
	if err != nil || len(h) != 2 || h["Authorization"] != "Bearer s3cret" || h["AccountID"] != "12" {
		t.Errorf("ReadHeadersFile = %v, %v", h, err)
	}
	os.WriteFile(p, []byte("AccountID=12\nBearer s3cret\n"), 0o600)
	if _, err := ReadHeadersFile(p); err == nil || !strings.Contains(err.Error(), ":2:") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("ReadHeadersFile of a bad line: %v (want the line number, not its content)", err)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A console opened on another person's guest session is WARN, its guest
// logon INFO.
func TestSeverityConsoleSessionReused(t *testing.T) {
	for _, c := range []struct {
		kind audit.Kind
		want string
	}{{audit.KindConsoleSessionReused, "WARN"}, {audit.KindGuestLogon, "INFO"}, {audit.KindConsoleOpened, "INFO"}} {
		if _, got := severity(&audit.Event{Kind: c.kind, Outcome: audit.OutcomeSuccess}); got != c.want {
			t.Errorf("%s: %s, want %s", c.kind, got, c.want)
		}
	}
}

package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// Every field survives a block: encoded, stored, read back.
func TestBlockRoundTrip(t *testing.T) {
	e := audit.Event{Time: time.Date(2026, 11, 1, 10, 0, 0, 123456789, time.UTC), Source: audit.SourceVCenter, Host: "esx01", Kind: audit.KindVMDiskChanged,
		User: `LAB\alice`, ClientIP: "10.0.0.9", Method: audit.MethodHostd, Direct: true, Outcome: audit.OutcomeSuccess, VM: "dc01",
		SourceHost: "esx02", TargetHost: "esx03", Service: "TSM-SSH", TicketType: "webmks", Setting: "Security.AccountLockFailures",
		Command: "esxcli vm process kill", Action: "attach", Path: "[ds1] dc01/dc01.vmdk", Operation: "StartProgramInGuest",
		Technique: "T1490", Value: "0", Reason: "denied", Object: "vim.Folder", CrossVM: true, Message: "héllo \x00 \"world\"",
		Rule: "vpxd/reconfigure", EventID: "vcenter:42:1"}
	rec, split := encodeEvent(nil, &e)
	var bb blockBuilder
	bb.add(7, rec[:split], rec[split:])
	rows, err := decodeAll(bb.seq0, bb.head, bb.body)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Seq != 7 || rows[0].Event != e {
		t.Fatalf("read back %+v\nwant %+v", rows, e)
	}
	// A truncated block is an error, not a panic or a wrong event.
	for cut := 0; cut < len(bb.head); cut++ {
		if rows, err := decodeAll(0, bb.head[:cut], bb.body); err == nil && len(rows) != 0 {
			t.Fatalf("head cut at %d read %d events", cut, len(rows))
		}
	}
	for cut := 0; cut < len(bb.body); cut++ {
		if _, err := decodeAll(0, bb.head, bb.body[:cut]); err == nil {
			t.Fatalf("body cut at %d read", cut)
		}
	}
}

// decodeAll reads every event of a block.
func decodeAll(seq0 int64, head, body []byte) ([]Row, error) {
	r := blockReader{head: head, body: body, seq0: seq0}
	in := newInterner()
	var out []Row
	for {
		var h rawHead
		ok, err := r.nextHead(&h)
		if err != nil || !ok {
			return out, err
		}
		var row Row
		h.fill(&row.Event, head, in, allHead)
		if err := r.readBody(&row.Event, allBody); err != nil {
			return out, err
		}
		row.Seq = h.seq
		out = append(out, row)
	}
}

// Scan and Count over many blocks that overlap in time (events arrive out
// of order, blocks are merged) give what a filter and a sort of every
// event give: the same events, in (time, sequence) order or its reverse,
// paged.
func TestScanMatchesModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("VSPHERE_AUDIT_JOURNAL_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (VSPHERE_AUDIT_JOURNAL_SEED replays it)", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	j, err := Open(Options{Path: t.TempDir(), BatchEvents: 1 + rng.IntN(700), BatchInterval: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	kinds := []audit.Kind{audit.KindLogin, audit.KindLoginFailed, audit.KindConsoleOpened, audit.KindVMMigrated}
	var model []Row
	const n = 5000
	for i := 0; i < n; i++ {
		e := audit.Event{Time: base.Add(time.Duration(i)*time.Second + time.Duration(rng.IntN(600)-300)*time.Second),
			Source: audit.SourceSyslog, Host: fmt.Sprintf("esx%d", rng.IntN(3)), Kind: kinds[rng.IntN(len(kinds))],
			User: fmt.Sprintf("u%d", rng.IntN(5)), Direct: rng.IntN(4) == 0, VM: fmt.Sprintf("vm%d", rng.IntN(3)), Message: fmt.Sprint(i)}
		if rng.IntN(50) == 0 {
			e.Time = base.Add(time.Duration(rng.IntN(n)) * time.Second) // a late one
		}
		j.Record(e)
		model = append(model, Row{Seq: int64(i + 1), Event: e})
		if rng.IntN(400) == 0 {
			if err := j.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := j.compact(); err != nil {
		t.Fatal(err)
	}
	var blocks int
	j.rdb.QueryRow(`SELECT count(*) FROM blocks`).Scan(&blocks)
	t.Logf("%d events in %d blocks", n, blocks)
	ctx := context.Background()
	for k := 0; k < 200; k++ {
		var q Query
		if rng.IntN(2) == 0 {
			q.Since = base.Add(time.Duration(rng.IntN(n)) * time.Second)
		}
		if rng.IntN(2) == 0 {
			q.Until = base.Add(time.Duration(rng.IntN(n)) * time.Second)
		}
		if rng.IntN(3) == 0 {
			q.User = fmt.Sprintf("u%d", rng.IntN(5))
		}
		if rng.IntN(4) == 0 {
			q.Host = fmt.Sprintf("esx%d", rng.IntN(3))
		}
		if rng.IntN(5) == 0 {
			q.VM = fmt.Sprintf("vm%d", rng.IntN(3))
		}
		if rng.IntN(3) == 0 {
			q.Kinds = []audit.Kind{kinds[rng.IntN(len(kinds))], kinds[rng.IntN(len(kinds))]}
		}
		if rng.IntN(5) == 0 {
			d := rng.IntN(2) == 0
			q.Direct = &d
		}
		if rng.IntN(4) == 0 {
			q.AfterSeq = int64(rng.IntN(n))
		}
		switch rng.IntN(3) {
		case 0:
			q.Desc = true
		case 1:
			q.BySeq = true
		}
		if rng.IntN(2) == 0 {
			q.Limit, q.Offset = 1+rng.IntN(100), rng.IntN(300)
		}
		// Columns without the time: still in time order, the time not filled.
		noTime := rng.IntN(4) == 0
		if noTime {
			q.Columns = []string{"message", "user"}
		}
		var want []Row
		for _, r := range model {
			e := &r.Event
			if !q.Since.IsZero() && e.Time.Before(q.Since) || !q.Until.IsZero() && !e.Time.Before(q.Until) || r.Seq <= q.AfterSeq ||
				q.User != "" && e.User != q.User || q.Host != "" && e.Host != q.Host || q.VM != "" && e.VM != q.VM ||
				q.Direct != nil && e.Direct != *q.Direct || len(q.Kinds) > 0 && !slices.Contains(q.Kinds, e.Kind) {
				continue
			}
			want = append(want, r)
		}
		count := len(want)
		if !q.BySeq {
			slices.SortStableFunc(want, func(x, y Row) int {
				if c := x.Event.Time.Compare(y.Event.Time); c != 0 {
					return c
				}
				return int(x.Seq - y.Seq)
			})
			if q.Desc {
				slices.Reverse(want)
			}
		}
		if q.Limit > 0 {
			want = want[min(q.Offset, len(want)):]
			want = want[:min(q.Limit, len(want))]
		}
		var got []Row
		if err := j.Scan(ctx, q, func(r Row) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("query %+v: %d rows, want %d", q, len(got), len(want))
		}
		for i := range got {
			if noTime {
				if !got[i].Event.Time.IsZero() || got[i].Event.Host != "" {
					t.Fatalf("query %+v: row %d has fields not asked for: %+v", q, i, got[i].Event)
				}
				got[i].Event.Time = want[i].Event.Time
			}
			if got[i].Seq != want[i].Seq || got[i].Event.Message != want[i].Event.Message || !got[i].Event.Time.Equal(want[i].Event.Time) {
				t.Fatalf("query %+v: row %d is seq %d at %v, want seq %d at %v", q, i, got[i].Seq, got[i].Event.Time, want[i].Seq, want[i].Event.Time)
			}
		}
		c, err := j.Count(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if c != int64(count) {
			t.Fatalf("query %+v: count %d, want %d", q, c, count)
		}
	}
}

// The janitor merges runs of small blocks (a quiet farm's commits) into
// full ones, and what a scan reads does not change.
func TestCompactMergesSmallBlocks(t *testing.T) {
	j, err := Open(Options{Path: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for i := 0; i < 1200; i++ {
		j.Record(ev(i, audit.SourceSyslog))
		if i%3 == 2 {
			j.Sync()
		}
	}
	j.Sync()
	// Between the janitor's counts, the gauges follow the appends.
	if got, oldest := testutil.ToFloat64(j.m.rows), testutil.ToFloat64(j.m.oldest); got != 1200 || oldest != float64(ev(0, "").Time.Unix()) {
		t.Errorf("rows gauge %v, oldest %v after 1200 appends", got, oldest)
	}
	blocks := func() (n int) { j.rdb.QueryRow(`SELECT count(*) FROM blocks`).Scan(&n); return }
	if b := blocks(); b != 400 {
		t.Fatalf("%d blocks before merging, want 400 (one a commit)", b)
	}
	var before []Row
	j.Scan(context.Background(), Query{}, func(r Row) error { before = append(before, r); return nil })
	if err := j.compact(); err != nil {
		t.Fatal(err)
	}
	// 170 commits of 3 fit a block of 512 (510 events): 170 + 170 + 60.
	// (Every event is a login: one kind, one run.)
	if b := blocks(); b != 3 {
		t.Fatalf("%d blocks after merging, want 3", b)
	}
	var after []Row
	j.Scan(context.Background(), Query{}, func(r Row) error { after = append(after, r); return nil })
	if len(after) != 1200 || !slices.EqualFunc(before, after, func(x, y Row) bool { return x.Seq == y.Seq && x.Event == y.Event }) {
		t.Fatalf("a scan reads %d events after merging, %d before, or others", len(after), len(before))
	}
	// The next pass goes on from the last run: more small commits join it.
	for i := 0; i < 30; i++ {
		j.Record(ev(i, audit.SourceSyslog))
		j.Sync()
	}
	if err := j.compact(); err != nil {
		t.Fatal(err)
	}
	if b := blocks(); b != 3 {
		t.Fatalf("%d blocks after merging again, want 3", b)
	}
	if last, _ := j.LastSeq(); last != 1230 {
		t.Fatalf("last seq %d, want 1230", last)
	}
}

// Sequence numbers never repeat, even once retention dropped every event:
// an outbox's cursor would skip the new ones.
func TestSeqNotReused(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	j, err := Open(Options{Path: dir, Retention: time.Hour, Now: func() time.Time { return now }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		e := ev(i, audit.SourceSyslog)
		e.Time = now.Add(-2 * time.Hour)
		j.Record(e)
	}
	j.Sync()
	j.enforce()
	if n, _ := j.Count(context.Background(), Query{}); n != 0 {
		t.Fatalf("%d events kept", n)
	}
	j.enforce() // on an empty journal
	if got := testutil.ToFloat64(j.m.errors.WithLabelValues("retention")); got != 0 {
		t.Fatalf("%v retention errors", got)
	}
	j.Close()
	j, err = Open(Options{Path: dir, Retention: time.Hour, Now: func() time.Time { return now }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	e := ev(11, audit.SourceSyslog)
	e.Time = now
	j.Record(e)
	j.Sync()
	if last, _ := j.LastSeq(); last != 11 {
		t.Fatalf("the event after retention dropped all got seq %d, want 11", last)
	}
}

// schemaV1 is the journal's first format: a row per event.
const schemaV1 = `
CREATE TABLE events (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT,
	time_ns   INTEGER NOT NULL,
	kind      TEXT NOT NULL,
	source    TEXT NOT NULL,
	host      TEXT NOT NULL,
	user      TEXT NOT NULL,
	client_ip TEXT NOT NULL,
	method    TEXT NOT NULL,
	vm        TEXT NOT NULL,
	direct    INTEGER NOT NULL,
	uid       TEXT,
	data      TEXT NOT NULL
);
CREATE UNIQUE INDEX events_uid ON events(uid) WHERE uid IS NOT NULL;
CREATE INDEX events_time ON events(time_ns);
CREATE INDEX events_kind_time ON events(kind, time_ns);
CREATE TABLE checkpoints (name TEXT PRIMARY KEY, data BLOB NOT NULL, updated_ns INTEGER NOT NULL);
CREATE TABLE cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
`

// A journal of the first format (a row per event) is converted at Open:
// the same events with the same sequence numbers, the checkpoints and
// cursors kept, a vCenter event read again still recognized, and new
// events numbered past every number the old table gave.
func TestConvertV1(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(schemaV1); err != nil {
		t.Fatal(err)
	}
	var want []Row
	for i := 0; i < 1500; i++ {
		src := audit.SourceSyslog
		if i%2 == 0 {
			src = audit.SourceVCenter
		}
		e := ev(i, src)
		e.Message = fmt.Sprintf("event %d", i)
		data, err := json.Marshal(e) // format 1 stored encoding/json's object
		if err != nil {
			t.Fatal(err)
		}
		var uid any
		if u := UID(&e); u != "" {
			uid = u
		}
		seq := int64(i + 1)
		if i >= 700 {
			seq += 100 // a gap: events retention dropped
		}
		if _, err := db.Exec(`INSERT INTO events (seq, time_ns, kind, source, host, user, client_ip, method, vm, direct, uid, data) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
			seq, e.Time.UnixNano(), string(e.Kind), e.Source, e.Host, e.User, e.ClientIP, e.Method, e.VM, e.Direct, uid, string(data)); err != nil {
			t.Fatal(err)
		}
		want = append(want, Row{Seq: seq, Event: e})
	}
	// Numbers given since to events now dropped.
	db.Exec(`UPDATE sqlite_sequence SET seq = 2000 WHERE name = 'events'`)
	db.Exec(`INSERT INTO checkpoints VALUES ('vcenter:vc1', '{"k":1}', 1)`)
	db.Exec(`INSERT INTO cursors VALUES ('otlp', 650)`)
	db.Close()

	if _, err := OpenReadOnly(dir); err == nil {
		t.Fatal("a journal of the old format opened read-only")
	}
	next := &collect{}
	j, err := Open(Options{Path: dir, Registerer: prometheus.NewRegistry()}, next)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var got []Row
	if err := j.Scan(context.Background(), Query{BySeq: true}, func(r Row) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d events after converting, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || !g.Event.Time.Equal(w.Event.Time) {
			t.Fatalf("event %d: seq %d at %v, want %d at %v", i, g.Seq, g.Event.Time, w.Seq, w.Event.Time)
		}
		g.Event.Time = w.Event.Time
		if g.Event != w.Event {
			t.Fatalf("event %d: %+v\nwant %+v", i, g.Event, w.Event)
		}
	}
	if cp, _ := j.Checkpoint("vcenter:vc1"); string(cp) != `{"k":1}` {
		t.Errorf("checkpoint %q after converting", cp)
	}
	if c, _ := j.Cursor("otlp"); c != 650 {
		t.Errorf("cursor %d after converting", c)
	}
	// vCenter event 4, read again: recognized; a new one: stored as 2001.
	j.Record(ev(4, audit.SourceVCenter))
	j.Record(ev(5000, audit.SourceVCenter))
	j.Sync()
	if len(next.got) != 1 || next.got[0].EventID != ev(5000, audit.SourceVCenter).EventID {
		t.Fatalf("passed on %+v, want the new event only", next.got)
	}
	if last, _ := j.LastSeq(); last != 2001 {
		t.Errorf("the new event is seq %d, want 2001", last)
	}
	var tables int
	j.rdb.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'events'`).Scan(&tables)
	if tables != 0 {
		t.Error("the old table is still there")
	}
}

// FuzzBlock: any event survives a block exactly, and any bytes read as a
// block give events or an error, never a panic.
func FuzzBlock(f *testing.F) {
	f.Add(int64(1), "esx01", `LAB\alice`, "10.0.0.9", "dc01", "msg", true, []byte{1, 2, 3}, []byte{0})
	f.Add(int64(-1), "", "", "", "", "\xff\x00", false, []byte{}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, ns int64, host, user, ip, vm, msg string, direct bool, head, body []byte) {
		e := audit.Event{Time: time.Unix(0, ns).UTC(), Source: audit.SourceSyslog, Host: host, Kind: audit.KindLogin, User: user,
			ClientIP: ip, VM: vm, Direct: direct, Message: msg, Path: user + vm}
		rec, split := encodeEvent(nil, &e)
		var bb blockBuilder
		bb.add(3, rec[:split], rec[split:])
		bb.add(9, rec[:split], rec[split:])
		rows, err := decodeAll(bb.seq0, bb.head, bb.body)
		if err != nil || len(rows) != 2 || rows[0].Seq != 3 || rows[1].Seq != 9 || rows[0].Event != e || rows[1].Event != e {
			t.Fatalf("read back %+v, %v\nwant twice %+v", rows, err, e)
		}
		if bb.minNs != ns || bb.maxNs != ns {
			t.Fatalf("block times %d..%d, want %d", bb.minNs, bb.maxNs, ns)
		}
		decodeAll(0, head, body)
		r := blockReader{head: head, body: body}
		var h rawHead
		for {
			ok, err := r.nextHead(&h)
			if !ok || err != nil {
				break
			}
			if _, err := r.skipBody(); err != nil {
				break
			}
		}
	})
}

// Readers see one snapshot while the writer appends and the janitor
// merges blocks: every scan reads each event once, in sequence order, and
// no fewer than the scan before it.
func TestScanWhileWritingAndMerging(t *testing.T) {
	j, err := Open(Options{Path: t.TempDir(), BatchEvents: 5, BatchInterval: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	const n = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			e := ev(i%60, audit.SourceSyslog)
			e.Kind = []audit.Kind{audit.KindLogin, audit.KindLogout, audit.KindConsoleOpened}[i%3]
			j.Record(e)
		}
		j.Sync()
	}()
	merged := make(chan error, 1)
	go func() {
		for {
			select {
			case <-done:
				merged <- j.compact()
				return
			default:
			}
			if err := j.compact(); err != nil {
				merged <- err
				return
			}
		}
	}()
	ctx := context.Background()
	prev, scans := 0, 0
	for finished := false; !finished; scans++ {
		select {
		case <-done:
			finished = true
		default:
		}
		var last int64
		got := 0
		err := j.Scan(ctx, Query{BySeq: true, Columns: []string{"kind"}}, func(r Row) error {
			if r.Seq <= last {
				return fmt.Errorf("seq %d after %d", r.Seq, last)
			}
			last = r.Seq
			got++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		c, err := j.Count(ctx, Query{})
		if err != nil {
			t.Fatal(err)
		}
		if got < prev || c < int64(got) {
			t.Fatalf("scan %d read %d events, the one before %d; count %d", scans, got, prev, c)
		}
		prev = got
	}
	if err := <-merged; err != nil {
		t.Fatal(err)
	}
	if c, _ := j.Count(ctx, Query{}); c != n || prev != n {
		t.Fatalf("%d events stored, the last scan read %d, want %d", c, prev, n)
	}
	t.Logf("%d scans while writing and merging", scans)
}

// Every field of audit.Event survives a block: one added to the event
// but not to the block's fields fails here, not silently in the journal.
func TestBlockKeepsEveryField(t *testing.T) {
	var e audit.Event
	v := reflect.ValueOf(&e).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(v.Type().Field(i).Name)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Struct:
			f.Set(reflect.ValueOf(time.Date(2026, 11, 1, 10, 0, 0, 1, time.UTC)))
		default:
			t.Fatalf("audit.Event.%s is a %s: the journal's block encoding does not know it", v.Type().Field(i).Name, f.Kind())
		}
	}
	rec, split := encodeEvent(nil, &e)
	var bb blockBuilder
	bb.add(1, rec[:split], rec[split:])
	rows, err := decodeAll(bb.seq0, bb.head, bb.body)
	if err != nil || len(rows) != 1 {
		t.Fatal(rows, err)
	}
	got := rows[0].Event
	// Reporter and OpID serve de-duplication in the pipeline only.
	e.Reporter, e.OpID = "", ""
	if got != e {
		t.Fatalf("read back %+v\nwant %+v\n(a new field of audit.Event goes at the end of bodyFields in block.go)", got, e)
	}
}

// bodyValues reads the fields bodyFields names, in the same order.
func TestBodyValuesMatchFields(t *testing.T) {
	var e audit.Event
	for i := range bodyFields {
		*bodyFields[i].ptr(&e) = bodyFields[i].name
	}
	for i, v := range bodyValues(&e) {
		if v != bodyFields[i].name {
			t.Errorf("bodyValues[%d] = %q, want %q", i, v, bodyFields[i].name)
		}
	}
}

// Package journal is the audit record: every event the pipeline emits,
// kept with its exact time in an embedded SQLite database (modernc.org/sqlite,
// pure Go; WAL mode), so that "who logged in where, when, over the last 30
// days" has an answer that survives restarts.
//
// The journal is a sink stage: Record queues an event, a writer goroutine
// commits the queue in batches (a group commit every Options.BatchInterval
// or Options.BatchEvents events), and only the events a commit actually
// stored are passed on to the next sink (the metrics). An event that carries
// a source id (a vCenter event's key) is stored once: the same event read
// again after a crash is recognized and neither stored nor counted twice.
// Source checkpoints go through the same queue, so a checkpoint is never
// committed before the events that precede it.
//
// An I/O error or a full disk never stops ingest: the batch's events are
// passed on uncounted by the journal, the error is counted and logged at
// most once a minute.
package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/labels"
)

// FileName is the database file in Options.Path.
const FileName = "journal.db"

// Defaults.
const (
	DefaultRetention     = 400 * 24 * time.Hour
	DefaultBatchEvents   = 4096
	DefaultBatchInterval = 100 * time.Millisecond
	DefaultQueue         = 65536
)

// Options configure a Journal.
type Options struct {
	// Path is the journal's directory (created when missing).
	Path string
	// Retention drops events older than this (default 400 days); MaxSize,
	// when set, drops the oldest events while the database is larger.
	Retention time.Duration
	MaxSize   int64
	// BatchEvents and BatchInterval bound a group commit.
	BatchEvents   int
	BatchInterval time.Duration
	// Queue is how many events may wait for the writer; Record blocks
	// beyond it.
	Queue      int
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time
}

// item is one thing for the writer: an event, a checkpoint, or a barrier.
type item struct {
	ev   audit.Event
	kind itemKind
	name string
	data []byte
	done chan error
}

type itemKind uint8

const (
	itemEvent itemKind = iota
	itemCheckpoint
	itemSync
)

// Journal is safe for concurrent use.
type Journal struct {
	o    Options
	db   *sql.DB // the writer's connection (one)
	rdb  *sql.DB // readers
	next audit.Sink
	q    chan item
	m    *jmetrics
	log  *slog.Logger

	mu       sync.Mutex
	closed   bool
	lastWarn time.Time
	wg       sync.WaitGroup
	stop     chan struct{}

	// enforceMu makes one retention pass at a time: two passes at once
	// each drop the share of the excess they measured, together every row.
	enforceMu sync.Mutex
}

type jmetrics struct {
	rows, bytes, oldest prometheus.Gauge
	appended, ignored   prometheus.Counter
	errors              *prometheus.CounterVec
	write               prometheus.Histogram
	queue               prometheus.GaugeFunc
}

// Open opens (or creates) the journal in o.Path and starts its writer.
// Events it stores are passed to next (nil: none).
func Open(o Options, next audit.Sink) (*Journal, error) {
	if o.Path == "" {
		return nil, errors.New("journal: no path")
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.BatchEvents <= 0 {
		o.BatchEvents = DefaultBatchEvents
	}
	if o.BatchInterval <= 0 {
		o.BatchInterval = DefaultBatchInterval
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if next == nil {
		next = audit.SinkFunc(func(audit.Event) {})
	}
	if err := os.MkdirAll(o.Path, 0o750); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	file := filepath.Join(o.Path, FileName)
	dsn := "file:" + file + "?_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_pragma=foreign_keys(OFF)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	db.SetMaxOpenConns(1)
	if err := migrate(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal %s: %w", file, err)
	}
	// Readers map the file: a report reads every page of a month.
	rdb, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)&_pragma=mmap_size(1073741824)")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	rdb.SetMaxOpenConns(4)
	j := &Journal{o: o, db: db, rdb: rdb, next: next, q: make(chan item, o.Queue), log: o.Logger, stop: make(chan struct{})}
	j.m = newMetrics(o.Registerer, j)
	j.refreshStats()
	j.wg.Add(2)
	go j.writer()
	go j.janitor()
	return j, nil
}

const schema = `
CREATE TABLE IF NOT EXISTS events (
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
CREATE UNIQUE INDEX IF NOT EXISTS events_uid ON events(uid) WHERE uid IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_time ON events(time_ns);
CREATE INDEX IF NOT EXISTS events_kind_time ON events(kind, time_ns);
CREATE TABLE IF NOT EXISTS checkpoints (
	name       TEXT PRIMARY KEY,
	data       BLOB NOT NULL,
	updated_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
	name TEXT PRIMARY KEY,
	seq  INTEGER NOT NULL
);
`

func migrate(db *sql.DB) error {
	// auto_vacuum and the page size must be set before the first table
	// exists. Large pages: a commit writes its dirty pages to the WAL one
	// system call each, and that is most of its cost.
	if _, err := db.Exec(`PRAGMA page_size = 32768`); err != nil {
		return err
	}
	if _, err := db.Exec(`PRAGMA auto_vacuum = INCREMENTAL`); err != nil {
		return err
	}
	// WAL, which the file keeps: readers do not block the writer.
	if _, err := db.Exec(`PRAGMA journal_mode = WAL`); err != nil {
		return err
	}
	_, err := db.Exec(schema)
	return err
}

func newMetrics(reg prometheus.Registerer, j *Journal) *jmetrics {
	ns, sub := labels.Namespace, "journal"
	m := &jmetrics{
		rows:     prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "rows", Help: "Audit events in the journal."}),
		bytes:    prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "size_bytes", Help: "Size of the journal's database file."}),
		oldest:   prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "oldest_event_timestamp_seconds", Help: "Time of the oldest event the journal holds (0 when empty)."}),
		appended: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "appended_total", Help: "Audit events stored in the journal."}),
		ignored:  prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "duplicates_total", Help: "Events the journal already held (a source read again after a restart), neither stored nor counted again."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "errors_total",
			Help: "Journal errors by operation (append, checkpoint, retention); the events of a failed append are still counted in metrics."}, []string{"op"}),
		write: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "commit_duration_seconds",
			Help: "Time to commit one batch of events.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8)}),
	}
	m.queue = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "queue_length", Help: "Events waiting for the journal's writer."},
		func() float64 { return float64(len(j.q)) })
	for _, op := range []string{"append", "checkpoint", "retention"} {
		m.errors.WithLabelValues(op)
	}
	if reg != nil {
		reg.MustRegister(m.rows, m.bytes, m.oldest, m.appended, m.ignored, m.errors, m.write, m.queue)
	}
	return m
}

// Record implements audit.Sink: the event is queued for the next group
// commit and passed on once stored.
func (j *Journal) Record(e audit.Event) {
	// Encoded here, on the caller's goroutine (the writer is one), without
	// reflection (appendEvent): this is on the ingest path.
	j.q <- item{ev: e, data: appendEvent(make([]byte, 0, 256+len(e.Message)), &e)}
}

// SaveCheckpoint stores a source's checkpoint after every event queued
// before it, and returns once it is committed.
func (j *Journal) SaveCheckpoint(name string, data []byte) error {
	done := make(chan error, 1)
	j.q <- item{kind: itemCheckpoint, name: name, data: data, done: done}
	return <-done
}

// QueueCheckpoint stores a source's checkpoint after every event queued
// before it, without waiting for the commit.
func (j *Journal) QueueCheckpoint(name string, data []byte) {
	j.q <- item{kind: itemCheckpoint, name: name, data: data}
}

// Sync returns once every event queued before it is committed (and passed on).
func (j *Journal) Sync() error {
	done := make(chan error, 1)
	j.q <- item{kind: itemSync, done: done}
	return <-done
}

// Checkpoint returns a source's stored checkpoint, or nil.
func (j *Journal) Checkpoint(name string) ([]byte, error) {
	var data []byte
	err := j.rdb.QueryRow(`SELECT data FROM checkpoints WHERE name = ?`, name).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return data, err
}

// Close commits what is queued and closes the database.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	if j.db == nil { // OpenReadOnly: no writer
		return j.rdb.Close()
	}
	close(j.stop)
	close(j.q)
	j.wg.Wait()
	err := j.rdb.Close()
	if e := j.db.Close(); err == nil {
		err = e
	}
	return err
}

// UID is the idempotency key of an event that carries a source id (a
// vCenter event's key and time), or "" for one that does not: one source
// event may give several audit events (a reconfiguration, several disks),
// so the key also names what the event says.
func UID(e *audit.Event) string {
	if e.EventID == "" || e.Source != audit.SourceVCenter {
		return ""
	}
	return strings.Join([]string{e.Source, e.Host, e.EventID, string(e.Kind), e.Action, e.VM, e.Path, e.Setting, e.Service}, "\x1f")
}

func (j *Journal) writer() {
	defer j.wg.Done()
	// The passer hands each committed batch's stored events on (to the
	// metrics) while the writer commits the next one: on the ingest path
	// SQLite and the counting run on two cores. Batches are handed over in
	// order, and their buffers come back for reuse; the writer waits for a
	// buffer when the passer is behind.
	const buffers = 3
	free := make(chan []item, buffers)
	for range buffers {
		free <- make([]item, 0, min(j.o.BatchEvents, 1024))
	}
	passq := make(chan committed, buffers)
	passed := make(chan struct{})
	go func() {
		defer close(passed)
		for c := range passq {
			j.pass(c)
			clear(c.batch)
			free <- c.batch[:0]
		}
	}()
	defer func() {
		close(passq)
		<-passed
	}()
	batch := <-free
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) > 0 {
			stored, err := j.commit(batch)
			passq <- committed{batch: batch, stored: stored, err: err}
			batch = <-free
		}
	}
	for {
		it, ok := <-j.q
		if !ok {
			flush()
			return
		}
		batch = append(batch, it)
		if it.kind != itemEvent {
			flush()
			continue
		}
		// Gather a batch: up to BatchEvents, or what arrives within BatchInterval.
		timer.Reset(j.o.BatchInterval)
	gather:
		for len(batch) < j.o.BatchEvents {
			select {
			case it, ok := <-j.q:
				if !ok {
					break gather
				}
				batch = append(batch, it)
				if it.kind != itemEvent {
					break gather
				}
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		flush()
	}
}

// committed is a batch the writer committed (or failed to), for the passer.
type committed struct {
	batch  []item
	stored []bool // by batch index: the event was stored (not a duplicate)
	err    error
}

// rowsPerInsert is how many events one multi-row INSERT stores: one
// statement per row costs the most of a commit in modernc's SQLite.
const rowsPerInsert = 256

const insertCols = `INSERT INTO events (time_ns, kind, source, host, user, client_ip, method, vm, direct, uid, data) VALUES `
const insertRow = `(?,?,?,?,?,?,?,?,?,?,?)`

// commit stores a batch in one transaction and reports which of its events
// were stored.
func (j *Journal) commit(batch []item) ([]bool, error) {
	start := time.Now()
	stored := make([]bool, len(batch))
	err := j.tx(func(tx *sql.Tx) error {
		one, err := tx.Prepare(`INSERT OR IGNORE INTO events (time_ns, kind, source, host, user, client_ip, method, vm, direct, uid, data) VALUES ` + insertRow)
		if err != nil {
			return err
		}
		defer one.Close()
		var many *sql.Stmt
		var pending []int // batch indexes of events without a source id, waiting for a multi-row insert
		args := make([]any, 0, rowsPerInsert*11)
		flushMany := func(n int) error {
			if n == 0 {
				return nil
			}
			args = args[:0]
			for _, i := range pending[:n] {
				e := &batch[i].ev
				args = append(args, e.Time.UnixNano(), string(e.Kind), e.Source, e.Host, e.User, e.ClientIP, e.Method, e.VM, e.Direct, nil, batch[i].data)
			}
			var err error
			if n == rowsPerInsert {
				if many == nil {
					if many, err = tx.Prepare(insertCols + strings.TrimSuffix(strings.Repeat(insertRow+",", rowsPerInsert), ",")); err != nil {
						return err
					}
				}
				_, err = many.Exec(args...)
			} else {
				_, err = tx.Exec(insertCols+strings.TrimSuffix(strings.Repeat(insertRow+",", n), ","), args...)
			}
			if err != nil {
				return err
			}
			for _, i := range pending[:n] {
				stored[i] = true
			}
			pending = pending[n:]
			return nil
		}
		defer func() {
			if many != nil {
				many.Close()
			}
		}()
		for i := range batch {
			it := &batch[i]
			switch it.kind {
			case itemEvent:
				e := &it.ev
				uid := UID(e)
				if uid == "" {
					pending = append(pending, i)
					if len(pending) == rowsPerInsert {
						if err := flushMany(rowsPerInsert); err != nil {
							return err
						}
					}
					continue
				}
				res, err := one.Exec(e.Time.UnixNano(), string(e.Kind), e.Source, e.Host, e.User, e.ClientIP, e.Method, e.VM, e.Direct, uid, it.data)
				if err != nil {
					return err
				}
				n, _ := res.RowsAffected()
				stored[i] = n == 1
			case itemCheckpoint:
				// Everything before the checkpoint is stored first.
				if err := flushMany(len(pending)); err != nil {
					return err
				}
				if _, err := tx.Exec(`INSERT INTO checkpoints (name, data, updated_ns) VALUES (?,?,?) ON CONFLICT(name) DO UPDATE SET data = excluded.data, updated_ns = excluded.updated_ns`,
					it.name, it.data, j.o.Now().UnixNano()); err != nil {
					return err
				}
			}
		}
		return flushMany(len(pending))
	})
	j.m.write.Observe(time.Since(start).Seconds())
	return stored, err
}

// pass hands a committed batch's stored events on in order (an event whose
// commit failed too: metrics and paging go on without the journal), and
// then answers the checkpoints and syncs it held: a Sync returns once
// every event before it is counted.
func (j *Journal) pass(c committed) {
	batch, stored, err := c.batch, c.stored, c.err
	events := 0
	for i := range batch {
		it := &batch[i]
		switch it.kind {
		case itemEvent:
			events++
			switch {
			case err != nil:
				// Not stored: still counted, so that metrics and paging go on.
				j.next.Record(it.ev)
			case stored[i]:
				j.m.appended.Inc()
				j.next.Record(it.ev)
			default:
				j.m.ignored.Inc()
			}
		default:
			if it.done != nil {
				it.done <- err
			}
		}
	}
	if err != nil {
		op := "append"
		if events == 0 {
			op = "checkpoint"
		}
		j.fail(op, err)
	}
}

func (j *Journal) tx(fn func(*sql.Tx) error) error {
	tx, err := j.db.Begin()
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// fail counts an error and logs it at most once a minute.
func (j *Journal) fail(op string, err error) {
	j.m.errors.WithLabelValues(op).Inc()
	j.mu.Lock()
	now := time.Now()
	warn := now.Sub(j.lastWarn) >= time.Minute
	if warn {
		j.lastWarn = now
	}
	j.mu.Unlock()
	if warn {
		j.log.Error("journal: cannot write; events are still counted in metrics, but not kept (repeats at most once a minute)", "op", op, "path", j.o.Path, "err", err)
	}
}

// janitor enforces retention and refreshes the size metrics every minute.
func (j *Journal) janitor() {
	defer j.wg.Done()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	j.enforce()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
			j.enforce()
		}
	}
}

// enforce drops events beyond the retention age and size.
func (j *Journal) enforce() {
	j.enforceMu.Lock()
	defer j.enforceMu.Unlock()
	cut := j.o.Now().Add(-j.o.Retention).UnixNano()
	if _, err := j.db.Exec(`DELETE FROM events WHERE time_ns < ?`, cut); err != nil {
		j.fail("retention", err)
	}
	if j.o.MaxSize > 0 {
		for i := 0; i < 10; i++ {
			size := j.size()
			if size <= j.o.MaxSize {
				break
			}
			// The oldest events in proportion to the excess, and a
			// twentieth more, then give the pages back.
			var rows int64
			_ = j.db.QueryRow(`SELECT count(*) FROM events`).Scan(&rows)
			drop := rows*(size-j.o.MaxSize)/size + rows/20 + 1
			if _, err := j.db.Exec(`DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY time_ns LIMIT ?)`, drop); err != nil {
				j.fail("retention", err)
				break
			}
			if _, err := j.db.Exec(`PRAGMA incremental_vacuum`); err != nil {
				j.fail("retention", err)
				break
			}
		}
		if _, err := j.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			j.fail("retention", err)
		}
	}
	j.refreshStats()
}

// size is the database's size in bytes: the pages in use (the WAL is
// transient, checkpointed into the file).
func (j *Journal) size() int64 {
	var pages, pageSize, free int64
	_ = j.db.QueryRow(`PRAGMA page_count`).Scan(&pages)
	_ = j.db.QueryRow(`PRAGMA page_size`).Scan(&pageSize)
	_ = j.db.QueryRow(`PRAGMA freelist_count`).Scan(&free)
	return (pages - free) * pageSize
}

func (j *Journal) refreshStats() {
	var rows int64
	var oldest sql.NullInt64
	if err := j.rdb.QueryRow(`SELECT count(*), min(time_ns) FROM events`).Scan(&rows, &oldest); err == nil {
		j.m.rows.Set(float64(rows))
		if oldest.Valid {
			j.m.oldest.Set(float64(oldest.Int64) / 1e9)
		} else {
			j.m.oldest.Set(0)
		}
	}
	if st, err := os.Stat(filepath.Join(j.o.Path, FileName)); err == nil {
		j.m.bytes.Set(float64(st.Size()))
	}
}

// Query selects events; zero fields select all.
type Query struct {
	Since, Until time.Time // [Since, Until)
	User, Host   string
	VM           string
	Kinds        []audit.Kind
	// Direct, when set, selects the direct logins (true) or every other
	// event (false).
	Direct *bool
	// Columns, when set, makes Scan fill only these fields of the event
	// (their JSON names; it may fill others): those the table keeps as
	// columns (ColumnFields) from the columns, the others decoded from the
	// stored event alone. Several times faster for large scans, and the
	// stored event is not read at all when every field is a column.
	Columns []string
	// AfterSeq selects events stored after this sequence number (the outbox).
	AfterSeq int64
	// Limit and Offset page the result (Limit 0: all).
	Limit, Offset int
	// Desc orders newest first; the default is oldest first.
	Desc bool
	// BySeq orders by storage order instead of event time.
	BySeq bool
}

// ColumnFields are the event fields the table keeps as columns (their
// JSON names), which Query.Columns may name.
var ColumnFields = []string{"time", "kind", "source", "host", "user", "client_ip", "method", "vm", "direct"}

// Row is one stored event with its sequence number.
type Row struct {
	Seq   int64
	Event audit.Event
}

func (q Query) where() (string, []any) {
	var conds []string
	var args []any
	if !q.Since.IsZero() {
		conds, args = append(conds, "time_ns >= ?"), append(args, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		conds, args = append(conds, "time_ns < ?"), append(args, q.Until.UnixNano())
	}
	if q.User != "" {
		conds, args = append(conds, "user = ?"), append(args, q.User)
	}
	if q.Host != "" {
		conds, args = append(conds, "host = ?"), append(args, q.Host)
	}
	if q.VM != "" {
		conds, args = append(conds, "vm = ?"), append(args, q.VM)
	}
	if q.Direct != nil {
		conds, args = append(conds, "direct = ?"), append(args, *q.Direct)
	}
	if q.AfterSeq > 0 {
		conds, args = append(conds, "seq > ?"), append(args, q.AfterSeq)
	}
	if len(q.Kinds) > 0 {
		ph := strings.TrimSuffix(strings.Repeat("?,", len(q.Kinds)), ",")
		conds = append(conds, "kind IN ("+ph+")")
		for _, k := range q.Kinds {
			args = append(args, string(k))
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Scan calls fn for each event q selects, in order, until fn returns an error.
func (j *Journal) Scan(ctx context.Context, q Query, fn func(Row) error) error {
	where, args := q.where()
	order := " ORDER BY time_ns, seq"
	switch {
	case q.BySeq:
		order = " ORDER BY seq"
	case q.Desc:
		order = " ORDER BY time_ns DESC, seq DESC"
	}
	var r Row
	var data []byte
	var c struct {
		ns                                       int64
		kind, source, host, user, ip, method, vm string
		direct                                   bool
	}
	cols, dest := "seq", []any{&r.Seq}
	var set []func(*audit.Event) // the columns into the event
	want := uint32(allFields)    // the fields decoded from the stored event
	if len(q.Columns) > 0 {
		want = 0
		for _, f := range q.Columns {
			col, p := f, any(nil)
			var fill func(*audit.Event)
			switch f {
			case "time":
				col, p, fill = "time_ns", &c.ns, func(e *audit.Event) { e.Time = time.Unix(0, c.ns).UTC() }
			case "kind":
				p, fill = &c.kind, func(e *audit.Event) { e.Kind = audit.Kind(c.kind) }
			case "source":
				p, fill = &c.source, func(e *audit.Event) { e.Source = c.source }
			case "host":
				p, fill = &c.host, func(e *audit.Event) { e.Host = c.host }
			case "user":
				p, fill = &c.user, func(e *audit.Event) { e.User = c.user }
			case "client_ip":
				p, fill = &c.ip, func(e *audit.Event) { e.ClientIP = c.ip }
			case "method":
				p, fill = &c.method, func(e *audit.Event) { e.Method = c.method }
			case "vm":
				p, fill = &c.vm, func(e *audit.Event) { e.VM = c.vm }
			case "direct":
				p, fill = &c.direct, func(e *audit.Event) { e.Direct = c.direct }
			default:
				m, ok := fieldMask([]string{f})
				if !ok {
					return fmt.Errorf("journal: %q is not a field of a stored event", f)
				}
				want |= m
				continue
			}
			cols, dest, set = cols+", "+col, append(dest, p), append(set, fill)
		}
	}
	if want != 0 {
		cols, dest = cols+", data", append(dest, &data)
	}
	s := "SELECT " + cols + " FROM events" + where + order
	if q.Limit > 0 {
		s += fmt.Sprintf(" LIMIT %d OFFSET %d", q.Limit, q.Offset)
	}
	rows, err := j.rdb.QueryContext(ctx, s, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if want != 0 {
			if err := decodeEvent(data, &r.Event, want); err != nil {
				return fmt.Errorf("journal: event %d: %w", r.Seq, err)
			}
		}
		for _, fill := range set {
			fill(&r.Event)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Count returns how many events q selects (Limit and Offset ignored).
func (j *Journal) Count(ctx context.Context, q Query) (int64, error) {
	where, args := q.where()
	var n int64
	err := j.rdb.QueryRowContext(ctx, "SELECT count(*) FROM events"+where, args...).Scan(&n)
	return n, err
}

// Cursor returns a reader's persisted position (0 when none).
func (j *Journal) Cursor(name string) (int64, error) {
	var seq int64
	err := j.rdb.QueryRow(`SELECT seq FROM cursors WHERE name = ?`, name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return seq, err
}

// SetCursor persists a reader's position.
func (j *Journal) SetCursor(name string, seq int64) error {
	_, err := j.db.Exec(`INSERT INTO cursors (name, seq) VALUES (?,?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq`, name, seq)
	return err
}

// LastSeq is the sequence number of the newest stored event (0 when empty).
func (j *Journal) LastSeq() (int64, error) {
	var seq sql.NullInt64
	err := j.rdb.QueryRow(`SELECT max(seq) FROM events`).Scan(&seq)
	return seq.Int64, err
}

// Restore passes every stored event to sink (concurrently, in no
// particular order: counters and last-seen gauges do not depend on it): the
// counters of a restarted exporter start where the last one's stopped.
func (j *Journal) Restore(ctx context.Context, sink audit.Sink) (int64, error) {
	rows, err := j.rdb.QueryContext(ctx, `SELECT data FROM events`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	workers := max(1, runtime.GOMAXPROCS(0))
	ch := make(chan []byte, 1024)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for data := range ch {
				var e audit.Event
				if json.Unmarshal(data, &e) != nil {
					bad.Add(1)
					continue
				}
				sink.Record(e)
			}
		}()
	}
	var n int64
	for rows.Next() {
		var data []byte
		if err = rows.Scan(&data); err != nil {
			break
		}
		ch <- data
		n++
	}
	close(ch)
	wg.Wait()
	if err == nil {
		err = rows.Err()
	}
	if b := bad.Load(); err == nil && b > 0 {
		err = fmt.Errorf("journal: %d unreadable events", b)
	}
	return n - bad.Load(), err
}

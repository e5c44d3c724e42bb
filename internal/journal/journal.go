// Package journal is the audit record: every event the pipeline emits,
// kept with its exact time in an embedded SQLite database (modernc.org/sqlite,
// pure Go; WAL mode), so that "who logged in where, when, over the last 30
// days" has an answer that survives restarts.
//
// Events are stored in blocks of up to 512 (block.go), one table row each:
// a commit is one insert per block, not one per event, so that the journal
// keeps up with ingest.
//
// The journal is a sink stage: Record queues an event, a writer goroutine
// commits the queue in batches (a group commit of what is queued, up to
// Options.BatchEvents; a small batch waits up to Options.BatchInterval for
// more), and only the events a commit actually
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
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
	// BatchEvents bounds a group commit; BatchInterval is how long a
	// batch smaller than lingerEvents waits for more before it commits
	// (a larger one commits once the queue is empty).
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
	ev    audit.Event
	kind  itemKind
	name  string
	data  []byte // an event: encodeEvent's head and body; a checkpoint: its data
	split int    // an event: the length of the head in data
	done  chan error
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

	// The writer's: the next sequence number, and the blocks it fills, a
	// kind each.
	nextSeq  int64
	builders map[audit.Kind]*blockBuilder
	// compactFrom is where the janitor's next merge of small blocks starts.
	compactFrom int64
	// oldestNs is the oldest event's time (the gauge's, in nanoseconds).
	oldestNs atomic.Int64
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
func Open(o Options, sink audit.Sink) (*Journal, error) {
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
	if sink == nil {
		sink = audit.SinkFunc(func(audit.Event) {})
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
	if err := migrate(db, o.Logger, file); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal %s: %w", file, err)
	}
	next, err := nextSeq(db)
	if err != nil {
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
	j := &Journal{o: o, db: db, rdb: rdb, next: sink, q: make(chan item, o.Queue), log: o.Logger, stop: make(chan struct{}), nextSeq: next, builders: map[audit.Kind]*blockBuilder{}}
	j.m = newMetrics(o.Registerer, j)
	// Retention once before the first event (and the gauges counted).
	j.enforce()
	j.wg.Add(2)
	go j.writer()
	go j.janitor()
	return j, nil
}

// formatVersion is the schema's version (PRAGMA user_version): 2 stores
// events in blocks; 1 (a row per event, table events) is converted at Open.
const formatVersion = 2

const schema = `
CREATE TABLE IF NOT EXISTS blocks (
	seq0   INTEGER PRIMARY KEY, -- the first event's sequence number
	seq1   INTEGER NOT NULL,    -- the last one's
	kind   TEXT NOT NULL,       -- every event's
	n      INTEGER NOT NULL,
	min_ns INTEGER NOT NULL,    -- the events' times, Unix nanoseconds
	max_ns INTEGER NOT NULL,
	head   BLOB NOT NULL,
	body   BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS blocks_min ON blocks(min_ns);
CREATE INDEX IF NOT EXISTS blocks_max ON blocks(max_ns);
CREATE INDEX IF NOT EXISTS blocks_kind_max ON blocks(kind, max_ns);
CREATE INDEX IF NOT EXISTS blocks_seq1 ON blocks(seq1);
CREATE TABLE IF NOT EXISTS uids (
	uid     TEXT PRIMARY KEY,
	time_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
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

func migrate(db *sql.DB, log *slog.Logger, file string) error {
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
	var version int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	if version > formatVersion {
		return fmt.Errorf("the journal was written by a newer version (format %d; this one reads %d and older)", version, formatVersion)
	}
	if _, err := db.Exec(schema); err != nil {
		return err
	}
	if err := convertV1(db, log, file); err != nil {
		return fmt.Errorf("converting the journal to format %d: %w", formatVersion, err)
	}
	_, err := db.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, formatVersion))
	return err
}

// nextSeq is the sequence number the next stored event gets: past every
// number ever given, even to events retention has since dropped (an
// outbox's cursor must not see a number twice).
func nextSeq(db *sql.DB) (int64, error) {
	var kept, stored sql.NullInt64
	if err := db.QueryRow(`SELECT max(seq1) FROM blocks`).Scan(&stored); err != nil {
		return 0, err
	}
	if err := db.QueryRow(`SELECT value FROM meta WHERE name = 'next_seq'`).Scan(&kept); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	return max(kept.Int64, stored.Int64+1, 1), nil
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
			Help: "Journal errors by operation (append, checkpoint, retention, compaction); the events of a failed append are still counted in metrics."}, []string{"op"}),
		write: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "commit_duration_seconds",
			Help: "Time to commit one batch of events.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8)}),
	}
	m.queue = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "queue_length", Help: "Events waiting for the journal's writer."},
		func() float64 { return float64(len(j.q)) })
	for _, op := range []string{"append", "checkpoint", "retention", "compaction"} {
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
	// Encoded here, on the caller's goroutine (the writer is one): this is
	// on the ingest path.
	data, split := encodeEvent(make([]byte, 0, 96+len(e.Message)+len(e.Rule)), &e)
	j.q <- item{ev: e, data: data, split: split}
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
	idle := time.NewTimer(time.Hour)
	idle.Stop()
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
		// Gather a batch: up to BatchEvents, while events keep coming
		// (under load a batch fills, and commits are few). A batch of
		// lingerEvents or more commits once the queue stays empty for
		// idleGap (the end of a burst); a smaller one waits up to
		// BatchInterval for more, so that a quiet farm does not commit
		// every event alone.
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
				continue
			default:
			}
			var wait <-chan time.Time
			if len(batch) >= lingerEvents {
				idle.Reset(idleGap)
				wait = idle.C
			}
			select {
			case it, ok := <-j.q:
				idle.Stop()
				if !ok {
					break gather
				}
				batch = append(batch, it)
				if it.kind != itemEvent {
					break gather
				}
			case <-wait:
				break gather
			case <-timer.C:
				idle.Stop()
				break gather
			}
		}
		timer.Stop()
		flush()
	}
}

// A batch of lingerEvents or more commits once no event came for idleGap;
// a smaller one waits up to Options.BatchInterval (see writer).
const (
	lingerEvents = 128
	idleGap      = 2 * time.Millisecond
)

// committed is a batch the writer committed (or failed to), for the passer.
type committed struct {
	batch  []item
	stored []bool // by batch index: the event was stored (not a duplicate)
	err    error
}

// commit stores a batch in one transaction and reports which of its events
// were stored: all but those whose source id the journal already holds.
func (j *Journal) commit(batch []item) ([]bool, error) {
	start := time.Now()
	stored := make([]bool, len(batch))
	next := j.nextSeq
	for _, bb := range j.builders {
		bb.reset()
	}
	err := j.tx(func(tx *sql.Tx) error {
		var uid *sql.Stmt
		defer func() {
			if uid != nil {
				uid.Close()
			}
		}()
		flushAll := func() error {
			for _, bb := range j.builders {
				if err := insertBlock(tx, bb); err != nil {
					return err
				}
				bb.reset()
			}
			return nil
		}
		for i := range batch {
			it := &batch[i]
			switch it.kind {
			case itemEvent:
				if id := UID(&it.ev); id != "" {
					if uid == nil {
						var err error
						if uid, err = tx.Prepare(`INSERT OR IGNORE INTO uids (uid, time_ns) VALUES (?,?)`); err != nil {
							return err
						}
					}
					res, err := uid.Exec(id, it.ev.Time.UnixNano())
					if err != nil {
						return err
					}
					if n, _ := res.RowsAffected(); n == 0 {
						continue // held already
					}
				}
				bb := j.builders[it.ev.Kind]
				if bb == nil {
					if len(j.builders) >= maxBuilders {
						// Kinds are a fixed vocabulary; this bounds the map
						// against anything else.
						if err := flushAll(); err != nil {
							return err
						}
						clear(j.builders)
					}
					bb = &blockBuilder{kind: string(it.ev.Kind)}
					j.builders[it.ev.Kind] = bb
				}
				bb.add(next, it.data[:it.split], it.data[it.split:])
				next++
				stored[i] = true
				if bb.n == blockEvents {
					if err := insertBlock(tx, bb); err != nil {
						return err
					}
					bb.reset()
				}
			case itemCheckpoint:
				if _, err := tx.Exec(`INSERT INTO checkpoints (name, data, updated_ns) VALUES (?,?,?) ON CONFLICT(name) DO UPDATE SET data = excluded.data, updated_ns = excluded.updated_ns`,
					it.name, it.data, j.o.Now().UnixNano()); err != nil {
					return err
				}
			}
		}
		// The next sequence number is the newest block's next; meta keeps
		// it only when retention deletes blocks (keepNextSeq).
		return flushAll()
	})
	j.m.write.Observe(time.Since(start).Seconds())
	if err != nil {
		return stored, err
	}
	j.nextSeq = next
	return stored, nil
}

// maxBuilders bounds the writer's blocks being filled (one per kind).
const maxBuilders = 256

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
				// The janitor recounts every minute; between its passes the
				// gauges follow the appends.
				j.m.rows.Inc()
				if ns := it.ev.Time.UnixNano(); ns > 0 {
					for cur := j.oldestNs.Load(); cur == 0 || ns < cur; cur = j.oldestNs.Load() {
						if j.oldestNs.CompareAndSwap(cur, ns) {
							j.m.oldest.Set(float64(ns) / 1e9)
							break
						}
					}
				}
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

// janitor enforces retention, merges small blocks and refreshes the size
// metrics every minute.
func (j *Journal) janitor() {
	defer j.wg.Done()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
			if err := j.compact(); err != nil {
				j.fail("compaction", err)
			}
			j.enforce()
		}
	}
}

// enforce drops events beyond the retention age and size.
func (j *Journal) enforce() {
	j.enforceMu.Lock()
	defer j.enforceMu.Unlock()
	cut := j.o.Now().Add(-j.o.Retention).UnixNano()
	if err := j.dropBefore(cut); err != nil {
		j.fail("retention", err)
	}
	if j.o.MaxSize > 0 {
		for i := 0; i < 10; i++ {
			size := j.size()
			if size <= j.o.MaxSize {
				break
			}
			// The oldest blocks, in proportion to the excess and a
			// twentieth more, then give the pages back.
			var blocks int64
			_ = j.db.QueryRow(`SELECT count(*) FROM blocks`).Scan(&blocks)
			drop := blocks*(size-j.o.MaxSize)/size + blocks/20 + 1
			err := j.tx(func(tx *sql.Tx) error {
				if err := keepNextSeq(tx); err != nil {
					return err
				}
				_, err := tx.Exec(`DELETE FROM blocks WHERE seq0 IN (SELECT seq0 FROM blocks INDEXED BY blocks_min ORDER BY min_ns LIMIT ?)`, drop)
				return err
			})
			if err != nil {
				j.fail("retention", err)
				break
			}
			if _, err := j.db.Exec(`DELETE FROM uids WHERE time_ns < (SELECT coalesce(min(min_ns), 9223372036854775807) FROM blocks)`); err != nil {
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

// dropBefore deletes the events older than cut: whole blocks, and the old
// events of a block that also holds newer ones (rewritten without them).
func (j *Journal) dropBefore(cut int64) error {
	return j.tx(func(tx *sql.Tx) error {
		if err := keepNextSeq(tx); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM blocks WHERE max_ns < ?`, cut); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM uids WHERE time_ns < ?`, cut); err != nil {
			return err
		}
		type old struct {
			seq0       int64
			kind       string
			head, body []byte
		}
		olds, err := queryAll(tx, func(r *sql.Rows, o *old) error { return r.Scan(&o.seq0, &o.kind, &o.head, &o.body) },
			`SELECT seq0, kind, head, body FROM blocks INDEXED BY blocks_min WHERE min_ns < ?`, cut)
		if err != nil {
			return err
		}
		var bb blockBuilder
		for _, o := range olds {
			bb.reset()
			bb.kind = o.kind
			if err := copyEvents(&bb, o.seq0, o.head, o.body, func(h *rawHead) bool { return h.ns >= cut }); err != nil {
				return err
			}
			if _, err := tx.Exec(`DELETE FROM blocks WHERE seq0 = ?`, o.seq0); err != nil {
				return err
			}
			if err := insertBlock(tx, &bb); err != nil {
				return err
			}
		}
		return nil
	})
}

// keepNextSeq records the next sequence number in meta before blocks are
// deleted: the newest block may be among them, and its numbers must not
// be given again.
func keepNextSeq(tx *sql.Tx) error {
	_, err := tx.Exec(`INSERT INTO meta (name, value) SELECT 'next_seq', coalesce(max(seq1), 0) + 1 FROM blocks WHERE true
		ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)`)
	return err
}

// insertBlock stores bb (nothing when it is empty).
func insertBlock(tx *sql.Tx, bb *blockBuilder) error {
	if bb.n == 0 {
		return nil
	}
	_, err := tx.Exec(`INSERT INTO blocks (seq0, seq1, kind, n, min_ns, max_ns, head, body) VALUES (?,?,?,?,?,?,?,?)`,
		bb.seq0, bb.seq1, bb.kind, bb.n, bb.minNs, bb.maxNs, bb.head, bb.body)
	return err
}

// compact merges runs of small blocks of one kind that are neighbours in
// that kind's sequence (a quiet farm commits a few events at a time, a
// block each) into blocks of up to blockEvents, from where the last pass
// ended.
func (j *Journal) compact() error {
	type meta struct {
		seq0, n int64
		kind    string
	}
	blocks, err := queryAll(j.db, func(r *sql.Rows, m *meta) error { return r.Scan(&m.seq0, &m.n, &m.kind) },
		`SELECT seq0, n, kind FROM blocks WHERE seq0 >= ? ORDER BY kind, seq0`, j.compactFrom)
	if err != nil {
		return err
	}
	// Runs of blocks under half full whose events fit one block.
	var runs [][]int64
	var run []int64
	var total int64
	kind := ""
	from := int64(-1) // the next pass's start: the earliest last run of a kind
	end := func() {
		if len(run) > 1 {
			runs = append(runs, run)
		}
		run, total = nil, 0
	}
	endKind := func() {
		if len(run) > 0 && (from < 0 || run[0] < from) {
			from = run[0]
		}
		end()
	}
	for _, b := range blocks {
		if b.kind != kind {
			endKind()
			kind = b.kind
		}
		if b.n >= blockEvents/2 {
			end()
			continue
		}
		if total+b.n > blockEvents {
			end()
		}
		run, total = append(run, b.seq0), total+b.n
	}
	endKind()
	for _, r := range runs {
		if err := j.tx(func(tx *sql.Tx) error { return mergeBlocks(tx, r) }); err != nil {
			return err
		}
	}
	// The next pass starts at the earliest run that may still grow, or
	// after the newest block.
	switch {
	case from >= 0:
		j.compactFrom = from
	case len(blocks) > 0:
		for _, b := range blocks {
			j.compactFrom = max(j.compactFrom, b.seq0)
		}
	}
	return nil
}

// mergeBlocks replaces the blocks whose first sequence numbers are seq0s
// (neighbours of one kind, in order) by one.
func mergeBlocks(tx *sql.Tx, seq0s []int64) error {
	var bb blockBuilder
	for _, s := range seq0s {
		var head, body []byte
		if err := tx.QueryRow(`SELECT kind, head, body FROM blocks WHERE seq0 = ?`, s).Scan(&bb.kind, &head, &body); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				continue // retention dropped it meanwhile
			}
			return err
		}
		if err := copyEvents(&bb, s, head, body, nil); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM blocks WHERE seq0 = ?`, s); err != nil {
			return err
		}
	}
	return insertBlock(tx, &bb)
}

// copyEvents adds the events of the stored block seq0 (its head and body)
// that keep selects (nil: all) to bb, as they are stored.
func copyEvents(bb *blockBuilder, seq0 int64, head, body []byte, keep func(*rawHead) bool) error {
	r := blockReader{head: head, body: body, seq0: seq0}
	var h rawHead
	for {
		ok, err := r.nextHead(&h)
		if err != nil {
			return fmt.Errorf("block %d: %w", seq0, err)
		}
		if !ok {
			return nil
		}
		b, err := r.skipBody()
		if err != nil {
			return fmt.Errorf("block %d: %w", seq0, err)
		}
		if keep == nil || keep(&h) {
			bb.add(h.seq, h.record(head), b)
		}
	}
}

// queryAll runs a query and returns its rows, each read by scan.
func queryAll[T any](q interface {
	Query(string, ...any) (*sql.Rows, error)
}, scan func(*sql.Rows, *T) error, query string, args ...any) ([]T, error) {
	rows, err := q.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
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
	if err := j.rdb.QueryRow(`SELECT coalesce(sum(n), 0), min(min_ns) FROM blocks`).Scan(&rows, &oldest); err == nil {
		j.m.rows.Set(float64(rows))
		j.oldestNs.Store(oldest.Int64)
		j.m.oldest.Set(float64(oldest.Int64) / 1e9)
	}
	if st, err := os.Stat(filepath.Join(j.o.Path, FileName)); err == nil {
		j.m.bytes.Set(float64(st.Size()))
	}
}

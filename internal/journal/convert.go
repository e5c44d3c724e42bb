package journal

import (
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// convertV1 converts a journal of format 1 (table events: a row per
// event, the event as JSON in data) to blocks, in one transaction, and
// drops the old table. Sequence numbers are kept (an outbox's cursor
// points into them), and so are the source ids: an event read again is
// still recognized.
func convertV1(db *sql.DB, log *slog.Logger, file string) error {
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'events'`).Scan(&tables); err != nil || tables == 0 {
		return err
	}
	var total int64
	if err := db.QueryRow(`SELECT count(*) FROM events`).Scan(&total); err != nil {
		return err
	}
	start := time.Now()
	log.Info("journal: converting to the block format (once)", "path", file, "events", total)
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	type uidAt struct {
		uid string
		ns  int64
	}
	var (
		kinds  = map[audit.Kind]*blockBuilder{}
		blocks int
		uids   []uidAt
		rec    []byte
		last   int64
		n      int64
	)
	flush := func(bb *blockBuilder) error {
		if bb.n == 0 {
			return nil
		}
		blocks++
		err := insertBlock(tx, bb)
		bb.reset()
		return err
	}
	type old struct {
		seq  int64
		uid  string
		data []byte
	}
	// A page of rows at a time: the table may be large.
	for {
		page, err := queryAll(tx, func(r *sql.Rows, o *old) error { return r.Scan(&o.seq, &o.uid, &o.data) },
			`SELECT seq, coalesce(uid, ''), data FROM events WHERE seq > ? ORDER BY seq LIMIT 8192`, last)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		for _, o := range page {
			var e audit.Event
			if err := decodeEvent(o.data, &e, allFields); err != nil {
				return fmt.Errorf("event %d: %w", o.seq, err)
			}
			if o.uid != "" {
				// UID: source, host, the event id, ... joined by \x1f.
				if f := strings.Split(o.uid, "\x1f"); len(f) > 2 {
					e.EventID = f[2]
				}
				uids = append(uids, uidAt{o.uid, e.Time.UnixNano()})
			}
			var split int
			rec, split = encodeEvent(rec[:0], &e)
			bb := kinds[e.Kind]
			if bb == nil {
				bb = &blockBuilder{kind: string(e.Kind)}
				kinds[e.Kind] = bb
			}
			bb.add(o.seq, rec[:split], rec[split:])
			if bb.n == blockEvents {
				if err := flush(bb); err != nil {
					return err
				}
			}
			last, n = o.seq, n+1
		}
	}
	for _, bb := range kinds {
		if err := flush(bb); err != nil {
			return err
		}
	}
	for _, u := range uids {
		if _, err := tx.Exec(`INSERT OR IGNORE INTO uids (uid, time_ns) VALUES (?,?)`, u.uid, u.ns); err != nil {
			return err
		}
	}
	// AUTOINCREMENT's high-water mark: numbers given to events since dropped.
	var high sql.NullInt64
	if err := tx.QueryRow(`SELECT seq FROM sqlite_sequence WHERE name = 'events'`).Scan(&high); err != nil && err != sql.ErrNoRows {
		return err
	}
	next := max(high.Int64, last) + 1
	if _, err := tx.Exec(`INSERT INTO meta (name, value) VALUES ('next_seq', ?) ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)`, next); err != nil {
		return err
	}
	if _, err := tx.Exec(`DROP TABLE events`); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	log.Info("journal: converted", "path", file, "events", n, "blocks", blocks, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

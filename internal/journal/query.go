package journal

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

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
	// (their JSON names): when every one is a head field (ColumnFields),
	// the blocks' bodies are not read at all, which makes large scans
	// several times faster.
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

// ColumnFields are the event fields a block's head keeps (their JSON
// names): a scan whose Columns are among them reads no block body.
var ColumnFields = []string{"time", "kind", "source", "host", "user", "client_ip", "method", "vm", "direct"}

// Row is one stored event with its sequence number.
type Row struct {
	Seq   int64
	Event audit.Event
}

// filter is a Query's event conditions, applied to each event's head.
type filter struct {
	since, until     int64
	hasSince, hasUnt bool
	user, host, vm   string
	direct           *bool
	kinds            []string
	afterSeq         int64
}

func (q *Query) filter() filter {
	f := filter{user: q.User, host: q.Host, vm: q.VM, direct: q.Direct, afterSeq: q.AfterSeq}
	if !q.Since.IsZero() {
		f.since, f.hasSince = q.Since.UnixNano(), true
	}
	if !q.Until.IsZero() {
		f.until, f.hasUnt = q.Until.UnixNano(), true
	}
	for _, k := range q.Kinds {
		f.kinds = append(f.kinds, string(k))
	}
	return f
}

// onlyRange says the filter selects by kind, time and sequence alone: a
// block of a selected kind wholly inside the range selects all its events.
func (f *filter) onlyRange() bool {
	return f.user == "" && f.host == "" && f.vm == "" && f.direct == nil
}

// match says whether the event h, of the block head head, is selected.
// The block's kind was selected already.
func (f *filter) match(h *rawHead, head []byte) bool {
	if f.hasSince && h.ns < f.since || f.hasUnt && h.ns >= f.until || h.seq <= f.afterSeq {
		return false
	}
	if f.user != "" && string(h.field(head, hUser)) != f.user || f.host != "" && string(h.field(head, hHost)) != f.host ||
		f.vm != "" && string(h.field(head, hVM)) != f.vm {
		return false
	}
	return f.direct == nil || (h.flags&flagDirect != 0) == *f.direct
}

// blockMeta is a block's row without its blobs.
type blockMeta struct{ seq0, seq1, n, minNs, maxNs int64 }

// inside says every event of b is in f's time and sequence range.
func (f *filter) inside(b *blockMeta) bool {
	return (!f.hasSince || b.minNs >= f.since) && (!f.hasUnt || b.maxNs < f.until) && b.seq0 > f.afterSeq
}

// blocks returns the blocks that may hold events f selects.
func (f *filter) blocks(ctx context.Context, tx *sql.Tx) ([]blockMeta, error) {
	var conds []string
	var args []any
	if f.hasSince {
		conds, args = append(conds, "max_ns >= ?"), append(args, f.since)
	}
	if f.hasUnt {
		conds, args = append(conds, "min_ns < ?"), append(args, f.until)
	}
	if f.afterSeq > 0 {
		conds, args = append(conds, "seq1 > ?"), append(args, f.afterSeq)
	}
	if len(f.kinds) > 0 {
		conds = append(conds, "kind IN ("+strings.TrimSuffix(strings.Repeat("?,", len(f.kinds)), ",")+")")
		for _, k := range f.kinds {
			args = append(args, k)
		}
	}
	s := "SELECT seq0, seq1, n, min_ns, max_ns FROM blocks"
	if len(conds) > 0 {
		s += " WHERE " + strings.Join(conds, " AND ")
	}
	return queryAll(ctxQuerier{ctx, tx}, func(r *sql.Rows, b *blockMeta) error { return r.Scan(&b.seq0, &b.seq1, &b.n, &b.minNs, &b.maxNs) }, s, args...)
}

// ctxQuerier is a transaction's queries under a context, for queryAll.
type ctxQuerier struct {
	ctx context.Context
	tx  *sql.Tx
}

func (c ctxQuerier) Query(q string, args ...any) (*sql.Rows, error) {
	return c.tx.QueryContext(c.ctx, q, args...)
}

// read runs fn in one read transaction: the blocks it lists and the blobs
// it then reads are one snapshot, whatever the janitor merges meanwhile.
func (j *Journal) read(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := j.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read only
	return fn(tx)
}

// order is how Scan orders events: by time, oldest or newest first, or by
// sequence number.
type order uint8

const (
	byTime order = iota
	byTimeDesc
	bySeq
)

// entry is one selected event of an open block: its sort keys and where
// it is, decoded only when it is passed on.
type entry struct {
	ns, seq    int64
	hoff, boff int32
}

func (o order) before(x, y *entry) bool {
	switch o {
	case bySeq:
		return x.seq < y.seq
	case byTimeDesc:
		if x.ns != y.ns {
			return x.ns > y.ns
		}
		return x.seq > y.seq
	}
	if x.ns != y.ns {
		return x.ns < y.ns
	}
	return x.seq < y.seq
}

// openBlock is a block read for a scan: its selected events, sorted.
type openBlock struct {
	seq0       int64
	head, body []byte
	ents       []entry
	i          int
}

// Scan calls fn for each event q selects, in order, until fn returns an error.
func (j *Journal) Scan(ctx context.Context, q Query, fn func(Row) error) error {
	keep, body := uint32(allHead), uint64(allBody)
	if len(q.Columns) > 0 {
		var bad string
		if keep, body, bad = fieldMasks(q.Columns); bad != "" {
			return fmt.Errorf("journal: %q is not a field of a stored event", bad)
		}
	}
	o := byTime
	switch {
	case q.BySeq:
		o = bySeq
	case q.Desc:
		o = byTimeDesc
	}
	f := q.filter()
	return j.read(ctx, func(tx *sql.Tx) error {
		metas, err := f.blocks(ctx, tx)
		if err != nil {
			return err
		}
		// Blocks in the order their first event may come: an event can be
		// passed on once no block still unopened can hold one before it.
		slices.SortFunc(metas, func(x, y blockMeta) int {
			switch o {
			case bySeq:
				return cmp.Compare(x.seq0, y.seq0)
			case byTimeDesc:
				return cmp.Or(cmp.Compare(y.maxNs, x.maxNs), cmp.Compare(y.seq0, x.seq0))
			}
			return cmp.Or(cmp.Compare(x.minNs, y.minNs), cmp.Compare(x.seq0, y.seq0))
		})
		cols := "head"
		if body != 0 {
			cols += ", body"
		}
		get, err := tx.PrepareContext(ctx, "SELECT "+cols+" FROM blocks WHERE seq0 = ?")
		if err != nil {
			return err
		}
		defer get.Close()
		sc := scanner{fn: fn, limit: q.Limit, offset: q.Offset, intern: newInterner(), keep: keep, body: body}
		h := cursorHeap{o: o}
		var free [][]entry // the entries of closed blocks, for reuse
		for next := 0; ; {
			// Open the blocks that may hold an event that goes before the
			// first one held.
			for next < len(metas) {
				m := &metas[next]
				if h.Len() > 0 {
					t := h.top()
					if o == byTime && m.minNs > t.ns || o == byTimeDesc && m.maxNs < t.ns || o == bySeq && m.seq0 > t.seq {
						break
					}
				}
				next++
				if err := ctx.Err(); err != nil {
					return err
				}
				b := &openBlock{seq0: m.seq0}
				dest := []any{&b.head}
				if body != 0 {
					dest = append(dest, &b.body)
				}
				if err := get.QueryRowContext(ctx, m.seq0).Scan(dest...); err != nil {
					return err
				}
				var ents []entry
				if len(free) > 0 {
					ents, free = free[len(free)-1][:0], free[:len(free)-1]
				}
				if b.ents, err = b.selectEntries(&f, ents, body != 0); err != nil {
					return err
				}
				if len(b.ents) == 0 {
					free = append(free, b.ents)
					continue
				}
				if !slices.IsSortedFunc(b.ents, o.cmp) {
					slices.SortFunc(b.ents, o.cmp)
				}
				h.push(b)
			}
			if h.Len() == 0 {
				return nil
			}
			b := h.c[0]
			if done, err := sc.emit(b, &b.ents[b.i]); done || err != nil {
				return err
			}
			if closed := h.advance(); closed != nil {
				free = append(free, closed.ents)
			}
		}
	})
}

func (o order) cmp(x, y entry) int {
	switch {
	case o.before(&x, &y):
		return -1
	case o.before(&y, &x):
		return 1
	}
	return 0
}

// selectEntries lists the block's events f selects (appended to ents), in
// the block's order; withBody: the block's body was read, and each entry
// says where its event's body is.
func (b *openBlock) selectEntries(f *filter, ents []entry, withBody bool) ([]entry, error) {
	r := blockReader{head: b.head, body: b.body, seq0: b.seq0}
	var h rawHead
	for {
		hoff := r.hp
		ok, err := r.nextHead(&h)
		if err != nil {
			return nil, fmt.Errorf("journal: block %d: %w", b.seq0, err)
		}
		if !ok {
			return ents, nil
		}
		boff := r.bp
		if withBody {
			if _, err := r.skipBody(); err != nil {
				return nil, fmt.Errorf("journal: block %d: %w", b.seq0, err)
			}
		}
		if f.match(&h, b.head) {
			ents = append(ents, entry{ns: h.ns, seq: h.seq, hoff: int32(hoff), boff: int32(boff)})
		}
	}
}

// scanner hands rows to Scan's caller, paged.
type scanner struct {
	fn            func(Row) error
	limit, offset int
	emitted       int
	intern        *interner
	keep          uint32
	body          uint64
	row           Row
}

// emit decodes e of b and passes it on, unless it is before the page;
// done when the page is full.
func (s *scanner) emit(b *openBlock, e *entry) (done bool, err error) {
	if s.offset > 0 {
		s.offset--
		return false, nil
	}
	r := blockReader{head: b.head, body: b.body, hp: int(e.hoff), bp: int(e.boff), seq0: b.seq0}
	var h rawHead
	if ok, err := r.nextHead(&h); !ok || err != nil {
		return true, fmt.Errorf("journal: block %d: %w", b.seq0, errCorrupt)
	}
	h.fill(&s.row.Event, b.head, s.intern, s.keep)
	s.row.Seq = h.seq
	if s.body != 0 {
		if err := r.readBody(&s.row.Event, s.body); err != nil {
			return true, fmt.Errorf("journal: block %d: %w", b.seq0, err)
		}
	}
	if err := s.fn(s.row); err != nil {
		return true, err
	}
	s.emitted++
	return s.limit > 0 && s.emitted >= s.limit, nil
}

// cursorHeap is a heap of open blocks, by their next event.
type cursorHeap struct {
	c []*openBlock
	o order
}

func (h *cursorHeap) Len() int    { return len(h.c) }
func (h *cursorHeap) top() *entry { b := h.c[0]; return &b.ents[b.i] }

func (h *cursorHeap) less(i, j int) bool {
	return h.o.before(&h.c[i].ents[h.c[i].i], &h.c[j].ents[h.c[j].i])
}

func (h *cursorHeap) push(b *openBlock) {
	h.c = append(h.c, b)
	for i := len(h.c) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.c[i], h.c[p] = h.c[p], h.c[i]
		i = p
	}
}

// advance moves past the top event; it returns the top block when that was
// its last.
func (h *cursorHeap) advance() (closed *openBlock) {
	b := h.c[0]
	b.i++
	if b.i == len(b.ents) {
		closed = b
		last := len(h.c) - 1
		h.c[0] = h.c[last]
		h.c[last] = nil
		h.c = h.c[:last]
		if len(h.c) == 0 {
			return closed
		}
	}
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h.c) && h.less(l, m) {
			m = l
		}
		if r < len(h.c) && h.less(r, m) {
			m = r
		}
		if m == i {
			return closed
		}
		h.c[i], h.c[m] = h.c[m], h.c[i]
		i = m
	}
}

// Count returns how many events q selects (Limit and Offset ignored).
func (j *Journal) Count(ctx context.Context, q Query) (int64, error) {
	f := q.filter()
	var total int64
	err := j.read(ctx, func(tx *sql.Tx) error {
		metas, err := f.blocks(ctx, tx)
		if err != nil {
			return err
		}
		var get *sql.Stmt
		// A block wholly inside a selection by kind and range counts
		// without being read.
		byRange := f.onlyRange()
		for i := range metas {
			m := &metas[i]
			if byRange && f.inside(m) {
				total += m.n
				continue
			}
			if get == nil {
				if get, err = tx.PrepareContext(ctx, "SELECT head FROM blocks WHERE seq0 = ?"); err != nil {
					return err
				}
				defer get.Close()
			}
			var head []byte
			if err := get.QueryRowContext(ctx, m.seq0).Scan(&head); err != nil {
				return err
			}
			r := blockReader{head: head, seq0: m.seq0}
			var h rawHead
			for {
				ok, err := r.nextHead(&h)
				if err != nil {
					return fmt.Errorf("journal: block %d: %w", m.seq0, err)
				}
				if !ok {
					break
				}
				if f.match(&h, head) {
					total++
				}
			}
		}
		return nil
	})
	return total, err
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
	err := j.rdb.QueryRow(`SELECT max(seq1) FROM blocks`).Scan(&seq)
	return seq.Int64, err
}

// Restore passes every stored event to sink (concurrently, in no
// particular order: counters and last-seen gauges do not depend on it): the
// counters of a restarted exporter start where the last one's stopped.
func (j *Journal) Restore(ctx context.Context, sink audit.Sink) (int64, error) {
	rows, err := j.rdb.QueryContext(ctx, `SELECT seq0, head, body FROM blocks`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	workers := max(1, runtime.GOMAXPROCS(0))
	ch := make(chan *openBlock, 2*workers)
	var wg sync.WaitGroup
	var n, bad atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := newInterner()
			var e audit.Event
			var h rawHead
			for b := range ch {
				r := blockReader{head: b.head, body: b.body, seq0: b.seq0}
				for {
					ok, err := r.nextHead(&h)
					if err == nil && ok {
						h.fill(&e, b.head, in, allHead)
						err = r.readBody(&e, allBody)
					}
					if err != nil {
						bad.Add(1)
						break
					}
					if !ok {
						break
					}
					sink.Record(e)
					n.Add(1)
				}
			}
		}()
	}
	for rows.Next() {
		b := &openBlock{} // its blobs copies: the workers outlive the row
		if err = rows.Scan(&b.seq0, &b.head, &b.body); err != nil {
			break
		}
		ch <- b
	}
	close(ch)
	wg.Wait()
	if err == nil {
		err = rows.Err()
	}
	if b := bad.Load(); err == nil && b > 0 {
		err = fmt.Errorf("journal: %d unreadable blocks", b)
	}
	return n.Load(), err
}

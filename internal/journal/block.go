package journal

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// The journal stores events in blocks: one table row holds up to
// blockEvents events of one kind (a query by kind reads only its kind's
// blocks), so that a commit costs one SQLite insert per block
// rather than one per event (with its index entries), which made the
// journal the bottleneck of ingest. A block has two blobs:
//
//   - head: per event, uvarint(seq - block's first seq), then the fields
//     queries filter on and most reports read: the time (zigzag varint of
//     Unix nanoseconds), source, host, kind, user, client_ip, method and
//     vm (each uvarint length + bytes), and a flags byte (direct,
//     cross_vm);
//   - body: per event, a uvarint mask of the other fields present
//     (bodyFields order), then each present field as uvarint length +
//     bytes.
//
// A scan that needs only head fields never reads a body. The encoding of
// an event (encodeEvent) is done on the caller's goroutine; the writer
// only prefixes the sequence number and concatenates.

// blockEvents is the most events one block holds. Small blocks (a quiet
// farm commits a few events at a time) are merged by the janitor.
const blockEvents = 512

const (
	flagDirect = 1 << iota
	flagCrossVM
)

// headFields are the fields a block's head holds (their JSON names), in
// the order they are written after the time; time, direct and cross_vm
// are the head's too.
var headFields = [...]string{"source", "host", "kind", "user", "client_ip", "method", "vm"}

// bodyFields are the string fields a block's body holds, in the order of
// their mask bits: that order is the stored format, so a new field of
// audit.Event goes at the end (blocks written before lack its bit and read
// as they did). TestBlockKeepsEveryField fails on a field left out.
var bodyFields = [...]struct {
	name string
	ptr  func(*audit.Event) *string
}{
	{"outcome", func(e *audit.Event) *string { return &e.Outcome }},
	{"source_host", func(e *audit.Event) *string { return &e.SourceHost }},
	{"target_host", func(e *audit.Event) *string { return &e.TargetHost }},
	{"service", func(e *audit.Event) *string { return &e.Service }},
	{"ticket_type", func(e *audit.Event) *string { return &e.TicketType }},
	{"setting", func(e *audit.Event) *string { return &e.Setting }},
	{"command", func(e *audit.Event) *string { return &e.Command }},
	{"action", func(e *audit.Event) *string { return &e.Action }},
	{"path", func(e *audit.Event) *string { return &e.Path }},
	{"operation", func(e *audit.Event) *string { return &e.Operation }},
	{"technique", func(e *audit.Event) *string { return &e.Technique }},
	{"value", func(e *audit.Event) *string { return &e.Value }},
	{"reason", func(e *audit.Event) *string { return &e.Reason }},
	{"object", func(e *audit.Event) *string { return &e.Object }},
	{"message", func(e *audit.Event) *string { return &e.Message }},
	{"rule", func(e *audit.Event) *string { return &e.Rule }},
	// The sender's id (a vCenter event's key): not exported, kept so that
	// an event's idempotency key (UID) can be computed from what is stored.
	{"event_id", func(e *audit.Event) *string { return &e.EventID }},
}

// encodeEvent appends e's head (without the sequence number) and then its
// body to b, and returns the result and the length of the head part.
func encodeEvent(b []byte, e *audit.Event) ([]byte, int) {
	start := len(b)
	b = binary.AppendVarint(b, e.Time.UnixNano())
	b = appendStr(b, e.Source)
	b = appendStr(b, e.Host)
	b = appendStr(b, string(e.Kind))
	b = appendStr(b, e.User)
	b = appendStr(b, e.ClientIP)
	b = appendStr(b, e.Method)
	b = appendStr(b, e.VM)
	var flags byte
	if e.Direct {
		flags |= flagDirect
	}
	if e.CrossVM {
		flags |= flagCrossVM
	}
	b = append(b, flags)
	head := len(b) - start
	vals := bodyValues(e)
	var mask uint64
	for i, v := range vals {
		if v != "" {
			mask |= 1 << i
		}
	}
	b = binary.AppendUvarint(b, mask)
	for _, v := range vals {
		if v != "" {
			b = appendStr(b, v)
		}
	}
	return b, head
}

// bodyValues are e's bodyFields, read directly (through bodyFields' ptr
// functions, the compiler cannot tell e does not escape, and every
// Record would allocate its event). TestBodyValuesMatchFields holds the
// two to the same order.
func bodyValues(e *audit.Event) [len(bodyFields)]string {
	return [...]string{e.Outcome, e.SourceHost, e.TargetHost, e.Service, e.TicketType, e.Setting, e.Command, e.Action,
		e.Path, e.Operation, e.Technique, e.Value, e.Reason, e.Object, e.Message, e.Rule, e.EventID}
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errCorrupt = errors.New("corrupt block")

// blockReader reads a block's events in order: nextHead parses an
// event's head, then readBody or skipBody passes its body (when the block's
// body was read at all).
type blockReader struct {
	head, body []byte
	hp, bp     int
	seq0       int64
}

// rawHead is one event's head as parsed: offsets into the block's head
// (no pointers: parsing writes no pointer, so it needs no write barrier).
type rawHead struct {
	seq, ns    int64
	off, end   [len(headFields)]int32 // headFields order
	flags      byte
	start, pos int32 // the head record, without the sequence delta
}

// Indexes into rawHead's fields.
const (
	hSource = iota
	hHost
	hKind
	hUser
	hClientIP
	hMethod
	hVM
)

// field is field i of h in head, the block's head.
func (h *rawHead) field(head []byte, i int) []byte { return head[h.off[i]:h.end[i]] }

// record is h's head record (for merging blocks).
func (h *rawHead) record(head []byte) []byte { return head[h.start:h.pos] }

// uvarint is binary.Uvarint with the one-byte case inline (most lengths).
func uvarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	return binary.Uvarint(b)
}

// nextHead parses the next event's head; false at the end of the block.
func (r *blockReader) nextHead(h *rawHead) (bool, error) {
	p, d := r.hp, r.head
	if p >= len(d) {
		return false, nil
	}
	delta, n := uvarint(d[p:])
	if n <= 0 {
		return false, errCorrupt
	}
	p += n
	h.start = int32(p)
	if h.ns, n = binary.Varint(d[p:]); n <= 0 {
		return false, errCorrupt
	}
	p += n
	for i := range h.off {
		l, n := uvarint(d[p:])
		if n <= 0 || l > uint64(len(d)-p-n) {
			return false, errCorrupt
		}
		p += n
		h.off[i], h.end[i] = int32(p), int32(p+int(l))
		p += int(l)
	}
	if p >= len(d) {
		return false, errCorrupt
	}
	h.flags = d[p]
	p++
	h.seq, h.pos, r.hp = r.seq0+int64(delta), int32(p), p
	return true, nil
}

// fill sets e (zeroed first) from h, whose block head is head: the head
// fields in keep (a mask of the bits below), through in for the repeated
// values.
func (h *rawHead) fill(e *audit.Event, head []byte, in *interner, keep uint32) {
	*e = audit.Event{}
	if keep&maskTime != 0 {
		e.Time = time.Unix(0, h.ns).UTC()
	}
	for i, p := range [...]*string{&e.Source, &e.Host, nil, &e.User, &e.ClientIP, &e.Method, &e.VM} {
		if keep&(1<<(i+1)) == 0 {
			continue
		}
		v := in.get(h.field(head, i))
		if p == nil {
			e.Kind = audit.Kind(v)
			continue
		}
		*p = v
	}
	if keep&maskDirect != 0 {
		e.Direct = h.flags&flagDirect != 0
	}
	if keep&maskCrossVM != 0 {
		e.CrossVM = h.flags&flagCrossVM != 0
	}
}

// Head masks: bit 0 the time, bits 1-7 headFields, then the flags.
const (
	maskTime    = 1
	maskDirect  = 1 << (len(headFields) + 1)
	maskCrossVM = 1 << (len(headFields) + 2)
	allHead     = 1<<(len(headFields)+3) - 1
	allBody     = 1<<len(bodyFields) - 1
)

// readBody reads the current event's body: the fields in want (a mask
// over bodyFields) into e, skipping the others.
func (r *blockReader) readBody(e *audit.Event, want uint64) error {
	if r.bp >= len(r.body) {
		return errCorrupt
	}
	mask, n := uvarint(r.body[r.bp:])
	if n <= 0 || mask>>len(bodyFields) != 0 {
		return errCorrupt
	}
	r.bp += n
	for i := range bodyFields {
		if mask&(1<<i) == 0 {
			continue
		}
		s, ok := readStr(&r.bp, r.body)
		if !ok {
			return errCorrupt
		}
		if want&(1<<i) != 0 {
			*bodyFields[i].ptr(e) = string(s)
		}
	}
	return nil
}

// skipBody passes over the current event's body and returns it.
func (r *blockReader) skipBody() ([]byte, error) {
	b0 := r.bp
	err := r.readBody(nil, 0)
	return r.body[b0:r.bp], err
}

func readStr(p *int, d []byte) ([]byte, bool) {
	l, n := uvarint(d[*p:])
	if n <= 0 || l > uint64(len(d)-*p-n) {
		return nil, false
	}
	s := d[*p+n : *p+n+int(l)]
	*p += n + int(l)
	return s, true
}

// fieldMasks are the head and body masks of the named fields (their JSON
// names); bad is a name that is not a stored field ("" when none is).
func fieldMasks(names []string) (head uint32, body uint64, bad string) {
next:
	for _, n := range names {
		switch n {
		case "time":
			head |= maskTime
			continue
		case "direct":
			head |= maskDirect
			continue
		case "cross_vm":
			head |= maskCrossVM
			continue
		}
		for i, f := range headFields {
			if f == n {
				head |= 1 << (i + 1)
				continue next
			}
		}
		for i, f := range bodyFields {
			if f.name == n {
				body |= 1 << i
				continue next
			}
		}
		return 0, 0, n
	}
	return head, body, ""
}

// interner returns one copy of each distinct head value (hosts, users,
// kinds repeat from event to event), so that a scan allocates a string
// per distinct value rather than per field. It forgets everything past
// a bound.
type interner struct{ m map[string]string }

const internMax = 4096

func newInterner() *interner { return &interner{m: make(map[string]string, 256)} }

func (in *interner) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > 64 {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	if len(in.m) >= internMax {
		clear(in.m)
	}
	s := string(b)
	in.m[s] = s
	return s
}

// blockBuilder gathers events into one block.
type blockBuilder struct {
	kind         string // every event's: a block holds one kind
	head, body   []byte
	seq0, seq1   int64
	minNs, maxNs int64
	n            int
}

func (bb *blockBuilder) reset() {
	bb.head, bb.body = bb.head[:0], bb.body[:0]
	bb.n = 0
}

// add appends one encoded event, its head and body records (encodeEvent's
// output split at the head's length), with its sequence number.
func (bb *blockBuilder) add(seq int64, head, body []byte) {
	ns, _ := binary.Varint(head)
	if bb.n == 0 {
		bb.seq0, bb.minNs, bb.maxNs = seq, ns, ns
	}
	bb.seq1 = seq
	bb.minNs, bb.maxNs = min(bb.minNs, ns), max(bb.maxNs, ns)
	bb.head = binary.AppendUvarint(bb.head, uint64(seq-bb.seq0))
	bb.head = append(bb.head, head...)
	bb.body = append(bb.body, body...)
	bb.n++
}

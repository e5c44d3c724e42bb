package syslog

import (
	"net/netip"
	"sync"
	"unsafe"
)

// A stream connection's messages are taken in two stages, on two
// goroutines: its reader frames each message and peeks at it
// (SplitHandler.Skippable), its worker parses and hands on the ones that
// need it, in order. One connection then uses two cores, as rsyslog's
// imtcp and its queue workers do. Messages go over in batches, copied
// into buffers shared by every connection (an idle connection holds none).

// Batch bounds: a batch goes to the worker when it holds this many
// messages or bytes, or when the connection has nothing more buffered (so
// a message is never held waiting for the next one).
const (
	streamBatchMessages = 256
	streamBatchBytes    = 64 << 10
	// streamQueue is how many batches of one connection may wait for its
	// worker; the reader then waits (TCP pushes back on the sender).
	streamQueue = 4
)

type streamBatch struct {
	buf  []byte
	msgs []streamMsg
}

// streamMsg is one message of a batch: buf[start:end]. A skippable one
// carries its host as buf[hostOff:hostOff+hostLen], or host when the
// handler's host did not alias the message.
type streamMsg struct {
	start, end       int32
	hostOff, hostLen int32
	host             string
	skippable        bool
}

func newStreamBatch() any {
	return &streamBatch{buf: make([]byte, 0, streamBatchBytes+4096), msgs: make([]streamMsg, 0, streamBatchMessages)}
}

type stream struct {
	pool *sync.Pool // the server's batches
	h    SplitHandler
	r    *receiver // the worker's
	cur  *streamBatch
	q    chan *streamBatch
	done chan struct{}
}

func (s *Server) newStream(h SplitHandler, transport string, addr netip.Addr) *stream {
	st := &stream{pool: &s.batches, h: h, r: s.newReceiver(transport), q: make(chan *streamBatch, streamQueue), done: make(chan struct{})}
	st.r.src = addr
	go st.work()
	return st
}

// add takes one message (which aliases the reader's buffer); idle: the
// connection has nothing more buffered, so the batch goes now.
func (st *stream) add(b []byte, idle bool) {
	if st.cur == nil {
		st.cur = st.pool.Get().(*streamBatch)
	}
	bt := st.cur
	start := len(bt.buf)
	bt.buf = append(bt.buf, b...)
	m := streamMsg{start: int32(start), end: int32(len(bt.buf))}
	if host, ok := st.h.Skippable(b); ok {
		m.skippable = true
		if off, aliased := offsetIn(b, host); aliased {
			m.hostOff, m.hostLen = int32(start+off), int32(len(host))
		} else {
			m.host = host
		}
	}
	bt.msgs = append(bt.msgs, m)
	if idle || len(bt.msgs) >= streamBatchMessages || len(bt.buf) >= streamBatchBytes {
		st.q <- bt
		st.cur = nil
	}
}

// offsetIn reports where s lies within b, when it aliases b.
func offsetIn(b []byte, s string) (int, bool) {
	if len(s) == 0 || len(b) == 0 {
		return 0, false
	}
	off := int(uintptr(unsafe.Pointer(unsafe.StringData(s))) - uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	return off, off >= 0 && off <= len(b)-len(s)
}

func (st *stream) work() {
	defer close(st.done)
	r := st.r
	for bt := range st.q {
		for _, m := range bt.msgs {
			if m.skippable && !st.h.Holding() {
				host := m.host
				if m.hostLen > 0 {
					host = unsafe.String(&bt.buf[m.hostOff], int(m.hostLen))
				}
				r.skipped(host)
				continue
			}
			r.parse(bt.buf[m.start:m.end])
		}
		bt.buf, bt.msgs = bt.buf[:0], bt.msgs[:0]
		if cap(bt.buf) <= 4*streamBatchBytes { // not one that grew for a huge message
			st.pool.Put(bt)
		}
	}
}

// close hands on what is left and waits for the worker to finish.
func (st *stream) close() {
	if st.cur != nil && len(st.cur.msgs) > 0 {
		st.q <- st.cur
	}
	st.cur = nil
	close(st.q)
	<-st.done
}

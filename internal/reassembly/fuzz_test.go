package reassembly

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
)

// A message the fuzz script sends, split: a vCenter event in parts or a
// hostd dump in lines.
type fuzzMsg struct {
	host   string
	id     string   // the split event's id; "" for a dump
	pieces []string // the records still to send
	want   string   // the reassembled body
	gone   bool     // the Assembler let it go early (evicted, timed out, restarted)
	full   bool     // a dump cut at MaxBytes
}

// FuzzReassembly sends split vCenter events and hostd multi-line dumps of
// four hosts, interleaved, with their pieces, plain records, clock steps
// and timeouts in an order the input decides, to an Assembler with small
// bounds. Every message released complete is exactly what was split, every
// message whose pieces all arrived while it waited is released complete
// then, and what waits stays within the bounds.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte{0x00, 0x11, 0x05, 0x22, 0x09, 0x33, 0x0d, 0x44})
	f.Add([]byte("\x00abc\x04def\x08ghi\x0cjkl\x01\x05\x09\x0d\x03\x07\x02\x06\x0a"))
	f.Add([]byte("Event [1] [1-3] \x02--> eventTypeId\x0f\x0e\x1f\x2e\x3d"))
	const maxPending, maxBytes, maxPendingBytes = 3, 256, 300
	const dump = "VmkVprobSource::Post event: "
	f.Fuzz(func(t *testing.T, script []byte) {
		clk := newClock()
		var open []*fuzzMsg // by host and id: at most one per (host, id) or per host's dump
		var lastWhy Reason
		released := false
		find := func(host, body string) *fuzzMsg {
			for _, m := range open {
				if m.host != host || m.gone {
					continue
				}
				if m.id == "" && strings.HasPrefix(body, dump) ||
					m.id != "" && strings.HasPrefix(body, "Event ["+m.id+"] [1-") {
					return m
				}
			}
			return nil
		}
		drop := func(m *fuzzMsg) {
			for i, o := range open {
				if o == m {
					open = append(open[:i], open[i+1:]...)
					return
				}
			}
		}
		var completed []*fuzzMsg // released complete during the current step
		a := New(Options{Hold: holdVprob, MaxPending: maxPending, MaxBytes: maxBytes, MaxPendingBytes: maxPendingBytes,
			Timeout: 2 * time.Second, Now: clk.Now,
			OnRelease: func(_ string, why Reason) { lastWhy, released = why, true }},
			func(r *logline.Record) {
				if !released {
					return // a record that never waited
				}
				released = false
				m := find(r.Host, r.Body)
				if m == nil {
					t.Fatalf("released %s %q, which no open message starts", lastWhy, r.Body)
				}
				if lastWhy != Complete {
					// Its parts still to send are strays, then.
					m.gone = true
					if m.id == "" || len(m.pieces) == 0 {
						drop(m)
					}
					return
				}
				if len(m.pieces) > 0 && m.id != "" {
					t.Fatalf("split event %q released complete with %d parts unsent", r.Body, len(m.pieces))
				}
				if r.Body != m.want {
					t.Fatalf("released complete\n%q\nwant\n%q", r.Body, m.want)
				}
				completed = append(completed, m)
				drop(m)
			})
		ids := 0
		for i := 0; i < len(script); i++ {
			op := script[i]
			host := "esx0" + strconv.Itoa(int(op&3))
			// The bytes after an op are its text, up to 15 bytes.
			text := func() string {
				n := 0
				if i+1 < len(script) {
					n = int(script[i+1]>>4) % (len(script) - i)
				}
				s := strings.Map(func(r rune) rune {
					if r == '\n' || r == utf8RuneError {
						return '.'
					}
					return r
				}, string(script[i+1:i+1+n]))
				i += n
				return s
			}
			completed = completed[:0]
			var want []*fuzzMsg // must complete in this step
			switch op >> 2 & 7 {
			case 0, 1: // a new split event of 2-4 parts
				total := 2 + int(op>>5)%3
				ids++
				id := strconv.Itoa(ids % 5) // ids repeat: a restarted event
				for _, old := range append([]*fuzzMsg(nil), open...) {
					if old.host == host && old.id == id {
						// Restarted (the Assembler lets it go), or gone
						// already: its parts would join the new event.
						old.pieces = nil
						if old.gone {
							drop(old)
						}
					}
				}
				m := &fuzzMsg{host: host, id: id}
				first := "Event [" + id + "] [1-" + strconv.Itoa(total) + "] " + text()
				m.want = first
				for k := 2; k <= total; k++ {
					s := text()
					m.pieces = append(m.pieces, "Event ["+id+"] ["+strconv.Itoa(k)+"-"+strconv.Itoa(total)+"]  "+s)
					m.want += s
				}
				open = append(open, m)
				a.Add(rec(host, "vpxd", first))
			case 2, 3: // the next part of an open split event of host
				for _, m := range open {
					if m.host == host && m.id != "" && len(m.pieces) > 0 {
						p := m.pieces[0]
						m.pieces = m.pieces[1:]
						if len(m.pieces) == 0 && !m.gone {
							want = append(want, m)
						}
						if len(m.pieces) == 0 && m.gone {
							drop(m)
						}
						a.Add(rec(host, "vpxd", p))
						break
					}
				}
			case 4: // a new hostd dump (it ends the dump host had open)
				if old := find(host, dump); old != nil {
					want = append(want, old)
				}
				m := &fuzzMsg{host: host, want: dump + text()}
				open = append(open, m)
				a.Add(rec(host, "hostd", m.want))
			case 5: // a continuation line of host's dump
				s := text()
				if m := find(host, dump); m != nil && !m.full {
					if len(m.want)+1+len(s) > maxBytes {
						m.full = true
					} else {
						m.want += "\n" + s
					}
				}
				a.Add(cont(host, "hostd", s))
			case 6: // a plain hostd record: ends host's dump
				if old := find(host, dump); old != nil {
					want = append(want, old)
				}
				a.Add(rec(host, "hostd", "plain"))
			case 7: // time passes, then the timeout
				clk.Advance(time.Duration(op>>5) * 700 * time.Millisecond)
				a.Expire()
			}
			for _, m := range want {
				if !m.gone && !contains(completed, m) {
					t.Fatalf("step %d: %q not released complete once its pieces arrived", i, m.want)
				}
			}
			if n := a.Pending(); n > maxPending || n < 0 {
				t.Fatalf("step %d: %d messages wait, bound %d", i, n, maxPending)
			}
			if b := a.PendingBytes(); b < 0 || b > maxPendingBytes && a.Pending() > 1 {
				t.Fatalf("step %d: %d bytes wait in %d messages, bound %d", i, b, a.Pending(), maxPendingBytes)
			}
		}
		a.Flush()
		if a.Pending() != 0 || a.PendingBytes() != 0 {
			t.Fatalf("after Flush: %d messages, %d bytes wait", a.Pending(), a.PendingBytes())
		}
	})
}

const utf8RuneError = '\uFFFD'

func contains(ms []*fuzzMsg, m *fuzzMsg) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

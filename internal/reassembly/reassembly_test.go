package reassembly

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
)

func holdVprob(r *logline.Record) bool { return strings.HasPrefix(r.Body, "VmkVprobSource") }

// clock is a fake clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2024, 12, 6, 10, 58, 45, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// sink collects emitted records (copies: the emitter may reuse them).
type sink struct{ recs []logline.Record }

func (s *sink) emit(r *logline.Record) { s.recs = append(s.recs, *r) }

func (s *sink) bodies() []string {
	var b []string
	for _, r := range s.recs {
		b = append(b, r.Host+"|"+r.Program+"|"+r.Body)
	}
	return b
}

func rec(host, prog, body string) *logline.Record {
	return &logline.Record{Host: host, App: prog, Program: prog, Body: body}
}

func cont(host, prog, body string) *logline.Record {
	r := rec(host, prog, body)
	r.Continuation = true
	return r
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// step is one Add (or Expire/Flush/clock advance) and what must have been
// emitted in total, and how many messages wait, afterwards.
type step struct {
	add     *logline.Record
	advance time.Duration
	expire  bool
	flush   bool
	emitted []string // all records emitted so far: "host|program|body"
	pending int
}

func TestAssembler(t *testing.T) {
	const vprob = "VmkVprobSource::Post event: (vim.event.EventEx) {"
	cases := []struct {
		name       string
		opts       Options
		steps      []step
		incomplete int // messages released with a reason other than Complete
	}{
		{
			name: "a record nothing holds passes straight through",
			steps: []step{
				{add: rec("esx01", "hostd", "Accepted password"), emitted: []string{"esx01|hostd|Accepted password"}},
			},
		},
		{
			name: "continuations join the held record, emitted before the next record",
			steps: []step{
				{add: rec("esx01", "hostd", vprob), emitted: nil, pending: 1},
				{add: cont("esx01", "hostd", `eventTypeId = "esx.audit.ssh.session.opened",`), emitted: nil, pending: 1},
				{add: cont("esx01", "hostd", `}`), emitted: nil, pending: 1},
				{add: rec("esx01", "hostd", "Next"), emitted: []string{
					"esx01|hostd|" + vprob + "\n" + `eventTypeId = "esx.audit.ssh.session.opened",` + "\n}",
					"esx01|hostd|Next",
				}},
			},
		},
		{
			name: "other hosts and programs pass while a record waits",
			steps: []step{
				{add: rec("esx01", "hostd", vprob), pending: 1},
				{add: rec("esx02", "hostd", "x"), emitted: []string{"esx02|hostd|x"}, pending: 1},
				{add: rec("esx01", "vpxa", "y"), emitted: []string{"esx02|hostd|x", "esx01|vpxa|y"}, pending: 1},
				{add: cont("esx02", "hostd", "stray"), emitted: []string{"esx02|hostd|x", "esx01|vpxa|y"}, pending: 1},
				{add: cont("esx01", "hostd", "a"), pending: 1, emitted: []string{"esx02|hostd|x", "esx01|vpxa|y"}},
				{flush: true, emitted: []string{"esx02|hostd|x", "esx01|vpxa|y", "esx01|hostd|" + vprob + "\na"}},
			},
			incomplete: 1,
		},
		{
			name: "a held record followed by another held record",
			steps: []step{
				{add: rec("esx01", "hostd", vprob+"1"), pending: 1},
				{add: cont("esx01", "hostd", "a"), pending: 1},
				{add: rec("esx01", "hostd", vprob+"2"), pending: 1, emitted: []string{"esx01|hostd|" + vprob + "1\na"}},
				{add: cont("esx01", "hostd", "b"), pending: 1, emitted: []string{"esx01|hostd|" + vprob + "1\na"}},
				{flush: true, emitted: []string{"esx01|hostd|" + vprob + "1\na", "esx01|hostd|" + vprob + "2\nb"}},
			},
			incomplete: 1,
		},
		{
			name: "a continuation with nothing waiting is dropped",
			steps: []step{
				{add: cont("esx01", "hostd", `eventTypeId = "x",`)},
				{add: rec("esx01", "hostd", "Next"), emitted: []string{"esx01|hostd|Next"}},
				{flush: true, emitted: []string{"esx01|hostd|Next"}},
			},
		},
		{
			name: "vCenter split event is joined",
			steps: []step{
				{add: rec("vc", "vpxd", "Event [7] [1-3] [2023-01-16T09:31:02Z] [vim.event.VmReconfiguredEvent] [info] [u] [dc] [7] [Reconfigured vm on "), pending: 1},
				{add: rec("vc", "vpxd", "Event [7] [2-3]  host01 in dc. (fileName = "), pending: 1},
				{add: rec("vc", "vpxd", "Event [7] [3-3]  \"ds:///x\")]"), emitted: []string{
					`vc|vpxd|Event [7] [1-3] [2023-01-16T09:31:02Z] [vim.event.VmReconfiguredEvent] [info] [u] [dc] [7] [Reconfigured vm on host01 in dc. (fileName = "ds:///x")]`,
				}},
				{flush: true, emitted: []string{
					`vc|vpxd|Event [7] [1-3] [2023-01-16T09:31:02Z] [vim.event.VmReconfiguredEvent] [info] [u] [dc] [7] [Reconfigured vm on host01 in dc. (fileName = "ds:///x")]`,
				}},
			},
		},
		{
			name: "a slice that starts with a space keeps it",
			steps: []step{
				{add: rec("vc", "vpxd", "Event [8] [1-2] [ts] [T] [info] [u] [dc] [8] [User root logged"), pending: 1},
				{add: rec("vc", "vpxd", "Event [8] [2-2]   in]"), emitted: []string{"vc|vpxd|Event [8] [1-2] [ts] [T] [info] [u] [dc] [8] [User root logged in]"}},
			},
		},
		{
			name: "two split events of one host interleave",
			steps: []step{
				{add: rec("vc", "vpxd", "Event [1] [1-2] A"), pending: 1},
				{add: rec("vc", "vpxd", "Event [2] [1-2] B"), pending: 2},
				{add: rec("vc", "vpxd", "Event [2] [2-2]  b"), pending: 1, emitted: []string{"vc|vpxd|Event [2] [1-2] Bb"}},
				{add: rec("vc", "vpxd", "Event [1] [2-2]  a"), pending: 0, emitted: []string{"vc|vpxd|Event [2] [1-2] Bb", "vc|vpxd|Event [1] [1-2] Aa"}},
			},
		},
		{
			name: "[1-1] is not a split event",
			steps: []step{
				{add: rec("vc", "vpxd", "Event [9] [1-1] whole"), emitted: []string{"vc|vpxd|Event [9] [1-1] whole"}},
			},
		},
		{
			name: "a part without its first part is dropped",
			steps: []step{
				{add: rec("vc", "vpxd", "Event [1201736] [2-3]  (fileName = \"ds:///x\", "), pending: 0},
				{add: rec("vc", "vpxd", "Event [1201736] [3-3]  y)]"), pending: 0},
				{flush: true},
			},
		},
		{
			name: "an out-of-order part is dropped",
			steps: []step{
				{add: rec("vc", "vpxd", "Event [5] [1-3] A"), pending: 1},
				{add: rec("vc", "vpxd", "Event [5] [3-3]  c"), pending: 1},
				{add: rec("vc", "vpxd", "Event [5] [2-3]  b"), pending: 1},
				{add: rec("vc", "vpxd", "Event [5] [3-3]  c"), pending: 0, emitted: []string{"vc|vpxd|Event [5] [1-3] Abc"}},
			},
		},
		{
			name: "an incomplete split event is released by Expire after the timeout",
			opts: Options{Timeout: 2 * time.Second},
			steps: []step{
				{add: rec("vc", "vpxd", "Event [7] [1-3] A"), pending: 1},
				{advance: time.Second, pending: 1},
				{add: rec("vc", "vpxd", "Event [7] [2-3]  b"), pending: 1},
				{advance: 2 * time.Second, expire: true, pending: 1}, // the timeout runs from the last part
				{advance: time.Millisecond, expire: true, pending: 0, emitted: []string{"vc|vpxd|Event [7] [1-3] Ab"}},
				{advance: time.Hour, expire: true, emitted: []string{"vc|vpxd|Event [7] [1-3] Ab"}},
				{add: rec("vc", "vpxd", "Event [7] [3-3]  c"), emitted: []string{"vc|vpxd|Event [7] [1-3] Ab"}},
			},
			incomplete: 1,
		},
		{
			name: "a held record released by Expire is counted",
			opts: Options{Timeout: 2 * time.Second},
			steps: []step{
				{add: rec("esx01", "hostd", vprob), pending: 1},
				{add: cont("esx01", "hostd", "a"), pending: 1},
				{advance: 2 * time.Second, expire: true, pending: 1},
				{advance: time.Millisecond, expire: true, emitted: []string{"esx01|hostd|" + vprob + "\na"}},
			},
			incomplete: 1,
		},
		{
			name: "a restarted split event releases the incomplete one",
			steps: []step{
				{add: rec("vc", "vpxd", "Event [3] [1-2] first"), pending: 1},
				{add: rec("vc", "vpxd", "Event [3] [1-2] again"), pending: 1, emitted: []string{"vc|vpxd|Event [3] [1-2] first"}},
				{add: rec("vc", "vpxd", "Event [3] [2-2]  !"), emitted: []string{"vc|vpxd|Event [3] [1-2] first", "vc|vpxd|Event [3] [1-2] again!"}},
			},
			incomplete: 1,
		},
		{
			name: "Flush releases an incomplete split event and counts it",
			steps: []step{
				{add: rec("vc", "vpxd", "Event [4] [1-2] A"), pending: 1},
				{flush: true, emitted: []string{"vc|vpxd|Event [4] [1-2] A"}},
			},
			incomplete: 1,
		},
		{
			name: "MaxPending evicts the oldest held record",
			opts: Options{MaxPending: 2},
			steps: []step{
				{add: rec("esx01", "hostd", vprob), pending: 1},
				{advance: time.Millisecond, add: rec("esx02", "hostd", vprob), pending: 2},
				{advance: time.Millisecond, add: rec("esx03", "hostd", vprob), pending: 2, emitted: []string{"esx01|hostd|" + vprob}},
				{advance: time.Millisecond, add: rec("esx04", "hostd", vprob), pending: 2, emitted: []string{"esx01|hostd|" + vprob, "esx02|hostd|" + vprob}},
			},
			incomplete: 2,
		},
		{
			name: "MaxPending evicts the oldest split event and counts it",
			opts: Options{MaxPending: 1},
			steps: []step{
				{add: rec("vc", "vpxd", "Event [1] [1-2] A"), pending: 1},
				{advance: time.Millisecond, add: rec("vc", "vpxd", "Event [2] [1-2] B"), pending: 1, emitted: []string{"vc|vpxd|Event [1] [1-2] A"}},
				{add: rec("vc", "vpxd", "Event [1] [2-2]  a"), pending: 1, emitted: []string{"vc|vpxd|Event [1] [1-2] A"}},
				{add: rec("vc", "vpxd", "Event [2] [2-2]  b"), pending: 0, emitted: []string{"vc|vpxd|Event [1] [1-2] A", "vc|vpxd|Event [2] [1-2] Bb"}},
			},
			incomplete: 1,
		},
		{
			name: "MaxBytes: lines past the cap are dropped, also shorter later ones",
			opts: Options{MaxBytes: 40},
			steps: []step{
				{add: rec("esx01", "hostd", "VmkVprobSource::Post"), pending: 1}, // 20 bytes
				{add: cont("esx01", "hostd", "0123456789012345"), pending: 1},    // +17 = 37
				{add: cont("esx01", "hostd", "abcdef"), pending: 1},              // +7 = 44 > 40
				{add: cont("esx01", "hostd", "x"), pending: 1},                   // would fit, but the message is cut
				{flush: true, emitted: []string{"esx01|hostd|VmkVprobSource::Post\n0123456789012345"}},
			},
			incomplete: 1,
		},
		{
			name: "MaxBytes: a line that fills the cap exactly is kept",
			opts: Options{MaxBytes: 30},
			steps: []step{
				{add: rec("esx01", "hostd", "VmkVprobSource::Post"), pending: 1}, // 20
				{add: cont("esx01", "hostd", "012345678"), pending: 1},           // +10 = 30
				{add: cont("esx01", "hostd", ""), pending: 1},                    // +1 = 31
				{flush: true, emitted: []string{"esx01|hostd|VmkVprobSource::Post\n012345678"}},
			},
			incomplete: 1,
		},
		{
			name: "MaxBytes: split event parts past the cap are dropped",
			opts: Options{MaxBytes: 20},
			steps: []step{
				{add: rec("vc", "vpxd", "Event [1] [1-3] ab"), pending: 1},   // 18
				{add: rec("vc", "vpxd", "Event [1] [2-3]  cde"), pending: 1}, // +3 = 21 > 20
				{add: rec("vc", "vpxd", "Event [1] [3-3]  f"), emitted: []string{"vc|vpxd|Event [1] [1-3] ab"}},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			incomplete := 0
			o := c.opts
			o.Hold = holdVprob
			o.Now = clk.Now
			o.OnRelease = func(_ string, why Reason) {
				if why != Complete {
					incomplete++
				}
			}
			var s sink
			a := New(o, s.emit)
			for i, st := range c.steps {
				clk.Advance(st.advance)
				if st.add != nil {
					a.Add(st.add)
				}
				if st.expire {
					a.Expire()
				}
				if st.flush {
					a.Flush()
				}
				if got := s.bodies(); !equal(got, st.emitted) {
					t.Fatalf("step %d: emitted\n%q\nwant\n%q", i, got, st.emitted)
				}
				if got := a.Pending(); got != st.pending {
					t.Fatalf("step %d: Pending() = %d, want %d", i, got, st.pending)
				}
			}
			if incomplete != c.incomplete {
				t.Errorf("%d messages released incomplete, want %d", incomplete, c.incomplete)
			}
		})
	}
}

// A joined record keeps the header fields of its first record.
func TestJoinedRecordKeepsFirstHeader(t *testing.T) {
	var s sink
	a := New(Options{Hold: holdVprob}, s.emit)
	first := &logline.Record{Time: time.Unix(100, 0), Host: "esx01", App: "Hostd", Program: "hostd", PID: "2100292",
		SDID: "Originator@6876", Params: []logline.Param{{Key: "sub", Value: "Hostsvc.VmkVprobSource"}}, Body: "VmkVprobSource::Post event: {", Format: "rfc3164"}
	a.Add(first)
	c := &logline.Record{Time: time.Unix(101, 0), Host: "esx01", App: "Hostd", Program: "hostd", PID: "9", Body: "}", Continuation: true, Format: "rfc3164"}
	a.Add(c)
	a.Flush()
	if len(s.recs) != 1 {
		t.Fatalf("emitted %d records", len(s.recs))
	}
	r := s.recs[0]
	if !r.Time.Equal(time.Unix(100, 0)) || r.PID != "2100292" || r.SDID != "Originator@6876" || r.Param("sub") != "Hostsvc.VmkVprobSource" ||
		r.Continuation || r.Body != "VmkVprobSource::Post event: {\n}" {
		t.Errorf("joined record = %+v", r)
	}
}

// The ESXi 6.x/7.0 hostd.log dump (esxi70-file.log): the first line has a
// header, each "-->" line is bare. Parsed with logline, they must join.
func TestFileDumpJoins(t *testing.T) {
	lines := []string{
		`2024-12-06T10:58:45.102Z info hostd[2100292] [Originator@6876 sub=Hostsvc.VmkVprobSource] VmkVprobSource::Post event: (vim.event.EventEx) {`,
		`-->    eventTypeId = "esx.audit.ssh.session.opened",`,
		`--> }`,
		`2024-12-06T10:58:46.000Z info hostd[2100292] [Originator@6876 sub=Default] next`,
	}
	p := logline.NewParser(logline.Options{})
	var s sink
	a := New(Options{Hold: holdVprob}, s.emit)
	for _, l := range lines {
		r, err := p.Parse([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		a.Add(&r)
	}
	a.Flush()
	want := []string{
		"|hostd|VmkVprobSource::Post event: (vim.event.EventEx) {\n" + `eventTypeId = "esx.audit.ssh.session.opened",` + "\n}",
		"|hostd|next",
	}
	if got := s.bodies(); !equal(got, want) {
		t.Errorf("emitted\n%q\nwant\n%q", got, want)
	}
}

// The wire form of the same dump: every line carries host and program.
func TestWireDumpJoins(t *testing.T) {
	lines := []string{
		`<166>2024-12-06T10:58:45.102Z SRVESX12 Hostd: info hostd[2100292] [Originator@6876 sub=Hostsvc.VmkVprobSource] VmkVprobSource::Post event: (vim.event.EventEx) {`,
		`<166>2024-12-06T10:58:45.102Z SRVESX12 Hostd: -->    eventTypeId = "esx.audit.ssh.session.opened",`,
		`<166>2024-12-06T10:58:45.102Z SRVESX12 Hostd: --> }`,
		`<166>2024-12-06T10:58:46.000Z SRVESX12 Hostd: info hostd[2100292] [Originator@6876 sub=Default] next`,
	}
	p := logline.NewParser(logline.Options{})
	var s sink
	a := New(Options{Hold: holdVprob}, s.emit)
	for _, l := range lines {
		r, err := p.Parse([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		a.Add(&r)
	}
	want := []string{
		"SRVESX12|hostd|VmkVprobSource::Post event: (vim.event.EventEx) {\n" + `eventTypeId = "esx.audit.ssh.session.opened",` + "\n}",
		"SRVESX12|hostd|next",
	}
	if got := s.bodies(); !equal(got, want) {
		t.Errorf("emitted\n%q\nwant\n%q", got, want)
	}
	if a.Pending() != 0 {
		t.Errorf("Pending() = %d", a.Pending())
	}
}

// releases records what OnRelease reports: "program/reason".
type releases struct{ got []string }

func (r *releases) on(program string, why Reason) { r.got = append(r.got, program+"/"+why.String()) }

// The message evicted when MaxPending wait is the one idle longest: a
// message that still receives lines is younger than one that started
// after it and received nothing since. Every release is reported once,
// with its reason, and Pending and PendingBytes follow exactly.
func TestEvictionByAge(t *testing.T) {
	const vprob = "VmkVprobSource::Post event: {" // 29 bytes
	clk := newClock()
	var s sink
	var rel releases
	a := New(Options{Hold: holdVprob, MaxPending: 3, Now: clk.Now, OnRelease: rel.on}, s.emit)
	type st struct {
		add      *logline.Record
		advance  time.Duration
		expire   bool
		emitted  []string
		released []string
		pending  int
		bytes    int64
	}
	steps := []st{
		{add: rec("esx01", "hostd", vprob), pending: 1, bytes: 29},
		{advance: time.Millisecond, add: rec("esx02", "hostd", vprob), pending: 2, bytes: 58},
		{advance: time.Millisecond, add: rec("vc", "vpxd", "Event [7] [1-2] A"), pending: 3, bytes: 75},
		{advance: time.Millisecond, add: cont("esx01", "hostd", "x"), pending: 3, bytes: 77}, // esx01 is now the youngest
		{advance: time.Millisecond, add: rec("esx04", "hostd", vprob), pending: 3, bytes: 77,
			emitted: []string{"esx02|hostd|" + vprob}, released: []string{"hostd/evicted"}},
		{advance: time.Millisecond, add: rec("esx05", "hostd", vprob), pending: 3, bytes: 89,
			emitted:  []string{"esx02|hostd|" + vprob, "vc|vpxd|Event [7] [1-2] A"},
			released: []string{"hostd/evicted", "vpxd/evicted"}},
		{advance: time.Millisecond, add: rec("esx06", "hostd", vprob), pending: 3, bytes: 87,
			emitted:  []string{"esx02|hostd|" + vprob, "vc|vpxd|Event [7] [1-2] A", "esx01|hostd|" + vprob + "\nx"},
			released: []string{"hostd/evicted", "vpxd/evicted", "hostd/evicted"}},
		// esx04, esx05, esx06 wait, idle since 3, 2 and 1 ms; the timeout (2s)
		// releases the two oldest first, in arrival order.
		{advance: 2*time.Second - 500*time.Microsecond, expire: true, pending: 1, bytes: 29,
			emitted: []string{"esx02|hostd|" + vprob, "vc|vpxd|Event [7] [1-2] A", "esx01|hostd|" + vprob + "\nx",
				"esx04|hostd|" + vprob, "esx05|hostd|" + vprob},
			released: []string{"hostd/evicted", "vpxd/evicted", "hostd/evicted", "hostd/timeout", "hostd/timeout"}},
		{add: rec("esx06", "hostd", "next"), pending: 0, bytes: 0,
			emitted: []string{"esx02|hostd|" + vprob, "vc|vpxd|Event [7] [1-2] A", "esx01|hostd|" + vprob + "\nx",
				"esx04|hostd|" + vprob, "esx05|hostd|" + vprob, "esx06|hostd|" + vprob, "esx06|hostd|next"},
			released: []string{"hostd/evicted", "vpxd/evicted", "hostd/evicted", "hostd/timeout", "hostd/timeout", "hostd/complete"}},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		if st.add != nil {
			a.Add(st.add)
		}
		if st.expire {
			a.Expire()
		}
		if got := s.bodies(); !equal(got, st.emitted) {
			t.Fatalf("step %d: emitted\n%q\nwant\n%q", i, got, st.emitted)
		}
		if !equal(rel.got, st.released) {
			t.Fatalf("step %d: released %q, want %q", i, rel.got, st.released)
		}
		if got := a.Pending(); got != st.pending {
			t.Fatalf("step %d: Pending() = %d, want %d", i, got, st.pending)
		}
		if got := a.PendingBytes(); got != st.bytes {
			t.Fatalf("step %d: PendingBytes() = %d, want %d", i, got, st.bytes)
		}
	}
}

// MaxPendingBytes bounds the text of all waiting messages: beyond it the
// messages idle longest are evicted, never the one that grows.
func TestPendingBytesBound(t *testing.T) {
	clk := newClock()
	var s sink
	var rel releases
	// Each start is 20 bytes ("VmkVprobSource::Post"); at most 50 wait.
	a := New(Options{Hold: holdVprob, MaxBytes: 40, MaxPendingBytes: 50, Now: clk.Now, OnRelease: rel.on}, s.emit)
	a.Add(rec("esx01", "hostd", "VmkVprobSource::Post"))
	a.Add(rec("esx02", "hostd", "VmkVprobSource::Post"))
	if a.Pending() != 2 || a.PendingBytes() != 40 || len(s.recs) != 0 {
		t.Fatalf("Pending() = %d, PendingBytes() = %d, emitted %q", a.Pending(), a.PendingBytes(), s.bodies())
	}
	a.Add(cont("esx02", "hostd", "0123456789")) // 40 + 11 = 51 > 50: esx01 goes
	if got, want := s.bodies(), []string{"esx01|hostd|VmkVprobSource::Post"}; !equal(got, want) {
		t.Fatalf("emitted %q, want %q", got, want)
	}
	if a.Pending() != 1 || a.PendingBytes() != 31 {
		t.Fatalf("Pending() = %d, PendingBytes() = %d, want 1, 31", a.Pending(), a.PendingBytes())
	}
	a.Add(cont("esx02", "hostd", "012345678")) // 31 + 10 = 41 > MaxBytes: the message is cut
	if a.Pending() != 1 || a.PendingBytes() != 31 || len(s.recs) != 1 {
		t.Fatalf("Pending() = %d, PendingBytes() = %d, emitted %q", a.Pending(), a.PendingBytes(), s.bodies())
	}
	a.Add(rec("esx03", "hostd", "VmkVprobSource::Post")) // 31 + 20 = 51 > 50: esx02 goes
	if a.Pending() != 1 || a.PendingBytes() != 20 {
		t.Fatalf("Pending() = %d, PendingBytes() = %d, want 1, 20", a.Pending(), a.PendingBytes())
	}
	a.Flush()
	want := []string{"esx01|hostd|VmkVprobSource::Post", "esx02|hostd|VmkVprobSource::Post\n0123456789", "esx03|hostd|VmkVprobSource::Post"}
	if got := s.bodies(); !equal(got, want) {
		t.Fatalf("emitted %q, want %q", got, want)
	}
	if want := []string{"hostd/evicted", "hostd/evicted", "hostd/flushed"}; !equal(rel.got, want) {
		t.Fatalf("released %q, want %q", rel.got, want)
	}
	if a.Pending() != 0 || a.PendingBytes() != 0 {
		t.Fatalf("after Flush: Pending() = %d, PendingBytes() = %d", a.Pending(), a.PendingBytes())
	}
}

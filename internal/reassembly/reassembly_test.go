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
		name     string
		opts     Options
		steps    []step
		timeouts int
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
			timeouts: 1,
		},
		{
			name: "a held record is released by Expire without OnTimeout",
			opts: Options{Timeout: 2 * time.Second},
			steps: []step{
				{add: rec("esx01", "hostd", vprob), pending: 1},
				{add: cont("esx01", "hostd", "a"), pending: 1},
				{advance: 2 * time.Second, expire: true, pending: 1},
				{advance: time.Millisecond, expire: true, emitted: []string{"esx01|hostd|" + vprob + "\na"}},
			},
		},
		{
			name: "a restarted split event releases the incomplete one",
			steps: []step{
				{add: rec("vc", "vpxd", "Event [3] [1-2] first"), pending: 1},
				{add: rec("vc", "vpxd", "Event [3] [1-2] again"), pending: 1, emitted: []string{"vc|vpxd|Event [3] [1-2] first"}},
				{add: rec("vc", "vpxd", "Event [3] [2-2]  !"), emitted: []string{"vc|vpxd|Event [3] [1-2] first", "vc|vpxd|Event [3] [1-2] again!"}},
			},
			timeouts: 1,
		},
		{
			name: "Flush releases an incomplete split event and counts it",
			steps: []step{
				{add: rec("vc", "vpxd", "Event [4] [1-2] A"), pending: 1},
				{flush: true, emitted: []string{"vc|vpxd|Event [4] [1-2] A"}},
			},
			timeouts: 1,
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
			timeouts: 1,
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
			timeouts := 0
			o := c.opts
			o.Hold = holdVprob
			o.Now = clk.Now
			o.OnTimeout = func() { timeouts++ }
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
			if timeouts != c.timeouts {
				t.Errorf("OnTimeout called %d times, want %d", timeouts, c.timeouts)
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

package demo

import (
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/pipeline"
)

func TestParseEmbeddedStream(t *testing.T) {
	tm, err := ParseTemplates(DefaultTemplates)
	if err != nil {
		t.Fatalf("ParseTemplates(DemoStream): %v", err)
	}
	// One template per line that is neither blank nor a comment.
	want := 0
	for _, l := range strings.Split(DefaultTemplates, "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" && !strings.HasPrefix(l, "#") {
			want++
		}
	}
	if len(tm) != want || want == 0 {
		t.Fatalf("%d templates, want %d", len(tm), want)
	}
	for i, x := range tm {
		if x.weight <= 0 || len(x.lines) == 0 {
			t.Errorf("template %d: weight %d, %d lines", i, x.weight, len(x.lines))
		}
		for _, l := range x.lines {
			if !strings.HasPrefix(l, "<") || !strings.Contains(l, "{ts}") && !strings.Contains(l, "{ts-") {
				t.Errorf("template %d: line %q lacks a PRI or {ts} ({ts-10m}, {ts-9m})", i, l)
			}
		}
	}
}

func TestParseTemplates(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		weights []int
		lines   [][]string
		err     string // substring of the error; "" means success
	}{
		{name: "one template", in: "3\t<14>a", weights: []int{3}, lines: [][]string{{"<14>a"}}},
		{name: "comments, blanks and CRLF", in: "# c\r\n\r\n2\tx|y\r\n\n1\tz\n", weights: []int{2, 1}, lines: [][]string{{"x", "y"}, {"z"}}},
		{name: "tab inside the template is kept", in: "1\ta\tb", weights: []int{1}, lines: [][]string{{"a\tb"}}},
		{name: "no tab", in: "# c\n\n5 <14>a", err: "demo stream line 3: want WEIGHT<TAB>TEMPLATE"},
		{name: "weight not a number", in: "x\t<14>a", err: "demo stream line 1: want WEIGHT<TAB>TEMPLATE"},
		{name: "zero weight", in: "1\ta\n0\tb", err: "demo stream line 2: want WEIGHT<TAB>TEMPLATE"},
		{name: "negative weight", in: "-1\ta", err: "demo stream line 1: want WEIGHT<TAB>TEMPLATE"},
		{name: "leading blank before weight", in: " 1\ta", err: "demo stream line 1: want WEIGHT<TAB>TEMPLATE"},
		{name: "only comments", in: "# a\n# b\n", err: "demo stream: no templates"},
		{name: "empty", in: "", err: "demo stream: no templates"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tm, err := ParseTemplates(c.in)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("error = %v, want %q", err, c.err)
				}
				if tm != nil {
					t.Errorf("templates = %v, want nil", tm)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(tm) != len(c.weights) {
				t.Fatalf("%d templates, want %d", len(tm), len(c.weights))
			}
			for i := range tm {
				if tm[i].weight != c.weights[i] || !slices.Equal(tm[i].lines, c.lines[i]) {
					t.Errorf("template %d = %d %q, want %d %q", i, tm[i].weight, tm[i].lines, c.weights[i], c.lines[i])
				}
			}
		})
	}
}

func TestNewPanicsOnBadTemplates(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New with malformed templates did not panic")
		}
	}()
	New(Options{Templates: "bad", Seed: 1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestNextFillsPlaceholders(t *testing.T) {
	s := New(Options{Seed: 7, Templates: "1\t<14>{ts} {esx} a[{pid}]: {n} {esx2} {opid} {sid}|<14>{ts} {esx} b: {opid} {n}"},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	now := time.Date(2025, 1, 29, 8, 38, 45, 123456789, time.FixedZone("X", 3600))
	for i := 1; i <= 50; i++ {
		g := s.Next(now)
		if len(g) != 2 {
			t.Fatalf("group %d has %d lines", i, len(g))
		}
		for _, l := range g {
			if strings.ContainsAny(l, "{}") {
				t.Errorf("unfilled placeholder in %q", l)
			}
			if !strings.HasPrefix(l, "<14>2025-01-29T07:38:45.123Z esx0") {
				t.Errorf("line %q: want UTC millisecond timestamp and an esx host", l)
			}
		}
		f0, f1 := strings.Fields(g[0]), strings.Fields(g[1])
		// One group is one fact: the same host, opID and counter in every line.
		if f0[1] != f1[1] || f0[5] != f1[3] || f0[3] != f1[4] {
			t.Errorf("group %d: lines disagree: %q", i, g)
		}
		if f0[1] == f0[4] {
			t.Errorf("group %d: {esx2} equals {esx}: %q", i, g[0])
		}
		if want := "1000" + string(rune('0'+i/10)) + string(rune('0'+i%10)); i < 100 && f0[3] != want {
			t.Errorf("group %d: {n} = %s, want %s", i, f0[3], want)
		}
	}
}

func TestSameSeedSameStream(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, b := New(Options{Seed: 42}, log), New(Options{Seed: 42}, log)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 200; i++ {
		if ga, gb := a.Next(now), b.Next(now); !slices.Equal(ga, gb) {
			t.Fatalf("group %d differs: %q vs %q", i, ga, gb)
		}
	}
}

// TestStreamThroughPipeline feeds the demo stream through the real parser
// and pipeline: every audit kind the demo advertises must come out.
func TestStreamThroughPipeline(t *testing.T) {
	s := New(Options{Seed: 20250129}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var events []audit.Event
	var group []audit.Event
	p := pipeline.New(pipeline.Options{}, audit.SinkFunc(func(e audit.Event) {
		events = append(events, e)
		group = append(group, e)
	}))
	start := time.Date(2025, 1, 29, 8, 0, 0, 0, time.UTC)
	clock := start
	parser := logline.NewParser(logline.Options{Now: func() time.Time { return clock }})
	ssoJoined := 0
	for i := 0; i < 2000; i++ {
		clock = start.Add(time.Duration(i) * time.Second)
		group = group[:0]
		lines := s.Next(clock)
		for _, l := range lines {
			rec, err := parser.Parse([]byte(l))
			if err != nil {
				t.Fatalf("Parse(%q): %v", l, err)
			}
			if rec.Format == "msg" || rec.Host == "" || rec.Program == "" {
				t.Fatalf("demo line not recognized: %q -> %+v", l, rec)
			}
			if rec.Time.After(clock) || rec.Time.Before(clock.Add(-10*time.Minute)) || !rec.Time.Equal(clock) && !strings.Contains(strings.ToLower(l), "dc01") {
				t.Fatalf("Parse(%q).Time = %v, want %v (or up to 10 minutes before, for the console ledger's scene)", l, rec.Time, clock)
			}
			p.Process(&rec)
		}
		// The vSphere Client template: SSO records the real address, then
		// vpxd logs the same user in from 127.0.0.1: one login, vCenter's,
		// with SSO's address.
		ssoLine := false
		for _, l := range lines {
			ssoLine = ssoLine || strings.Contains(l, "com.vmware.sso.LoginSuccess")
		}
		if !ssoLine {
			continue
		}
		vc, sso := 0, 0
		for _, e := range group {
			if e.Kind != audit.KindLogin {
				continue
			}
			switch e.Method {
			case audit.MethodVCenter:
				vc++
				if audit.IsLoopback(e.ClientIP) || e.ClientIP == "" {
					t.Errorf("group %d: vCenter login of %s has client_ip %q, want SSO's (lines %q)", i, e.User, e.ClientIP, lines)
				}
				ssoJoined++
			case audit.MethodSSO:
				sso++
			}
		}
		if vc > 0 && sso > 0 {
			t.Errorf("group %d: a vSphere Client login counted twice, as sso and vcenter (lines %q)", i, lines)
		}
	}
	p.Flush()

	kinds := map[audit.Kind]int{}
	direct, vcNonLoopback := 0, 0
	for _, e := range events {
		kinds[e.Kind]++
		if !slices.Contains(audit.Kinds, e.Kind) {
			t.Errorf("unknown kind %q", e.Kind)
		}
		if e.Kind == audit.KindLogin && e.Direct {
			direct++
			if e.Method != audit.MethodHostd && e.Method != audit.MethodSSH {
				t.Errorf("direct login by method %q: %+v", e.Method, e)
			}
			if e.User == "vpxuser" {
				t.Errorf("vpxuser login marked direct: %+v", e)
			}
		}
		if e.Kind == audit.KindLogin && e.Method == audit.MethodVCenter {
			if a, err := netip.ParseAddr(e.ClientIP); err == nil && !a.IsLoopback() && strings.Contains(e.User, "@") && !strings.Contains(e.User, "vpxd-extension") {
				vcNonLoopback++
			}
		}
	}
	for _, k := range []audit.Kind{audit.KindLogin, audit.KindLoginFailed, audit.KindServiceEnabled, audit.KindServiceDisabled,
		audit.KindConsoleOpened, audit.KindVMMigrated, audit.KindShellCommand, audit.KindVMPower, audit.KindVMSnapshot,
		audit.KindVMDiskChanged, audit.KindDatastoreAccess, audit.KindGuestLogon, audit.KindConsoleSessionReused} {
		if kinds[k] == 0 {
			t.Errorf("kind %s never produced (kinds: %v)", k, kinds)
		}
	}
	if direct == 0 {
		t.Error("no login with Direct == true")
	}
	if vcNonLoopback == 0 || ssoJoined == 0 {
		t.Errorf("no administrator vCenter login got its client_ip from SSO (joined %d, non-loopback %d)", ssoJoined, vcNonLoopback)
	}
	t.Logf("kinds %v, direct %d, joined %d", kinds, direct, ssoJoined)
}

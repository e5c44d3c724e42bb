package metrics

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/labels"
)

// forged is the flood of finding 1 of issue 11: events of 16 kinds, each
// from its own forged host, none of them paging.
func forged(kind, host int) audit.Event {
	h := fmt.Sprintf("forged-%02d-%05d", kind, host)
	e := audit.Event{Time: time.Unix(1000, 0), Source: audit.SourceSyslog, Host: h, User: "u" + h, ClientIP: "10.9.9.9"}
	switch kind {
	case 0:
		e.Kind, e.Method = audit.KindLogin, audit.MethodSSH // direct="false": does not page
	case 1:
		e.Kind, e.Method = audit.KindLoginFailed, audit.MethodSSH
	case 2:
		e.Kind, e.Method = audit.KindLogout, audit.MethodSSH
	case 3:
		e.Kind = audit.KindAccountLocked
	case 4:
		e.Kind, e.Service = audit.KindServiceEnabled, audit.ServiceSSH
	case 5:
		e.Kind = audit.KindLockdownEnabled
	case 6:
		e.Kind, e.VM = audit.KindVMMigrated, "vm"+h
	case 7:
		e.Kind, e.Command = audit.KindShellCommand, "ls"
	case 8:
		e.Kind = audit.KindPermissionChanged
	case 9:
		e.Kind, e.Setting, e.Action = audit.KindConfigChanged, "ntp", "set"
	case 10:
		e.Kind, e.VM, e.Action = audit.KindVMPower, "vm"+h, "on"
	case 11:
		e.Kind, e.VM, e.Action = audit.KindVMLifecycle, "vm"+h, "create"
	case 12:
		e.Kind = audit.KindDatastoreAccess
	case 13:
		e.Kind, e.Outcome = audit.KindAccessDenied, audit.OutcomeFailure
	case 14:
		e.Kind, e.Action = audit.KindHostPower, "reboot"
	default:
		e.Kind, e.Service = audit.KindServiceDisabled, audit.ServiceESXiShell
	}
	return e
}

// exposed counts the audit series a scrape of s returns.
func exposed(t *testing.T, s *Sink) int {
	t.Helper()
	mfs, err := s.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		n += len(mf.Metric)
	}
	return n
}

// Finding 1 of issue 11: 192k forged lines (16 kinds x 12k hosts) made
// 270k series under per-metric caps alone. With the default budget the
// audit series stay within it (plus the bounded overflow series), and a
// direct login after the flood still gets a series of its own, with its
// user and address, from the paging reserve.
func TestSeriesBudgetBoundsFlood(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := NewSink(reg, Options{})
	for h := 0; h < 12000; h++ {
		for k := 0; k < 16; k++ {
			s.Record(forged(k, h))
		}
	}
	start := time.Now()
	n := exposed(t, s)
	t.Logf("after the flood: %d audit series exposed, budget used %d, scrape of the sink %v", n, s.budget.Used(), time.Since(start))
	if u := s.budget.Used(); u > DefaultMaxTotalSeries-DefaultMaxTotalSeries/10 {
		t.Errorf("budget used %d by series that do not page, want at most %d (the paging reserve kept)", u, DefaultMaxTotalSeries-DefaultMaxTotalSeries/10)
	}
	if max := DefaultMaxTotalSeries + len(s.families)*2*maxOverflowSeries; n > max {
		t.Errorf("%d audit series exposed, want at most %d", n, max)
	}
	direct := audit.Event{Time: time.Unix(2000, 0), Source: audit.SourceSyslog, Host: "esx-victim", Kind: audit.KindLogin,
		User: "root", ClientIP: "203.0.113.7", Method: audit.MethodSSH, Direct: true}
	s.Record(direct)
	if got := count(t, s.logins, "esx-victim", "root", "203.0.113.7", "ssh", "true"); got != 1 {
		t.Errorf("the direct login after the flood: logins_total = %v, want 1 in its own series", got)
	}
	if got := testutil.ToFloat64(s.paging.WithLabelValues("vsphere_audit_logins_total")); got != 0 {
		t.Errorf("paging_overflow_total = %v, want 0", got)
	}
	if got := testutil.ToFloat64(s.overflow.WithLabelValues("vsphere_audit_events_total")); got == 0 {
		t.Error("label_overflow_total{metric=events} = 0: the flood should have overflowed")
	}
}

// When even the reserve is full, a paging label set overflows into a
// series that keeps direct and method, so that the direct-login alert
// still matches, and the paging overflow is counted.
func TestPagingOverflowKeepsKind(t *testing.T) {
	s, reg := newSink(t, Options{MaxTotalSeries: 100, PagingReserve: 20})
	// 40 non-paging failed logins: events (1 series each, shared label
	// set per host) + login_failures (2 each) = 3 series per host; 80
	// is the room they have, so 26 hosts fit.
	for h := 0; h < 40; h++ {
		s.Record(audit.Event{Time: time.Unix(10, 0), Source: audit.SourceSyslog, Host: fmt.Sprintf("h%02d", h), Kind: audit.KindLoginFailed, User: "x", Method: audit.MethodSSH})
	}
	if u := s.budget.Used(); u != 80 {
		t.Errorf("budget used %d, want 80 (the limit minus the reserve)", u)
	}
	// Direct logins (events_total does not page: they overflow there,
	// logins_total does: 2 series each from the reserve of 20).
	for i := 0; i < 12; i++ {
		s.Record(audit.Event{Time: time.Unix(int64(20+i), 0), Source: audit.SourceSyslog, Host: fmt.Sprintf("esx%02d", i), Kind: audit.KindLogin,
			User: "root", ClientIP: "10.0.0.1", Method: audit.MethodSSH, Direct: true})
	}
	want := loginsHelp
	for i := 0; i < 10; i++ {
		want += fmt.Sprintf("vsphere_audit_logins_total{client_ip=\"10.0.0.1\",direct=\"true\",host=\"esx%02d\",method=\"ssh\",user=\"root\"} 1\n", i)
	}
	want += `vsphere_audit_logins_total{client_ip="__overflow__",direct="true",host="__overflow__",method="ssh",user="__overflow__"} 2
`
	if err := testutil.GatherAndCompare(Merge(reg, s), strings.NewReader(want), "vsphere_audit_logins_total"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(s.paging.WithLabelValues("vsphere_audit_logins_total")); got != 2 {
		t.Errorf("paging_overflow_total{metric=logins} = %v, want 2", got)
	}
	if got := s.budget.Used(); got != 100 {
		t.Errorf("budget used %d, want 100", got)
	}
}

// Label sets not observed for the TTL are dropped and their series go
// back to the budget; the others stay.
func TestSeriesTTL(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, reg := newSink(t, Options{SeriesTTL: 35 * 24 * time.Hour, Now: clock})
	s.Record(login("alice", 100))
	now = now.Add(20 * 24 * time.Hour)
	s.Record(login("bob", 200))
	if u := s.budget.Used(); u != 2+2+1 { // two logins (counter + last seen) and one events_total label set
		t.Fatalf("budget used %d, want 5", u)
	}
	now = now.Add(16 * 24 * time.Hour) // alice unseen for 36 days, bob for 16
	if n := s.Expire(now); n != 1 {
		t.Errorf("Expire dropped %d label sets, want 1", n)
	}
	want := loginsHelp + `vsphere_audit_logins_total{client_ip="10.0.0.1",direct="true",host="esx01",method="hostd",user="bob"} 1
`
	if err := testutil.GatherAndCompare(Merge(reg, s), strings.NewReader(want), "vsphere_audit_logins_total"); err != nil {
		t.Error(err)
	}
	if u := s.budget.Used(); u != 3 {
		t.Errorf("budget used %d after expiry, want 3", u)
	}
	if got := testutil.ToFloat64(s.expired); got != 1 {
		t.Errorf("series_expired_total = %v, want 1", got)
	}
	// A scrape sweeps by itself, at most once a minute.
	now = now.Add(36 * 24 * time.Hour)
	if n := exposed(t, s); n != 0 {
		t.Errorf("%d series after every label set expired, want 0", n)
	}
	if u := s.budget.Used(); u != 0 {
		t.Errorf("budget used %d, want 0", u)
	}
}

// The sources' limiters draw from the same budget, as series that do not
// page.
func TestBoundsShareBudget(t *testing.T) {
	s, _ := newSink(t, Options{MaxTotalSeries: 10, PagingReserve: 2})
	lim := s.Bounds().NewLimiter("vsphere_audit_syslog_last_message_timestamp_seconds", 1)
	for i := 0; i < 10; i++ {
		lim.Admit([]string{fmt.Sprint("h", i)})
	}
	if u := s.budget.Used(); u != 8 {
		t.Errorf("budget used %d, want 8", u)
	}
	if got := lim.Admit([]string{"h9"}); got[0] != labels.Overflow {
		t.Errorf("a label set beyond the budget got %q, want the overflow series", got)
	}
}

// A wrong table entry fails at construction.
func TestFamilySpecChecked(t *testing.T) {
	for _, sp := range []spec{
		{name: "x_total", labels: []string{"host", "user"}, keep: []string{"kind"}},
		{name: "x_total", labels: []string{"host", "user"}, page: []pageRule{{label: "direct"}}},
		{name: "x_total", labels: []string{"host", "host"}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("spec %+v accepted", sp)
				}
			}()
			newFamily(sp, Options{MaxSeries: 1, Now: time.Now}, nil)
		}()
	}
}

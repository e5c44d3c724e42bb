package metrics

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

const (
	loginsHelp = `# HELP vsphere_audit_logins_total Successful logins. direct="true" marks a login to an ESXi host that bypassed vCenter.
# TYPE vsphere_audit_logins_total counter
`
	loginsSeenHelp = `# HELP vsphere_audit_logins_last_seen_timestamp_seconds Time of the newest successful login with these labels.
# TYPE vsphere_audit_logins_last_seen_timestamp_seconds gauge
`
)

func login(user string, ts int64) audit.Event {
	return audit.Event{Time: time.Unix(ts, 0), Source: audit.SourceSyslog, Host: "esx01", Kind: audit.KindLogin,
		User: user, ClientIP: "10.0.0.1", Method: audit.MethodHostd, Direct: true}
}

func newSink(t *testing.T, o Options) (*Sink, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	return NewSink(reg, o), reg
}

// count is the value of a label set of f (its count, or its state).
func count(t *testing.T, f *family, vals ...string) float64 {
	t.Helper()
	v, _, ok := f.lookup(vals...)
	if !ok {
		t.Errorf("%s%q: no series", f.name, vals)
	}
	return v
}

// seen is the last-seen time (or the state's time) of a label set of f.
func seen(t *testing.T, f *family, vals ...string) float64 {
	t.Helper()
	_, ts, ok := f.lookup(vals...)
	if !ok {
		t.Errorf("%s%q: no series", f.name, vals)
	}
	return ts
}

func TestLoginSeriesOverflow(t *testing.T) {
	s, reg := newSink(t, Options{MaxSeries: 2})
	for _, e := range []audit.Event{
		login("alice", 100),
		login("bob", 200),
		login("carol", 300), // third label set: overflow
		login("alice", 400), // known label set: its own series
		login("dave", 250),  // overflow again
	} {
		s.Record(e)
	}
	want := loginsHelp + `vsphere_audit_logins_total{client_ip="10.0.0.1",direct="true",host="esx01",method="hostd",user="alice"} 2
vsphere_audit_logins_total{client_ip="10.0.0.1",direct="true",host="esx01",method="hostd",user="bob"} 1
vsphere_audit_logins_total{client_ip="__overflow__",direct="true",host="__overflow__",method="hostd",user="__overflow__"} 2
` + loginsSeenHelp + `vsphere_audit_logins_last_seen_timestamp_seconds{client_ip="10.0.0.1",direct="true",host="esx01",method="hostd",user="alice"} 400
vsphere_audit_logins_last_seen_timestamp_seconds{client_ip="10.0.0.1",direct="true",host="esx01",method="hostd",user="bob"} 200
vsphere_audit_logins_last_seen_timestamp_seconds{client_ip="__overflow__",direct="true",host="__overflow__",method="hostd",user="__overflow__"} 300
`
	if err := testutil.GatherAndCompare(Merge(reg, s), strings.NewReader(want),
		"vsphere_audit_logins_total", "vsphere_audit_logins_last_seen_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(s.overflow.WithLabelValues("vsphere_audit_logins_total")); got != 2 {
		t.Errorf(`label_overflow_total{metric="vsphere_audit_logins_total"} = %v, want 2`, got)
	}
	// The events family has one label set (syslog, esx01, login): no overflow.
	if got := testutil.ToFloat64(s.overflow.WithLabelValues("vsphere_audit_events_total")); got != 0 {
		t.Errorf(`label_overflow_total{metric="vsphere_audit_events_total"} = %v, want 0`, got)
	}
	if err := testutil.GatherAndCompare(Merge(reg, s), strings.NewReader(`# HELP vsphere_audit_events_total Audit events by source, host and kind.
# TYPE vsphere_audit_events_total counter
vsphere_audit_events_total{host="esx01",kind="login",source="syslog"} 5
`), "vsphere_audit_events_total"); err != nil {
		t.Error(err)
	}
	if _, err := Merge(reg, s).Gather(); err != nil {
		t.Errorf("Gather: %v", err)
	}
}

func TestServiceEnabledOverflow(t *testing.T) {
	s, reg := newSink(t, Options{MaxSeries: 1})
	s.Record(audit.Event{Time: time.Unix(10, 0), Host: "esx01", Kind: audit.KindServiceEnabled, Service: audit.ServiceSSH})
	s.Record(audit.Event{Time: time.Unix(20, 0), Host: "esx02", Kind: audit.KindServiceDisabled, Service: audit.ServiceSSH})
	want := `# HELP vsphere_audit_service_enabled 1 if the newest change seen for the service (by event time) enabled it, 0 if it disabled it.
# TYPE vsphere_audit_service_enabled gauge
vsphere_audit_service_enabled{host="esx01",service="ssh"} 1
vsphere_audit_service_enabled{host="__overflow__",service="ssh"} 0
`
	if err := testutil.GatherAndCompare(Merge(reg, s), strings.NewReader(want), "vsphere_audit_service_enabled"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(s.overflow.WithLabelValues("vsphere_audit_service_enabled")); got != 1 {
		t.Errorf(`label_overflow_total{metric="vsphere_audit_service_enabled"} = %v, want 1`, got)
	}
}

func TestLabelValuesCleaned(t *testing.T) {
	long := strings.Repeat("a", 200)
	euro := strings.Repeat("€", 50) // 150 bytes of 3-byte runes
	cases := []struct {
		name   string
		opts   Options
		user   string
		want   string
		exotic bool
	}{
		{name: "short value unchanged", user: "root", want: "root"},
		{name: "exactly 128 bytes unchanged", user: strings.Repeat("b", 128), want: strings.Repeat("b", 128)},
		{name: "longer than 128 bytes is cut", user: long, want: strings.Repeat("a", 128)},
		{name: "cut on a rune boundary", user: euro, want: strings.Repeat("€", 42)},
		{name: "invalid UTF-8 replaced", user: "bad\xffuser", want: "bad\uFFFDuser"},
		{name: "invalid run replaced once", user: "x\xc3\x28y", want: "x\uFFFD(y"},
		{name: "custom MaxLabelLen", opts: Options{MaxLabelLen: 8}, user: "administrator@vsphere.local", want: "administ"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := newSink(t, c.opts)
			s.Record(login(c.user, 100))
			want := loginsHelp + `vsphere_audit_logins_total{client_ip="10.0.0.1",direct="true",host="esx01",method="hostd",user="` + c.want + `"} 1
`
			if err := testutil.GatherAndCompare(s, strings.NewReader(want), "vsphere_audit_logins_total"); err != nil {
				t.Error(err)
			}
			if n, err := testutil.GatherAndCount(s, "vsphere_audit_logins_last_seen_timestamp_seconds"); n != 1 || err != nil {
				t.Errorf("last_seen series = %d (%v), want 1", n, err)
			}
		})
	}
}

// Label values of the limiter-backed gauges are cleaned too.
func TestServiceEnabledLabelCleaned(t *testing.T) {
	s, reg := newSink(t, Options{})
	s.Record(audit.Event{Time: time.Unix(10, 0), Host: strings.Repeat("h", 130) + "\xff", Kind: audit.KindServiceEnabled, Service: "ssh"})
	want := `# HELP vsphere_audit_service_enabled 1 if the newest change seen for the service (by event time) enabled it, 0 if it disabled it.
# TYPE vsphere_audit_service_enabled gauge
vsphere_audit_service_enabled{host="` + strings.Repeat("h", 128) + `",service="ssh"} 1
`
	if err := testutil.GatherAndCompare(Merge(reg, s), strings.NewReader(want), "vsphere_audit_service_enabled"); err != nil {
		t.Error(err)
	}
}

func TestLastSeenKeepsNewest(t *testing.T) {
	s, _ := newSink(t, Options{})
	steps := []struct {
		ts       int64
		wantSeen float64
		wantN    float64
	}{
		{2000, 2000, 1},
		{1000, 2000, 2}, // arrives late: counted, last_seen unchanged
		{1500, 2000, 3},
		{3000, 3000, 4},
		{3000, 3000, 5},
	}
	for i, st := range steps {
		s.Record(login("alice", st.ts))
		lv := []string{"esx01", "alice", "10.0.0.1", "hostd", "true"}
		if got := seen(t, s.logins, lv...); got != st.wantSeen {
			t.Errorf("step %d: last_seen = %v, want %v", i, got, st.wantSeen)
		}
		if got := count(t, s.logins, lv...); got != st.wantN {
			t.Errorf("step %d: total = %v, want %v", i, got, st.wantN)
		}
	}
}

func TestLastSeenSubSecond(t *testing.T) {
	s, _ := newSink(t, Options{})
	e := login("alice", 0)
	e.Time = time.Unix(1700000000, 250_000_000)
	s.Record(e)
	got := seen(t, s.logins, "esx01", "alice", "10.0.0.1", "hostd", "true")
	if d := got - 1700000000.25; d > 1e-6 || d < -1e-6 {
		t.Errorf("last_seen = %v, want 1700000000.25", got)
	}
}

// Two raw values that clean to the same label value (here: equal in their
// first 128 bytes) share one series; last_seen must still be the newest.
func TestLastSeenSharedCleanedSeries(t *testing.T) {
	s, _ := newSink(t, Options{})
	p := strings.Repeat("x", 128)
	s.Record(login(p+"1", 2000))
	s.Record(login(p+"2", 1000))
	lv := []string{"esx01", p, "10.0.0.1", "hostd", "true"}
	if got := seen(t, s.logins, lv...); got != 2000 {
		t.Errorf("last_seen = %v, want 2000", got)
	}
	if got := count(t, s.logins, lv...); got != 2 {
		t.Errorf("total = %v, want 2", got)
	}
}

func TestServiceEnabledGauge(t *testing.T) {
	s, reg := newSink(t, Options{})
	steps := []struct {
		kind audit.Kind
		ts   int64
		want float64
	}{
		{audit.KindServiceEnabled, 100, 1},
		{audit.KindServiceDisabled, 200, 0},
		{audit.KindServiceEnabled, 300, 1},
		{audit.KindServiceDisabled, 400, 0},
	}
	for i, st := range steps {
		s.Record(audit.Event{Time: time.Unix(st.ts, 0), Source: audit.SourceSyslog, Host: "esx01", Kind: st.kind, Service: audit.ServiceSSH, User: "root"})
		if got := count(t, s.serviceState, "esx01", "ssh"); got != st.want {
			t.Errorf("step %d (%s): service_enabled = %v, want %v", i, st.kind, got, st.want)
		}
	}
	want := `# HELP vsphere_audit_service_changes_total SSH, ESXi Shell and DCUI enabled or disabled (state).
# TYPE vsphere_audit_service_changes_total counter
vsphere_audit_service_changes_total{host="esx01",service="ssh",state="disabled"} 2
vsphere_audit_service_changes_total{host="esx01",service="ssh",state="enabled"} 2
# HELP vsphere_audit_service_changes_last_seen_timestamp_seconds Time of the newest change to this state.
# TYPE vsphere_audit_service_changes_last_seen_timestamp_seconds gauge
vsphere_audit_service_changes_last_seen_timestamp_seconds{host="esx01",service="ssh",state="disabled"} 400
vsphere_audit_service_changes_last_seen_timestamp_seconds{host="esx01",service="ssh",state="enabled"} 300
# HELP vsphere_audit_service_enabled 1 if the newest change seen for the service (by event time) enabled it, 0 if it disabled it.
# TYPE vsphere_audit_service_enabled gauge
vsphere_audit_service_enabled{host="esx01",service="ssh"} 0
`
	if err := testutil.GatherAndCompare(Merge(reg, s), strings.NewReader(want),
		"vsphere_audit_service_changes_total", "vsphere_audit_service_changes_last_seen_timestamp_seconds", "vsphere_audit_service_enabled"); err != nil {
		t.Error(err)
	}
}

func TestLockdownEnabledGauge(t *testing.T) {
	s, _ := newSink(t, Options{})
	s.Record(audit.Event{Time: time.Unix(1, 0), Host: "esx01", Kind: audit.KindLockdownEnabled})
	if got := count(t, s.lockdownState, "esx01"); got != 1 {
		t.Errorf("lockdown_enabled = %v, want 1", got)
	}
	s.Record(audit.Event{Time: time.Unix(2, 0), Host: "esx01", Kind: audit.KindLockdownDisabled})
	if got := count(t, s.lockdownState, "esx01"); got != 0 {
		t.Errorf("lockdown_enabled = %v, want 0", got)
	}
}

// Each kind lands in its family with the documented labels.
func TestRecordKinds(t *testing.T) {
	cases := []struct {
		e      audit.Event
		metric string
		labels string
	}{
		{audit.Event{Kind: audit.KindLoginFailed, Host: "h", User: "u", ClientIP: "1.2.3.4", Method: "ssh"},
			"vsphere_audit_login_failures_total", `client_ip="1.2.3.4",host="h",method="ssh",user="u"`},
		{audit.Event{Kind: audit.KindLogout, Host: "h", User: "u", ClientIP: "1.2.3.4", Method: "hostd"},
			"vsphere_audit_logouts_total", `client_ip="1.2.3.4",host="h",method="hostd",user="u"`},
		{audit.Event{Kind: audit.KindAccountLocked, Host: "h", User: "u"},
			"vsphere_audit_account_locks_total", `host="h",user="u"`},
		{audit.Event{Kind: audit.KindConsoleOpened, Host: "h", VM: "web01", User: "u", TicketType: "webmks"},
			"vsphere_audit_console_opened_total", `host="h",ticket_type="webmks",user="u",vm="web01"`},
		{audit.Event{Kind: audit.KindVMMigrated, Host: "vc", VM: "web01", User: "DRS", SourceHost: "a", TargetHost: "b"},
			"vsphere_audit_vm_migrations_total", `user="DRS",vm="web01"`},
		{audit.Event{Kind: audit.KindShellCommand, Host: "h", User: "root", Command: "ls"},
			"vsphere_audit_shell_commands_total", `host="h",technique="",user="root"`},
		{audit.Event{Kind: audit.KindShellCommand, Host: "h", User: "root", Command: "vim-cmd vmsvc/getallvms", Technique: "T1082", Outcome: audit.OutcomeFailure},
			"vsphere_audit_shell_commands_total", `host="h",technique="T1082",user="root"`},
		{audit.Event{Kind: audit.KindRoleChanged, Host: "vc", User: "u"},
			"vsphere_audit_permission_changes_total", `host="vc",type="role",user="u"`},
		{audit.Event{Kind: audit.KindAccountChanged, Host: "vc", User: "u"},
			"vsphere_audit_permission_changes_total", `host="vc",type="account",user="u"`},
		{audit.Event{Kind: audit.KindPermissionChanged, Host: "vc", User: "u"},
			"vsphere_audit_permission_changes_total", `host="vc",type="permission",user="u"`},
		{audit.Event{Kind: audit.KindConfigChanged, Host: "h", User: "u", Setting: "syslog"},
			"vsphere_audit_config_changes_total", `action="",host="h",setting="syslog",user="u"`},
		{audit.Event{Kind: audit.KindConfigChanged, Host: "h", User: "u", Setting: "exec_installed_only", Action: "disabled"},
			"vsphere_audit_config_changes_total", `action="disabled",host="h",setting="exec_installed_only",user="u"`},
		{audit.Event{Kind: audit.KindVMPower, Host: "h", VM: "web01", User: "root", Action: "kill"},
			"vsphere_audit_vm_power_total", `action="kill",host="h",user="root",vm="web01"`},
		{audit.Event{Kind: audit.KindVMSnapshot, Host: "h", VM: "web01", User: "root", Action: "remove_all"},
			"vsphere_audit_vm_snapshots_total", `action="remove_all",host="h",user="root",vm="web01"`},
		{audit.Event{Kind: audit.KindVMDiskChanged, Host: "h", VM: "web01", User: "root", Action: "add", Path: "[ds1] dc01/dc01.vmdk", CrossVM: true},
			"vsphere_audit_vm_disk_changes_total", `action="add",cross_vm="true",host="h",user="root",vm="web01"`},
		{audit.Event{Kind: audit.KindVMLifecycle, Host: "vc", VM: "dc01", User: "u", Action: "clone"},
			"vsphere_audit_vm_lifecycle_total", `action="clone",host="vc",user="u",vm="dc01"`},
		{audit.Event{Kind: audit.KindGuestOperation, Host: "vc", VM: "dc01", User: "u", Operation: "StartProgramInGuest", Outcome: audit.OutcomeFailure},
			"vsphere_audit_guest_operations_total", `host="vc",operation="StartProgramInGuest",outcome="failure",user="u",vm="dc01"`},
		{audit.Event{Kind: audit.KindDatastoreAccess, Host: "h", User: "root", ClientIP: "10.0.0.9", Path: "/folder/dc01/dc01-flat.vmdk"},
			"vsphere_audit_datastore_access_total", `client_ip="10.0.0.9",host="h",user="root"`},
		{audit.Event{Kind: audit.KindAccessDenied, Host: "h", User: "bob", ClientIP: "10.0.0.9", Object: "vim.VirtualMachine.powerOff", Outcome: audit.OutcomeFailure},
			"vsphere_audit_access_denied_total", `client_ip="10.0.0.9",host="h",user="bob"`},
		{audit.Event{Kind: audit.KindHostPower, Host: "h", Action: "reboot"},
			"vsphere_audit_host_power_total", `action="reboot",host="h"`},
		{audit.Event{Kind: audit.KindLoggingFailed, Host: "h"},
			"vsphere_audit_logging_failures_total", `host="h"`},
		{audit.Event{Kind: audit.KindLockdownEnabled, Host: "h"},
			"vsphere_audit_lockdown_changes_total", `host="h",state="enabled"`},
	}
	for _, c := range cases {
		t.Run(string(c.e.Kind)+"/"+c.e.Action+c.e.Technique, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			s := NewSink(reg, Options{})
			c.e.Source = audit.SourceSyslog
			c.e.Time = time.Unix(100, 0)
			s.Record(c.e)
			mfs, err := Merge(reg, s).Gather()
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, mf := range mfs {
				if mf.GetName() != c.metric {
					continue
				}
				if len(mf.Metric) != 1 {
					t.Fatalf("%s has %d series", c.metric, len(mf.Metric))
				}
				var parts []string
				for _, lp := range mf.Metric[0].Label {
					parts = append(parts, lp.GetName()+`="`+lp.GetValue()+`"`)
				}
				if got := strings.Join(parts, ","); got != c.labels {
					t.Errorf("%s labels = %s, want %s", c.metric, got, c.labels)
				}
				if v := mf.Metric[0].GetCounter().GetValue(); v != 1 {
					t.Errorf("%s = %v, want 1", c.metric, v)
				}
				found = true
			}
			if !found {
				t.Errorf("%s not exported", c.metric)
			}
		})
	}
}

// A failed attempt at a change is an event, not the change: a failed
// power-off is not counted as a power-off.
func TestFailedAttemptsAreNotChanges(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := NewSink(reg, Options{})
	base := audit.Event{Source: audit.SourceSyslog, Time: time.Unix(100, 0), Kind: audit.KindVMPower, Host: "h", VM: "web01", User: "bob", Action: "off"}
	failed := base
	failed.Outcome = audit.OutcomeFailure
	s.Record(failed)
	s.Record(failed)
	ok := base
	ok.Outcome = audit.OutcomeSuccess
	s.Record(ok)
	if got := count(t, s.power, "h", "web01", "bob", "off"); got != 1 {
		t.Errorf("vm_power_total = %v, want 1 (the one that succeeded)", got)
	}
	if got := count(t, s.events, audit.SourceSyslog, "h", string(audit.KindVMPower)); got != 3 {
		t.Errorf("events_total = %v, want 3 (every attempt)", got)
	}
}

// Finding 3 of issue 11: the state gauges follow event time, not arrival
// order. "disabled" stamped 11:00 then "enabled" stamped 10:30 (a late
// delivery) leaves the service disabled, and the state's event time is
// exposed.
func TestStateGaugesKeepNewestByEventTime(t *testing.T) {
	s, reg := newSink(t, Options{})
	at := func(hh, mm int) time.Time { return time.Date(2026, 12, 3, hh, mm, 0, 0, time.UTC) }
	s.Record(audit.Event{Time: at(11, 0), Source: audit.SourceSyslog, Host: "esx01", Kind: audit.KindServiceDisabled, Service: audit.ServiceSSH})
	s.Record(audit.Event{Time: at(10, 30), Source: audit.SourceSyslog, Host: "esx01", Kind: audit.KindServiceEnabled, Service: audit.ServiceSSH})
	s.Record(audit.Event{Time: at(11, 0), Source: audit.SourceSyslog, Host: "esx01", Kind: audit.KindLockdownEnabled})
	s.Record(audit.Event{Time: at(10, 30), Source: audit.SourceSyslog, Host: "esx01", Kind: audit.KindLockdownDisabled})
	// Another label set is independent of the first.
	s.Record(audit.Event{Time: at(9, 0), Source: audit.SourceSyslog, Host: "esx02", Kind: audit.KindServiceEnabled, Service: audit.ServiceSSH})
	t11 := strconv.FormatInt(at(11, 0).Unix(), 10)
	t9 := strconv.FormatInt(at(9, 0).Unix(), 10)
	want := `# HELP vsphere_audit_service_enabled 1 if the newest change seen for the service (by event time) enabled it, 0 if it disabled it.
# TYPE vsphere_audit_service_enabled gauge
vsphere_audit_service_enabled{host="esx01",service="ssh"} 0
vsphere_audit_service_enabled{host="esx02",service="ssh"} 1
# HELP vsphere_audit_service_state_timestamp_seconds Event time of the change that set vsphere_audit_service_enabled.
# TYPE vsphere_audit_service_state_timestamp_seconds gauge
vsphere_audit_service_state_timestamp_seconds{host="esx01",service="ssh"} ` + t11 + `
vsphere_audit_service_state_timestamp_seconds{host="esx02",service="ssh"} ` + t9 + `
# HELP vsphere_audit_lockdown_enabled 1 if the newest lockdown change seen (by event time) entered lockdown mode, 0 if it left it.
# TYPE vsphere_audit_lockdown_enabled gauge
vsphere_audit_lockdown_enabled{host="esx01"} 1
# HELP vsphere_audit_lockdown_state_timestamp_seconds Event time of the change that set vsphere_audit_lockdown_enabled.
# TYPE vsphere_audit_lockdown_state_timestamp_seconds gauge
vsphere_audit_lockdown_state_timestamp_seconds{host="esx01"} ` + t11 + `
`
	if err := testutil.GatherAndCompare(Merge(reg, s), strings.NewReader(want),
		"vsphere_audit_service_enabled", "vsphere_audit_service_state_timestamp_seconds",
		"vsphere_audit_lockdown_enabled", "vsphere_audit_lockdown_state_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	// Both changes are still counted.
	if got := count(t, s.services, "esx01", "ssh", "enabled"); got != 1 {
		t.Errorf(`service_changes_total{state="enabled"} = %v, want 1`, got)
	}
	// A newer event moves the state again; one at the same time as the
	// current state wins too (arrival order breaks ties).
	s.Record(audit.Event{Time: at(11, 0), Source: audit.SourceSyslog, Host: "esx01", Kind: audit.KindServiceEnabled, Service: audit.ServiceSSH})
	if got := count(t, s.serviceState, "esx01", "ssh"); got != 1 {
		t.Errorf("service_enabled after a tie = %v, want 1", got)
	}
	s.Record(audit.Event{Time: at(12, 0), Source: audit.SourceSyslog, Host: "esx01", Kind: audit.KindServiceDisabled, Service: audit.ServiceSSH})
	if got := count(t, s.serviceState, "esx01", "ssh"); got != 0 {
		t.Errorf("service_enabled after a newer disable = %v, want 0", got)
	}
}

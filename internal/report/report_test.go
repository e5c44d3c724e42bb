package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/journal"
)

// The test journal: a morning on a small farm, 2026-11-10, in UTC. The
// report is read in CET (+01:00).
var (
	day   = time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	cet   = time.FixedZone("CET", 3600)
	since = day.Add(8 * time.Hour)
	until = day.Add(13 * time.Hour)
)

func at(hhmm string) time.Time {
	t, err := time.ParseInLocation("15:04:05", hhmm, time.UTC)
	if err != nil {
		t, err = time.ParseInLocation("15:04", hhmm, time.UTC)
	}
	if err != nil {
		panic(err)
	}
	return day.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second)
}

func testEvents() []audit.Event {
	login := func(t, user, ip, method, host string, direct bool) audit.Event {
		return audit.Event{Time: at(t), Source: audit.SourceSyslog, Kind: audit.KindLogin, User: user, ClientIP: ip, Method: method, Host: host, Direct: direct}
	}
	failed := func(t, user, ip string) audit.Event {
		return audit.Event{Time: at(t), Source: audit.SourceSyslog, Kind: audit.KindLoginFailed, User: user, ClientIP: ip, Method: audit.MethodSSH, Host: "esx01"}
	}
	svc := func(t string, k audit.Kind, host, service, user string) audit.Event {
		return audit.Event{Time: at(t), Source: audit.SourceSyslog, Kind: k, Host: host, Service: service, User: user}
	}
	return []audit.Event{
		// Before the period: in no section.
		login("07:59:59", "root", "172.16.5.5", audit.MethodSSH, "esx01", true),
		failed("07:00", "root", "203.0.113.7"),
		// Logins.
		login("10:00:00", "root", "172.16.5.5", audit.MethodSSH, "esx01", true),
		login("11:00:00", "alice@vsphere.local", "10.1.1.1", audit.MethodVCenter, "vcsa01", false),
		login("09:00:00", "vpxuser", "10.0.0.5", audit.MethodHostd, "esx02", false),
		login("12:00:00", "root", "10.9.9.9", audit.MethodHostd, "esx02", true),
		// Failed logins: one source guessing, one typo.
		failed("08:00", "root", "203.0.113.7"),
		failed("08:05", "admin", "203.0.113.7"),
		failed("08:10", "root", "203.0.113.7"),
		failed("09:00", "alice@vsphere.local", "10.1.1.2"),
		// Consoles: the VM's host named, and not.
		{Time: at("10:30"), Source: audit.SourceVCenter, Kind: audit.KindConsoleOpened, Host: "vcsa01", User: "alice@vsphere.local", VM: "web01", TicketType: "webmks", TargetHost: "esx01"},
		{Time: at("10:40"), Source: audit.SourceSyslog, Kind: audit.KindConsoleOpened, Host: "esx02", User: "bob@vsphere.local", VM: "db01", TicketType: "mks"},
		{Time: at("10:50"), Source: audit.SourceVCenter, Kind: audit.KindConsoleClosed, Host: "vcsa01", User: "bob@vsphere.local", VM: "db01", TicketType: "remote_console", TargetHost: "esx02"},
		// A console opened on a guest session another person left open.
		{Time: at("10:45"), Source: audit.SourceVCenter, Kind: audit.KindConsoleSessionReused, Host: "vcsa01", User: "mallory@vsphere.local", VM: "db01", Value: "bob@corp",
			Message: "mallory@vsphere.local opened the console of db01 (webmks) on the guest's console session of bob@corp"},
		// Migrations: DRS and a person.
		{Time: at("10:15"), Source: audit.SourceVCenter, Kind: audit.KindVMMigrated, Host: "vcsa01", User: "DRS", VM: "web01", SourceHost: "esx01", TargetHost: "esx02"},
		{Time: at("10:20"), Source: audit.SourceVCenter, Kind: audit.KindVMMigrated, Host: "vcsa01", User: "alice@vsphere.local", VM: "db01", SourceHost: "esx02", TargetHost: "esx03"},
		// SSH and the ESXi Shell: on 30 minutes; on and never off (a
		// disable of another service or host does not end it); on at the
		// time another was switched off; on, and off after the period.
		svc("09:00", audit.KindServiceEnabled, "esx01", audit.ServiceSSH, "root"),
		svc("09:30", audit.KindServiceDisabled, "esx01", audit.ServiceSSH, "root"),
		svc("09:10", audit.KindServiceEnabled, "esx01", audit.ServiceESXiShell, "root"),
		svc("09:40", audit.KindServiceDisabled, "esx02", audit.ServiceESXiShell, "root"),
		svc("09:45", audit.KindServiceDisabled, "esx01", audit.ServiceDCUI, "root"),
		svc("10:00", audit.KindServiceDisabled, "esx02", audit.ServiceSSH, "root"),
		svc("10:00", audit.KindServiceEnabled, "esx02", audit.ServiceSSH, "alice@vsphere.local"),
		svc("10:05:30", audit.KindServiceDisabled, "esx02", audit.ServiceSSH, "root"),
		svc("11:00", audit.KindServiceEnabled, "esx01", audit.ServiceSSH, "root"),
		svc("14:00", audit.KindServiceDisabled, "esx01", audit.ServiceSSH, "root"),
		svc("11:05", audit.KindServiceEnabled, "esx02", audit.ServiceDCUI, "root"), // not SSH or the shell
		// Changes.
		{Time: at("11:30"), Source: audit.SourceVCenter, Kind: audit.KindPermissionChanged, Host: "vcsa01", User: "alice@vsphere.local",
			Message: "Permission created for VSPHERE.LOCAL\\ops on web01, role is Administrator, propagation is Enabled"},
		{Time: at("11:40"), Source: audit.SourceSyslog, Kind: audit.KindConfigChanged, Host: "esx01", User: "root", Setting: audit.SettingSyslog,
			Action: audit.ActionSet, Value: "udp://10.9.9.9:514", Command: "esxcli system syslog config set --loghost=udp://10.9.9.9:514",
			Object: "Syslog.global.logHost", Message: "shell: esxcli system syslog config set --loghost=udp://10.9.9.9:514"},
		{Time: at("11:50"), Source: audit.SourceSyslog, Kind: audit.KindLockdownDisabled, Host: "esx02", User: "root", Message: "Administrator access to the host has been enabled."},
		// In no section.
		{Time: at("10:50"), Source: audit.SourceSyslog, Kind: audit.KindLogout, Host: "esx01", User: "root"},
		{Time: at("10:51"), Source: audit.SourceVCenter, Kind: audit.KindVMPower, Host: "vcsa01", User: "alice@vsphere.local", VM: "web01", Action: audit.ActionOff},
		// After the period.
		login("13:00:00", "root", "172.16.5.5", audit.MethodSSH, "esx01", true),
	}
}

func testJournal(t *testing.T) *journal.Journal {
	t.Helper()
	dir := t.TempDir()
	w, err := journal.Open(journal.Options{Path: dir, Retention: 100 * 365 * 24 * time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range testEvents() {
		w.Record(e)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	j, err := journal.OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func build(t *testing.T, j *journal.Journal, f Filter, o Options) *Report {
	t.Helper()
	if f.Since.IsZero() {
		f.Since, f.Until = since, until
	}
	if o.Location == nil {
		o.Location = cet
	}
	o.Now = func() time.Time { return day.Add(20 * time.Hour) }
	r, err := Build(context.Background(), j, f, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// cells are a section's rows as the renderers print them.
func cells(s *Section) [][]string {
	var out [][]string
	for i := range s.Len() {
		out = append(out, s.Rows.At(i).Cells())
	}
	return out
}

func section(t *testing.T, r *Report, id string) *Section {
	t.Helper()
	for _, s := range r.Sections {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no section %s", id)
	return nil
}

func equalRows(t *testing.T, what string, got, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d:\n%s", what, len(got), len(want), show(got))
		return
	}
	for i := range want {
		if strings.Join(got[i], " | ") != strings.Join(want[i], " | ") {
			t.Errorf("%s row %d:\n got %s\nwant %s", what, i, strings.Join(got[i], " | "), strings.Join(want[i], " | "))
		}
	}
}

func show(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, " | ") + "\n")
	}
	return b.String()
}

// Each section has exactly its rows, in its order, the times in the
// report's zone with the offset.
func TestAuditSections(t *testing.T) {
	j := testJournal(t)
	r := build(t, j, Filter{}, Options{})
	var ids []string
	for _, s := range r.Sections {
		ids = append(ids, s.ID)
	}
	if strings.Join(ids, ",") != "logins,failed_logins,consoles,console_reuse,migrations,shell,changes" {
		t.Fatalf("sections %v", ids)
	}
	equalRows(t, "logins", cells(section(t, r, SectionLogins)), [][]string{
		{"2026-11-10 13:00:00 +01:00", "root", "10.9.9.9", "hostd", "esx02", "yes"},
		{"2026-11-10 11:00:00 +01:00", "root", "172.16.5.5", "ssh", "esx01", "yes"},
		{"2026-11-10 12:00:00 +01:00", "alice@vsphere.local", "10.1.1.1", "vcenter", "vcsa01", "no"},
		{"2026-11-10 10:00:00 +01:00", "vpxuser", "10.0.0.5", "hostd", "esx02", "no"},
	})
	equalRows(t, "failed logins", cells(section(t, r, SectionFailedLogins)), [][]string{
		{"203.0.113.7", "admin, root", "3", "2026-11-10 09:00:00 +01:00", "2026-11-10 09:10:00 +01:00"},
		{"10.1.1.2", "alice@vsphere.local", "1", "2026-11-10 10:00:00 +01:00", "2026-11-10 10:00:00 +01:00"},
	})
	equalRows(t, "consoles", cells(section(t, r, SectionConsoles)), [][]string{
		{"2026-11-10 11:50:00 +01:00", "bob@vsphere.local", "db01", "remote_console", "esx02", "closed"},
		{"2026-11-10 11:40:00 +01:00", "bob@vsphere.local", "db01", "mks", "esx02", "opened"},
		{"2026-11-10 11:30:00 +01:00", "alice@vsphere.local", "web01", "webmks", "esx01", "opened"},
	})
	equalRows(t, "console reuse", cells(section(t, r, SectionConsoleReuse)), [][]string{
		{"2026-11-10 11:45:00 +01:00", "db01", "mallory@vsphere.local", "bob@corp", "vcsa01", "mallory@vsphere.local opened the console of db01 (webmks) on the guest's console session of bob@corp"},
	})
	equalRows(t, "migrations", cells(section(t, r, SectionMigrations)), [][]string{
		{"2026-11-10 11:20:00 +01:00", "db01", "alice@vsphere.local", "esx02", "esx03"},
		{"2026-11-10 11:15:00 +01:00", "web01", "DRS", "esx01", "esx02"},
	})
	// The shell still on at the end of the period (13:00 UTC) has been on
	// 3h 50m since 09:10.
	equalRows(t, "SSH and ESXi Shell", cells(section(t, r, SectionShell)), [][]string{
		{"2026-11-10 12:00:00 +01:00", "esx01", "ssh", "root", "2026-11-10 15:00:00 +01:00", "3h"},
		{"2026-11-10 11:00:00 +01:00", "esx02", "ssh", "alice@vsphere.local", "2026-11-10 11:05:30 +01:00", "5m 30s"},
		{"2026-11-10 10:10:00 +01:00", "esx01", "esxi_shell", "root", StillOn, "3h 50m so far"},
		{"2026-11-10 10:00:00 +01:00", "esx01", "ssh", "root", "2026-11-10 10:30:00 +01:00", "30m"},
	})
	equalRows(t, "changes", cells(section(t, r, SectionChanges)), [][]string{
		{"2026-11-10 12:50:00 +01:00", "esx02", "root", "lockdown_disabled", "", "", "", "", "Administrator access to the host has been enabled."},
		{"2026-11-10 12:40:00 +01:00", "esx01", "root", "config_changed", "syslog", "set", "udp://10.9.9.9:514", "esxcli system syslog config set --loghost=udp://10.9.9.9:514", "Syslog.global.logHost"},
		{"2026-11-10 12:30:00 +01:00", "vcsa01", "alice@vsphere.local", "permission_changed", "", "", "", "", "Permission created for VSPHERE.LOCAL\\ops on web01, role is Administrator, propagation is Enabled"},
	})
	for _, s := range r.Sections {
		if s.Total != s.Len() {
			t.Errorf("%s: total %d, %d rows", s.ID, s.Total, s.Len())
		}
	}
	if got, want := r.Period(), "2026-11-10 09:00:00 +01:00 to 2026-11-10 14:00:00 +01:00"; got != want {
		t.Errorf("period %q, want %q", got, want)
	}
}

// The SSH pairing: an enabling ends at the next disabling of the same
// service on the same host, by time and then storage order, also after
// the period; an enabling never disabled runs to the end of the period,
// or to now when the period has no end.
func TestAuditShellPairing(t *testing.T) {
	j := testJournal(t)
	r := build(t, j, Filter{Since: since}, Options{Location: time.UTC})
	rows := section(t, r, SectionShell).Rows
	var still *ShellWindow
	for i := range rows.Len() {
		w := rows.At(i).(ShellWindow)
		if w.StillOn {
			still = &w
		}
	}
	if still == nil || still.Service != audit.ServiceESXiShell || still.Disabled != nil {
		t.Fatalf("the shell still on: %+v", still)
	}
	// Now is 20:00 UTC: on for 10h 50m.
	if time.Duration(still.OnFor) != 10*time.Hour+50*time.Minute {
		t.Errorf("still on for %v, want 10h50m (to now)", time.Duration(still.OnFor))
	}
	// Enabled at the very time an earlier disable of esx02 ssh came: that
	// disable does not end it (it came first).
	w := rows.At(1).(ShellWindow)
	if w.Host != "esx02" || w.Disabled == nil || !w.Disabled.Equal(at("10:05:30")) || time.Duration(w.OnFor) != 5*time.Minute+30*time.Second {
		t.Errorf("esx02 ssh: %+v", w)
	}
	// A user filter selects the enablings; anyone's disable ends them.
	r = build(t, j, Filter{Since: since, Until: until, User: "alice@vsphere.local"}, Options{})
	equalRows(t, "alice's SSH", cells(section(t, r, SectionShell)), [][]string{
		{"2026-11-10 11:00:00 +01:00", "esx02", "ssh", "alice@vsphere.local", "2026-11-10 11:05:30 +01:00", "5m 30s"},
	})
	for d, want := range map[time.Duration]string{0: "0s", 45 * time.Second: "45s", 3*time.Hour + 5*time.Second: "3h 5s",
		50*time.Hour + 61*time.Minute + 1500*time.Millisecond: "2d 3h 1m 2s"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// The filter: a user, a host, a VM, kinds.
func TestAuditFilter(t *testing.T) {
	j := testJournal(t)
	r := build(t, j, Filter{User: "root"}, Options{})
	equalRows(t, "root's logins", cells(section(t, r, SectionLogins)), [][]string{
		{"2026-11-10 13:00:00 +01:00", "root", "10.9.9.9", "hostd", "esx02", "yes"},
		{"2026-11-10 11:00:00 +01:00", "root", "172.16.5.5", "ssh", "esx01", "yes"},
	})
	if s := section(t, r, SectionFailedLogins); s.Total != 1 || s.Rows.At(0).(FailedSource).Count != 2 {
		t.Errorf("root's failed logins: %s", show(cells(s)))
	}
	if s := section(t, r, SectionConsoles); s.Total != 0 {
		t.Errorf("root opened consoles: %s", show(cells(s)))
	}
	r = build(t, j, Filter{VM: "web01"}, Options{})
	for id, n := range map[string]int{SectionLogins: 0, SectionConsoles: 1, SectionMigrations: 1, SectionChanges: 0} {
		if s := section(t, r, id); s.Total != n {
			t.Errorf("vm=web01: %s has %d rows, want %d", id, s.Total, n)
		}
	}
	r = build(t, j, Filter{Host: "esx02"}, Options{})
	if s := section(t, r, SectionShell); s.Total != 1 || s.Rows.At(0).(ShellWindow).Host != "esx02" {
		t.Errorf("host=esx02 shell: %s", show(cells(s)))
	}
	r = build(t, j, Filter{Kinds: []audit.Kind{audit.KindVMMigrated, audit.KindServiceDisabled}}, Options{})
	if len(r.Sections) != 2 || r.Sections[0].ID != SectionMigrations || r.Sections[1].ID != SectionShell {
		t.Errorf("kinds vm_migrated, service_disabled: sections %+v", r.Sections)
	}
	if got := r.FilterText(); got != "kind=vm_migrated kind=service_disabled" {
		t.Errorf("filter text %q", got)
	}
}

// Pages: Limit and Offset per section, direct logins first across the
// page boundary, the page clamped to the last.
func TestAuditPagination(t *testing.T) {
	j := testJournal(t)
	r := build(t, j, Filter{}, Options{PageSize: 1, Page: map[string]int{SectionLogins: 2, SectionFailedLogins: 2, SectionShell: 3, SectionChanges: 9}})
	want := map[string][]string{
		SectionLogins:       {"2026-11-10 11:00:00 +01:00", "root", "172.16.5.5", "ssh", "esx01", "yes"},
		SectionFailedLogins: {"10.1.1.2", "alice@vsphere.local", "1", "2026-11-10 10:00:00 +01:00", "2026-11-10 10:00:00 +01:00"},
		SectionConsoles:     {"2026-11-10 11:50:00 +01:00", "bob@vsphere.local", "db01", "remote_console", "esx02", "closed"},
		SectionShell:        {"2026-11-10 10:10:00 +01:00", "esx01", "esxi_shell", "root", StillOn, "3h 50m so far"},
		SectionChanges:      {"2026-11-10 12:30:00 +01:00", "vcsa01", "alice@vsphere.local", "permission_changed", "", "", "", "", "Permission created for VSPHERE.LOCAL\\ops on web01, role is Administrator, propagation is Enabled"},
	}
	pages := map[string][2]int{SectionLogins: {2, 4}, SectionFailedLogins: {2, 2}, SectionConsoles: {1, 3}, SectionShell: {3, 4}, SectionChanges: {3, 3}}
	for id, w := range want {
		s := section(t, r, id)
		equalRows(t, id+" page", cells(s), [][]string{w})
		if p := pages[id]; s.Page != p[0] || s.Pages() != p[1] {
			t.Errorf("%s: page %d of %d, want %d of %d", id, s.Page, s.Pages(), p[0], p[1])
		}
	}
	// The third login: the first that is not direct.
	r = build(t, j, Filter{}, Options{PageSize: 3, Page: map[string]int{SectionLogins: 1}})
	if got := cells(section(t, r, SectionLogins)); len(got) != 3 || got[2][1] != "alice@vsphere.local" {
		t.Errorf("first page of 3 logins: %s", show(got))
	}
	r = build(t, j, Filter{}, Options{PageSize: 3, Page: map[string]int{SectionLogins: 2}})
	equalRows(t, "second page of 3 logins", cells(section(t, r, SectionLogins)), [][]string{
		{"2026-11-10 10:00:00 +01:00", "vpxuser", "10.0.0.5", "hostd", "esx02", "no"},
	})
}

// The text renderer: aligned columns, every section, "(none)" for an empty one.
func TestAuditText(t *testing.T) {
	j := testJournal(t)
	var b bytes.Buffer
	if err := WriteText(&b, build(t, j, Filter{}, Options{})); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"vSphere audit report\nPeriod:    2026-11-10 09:00:00 +01:00 to 2026-11-10 14:00:00 +01:00\nTime zone: CET (+01:00)\nFilter:    none\n",
		"\n== Logins: 4 (direct host logins first, then the rest; each newest first) ==\n" +
			"TIME                        USER                 CLIENT IP   METHOD   TARGET HOST  DIRECT\n" +
			"2026-11-10 13:00:00 +01:00  root                 10.9.9.9    hostd    esx02        yes\n" +
			"2026-11-10 11:00:00 +01:00  root                 172.16.5.5  ssh      esx01        yes\n" +
			"2026-11-10 12:00:00 +01:00  alice@vsphere.local  10.1.1.1    vcenter  vcsa01       no\n" +
			"2026-11-10 10:00:00 +01:00  vpxuser              10.0.0.5    hostd    esx02        no\n",
		"\n== Failed logins by source: 2 (most attempts first) ==\n" +
			"CLIENT IP    USERS TRIED          COUNT  FIRST                       LAST\n" +
			"203.0.113.7  admin, root          3      2026-11-10 09:00:00 +01:00  2026-11-10 09:10:00 +01:00\n",
		"2026-11-10 10:10:00 +01:00  esx01  esxi_shell  root                 still on                    3h 50m so far\n",
		"2026-11-10 12:50:00 +01:00  esx02   root                 lockdown_disabled   -        -       -                   -",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks\n%s\n--- text:\n%s", want, out)
		}
	}
	b.Reset()
	WriteText(&b, build(t, j, Filter{User: "nobody"}, Options{}))
	if !strings.Contains(b.String(), "== Consoles: 0 (opened and closed, newest first) ==\n(none)\n") {
		t.Errorf("empty section:\n%s", b.String())
	}
}

// CSV: one header (section, then every section's columns), one record a row.
func TestAuditCSV(t *testing.T) {
	j := testJournal(t)
	var b bytes.Buffer
	if err := WriteCSV(&b, build(t, j, Filter{}, Options{})); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := strings.Join(recs[0], ",")
	if head != "section,time,user,client_ip,method,host,direct,users,count,first,last,vm,ticket_type,event,session_of,evidence,from,to,service,disabled,on_for,kind,setting,action,value,command,detail" {
		t.Fatalf("header %s", head)
	}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	bySection := map[string][][]string{}
	for _, r := range recs[1:] {
		if len(r) != len(recs[0]) {
			t.Fatalf("record of %d fields: %v", len(r), r)
		}
		bySection[r[0]] = append(bySection[r[0]], r)
	}
	for id, n := range map[string]int{"logins": 4, "failed_logins": 2, "consoles": 3, "console_reuse": 1, "migrations": 2, "shell": 4, "changes": 3} {
		if len(bySection[id]) != n {
			t.Errorf("%d %s records, want %d", len(bySection[id]), id, n)
		}
	}
	l := bySection["logins"][0]
	if l[col["time"]] != "2026-11-10 13:00:00 +01:00" || l[col["user"]] != "root" || l[col["client_ip"]] != "10.9.9.9" || l[col["direct"]] != "yes" || l[col["vm"]] != "" {
		t.Errorf("first login record %v", l)
	}
	m := bySection["migrations"][1]
	if m[col["vm"]] != "web01" || m[col["user"]] != "DRS" || m[col["from"]] != "esx01" || m[col["to"]] != "esx02" || m[col["time"]] != "2026-11-10 11:15:00 +01:00" {
		t.Errorf("DRS migration record %v", m)
	}
	f := bySection["failed_logins"][0]
	if f[col["users"]] != "admin, root" || f[col["count"]] != "3" {
		t.Errorf("failed login record %v", f)
	}
}

// JSON: the period, the filter, each section with its typed rows.
func TestAuditJSON(t *testing.T) {
	j := testJournal(t)
	var b bytes.Buffer
	if err := WriteJSON(&b, build(t, j, Filter{User: "root"}, Options{})); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Since, Until string
		TimeZone     string `json:"time_zone"`
		User         string
		Sections     []struct {
			ID    string
			Total int
			Rows  []map[string]any
		}
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if got.Since != "2026-11-10T09:00:00+01:00" || got.Until != "2026-11-10T14:00:00+01:00" || got.TimeZone != "CET" || got.User != "root" {
		t.Errorf("header %+v", got)
	}
	if len(got.Sections) != 7 || got.Sections[0].ID != "logins" || got.Sections[0].Total != 2 {
		t.Fatalf("sections %+v", got.Sections)
	}
	l := got.Sections[0].Rows[1]
	if l["time"] != "2026-11-10T11:00:00+01:00" || l["client_ip"] != "172.16.5.5" || l["direct"] != true || l["method"] != "ssh" {
		t.Errorf("login row %v", l)
	}
	sh := got.Sections[5]
	if sh.ID != "shell" || len(sh.Rows) != 3 {
		t.Fatalf("shell section %+v", sh)
	}
	if w := sh.Rows[1]; w["still_on"] != true || w["disabled"] != nil || w["on_for_seconds"] != float64(3*3600+50*60) {
		t.Errorf("still-on row %v", w)
	}
	if w := sh.Rows[2]; w["disabled"] != "2026-11-10T10:30:00+01:00" || w["on_for_seconds"] != float64(1800) {
		t.Errorf("30-minute row %v", w)
	}
}

var (
	trRe = regexp.MustCompile(`(?s)<tr( class="[^"]*")?>(.*?)</tr>`)
	tdRe = regexp.MustCompile(`(?s)<td class="([^"]+)">(.*?)</td>`)
)

// htmlRows are the rows of a section's table in a page: cells by column key.
func htmlRows(t *testing.T, page, id string) []map[string]string {
	t.Helper()
	i := strings.Index(page, `<section id="`+id+`">`)
	if i < 0 {
		t.Fatalf("no section %s in\n%s", id, page)
	}
	sec := page[i:]
	sec = sec[:strings.Index(sec, "</section>")]
	var out []map[string]string
	for _, tr := range trRe.FindAllStringSubmatch(sec, -1) {
		row := map[string]string{"class": strings.TrimSuffix(strings.TrimPrefix(tr[1], ` class="`), `"`)}
		for _, td := range tdRe.FindAllStringSubmatch(tr[2], -1) {
			row[td[1]] = html.UnescapeString(td[2])
		}
		if len(row) > 1 {
			out = append(out, row)
		}
	}
	return out
}

// The web report: the filter form, downloads with the same filter, one
// page of each section with links to the others.
func TestAuditHandler(t *testing.T) {
	j := testJournal(t)
	h := Handler(j, HandlerOptions{Location: cet, Now: func() time.Time { return until }})
	get := func(q string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/audit?"+q, nil))
		return rec
	}
	rec := get("since=5h&until=now&page_size=2&page.logins=2&page.shell=2")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	page := rec.Body.String()
	logins := htmlRows(t, page, SectionLogins)
	if len(logins) != 2 || logins[0]["time"] != "2026-11-10 12:00:00 +01:00" || logins[0]["user"] != "alice@vsphere.local" || logins[0]["class"] != "" ||
		logins[1]["client_ip"] != "10.0.0.5" {
		t.Errorf("second page of logins %v", logins)
	}
	first := htmlRows(t, get("since=5h&until=now&page_size=2").Body.String(), SectionLogins)
	if len(first) != 2 || first[0]["class"] != "direct" || first[0]["direct"] != "yes" || first[0]["time"] != "2026-11-10 13:00:00 +01:00" {
		t.Errorf("first page of logins %v", first)
	}
	if sh := htmlRows(t, page, SectionShell); len(sh) != 2 || sh[0]["class"] != "still-on" || sh[0]["disabled"] != StillOn || sh[1]["on_for"] != "30m" {
		t.Errorf("shell rows %v", sh)
	}
	for _, want := range []string{
		`<input type="text" name="since" value="5h"`,
		`<input type="text" name="until" value="now"`,
		`<a id="csv" href="?format=csv&amp;since=5h&amp;until=now">CSV</a>`,
		`<a id="json" href="?format=json&amp;since=5h&amp;until=now">JSON</a>`,
		`Page 2 of 2 (rows 3–4 of 4)`,
		`<a href="?page.logins=1&amp;page.shell=2&amp;page_size=2&amp;since=5h&amp;until=now#logins">« first</a>`,
		`<a href="?page.logins=2&amp;page.shell=1&amp;page_size=2&amp;since=5h&amp;until=now#shell">‹ previous</a>`,
		`<input type="checkbox" name="kind" value="login">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("the page has a script")
	}

	// page: every section's page; page.<section> overrides it.
	all := get("since=5h&until=now&page_size=1&page=2&page.consoles=1").Body.String()
	if l, c, m := htmlRows(t, all, SectionLogins), htmlRows(t, all, SectionConsoles), htmlRows(t, all, SectionMigrations); len(l) != 1 || l[0]["client_ip"] != "172.16.5.5" ||
		len(c) != 1 || c[0]["vm"] != "db01" || len(m) != 1 || m[0]["vm"] != "web01" {
		t.Errorf("page=2, page.consoles=1: logins %v consoles %v migrations %v", l, c, m)
	}
	head := httptest.NewRecorder()
	h.ServeHTTP(head, httptest.NewRequest(http.MethodHead, "/audit?since=5h", nil))
	if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, %d bytes, %v", head.Code, head.Body.Len(), head.Header())
	}
	if txt := get("since=5h&until=now&format=text").Body.String(); !strings.Contains(txt, "== Migrations: 2 (newest first) ==") {
		t.Errorf("format=text:\n%s", txt)
	}

	rec = get("since=5h&kind=vm_migrated&format=csv")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" ||
		rec.Header().Get("Content-Disposition") != `attachment; filename="vsphere-audit-20261110T090000-20261110T140000.csv"` {
		t.Errorf("csv: %d %v", rec.Code, rec.Header())
	}
	if recs, _ := csv.NewReader(rec.Body).ReadAll(); len(recs) != 3 || recs[1][0] != "migrations" {
		t.Errorf("csv of migrations: %v", recs)
	}
	rec = get("since=5h&user=VSPHERE.LOCAL%5Calice&format=json")
	var doc struct{ Sections []struct{ Total int } }
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || rec.Code != 200 || doc.Sections[0].Total != 1 {
		t.Errorf("json for VSPHERE.LOCAL\\alice: %d %v %+v", rec.Code, err, doc)
	}

	for q, want := range map[string]string{
		"since=yesterday":   "since: ",
		"since=1h&until=2h": "until: ",
		"kind=vm_power":     `kind: "vm_power" is in no section`,
		"kind=nonsense":     `kind: unknown kind "nonsense"`,
		"page_size=0":       "page_size: ",
		"page.logins=x":     "page.logins: ",
		"format=xml":        "format: ",
	} {
		rec := get(q)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s: %d %q, want 400 naming %q", q, rec.Code, rec.Body.String(), want)
		}
	}
}

func TestAuditParseTime(t *testing.T) {
	now := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                          {},
		"now":                       now,
		"30d":                       now.Add(-30 * 24 * time.Hour),
		"1h30m":                     now.Add(-90 * time.Minute),
		"2026-11-01T08:00:00+02:00": time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC),
		"2026-11-01T08:00:00Z":      time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC),
		"2026-11-01":                time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC),
		"2026-11-01 08:00":          time.Date(2026, 11, 1, 7, 0, 0, 0, time.UTC),
		"2026-11-01T08:00:30":       time.Date(2026, 11, 1, 7, 0, 30, 0, time.UTC),
	} {
		got, err := ParseTime(in, now, cet)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseTime("last week", now, cet); err == nil || !strings.Contains(err.Error(), `"last week" is neither a duration`) {
		t.Errorf("bad time: %v", err)
	}
}

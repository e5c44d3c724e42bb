package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/journal"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/report"
)

// reportEvents is how many events BenchmarkReport's journal holds
// (BENCH_REPORT_EVENTS, default 1,000,000).
func reportEvents() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_REPORT_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 1000000
}

// reportTarget is the target of the 30-day text report over 1M events.
const reportTarget = 2 * time.Second

// reportJournalVersion names the generator: a cached journal of another
// version is generated again.
const reportJournalVersion = "v4"

// benchJournal returns the directory of a journal holding n generated
// events, all in the 30 days before the returned end time, and that end.
// It is generated once (through Record and Sync, as the exporter writes)
// and kept in the temporary directory for the next run.
func benchJournal(b *testing.B, n int) (string, time.Time) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("vsphere-audit-bench-journal-%d-%s", n, reportJournalVersion))
	if j, err := journal.OpenReadOnly(dir); err == nil {
		cp, _ := j.Checkpoint("bench")
		count, _ := j.Count(context.Background(), journal.Query{})
		j.Close()
		if end, err := time.Parse(time.RFC3339Nano, string(cp)); err == nil && count == int64(n) && time.Since(end) < 300*24*time.Hour {
			b.Logf("using the journal of %d events generated earlier in %s", n, dir)
			return dir, end
		}
	}
	os.RemoveAll(dir)
	end := time.Now().UTC().Truncate(time.Hour)
	j, err := journal.Open(journal.Options{Path: dir}, nil)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	g := newEventGen(end.Add(-30*24*time.Hour), end, n)
	for i := 0; i < n; i++ {
		j.Record(g.next(i))
		if i%100000 == 99999 {
			if err := j.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := j.SaveCheckpoint("bench", []byte(end.Format(time.RFC3339Nano))); err != nil {
		b.Fatal(err)
	}
	if err := j.Close(); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	b.Logf("generated a journal of %d events in %v (%.0f events/s) in %s", n, d.Round(time.Millisecond), float64(n)/d.Seconds(), dir)
	return dir, end
}

// eventGen draws a month of a mid-size farm's audit events (40 hosts, one
// vCenter, 200 administrators) from a fixed seed. Per 1000 events: 400
// logins (vpxuser to the hosts, vCenter and SSO sessions, 2% of them
// direct root logins), 150 logouts, 150 failed logins (a few sources
// guessing many users), 30 consoles, 60 migrations (most by DRS), 10 SSH
// and ESXi Shell switches, 40 shell commands, 20 permission and
// configuration changes, and 140 VM operations.
type eventGen struct {
	rng        *rand.Rand
	start      time.Time
	step       time.Duration
	hosts, vms []string
	admins     []string
	attackers  []string
}

func newEventGen(start, end time.Time, n int) *eventGen {
	g := &eventGen{rng: rand.New(rand.NewPCG(1, 2)), start: start, step: end.Sub(start) / time.Duration(n)}
	for i := 1; i <= 40; i++ {
		g.hosts = append(g.hosts, fmt.Sprintf("esx%02d.lab.local", i))
	}
	for i := 1; i <= 600; i++ {
		g.vms = append(g.vms, fmt.Sprintf("vm-%03d", i))
	}
	for i := 1; i <= 200; i++ {
		g.admins = append(g.admins, fmt.Sprintf("admin%03d@vsphere.local", i))
	}
	for i := 1; i <= 30; i++ {
		g.attackers = append(g.attackers, fmt.Sprintf("203.0.113.%d", i))
	}
	return g
}

func (g *eventGen) pick(l []string) string { return l[g.rng.IntN(len(l))] }

const vc = "vcsa01.lab.local"

func (g *eventGen) next(i int) audit.Event {
	e := audit.Event{Time: g.start.Add(time.Duration(i)*g.step + time.Duration(g.rng.Int64N(int64(g.step)))), Source: audit.SourceSyslog,
		Host: g.pick(g.hosts), Outcome: audit.OutcomeSuccess}
	vcenter := func() {
		e.Host, e.Source, e.EventID = vc, audit.SourceVCenter, fmt.Sprintf("vcenter:%d:%d", i, e.Time.UnixNano())
	}
	r := g.rng.IntN(1000)
	switch {
	case r < 400:
		e.Kind, e.Rule = audit.KindLogin, "hostd/login_event"
		switch s := g.rng.IntN(100); {
		case s < 60:
			e.User, e.ClientIP, e.Method = "vpxuser", "10.0.0.5", audit.MethodHostd
			e.Message = "User vpxuser@10.0.0.5 logged in as VMware-client/6.5.0"
		case s < 90:
			vcenter()
			e.User, e.ClientIP, e.Method = g.pick(g.admins), fmt.Sprintf("10.1.%d.%d", g.rng.IntN(8), 2+g.rng.IntN(250)), audit.MethodVCenter
			e.Message, e.Rule = "User "+e.User+"@"+e.ClientIP+" logged in as vsphere-ui", "vcenter/UserLoginSessionEvent"
		case s < 98:
			vcenter()
			e.User, e.ClientIP, e.Method = g.pick(g.admins), fmt.Sprintf("10.1.%d.%d", g.rng.IntN(8), 2+g.rng.IntN(250)), audit.MethodSSO
			e.Message, e.Rule = "Successful login "+e.User+" from "+e.ClientIP+" in SSO", "vcenter/com.vmware.sso.LoginSuccess"
		default:
			e.User, e.ClientIP, e.Direct = "root", fmt.Sprintf("10.2.0.%d", 2+g.rng.IntN(20)), true
			e.Method, e.Rule = audit.MethodSSH, "sshd/accepted"
			e.Message = "Accepted keyboard-interactive/pam for root from " + e.ClientIP + " port 58470 ssh2"
		}
	case r < 550:
		e.Kind, e.User, e.ClientIP, e.Method, e.Rule = audit.KindLogout, "vpxuser", "10.0.0.5", audit.MethodHostd, "hostd/logout"
		e.Message = "User vpxuser@10.0.0.5 logged out (login time: ..., number of API invocations: 12, user agent: VMware-client/6.5.0)"
	case r < 700:
		e.Kind, e.Outcome, e.Method, e.Rule = audit.KindLoginFailed, audit.OutcomeFailure, audit.MethodSSH, "sshd/failure"
		if g.rng.IntN(10) < 7 {
			e.ClientIP, e.User = g.pick(g.attackers[:5]), fmt.Sprintf("user%d", g.rng.IntN(500))
		} else {
			e.ClientIP, e.User = g.pick(g.attackers), "root"
		}
		e.Message = "error: PAM: Authentication failure for " + e.User + " from " + e.ClientIP
	case r < 730:
		vcenter()
		e.Kind, e.User, e.VM, e.TicketType, e.TargetHost, e.Method = audit.KindConsoleOpened, g.pick(g.admins), g.pick(g.vms), "webmks", g.pick(g.hosts), audit.MethodVCenter
		e.Message, e.Rule = "A ticket for "+e.VM+" of type WebMKS on "+e.TargetHost+" in DC1 has been acquired", "vcenter/VmAcquiredTicketEvent"
	case r < 790:
		vcenter()
		e.Kind, e.VM, e.SourceHost, e.TargetHost = audit.KindVMMigrated, g.pick(g.vms), g.pick(g.hosts), g.pick(g.hosts)
		e.User, e.Rule = "DRS", "vcenter/DrsVmMigratedEvent"
		if g.rng.IntN(5) == 0 {
			e.User, e.Rule = g.pick(g.admins), "vcenter/VmMigratedEvent"
		}
		e.Message = "Migration of virtual machine " + e.VM + " from " + e.SourceHost + ", ds1 to " + e.TargetHost + ", ds1 completed"
	case r < 800:
		e.Kind, e.Service, e.User, e.Rule = audit.KindServiceEnabled, audit.ServiceSSH, "root", "hostd/service"
		if r >= 795 {
			e.Kind = audit.KindServiceDisabled
		}
		if g.rng.IntN(3) == 0 {
			e.Service = audit.ServiceESXiShell
		}
		e.Message = "SSH access has been enabled."
	case r < 840:
		e.Kind, e.User, e.Command, e.Rule = audit.KindShellCommand, "root", "esxcli network ip connection list", "shell/command"
		e.Message = "[shell[2100123]: [root]: esxcli network ip connection list"
	case r < 845:
		vcenter()
		e.Kind, e.User, e.Rule = audit.KindPermissionChanged, g.pick(g.admins), "vcenter/PermissionAddedEvent"
		e.Message = "Permission created for VSPHERE.LOCAL\\ops on vm-001, role is Administrator, propagation is Enabled"
	case r < 860:
		e.Kind, e.User, e.Setting, e.Action, e.Value, e.Rule = audit.KindConfigChanged, "root", audit.SettingSyslog, audit.ActionSet, "udp://10.9.9.9:514", "records/config"
		e.Object, e.Message = "Syslog.global.logHost", "[config.advanced.set@6876 subject=\"root\" object=\"Syslog.global.logHost\" value=\"udp://10.9.9.9:514\"]"
	default:
		vcenter()
		e.User, e.VM, e.Rule = g.pick(g.admins), g.pick(g.vms), "vcenter/VmPoweredOffEvent"
		switch g.rng.IntN(14) {
		case 0:
			e.Kind, e.Action = audit.KindVMLifecycle, audit.ActionClone
		case 1:
			e.Kind, e.Operation = audit.KindGuestOperation, "StartProgramInGuest"
		case 2, 3, 4, 5, 6:
			e.Kind, e.Action = audit.KindVMSnapshot, audit.ActionCreate
		default:
			e.Kind, e.Action = audit.KindVMPower, audit.ActionOff
		}
		e.Message = e.VM + " on " + g.pick(g.hosts) + " in DC1 is powered off"
	}
	return e
}

// BenchmarkReport times the 30-day text report over a journal of 1M
// events that all lie in those 30 days (every one of the report's rows is
// read and printed), and the first page of the web report (/audit), and
// says PASS or MISS against the target (the text report under 2 s).
func BenchmarkReport(b *testing.B) {
	n := reportEvents()
	dir, end := benchJournal(b, n)
	j, err := journal.OpenReadOnly(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	f := report.Filter{Since: end.Add(-30 * 24 * time.Hour), Until: end}
	o := report.Options{Location: time.UTC, Now: func() time.Time { return end }}
	// Warm the page cache once, as a journal in use is.
	if _, err := j.Count(ctx, journal.Query{}); err != nil {
		b.Fatal(err)
	}
	var text, textCPU, page time.Duration
	var rows int
	var bytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start, cpu0 := time.Now(), processCPU()
		r, err := report.Build(ctx, j, f, o)
		if err != nil {
			b.Fatal(err)
		}
		cw := &countWriter{}
		if err := report.WriteText(cw, r); err != nil {
			b.Fatal(err)
		}
		text += time.Since(start)
		textCPU += processCPU() - cpu0
		rows, bytes = 0, cw.n
		for _, s := range r.Sections {
			rows += s.Len()
		}

		b.StopTimer()
		start = time.Now()
		po := o
		po.PageSize = report.DefaultPageSize
		pr, err := report.Build(ctx, j, f, po)
		if err != nil {
			b.Fatal(err)
		}
		if err := report.WriteHTML(io.Discard, pr, report.HTMLOptions{Served: true}); err != nil {
			b.Fatal(err)
		}
		page += time.Since(start)
		b.StartTimer()
	}
	ms := float64(text.Microseconds()) / 1000 / float64(b.N)
	pageMs := float64(page.Microseconds()) / 1000 / float64(b.N)
	cpuMs := float64(textCPU.Microseconds()) / 1000 / float64(b.N)
	b.ReportMetric(ms, "text_report_ms")
	b.ReportMetric(cpuMs, "text_report_cpu_ms")
	b.ReportMetric(pageMs, "html_page_ms")
	b.ReportMetric(float64(rows), "rows")
	verdict := "PASS"
	if time.Duration(ms*float64(time.Millisecond)) >= reportTarget {
		verdict = "MISS"
	}
	b.Logf("30-day text report over %d journal events: %d rows, %d bytes in %.0f ms (target < %v): %s (%.0f ms of CPU on %d cores; on a busy machine the time is longer); first page of the web report %.0f ms",
		n, rows, bytes, ms, reportTarget, verdict, cpuMs, runtime.GOMAXPROCS(0), pageMs)
}

// processCPU is the CPU time the process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

package pipeline

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/labels"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/reassembly"
)

// fakeClock is a settable clock for the reassembly timeout.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// What waits in reassembly is on two gauges, and every message that
// waited is counted as it leaves, by program and reason: an incomplete
// hostd dump released by the timeout too (it was not counted).
func TestReassemblyMetrics(t *testing.T) {
	clk := &fakeClock{t: time.Date(2024, 12, 6, 10, 58, 45, 0, time.UTC)}
	reg := prometheus.NewRegistry()
	p := New(Options{Registerer: reg, Reassembly: reassembly.Options{Timeout: 2 * time.Second, MaxPending: 2, Now: clk.Now}},
		audit.SinkFunc(func(audit.Event) {}))
	r := func(host, prog, body string, cont bool) *logline.Record {
		return &logline.Record{Host: host, Program: prog, App: prog, Body: body, Continuation: cont}
	}
	const dump = "VmkVprobSource::Post event: (vim.event.EventEx) {" // 49 bytes
	p.Process(r("esx01", "hostd", dump, false))
	p.Process(r("esx01", "hostd", `eventTypeId = "esx.audit.ssh.session.opened",`, true)) // +46
	clk.Advance(time.Second)
	p.Process(r("vc", "vpxd", "Event [7] [1-2] A", false)) // 17
	const gauges = `
# HELP vsphere_audit_syslog_reassembly_pending_bytes Bytes of message text waiting in reassembly.
# TYPE vsphere_audit_syslog_reassembly_pending_bytes gauge
vsphere_audit_syslog_reassembly_pending_bytes %d
# HELP vsphere_audit_syslog_reassembly_pending_messages Messages waiting in reassembly for their remaining parts or lines.
# TYPE vsphere_audit_syslog_reassembly_pending_messages gauge
vsphere_audit_syslog_reassembly_pending_messages %d
`
	check := func(step string, msgs, bytes int, released string) {
		t.Helper()
		if err := testutil.GatherAndCompare(reg, strings.NewReader(fmt.Sprintf(gauges, bytes, msgs)),
			"vsphere_audit_syslog_reassembly_pending_bytes", "vsphere_audit_syslog_reassembly_pending_messages"); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		head := "# HELP vsphere_audit_syslog_reassembly_released_total " + releasedHelp + "\n# TYPE vsphere_audit_syslog_reassembly_released_total counter\n"
		if released == "" {
			head = ""
		}
		if err := testutil.GatherAndCompare(reg, strings.NewReader(head+released), "vsphere_audit_syslog_reassembly_released_total"); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	check("two wait", 2, 49+46+17, "")
	clk.Advance(1500 * time.Millisecond) // the dump idles 2.5s, the event 1.5s
	p.asm.Expire()
	check("the dump timed out", 1, 17, `vsphere_audit_syslog_reassembly_released_total{program="hostd",reason="timeout"} 1
`)
	p.Process(r("vc", "vpxd", "Event [7] [2-2]  a", false))
	p.Process(r("esx02", "hostd", dump, false))
	p.Process(r("esx03", "hostd", dump, false))
	p.Process(r("esx04", "hostd", dump, false)) // evicts esx02
	check("evicted", 2, 2*49, `vsphere_audit_syslog_reassembly_released_total{program="hostd",reason="evicted"} 1
vsphere_audit_syslog_reassembly_released_total{program="hostd",reason="timeout"} 1
vsphere_audit_syslog_reassembly_released_total{program="vpxd",reason="complete"} 1
`)
	p.Flush()
	check("flushed", 0, 0, `vsphere_audit_syslog_reassembly_released_total{program="hostd",reason="evicted"} 1
vsphere_audit_syslog_reassembly_released_total{program="hostd",reason="flushed"} 2
vsphere_audit_syslog_reassembly_released_total{program="hostd",reason="timeout"} 1
vsphere_audit_syslog_reassembly_released_total{program="vpxd",reason="complete"} 1
`)
}

// The program label is cleaned and bounded: beyond the first
// maxReassemblyPrograms programs, every program is the overflow value.
func TestProgramLabels(t *testing.T) {
	l := newProgramLabels(2)
	for _, c := range []struct{ in, want string }{
		{"hostd", "hostd"},
		{"vp\x00xd", "vpxd"},
		{"sshd", labels.Overflow},
		{"hostd", "hostd"},
		{"vpxd", "vpxd"},
	} {
		if got := l.label(c.in); got != c.want {
			t.Errorf("label(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

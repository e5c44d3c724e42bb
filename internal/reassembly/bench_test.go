package reassembly

import (
	"strconv"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
)

// floodStarts is how many never-completed messages the flood sends: far
// more than MaxPending, so that the Assembler stays full and every new
// message evicts one.
const floodStarts = 200_000

// BenchmarkReassemblyFlood times the same normal traffic (a hostd
// multi-line message, a two-part vCenter event, a plain record) on an idle
// Assembler and on one that 200k never-completed starts (half hostd dumps
// from distinct hosts, half split-event first parts) keep full, one more
// start arriving before each round of normal messages. It reports
// both, in ns per normal message, and their ratio: eviction is O(1), so
// the ratio stays near 1 (a scan of everything waiting made it ~100).
func BenchmarkReassemblyFlood(b *testing.B) {
	const vprob = "VmkVprobSource::Post event: (vim.event.EventEx) {"
	normal := []*logline.Record{
		rec("esx-ok", "hostd", vprob),
		cont("esx-ok", "hostd", `eventTypeId = "esx.audit.ssh.session.opened",`),
		cont("esx-ok", "hostd", "}"),
		rec("esx-ok", "hostd", "Accepted password for user root from 10.0.0.1"),
		rec("vc-ok", "vpxd", "Event [42] [1-2] [2024-01-01T00:00:00Z] [vim.event.UserLoginSessionEvent] [info] [root] [dc] [42] [User root@10.0.0.1 logged"),
		rec("vc-ok", "vpxd", "Event [42] [2-2]   in]"),
		rec("vc-ok", "vpxd", "plain"),
	}
	flood := make([]*logline.Record, floodStarts)
	for i := range flood {
		n := strconv.Itoa(i)
		if i%2 == 0 {
			flood[i] = rec("esx-flood-"+n, "hostd", vprob)
		} else {
			flood[i] = rec("vc-flood", "vpxd", "Event ["+n+"] [1-3] [2024-01-01T00:00:00Z] [vim.event.EventEx] [info] [u] [dc] ["+n+"] [x")
		}
	}
	emitted := 0
	a := New(Options{Hold: holdVprob, Now: func() time.Time { return time.Unix(0, 0) }}, func(*logline.Record) { emitted++ })
	// run times b.N rounds of the normal traffic alone; when flooding, one
	// more never-completed start (untimed) precedes each round, so that
	// the Assembler stays full and the round's messages evict.
	run := func(flooding bool) time.Duration {
		var d time.Duration
		for i := 0; i < b.N; i++ {
			if flooding {
				a.Add(flood[i%len(flood)])
			}
			start := time.Now()
			for _, r := range normal {
				a.Add(r)
			}
			d += time.Since(start)
		}
		return d
	}
	b.ResetTimer()
	idle := run(false)
	for _, r := range flood {
		a.Add(r)
	}
	if a.Pending() != 4096 {
		b.Fatalf("Pending() = %d after the flood, want 4096", a.Pending())
	}
	flooded := run(true)
	b.StopTimer()
	if a.Pending() != 4095 { // full, less the normal messages that completed last
		b.Fatalf("Pending() = %d after the normal traffic, want 4095", a.Pending())
	}
	per := float64(b.N * len(normal))
	b.ReportMetric(float64(idle.Nanoseconds())/per, "idle-ns/msg")
	b.ReportMetric(float64(flooded.Nanoseconds())/per, "flooded-ns/msg")
	b.ReportMetric(float64(flooded)/float64(idle), "flooded/idle")
}

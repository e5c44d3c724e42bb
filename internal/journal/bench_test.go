package journal

import (
	"fmt"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// BenchmarkRecord: events per second through the group commit.
func BenchmarkRecord(b *testing.B) {
	j, err := Open(Options{Path: b.TempDir()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	e := audit.Event{Time: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), Source: audit.SourceSyslog, Host: "esx01.lab.local", Kind: audit.KindLogin,
		ClientIP: "10.0.0.9", Method: audit.MethodHostd, Outcome: audit.OutcomeSuccess, Rule: "hostd/login_event",
		Message: "User root@10.0.0.9 logged in as Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.User = fmt.Sprintf("user%d", i%1000)
		e.Time = e.Time.Add(time.Millisecond)
		j.Record(e)
	}
	j.Sync()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

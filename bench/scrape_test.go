package bench

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/metrics"
)

// BenchmarkScrape: the CPU of one scrape of /metrics (gather, encode,
// gzip, as Prometheus asks for it) and the memory of one label set, with
// 40k and 100k audit series, beside the same series held by
// client_golang's CounterVec and GaugeVec (the baseline, same handler, same
// run). Goals (issue 15): a scrape of 100k series under 0.2 CPU-s; a label
// set under 1 KB.
func BenchmarkScrape(b *testing.B) {
	for _, series := range []int{40000, 100000} {
		b.Run(fmt.Sprintf("series=%d", series), func(b *testing.B) {
			sets := series / 2 // a counter and its last-seen gauge each
			t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
			ev := func(i int) audit.Event {
				return audit.Event{Time: t0.Add(time.Duration(i) * time.Millisecond), Source: audit.SourceSyslog, Host: "esx" + strconv.Itoa(i%64) + ".lab.local",
					Kind: audit.KindLogin, User: "user" + strconv.Itoa(i), ClientIP: "10.1." + strconv.Itoa(i/250%250) + "." + strconv.Itoa(i%250),
					Method: audit.MethodSSH, Direct: true, Outcome: audit.OutcomeSuccess}
			}

			// The exporter's sink, its budget raised so that nothing overflows.
			var sink *metrics.Sink
			reg := prometheus.NewRegistry()
			sinkBytes := heapOf(func() {
				sink = metrics.NewSink(reg, metrics.Options{MaxSeries: series, MaxTotalSeries: 4 * series, Now: func() time.Time { return t0 }})
				for i := range sets {
					sink.Record(ev(i))
				}
			})
			exp := promhttp.HandlerFor(metrics.Merge(reg, sink), promhttp.HandlerOpts{})

			// The baseline: the same label sets in client_golang's vectors.
			var base *prometheus.Registry
			baseBytes := heapOf(func() {
				base = prometheus.NewRegistry()
				lbl := []string{"host", "user", "client_ip", "method", "direct"}
				c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vsphere_audit_logins_total", Help: "Logins."}, lbl)
				g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vsphere_audit_logins_last_seen_timestamp_seconds", Help: "Last login."}, lbl)
				base.MustRegister(c, g)
				for i := range sets {
					e := ev(i)
					c.WithLabelValues(e.Host, e.User, e.ClientIP, e.Method, "true").Inc()
					g.WithLabelValues(e.Host, e.User, e.ClientIP, e.Method, "true").Set(float64(e.Time.Unix()))
				}
			})
			baseH := promhttp.HandlerFor(base, promhttp.HandlerOpts{})

			// Best of 5 scrapes each, interleaved.
			var expCPU, baseCPU time.Duration
			var expBody, baseBody int
			for range 5 * b.N {
				d, n := scrapeCPU(b, exp)
				if expCPU == 0 || d < expCPU {
					expCPU, expBody = d, n
				}
				d, n = scrapeCPU(b, baseH)
				if baseCPU == 0 || d < baseCPU {
					baseCPU, baseBody = d, n
				}
			}
			perSet := float64(sinkBytes) / float64(sets)
			basePerSet := float64(baseBytes) / float64(sets)
			b.ReportMetric(expCPU.Seconds(), "scrape_cpu_s")
			b.ReportMetric(baseCPU.Seconds(), "client_golang_scrape_cpu_s")
			b.ReportMetric(baseCPU.Seconds()/expCPU.Seconds(), "x_faster_than_client_golang")
			b.ReportMetric(perSet, "bytes/label_set")
			b.ReportMetric(basePerSet, "client_golang_bytes/label_set")
			goal := ""
			if series == 100000 {
				goal = "; " + verdict(expCPU < 200*time.Millisecond) + ": under 0.2 CPU-s at 100k series"
			}
			b.Logf("%d series: a scrape costs %.3f CPU-s (client_golang %.3f: %.1fx; gzip %d vs %d bytes)%s",
				series, expCPU.Seconds(), baseCPU.Seconds(), baseCPU.Seconds()/expCPU.Seconds(), expBody, baseBody, goal)
			b.Logf("%d series: %.0f bytes per label set (client_golang %.0f: %.2fx); %s: under 1 KB", series, perSet, basePerSet, perSet/basePerSet, verdict(perSet < 1024))
			runtime.KeepAlive(sink)
			runtime.KeepAlive(base)
		})
	}
}

// heapOf is the live heap that f leaves behind.
func heapOf(f func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	f()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	if m1.HeapAlloc < m0.HeapAlloc {
		return 0
	}
	return m1.HeapAlloc - m0.HeapAlloc
}

// scrapeCPU serves one scrape as Prometheus asks for it (text, gzip) and
// returns the process CPU it took (every goroutine, the GC's included) and
// the body's size.
func scrapeCPU(b *testing.B, h http.Handler) (time.Duration, int) {
	runtime.GC()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	req.Header.Set("Accept-Encoding", "gzip")
	w := httptest.NewRecorder()
	c0 := cpuTime()
	h.ServeHTTP(w, req)
	d := cpuTime() - c0
	if w.Code != http.StatusOK {
		b.Fatalf("scrape: %d %s", w.Code, w.Body.String())
	}
	n, _ := io.Copy(io.Discard, w.Body)
	return d, int(n)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

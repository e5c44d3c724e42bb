package bench

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"log/slog"
	"net/url"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	_ "unsafe" // go:linkname

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/vcenter"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vcsim"
)

// vcsim keeps only maxPageSize events; the catch-up needs them all.
//
//go:linkname vcsimMaxPageSize github.com/vmware/govmomi/simulator.maxPageSize
var vcsimMaxPageSize int

// vcenterEvents is the catch-up size (BENCH_VCENTER_EVENTS, default 100000).
func vcenterEvents() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_VCENTER_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 100000
}

// heapPeak samples the live heap every 5ms until stop is closed and
// returns the peak above the starting level.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	base := s[0].Value.Uint64()
	go func() {
		var peak uint64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak {
				peak = v
			}
			select {
			case <-stop:
				if peak < base {
					peak = base
				}
				out <- peak - base
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// BenchmarkVCenterCatchUp: the vCenter tailer catching up on N events of
// the in-process simulator's history (mapping, checkpoint, a counting
// sink), beside a bare ReadNextEvents(1000) loop over the same history.
// Both include the simulator's own work (it runs in this process).
func BenchmarkVCenterCatchUp(b *testing.B) {
	vcsimMaxPageSize = 1 << 30
	n := vcenterEvents()
	model := simulator.VPX()
	model.Machine = 0
	if err := model.Create(); err != nil {
		b.Fatal(err)
	}
	defer model.Remove()
	model.Map().EventManager().MaxCollector = 10000
	model.Service.Listen = &url.URL{User: url.UserPassword("bench", "bench")}
	// Every TLS handshake the simulator sees (a ClientHello each), and
	// those the client rejected (logged by net/http as a handshake error).
	var hellos, rejected atomic.Int64
	model.Service.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		hellos.Add(1)
		return nil, nil
	}}
	model.Service.RegisterEndpoints = true
	srv := model.Service.NewServer()
	srv.Config.ErrorLog = log.New(lineCounter(func(line string) {
		if strings.Contains(line, "TLS handshake error") {
			rejected.Add(1)
		}
	}), "", 0)
	defer srv.Close()
	u := *srv.URL
	u.User = nil
	thumb := srv.CertificateInfo().ThumbprintSHA256
	start := time.Now()
	host := model.Map().Any("HostSystem").(*simulator.HostSystem)
	for i := 0; i < n; i++ {
		var ev types.BaseEvent
		switch i % 4 {
		case 0:
			ev = &types.UserLoginSessionEvent{IpAddress: "10.0.0." + strconv.Itoa(i%250+1)}
		case 1:
			ev = &types.BadUsernameSessionEvent{IpAddress: "192.0.2.1"}
		case 2:
			ev = &types.UserLogoutSessionEvent{IpAddress: "10.0.0.9"}
		default:
			ev = &types.EventEx{EventTypeId: "esx.audit.ssh.enabled", ObjectType: "HostSystem", ObjectId: host.Self.Value, ObjectName: host.Name,
				Event: types.Event{Host: &types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: host.Name}, Host: host.Self}}}
		}
		vcsim.PostAs(model, "user"+strconv.Itoa(i%7), ev)
	}
	b.Logf("posted %d events in-process in %v", n, time.Since(start).Round(time.Millisecond))
	lookback := time.Since(start) + time.Minute

	b.Run("tailer", func(b *testing.B) {
		for range b.N {
			var got atomic.Int64
			cfg := vcenter.Config{URL: &u, User: "bench", Password: "bench", Thumbprint: thumb, StateDir: b.TempDir(), Lookback: lookback,
				PollInterval: 10 * time.Millisecond}
			if err := cfg.Validate(); err != nil {
				b.Fatal(err)
			}
			tl := vcenter.NewTailer(cfg, audit.SinkFunc(func(audit.Event) { got.Add(1) }), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
			h0, r0 := hellos.Load(), rejected.Load()
			ctx, cancel := context.WithCancel(context.Background())
			stop := make(chan struct{})
			peak := heapPeak(stop)
			t0 := time.Now()
			done := make(chan error, 1)
			go func() { done <- tl.Run(ctx) }()
			for got.Load() < int64(n) {
				time.Sleep(2 * time.Millisecond)
			}
			d := time.Since(t0)
			close(stop)
			cancel()
			<-done
			b.ReportMetric(float64(n)/d.Seconds(), "events/s")
			b.ReportMetric(float64(<-peak)/(1<<20), "peak-heap-MiB")
			// One session, one connection, pinned on the first try.
			b.ReportMetric(float64(hellos.Load()-h0), "tls-handshakes")
			b.ReportMetric(float64(rejected.Load()-r0), "rejected-handshakes")
			if r := rejected.Load() - r0; r != 0 {
				b.Errorf("%d TLS handshakes rejected by the tailer during the catch-up, want 0", r)
			}
		}
	})

	b.Run("bare-ReadNextEvents", func(b *testing.B) {
		for range b.N {
			ctx := context.Background()
			sc := soap.NewClient(&u, false)
			sc.SetThumbprint(u.Host, thumb)
			h0, r0 := hellos.Load(), rejected.Load()
			c, err := vim25.NewClient(ctx, sc)
			if err != nil {
				b.Fatal(err)
			}
			if err := session.NewManager(c).Login(ctx, url.UserPassword("bench", "bench")); err != nil {
				b.Fatal(err)
			}
			begin := start.Add(-time.Minute)
			stop := make(chan struct{})
			peak := heapPeak(stop)
			t0 := time.Now()
			hc, err := event.NewManager(c).CreateCollectorForEvents(ctx, types.EventFilterSpec{
				Time: &types.EventFilterSpecByTime{BeginTime: &begin}, EventTypeId: vcenter.FilterTypes()})
			if err != nil {
				b.Fatal(err)
			}
			total := 0
			for {
				evs, err := hc.ReadNextEvents(ctx, 1000)
				if err != nil {
					b.Fatal(err)
				}
				if len(evs) == 0 {
					break
				}
				total += len(evs)
			}
			d := time.Since(t0)
			close(stop)
			if total < n {
				b.Fatalf("read %d of %d events", total, n)
			}
			b.ReportMetric(float64(total)/d.Seconds(), "events/s")
			b.ReportMetric(float64(<-peak)/(1<<20), "peak-heap-MiB")
			_ = session.NewManager(c).Logout(ctx)
			// govmomi as it comes: a connection per page, each verified
			// against the system roots first, then pinned.
			b.ReportMetric(float64(hellos.Load()-h0), "tls-handshakes")
			b.ReportMetric(float64(rejected.Load()-r0), "rejected-handshakes")
		}
	})
}

// lineCounter is an io.Writer that calls f with each write (log.Logger
// writes a line at a time).
type lineCounter func(string)

func (f lineCounter) Write(p []byte) (int, error) {
	f(string(p))
	return len(p), nil
}

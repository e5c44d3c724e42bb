package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"time"

	oklogrun "github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/syslog"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/vcenter"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/console"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/demo"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/journal"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/metrics"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/pipeline"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/reassembly"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/report"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/ship"
)

// serveOptions are the serve command's parsed flags.
type serveOptions struct {
	web               *web.FlagConfig
	metricsPath       string
	exposition        expositionOptions
	auditLocation     *time.Location // the /audit report's times
	syslog            syslog.Config
	reassemblyTimeout time.Duration
	metrics           metrics.Options
	console           console.Options
	vcenters          []vcenter.Config
	vcenter           *vcenter.Options
	stateDirGiven     bool
	// knownVCenters are the --vcenter.address values; serve adds the
	// addresses of the --vcenter.url hosts.
	knownVCenters audit.VCenterAddrs
	journal       journalOptions
	journalGiven  bool
	otlp          *otlpOptions
	demo          bool
	demoRate      float64
	// ready, when set, is called with the bound addresses once every
	// listener is open (tests).
	ready func(web net.Addr, s *syslog.Server)
}

// serve wires the exporter, in the one direction data flows:
//
//	syslog source  --\
//	                  +--> pipeline (reassembly, detect, login join, dedup) --> journal --> metrics sink
//	vCenter source --/
//
// and runs it until ctx ends. Shutdown is ordered: the sources stop first
// (the syslog listeners close, every vCenter session is logged out), then
// the pipeline flushes what it holds into the sink, then the web server
// stops, then the journal commits what it holds, then the OTLP shipper
// (--otlp.endpoint) sends what the journal holds and the store lacks,
// within --otlp.drain-timeout.
func serve(ctx context.Context, logger *slog.Logger, o serveOptions) int {
	reg := prometheus.NewRegistry()
	// The Go and process collectors are the metrics handler's own
	// (--web.disable-exporter-metrics).
	reg.MustRegister(versioncollector.NewCollector(name))
	// Web listeners first: a busy port is named before anything runs.
	var webLs []net.Listener
	defer func() {
		for _, l := range webLs {
			l.Close()
		}
	}()
	for _, a := range *o.web.WebListenAddresses {
		l, err := net.Listen("tcp", a)
		if err != nil {
			logger.Error("cannot start: --web.listen-address", "address", a, "err", err)
			return 1
		}
		webLs = append(webLs, l)
	}

	sink := metrics.NewSink(reg, o.metrics)
	vcs := knownVCenters(ctx, logger, o.knownVCenters, o.vcenters)

	// The journal sits between the pipeline and the metrics: an event is
	// stored, then counted. At start it gives the metrics back the counts
	// of every event it holds, so a restart does not reset them.
	var jr *journal.Journal
	var pipeSink audit.Sink = sink
	if jpath := o.journal.path; jpath != "" || o.demo && !o.journalGiven {
		if o.demo && !o.journalGiven {
			dir, err := os.MkdirTemp("", "vsphere_audit_exporter-demo-journal-")
			if err != nil {
				logger.Error("cannot create the demo journal", "err", err)
				return 1
			}
			defer os.RemoveAll(dir)
			jpath = dir
		}
		var err error
		jr, err = journal.Open(journal.Options{Path: jpath, Retention: time.Duration(o.journal.retention), MaxSize: int64(o.journal.maxSize),
			Registerer: reg, Logger: logger}, sink)
		if err != nil {
			logger.Error("cannot open the journal: --journal.path", "path", jpath, "err", err)
			return 1
		}
		defer jr.Close()
		begin := time.Now()
		n, err := jr.Restore(ctx, sink)
		if err != nil {
			logger.Error("cannot read the journal back: --journal.path", "path", jpath, "err", err)
			return 1
		}
		logger.Info("journal open; counters restored from it", "path", jpath, "events", n, "took", time.Since(begin).Round(time.Millisecond))
		if o.demo && !o.journalGiven {
			logger.Info("demo: the audit report is at /audit on the web address; from a shell: " + name + " report --journal.path=" + jpath + " --since=1h (the demo journal is removed at exit; keep one with --journal.path)")
		}
		pipeSink = jr
	} else {
		logger.Info("journal disabled (--journal.path is empty): events are counted, not kept")
	}
	// The shipper reads the journal as its outbox and sends every event to
	// the log store; it runs beside the sources and, once they stopped and
	// the journal holds everything, drains what is left.
	var sh *ship.Shipper
	if jr != nil {
		var err error
		if sh, err = newShipper(ctx, logger, reg, jr, o.otlp); err != nil {
			logger.Error("cannot start shipping", "err", err)
			return 1
		}
	}
	if o.console.Mapper == nil {
		o.console.Mapper = console.NewMapper(nil)
	}
	p := pipeline.New(pipeline.Options{Reassembly: reassembly.Options{Timeout: o.reassemblyTimeout}, Registerer: reg, VCenters: vcs, Console: o.console}, pipeSink)
	if jr != nil {
		if n, err := restoreConsole(ctx, jr, p, time.Now()); err != nil {
			logger.Warn("cannot read the guests' sessions back from the journal: the console ledger starts empty", "err", err)
		} else {
			logger.Debug("console ledger: guest sessions read back from the journal", "events", n)
		}
	}

	var sys *syslog.Server
	if o.syslog.UDPAddress != "" || o.syslog.TCPAddress != "" || o.syslog.TLSAddress != "" {
		var transports []string
		for _, t := range []struct{ name, addr string }{{syslog.TransportUDP, o.syslog.UDPAddress}, {syslog.TransportTCP, o.syslog.TCPAddress}, {syslog.TransportTLS, o.syslog.TLSAddress}} {
			if t.addr != "" {
				transports = append(transports, t.name)
			}
		}
		sys = syslog.New(o.syslog, logger, syslog.NewHealth(reg, sink.Bounds(), transports), p)
		if err := sys.Listen(); err != nil {
			logger.Error("cannot start", "err", err)
			return 1
		}
		defer sys.Close()
		logger.Info("starting "+name, "version", version.Info(), "syslog_udp", addrString(sys.UDPAddr()), "syslog_tcp", addrString(sys.TCPAddr()), "syslog_tls", addrString(sys.TLSAddr()))
		logSenders(logger, o.syslog)
	} else {
		logger.Info("starting "+name+" without syslog listeners", "version", version.Info())
	}

	vcCfgs := o.vcenters
	var sim *demo.VCSim
	if o.demo {
		// The demo also runs an embedded vCenter simulator and reads it
		// over the vSphere API, TLS pinned to the simulator's thumbprint.
		var err error
		sim, err = demo.StartVCSim(logger)
		if err != nil {
			logger.Error("cannot start the demo vCenter simulator", "err", err)
			return 1
		}
		defer sim.Close()
		c := sim.Config()
		c.StateDir = o.vcenter.StateDir
		if !o.stateDirGiven {
			c.StateDir = "" // the simulator's history starts afresh each run
		}
		c.PollInterval = o.vcenter.PollInterval
		if err := c.Validate(); err != nil {
			logger.Error("demo vCenter", "err", err)
			return 1
		}
		vcCfgs = append(vcCfgs, c)
	}

	var g oklogrun.Group
	// The sources. Each stops when its context ends; the vCenter source
	// returns only after every tailer has logged out.
	srcCtx, stopSources := context.WithCancel(ctx)
	defer stopSources()
	if sys != nil {
		g.Add(func() error { return sys.Serve(srcCtx) }, func(error) { stopSources() })
	}
	if len(vcCfgs) > 0 && jr != nil {
		// The checkpoint is kept in the journal, committed after the
		// events it covers: a crash cannot count a page twice.
		for i := range vcCfgs {
			vcCfgs[i].Store = journalStore{j: jr, p: p, dir: vcCfgs[i].StateDir}
		}
	}
	if len(vcCfgs) > 0 {
		vc := vcenter.NewSource(vcCfgs, vcenter.SourceOptions{InventoryInterval: o.vcenter.InventoryInterval, Guests: o.console.Mapper.SetInventory}, logger, vcenter.NewHealth(reg), p)
		g.Add(func() error { return vc.Run(srcCtx) }, func(error) { stopSources() })
		for _, c := range vcCfgs {
			logger.Info("reading vCenter events", "vcenter", c.Name, "url", c.URL.Redacted(), "state_dir", c.StateDir)
		}
	}
	if o.demo {
		g.Add(func() error { return sim.Run(srcCtx) }, func(error) { stopSources() })
		if sys != nil {
			d := demo.New(demo.Options{Rate: o.demoRate, UDP: sys.UDPAddr(), TCP: sys.TCPAddr()}, logger)
			g.Add(func() error { return d.Run(srcCtx) }, func(error) { stopSources() })
			logger.Info("demo mode: sending a built-in stream of ESXi and vCenter syslog to this exporter", "rate_per_second", o.demoRate)
		}
	}
	if sh != nil {
		shipCtx, stopShip := context.WithCancel(context.Background())
		defer stopShip()
		g.Add(func() error { return sh.Run(shipCtx) }, func(error) { stopShip() })
	}
	// The pipeline's timers (reassembly timeout, login join window).
	pdone := make(chan struct{})
	g.Add(func() error { p.Run(pdone, 250*time.Millisecond); return nil }, func(error) { close(pdone) })

	// The web server.
	srv := &http.Server{Handler: webHandler(metricsHandler(metrics.Merge(reg, sink), o.exposition, logger), o.metricsPath, logger, jr, o.auditLocation), ReadHeaderTimeout: 10 * time.Second}
	for _, l := range webLs {
		g.Add(func() error { return web.Serve(l, srv, o.web, logger) }, func(error) {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		})
	}
	// The signal: when ctx ends, every actor is interrupted.
	stopped := make(chan struct{})
	g.Add(func() error {
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		return nil
	}, func(error) { close(stopped) })

	if o.ready != nil && len(webLs) > 0 {
		o.ready(webLs[0].Addr(), sys)
	}
	err := g.Run()
	// Every source has stopped: what the pipeline still holds goes to the
	// sink before the process exits.
	p.Flush()
	// Then the shipper sends what the journal holds, within its drain
	// timeout, before the journal closes.
	drainShipper(logger, jr, sh, o.otlp.drainTimeoutOr0())
	webLs = nil // closed by the web servers
	if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, context.Canceled) {
		logger.Error("stopped", "err", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

// webHandler serves the metrics (metricsH, at metricsPath), the audit report from the journal jr
// (nil: the journal is disabled) with its times in auditLoc, the landing
// page, the health endpoints Prometheus' own servers have, and the Go
// profiler. Each is behind the same --web.config.file auth and TLS.
func webHandler(metricsH http.Handler, metricsPath string, logger *slog.Logger, jr *journal.Journal, auditLoc *time.Location) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(metricsPath, metricsH)
	if jr != nil {
		mux.Handle(AuditPath, report.Handler(jr, report.HandlerOptions{Location: auditLoc, Logger: logger}))
	} else {
		mux.HandleFunc(AuditPath, func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "No audit report: the journal is disabled (--journal.path is empty), so events are counted in the metrics but not kept. Start the exporter with --journal.path=DIR to keep them and serve the report here.", http.StatusNotFound)
		})
	}
	ok := func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "OK\n") }
	mux.HandleFunc("/-/healthy", ok)
	mux.HandleFunc("/-/ready", ok)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	if metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "vSphere Audit Exporter",
			Description: "Audit metrics from ESXi and vCenter syslog and the vSphere API",
			Version:     version.Info(),
			Links: []web.LandingLinks{
				{Address: metricsPath, Text: "Metrics"},
				{Address: AuditPath, Text: "Audit report"},
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/debug/pprof/", Text: "Profiler"},
			},
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "landing page:", err)
		} else {
			mux.Handle("/", landing)
		}
	}
	return mux
}

// AuditPath is where the exporter serves the audit report.
const AuditPath = "/audit"

// knownVCenters adds the addresses of the vCenters read over the API to
// the --vcenter.address values: vpxuser comes from them. A name that does
// not resolve is logged, not fatal (the vCenter source retries it).
func knownVCenters(ctx context.Context, logger *slog.Logger, given audit.VCenterAddrs, cfgs []vcenter.Config) audit.VCenterAddrs {
	known := given
	for _, c := range cfgs {
		host := c.URL.Hostname()
		if a, err := netip.ParseAddr(host); err == nil {
			known.Add(a)
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
		cancel()
		if err != nil {
			logger.Warn("cannot resolve the vCenter's address; vpxuser logins from it may count as direct until it is given with --vcenter.address", "vcenter", c.Name, "err", err)
			continue
		}
		for _, a := range addrs {
			known.Add(a)
		}
	}
	if known.Len() == 0 {
		logger.Warn("no vCenter address known (--vcenter.url, --vcenter.address): a vpxuser login from an unknown address cannot be told from vCenter's own and is not counted as direct")
	}
	return known
}

// journalStore keeps vCenter checkpoints in the journal. A save waits in
// the pipeline until every event recorded before it has reached the
// journal's queue (pipeline.Mark), and is committed after them. Load falls
// back to the checkpoint file of an exporter that had no journal.
type journalStore struct {
	j   *journal.Journal
	p   *pipeline.Pipeline
	dir string
}

func (s journalStore) Load(name string) (vcenter.Checkpoint, error) {
	var cp vcenter.Checkpoint
	data, err := s.j.Checkpoint("vcenter:" + name)
	if err != nil {
		return cp, err
	}
	if data == nil {
		if s.dir == "" {
			return cp, nil
		}
		return vcenter.LoadCheckpoint(vcenter.CheckpointFile(s.dir, name))
	}
	err = json.Unmarshal(data, &cp)
	return cp, err
}

func (s journalStore) Save(name string, cp vcenter.Checkpoint) error {
	data, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	s.p.Mark(func() { s.j.QueueCheckpoint("vcenter:"+name, data) })
	return nil
}

func (s journalStore) String() string { return "journal" }

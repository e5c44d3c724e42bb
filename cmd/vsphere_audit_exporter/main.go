// Command vsphere_audit_exporter turns ESXi and vCenter audit activity
// (logins, direct host access, SSH and shell, lockdown mode, VM consoles,
// migrations, permission and configuration changes) into Prometheus metrics.
//
// It receives syslog from ESXi hosts and vCenter over UDP, TCP and TLS,
// and replays log files offline with the "replay" command.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	webflag "github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/demo"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/metrics"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/syslogserver"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vcenter"
)

const name = "vsphere_audit_exporter"

// DefaultWebAddress: 10055 is outside the fully allocated 9100-9999 range of
// Prometheus' default-port registry; see README.md.
const DefaultWebAddress = ":10055"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout))
}

func run(args []string, stdin io.Reader, stdout io.Writer) int {
	app := kingpin.New(name, "Audit what vSphere administrators do: turns ESXi and vCenter syslog (logins, direct host logins that bypass vCenter, SSH and ESXi Shell, lockdown mode, VM consoles, migrations, permission and configuration changes) into Prometheus metrics.\n\nWith no command it runs the exporter: it listens for syslog on UDP and TCP port 1514 and serves /metrics on "+DefaultWebAddress+". Point ESXi at it with\n  esxcli system syslog config set --loghost='tcp://EXPORTER:1514'\nTry it without a vSphere farm: "+name+" --demo")
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	logCfg := &promslog.Config{}
	promslogflag.AddFlags(app, logCfg)

	serve := app.Command("serve", "Run the exporter (the default).").Default()
	webFlags := webflag.AddFlags(serve, DefaultWebAddress)
	metricsPath := serve.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	cfg := syslogserver.Config{}
	serve.Flag("syslog.udp.listen-address", "Address for syslog over UDP (RFC 5426). Empty disables UDP.").Default(":1514").StringVar(&cfg.UDPAddress)
	serve.Flag("syslog.tcp.listen-address", "Address for syslog over TCP, octet-counting or LF framing (RFC 6587), detected per connection. Empty disables TCP.").Default(":1514").StringVar(&cfg.TCPAddress)
	serve.Flag("syslog.tls.listen-address", "Address for syslog over TLS (RFC 5425; ESXi's ssl://host:port). Empty disables TLS.").Default("").StringVar(&cfg.TLSAddress)
	serve.Flag("syslog.tls.cert-file", "PEM certificate (chain) for the TLS listener.").StringVar(&cfg.TLSCertFile)
	serve.Flag("syslog.tls.key-file", "PEM private key for the TLS listener.").StringVar(&cfg.TLSKeyFile)
	serve.Flag("syslog.max-message-size", "Largest syslog message accepted, in bytes; longer ones are counted as oversize and dropped. ESXi sends at most 16 KiB.").Default("65536").IntVar(&cfg.MaxMessageSize)
	serve.Flag("syslog.udp.readers", "Goroutines reading the UDP socket.").Default("2").IntVar(&cfg.UDPReaders)
	serve.Flag("syslog.udp.receive-buffer", "UDP socket receive buffer in bytes (the kernel caps it at net.core.rmem_max).").Default("8388608").IntVar(&cfg.UDPReceiveBuffer)
	serve.Flag("syslog.tcp.idle-timeout", "Close TCP/TLS connections that send nothing for this long (0 = never).").Default("1h").DurationVar(&cfg.IdleTimeout)
	serve.Flag("syslog.max-connections", "Maximum concurrent TCP and TLS connections.").Default("1024").IntVar(&cfg.MaxConnections)
	reassemblyTimeout := serve.Flag("syslog.reassembly-timeout", "How long a split or multi-line message waits for its remaining parts.").Default("2s").Duration()
	timezone := serve.Flag("syslog.timezone", "Time zone for timestamps that carry none (BSD syslog timestamps).").Default("UTC").String()
	maxSeries := serve.Flag("metrics.max-series", "Maximum label sets per audit metric; beyond it samples go to one overflow series and are counted in vsphere_audit_label_overflow_total.").Default("10000").Int()
	demoMode := serve.Flag("demo", "Demo mode: feed a built-in stream of realistic ESXi and vCenter syslog into this exporter's own listeners, continuously, and read an embedded vCenter simulator with generated activity over the vSphere API.").Bool()
	demoRate := serve.Flag("demo.rate", "Messages per second the demo stream sends.").Default("20").Float64()
	vcf := vcenterFlags(serve)

	replayCmd := app.Command("replay", "Read log files offline and print what the exporter recognizes in them. Input: one syslog message per line, as received (RFC 5424 or RFC 3164, with or without <PRI>), or as rsyslog or ESXi write them to files. Lines starting with '#' are skipped.")
	rOpts := replayFlags(replayCmd)

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v (try --help)\n", name, err)
		return 2
	}
	logger := promslog.New(logCfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case replayCmd.FullCommand():
		return runReplay(ctx, logger, rOpts, stdin, stdout)
	}

	loc, err := time.LoadLocation(*timezone)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: --syslog.timezone: %v\n", name, err)
		return 2
	}
	cfg.Parser = logline.Options{Location: loc}
	if *demoMode {
		// The demo is self-contained: its own loopback listeners on free
		// ports unless the user chose addresses.
		if !flagGiven(args, "syslog.udp.listen-address") {
			cfg.UDPAddress = "127.0.0.1:0"
		}
		if !flagGiven(args, "syslog.tcp.listen-address") {
			cfg.TCPAddress = "127.0.0.1:0"
		}
	}
	vcCfgs, err := vcf.Configs(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}
	if cfg.UDPAddress == "" && cfg.TCPAddress == "" && cfg.TLSAddress == "" {
		fmt.Fprintf(os.Stderr, "%s: every syslog listener is disabled; set --syslog.udp.listen-address, --syslog.tcp.listen-address or --syslog.tls.listen-address\n", name)
		return 2
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(versioncollector.NewCollector(name), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sink := metrics.NewSink(reg, metrics.Options{MaxSeries: *maxSeries})
	var transports []string
	for t, a := range map[string]string{syslogserver.TransportUDP: cfg.UDPAddress, syslogserver.TransportTCP: cfg.TCPAddress, syslogserver.TransportTLS: cfg.TLSAddress} {
		if a != "" {
			transports = append(transports, t)
		}
	}
	health := metrics.NewHealth(reg, sink, transports)
	sys := collector.NewSyslog(cfg, collector.SyslogOptions{ReassemblyTimeout: *reassemblyTimeout, OnReassemblyTimeout: health.ReassemblyTimeout.Inc}, logger, health, sink)
	if err := sys.Listen(); err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	logger.Info("starting "+name, "version", version.Info(), "syslog_udp", addrString(sys.Server().UDPAddr()), "syslog_tcp", addrString(sys.Server().TCPAddr()), "syslog_tls", addrString(sys.Server().TLSAddr()))

	errc := make(chan error, 5)
	go func() { errc <- sys.Run(ctx) }()
	var vcsim *demo.VCSim
	if *demoMode {
		// The demo also runs an embedded vCenter simulator and reads it
		// over the vSphere API, TLS pinned to the simulator's thumbprint.
		vcsim, err = demo.StartVCSim(logger)
		if err != nil {
			logger.Error("cannot start the demo vCenter simulator", "err", err)
			return 1
		}
		defer vcsim.Close()
		c := vcsim.Config()
		c.StateDir = vcf.StateDir
		if !flagGiven(args, "vcenter.state-dir") {
			c.StateDir = "" // the simulator's history starts afresh each run
		}
		c.PollInterval = vcf.PollInterval
		if err := c.Validate(); err != nil {
			logger.Error("demo vCenter", "err", err)
			return 1
		}
		vcCfgs = append(vcCfgs, c)
	}
	if len(vcCfgs) > 0 {
		vcHealth := metrics.NewVCenterHealth(reg)
		vc := collector.NewVCenter(vcCfgs, collector.VCenterOptions{InventoryInterval: vcf.InventoryInterval}, logger, vcHealth, sys.Pipeline())
		go func() { errc <- vc.Run(ctx) }()
		for _, c := range vcCfgs {
			logger.Info("reading vCenter events", "vcenter", c.Name, "url", c.URL.Redacted(), "state_dir", c.StateDir)
		}
	}
	if *demoMode {
		go func() { errc <- vcsim.Run(ctx) }()
		d := demo.New(demo.Options{Rate: *demoRate, UDP: sys.Server().UDPAddr(), TCP: sys.Server().TCPAddr()}, logger)
		go func() { errc <- d.Run(ctx) }()
		logger.Info("demo mode: sending a built-in stream of ESXi and vCenter syslog to this exporter", "rate_per_second", *demoRate)
	}

	mux := http.NewServeMux()
	mux.Handle(*metricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError), Registry: reg}))
	if *metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "vSphere Audit Exporter",
			Description: "Audit metrics from ESXi and vCenter syslog",
			Version:     version.Info(),
			Links:       []web.LandingLinks{{Address: *metricsPath, Text: "Metrics"}},
		})
		if err != nil {
			logger.Error("landing page", "err", err)
			return 1
		}
		mux.Handle("/", landing)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { errc <- web.ListenAndServe(srv, webFlags, logger) }()

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, context.Canceled) {
			logger.Error("stopped", "err", err)
			stop()
			shutdown(srv)
			return 1
		}
	}
	stop()
	shutdown(srv)
	return 0
}

func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}

func addrString(a interface{ String() string }) string {
	if a == nil || fmt.Sprint(a) == "<nil>" {
		return "disabled"
	}
	return a.String()
}

// vcenterFlags adds the --vcenter.* flags. The password never comes from a
// flag value (it would show in ps): a file or the environment.
func vcenterFlags(cmd *kingpin.CmdClause) *vcenter.Options {
	o := &vcenter.Options{}
	cmd.Flag("vcenter.url", "vCenter to read events and host state from, https://vcenter.example.com/sdk (repeatable). A user may be given in the URL (https://user@host/sdk), never the password.").StringsVar(&o.URLs)
	cmd.Flag("vcenter.user", "vCenter user (a read-only role at the vCenter root is enough; see README).").StringVar(&o.User)
	cmd.Flag("vcenter.password-file", "File holding the vCenter password (one line). Alternative: the environment variable "+vcenter.PasswordEnv+".").StringVar(&o.PasswordFile)
	cmd.Flag("vcenter.ca-file", "PEM CA bundle that signed the vCenter certificate (replaces the system roots).").StringVar(&o.CAFile)
	cmd.Flag("vcenter.thumbprint", "SHA-256 (or SHA-1) thumbprint of the vCenter certificate, AA:BB:..., accepted when the certificate is not signed by a trusted CA.").StringVar(&o.Thumbprint)
	cmd.Flag("vcenter.insecure", "Do not verify the vCenter's TLS certificate (not recommended).").BoolVar(&o.Insecure)
	cmd.Flag("vcenter.state-dir", "Directory for the per-vCenter event checkpoints (where reading resumes after a restart).").Default(vcenter.DefaultStateDir).StringVar(&o.StateDir)
	cmd.Flag("vcenter.lookback", "On the first start (no checkpoint), also read the events of this period before the vCenter's current time.").Default("0").DurationVar(&o.Lookback)
	cmd.Flag("vcenter.poll-interval", "Wait after an empty read of the vCenter's event history; doubles while idle, up to 5x.").Default("1s").DurationVar(&o.PollInterval)
	cmd.Flag("vcenter.inventory-interval", "How often to read each host's SSH, ESXi Shell and DCUI state and lockdown mode from the vCenter.").Default("60s").DurationVar(&o.InventoryInterval)
	return o
}

// flagGiven reports whether --name appeared on the command line.
func flagGiven(args []string, name string) bool {
	for _, a := range args {
		if a == "--"+name || len(a) > len(name)+3 && a[:len(name)+3] == "--"+name+"=" {
			return true
		}
	}
	return false
}

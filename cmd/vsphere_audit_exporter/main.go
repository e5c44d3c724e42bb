// Command vsphere_audit_exporter turns ESXi and vCenter audit activity
// (logins, direct host access, SSH and shell, lockdown mode, VM consoles,
// migrations, permission and configuration changes) into Prometheus metrics.
//
// It receives syslog from ESXi hosts and vCenter over UDP, TCP and TLS,
// and replays log files offline with the "replay" command.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	webflag "github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/syslog"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/vcenter"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
)

const name = "vsphere_audit_exporter"

// DefaultWebAddress: 10055 is outside the fully allocated 9100-9999 range of
// Prometheus' default-port registry; see README.md.
const DefaultWebAddress = ":10055"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rc := run(ctx, os.Args[1:], os.Stdin, os.Stdout, nil)
	stop()
	os.Exit(rc)
}

// run is the whole program; ready, when set, is called once the exporter's
// listeners are open (tests run it in-process).
func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, ready func(web net.Addr, s *syslog.Server)) int {
	app := kingpin.New(name, "Audit what vSphere administrators do: turns ESXi and vCenter syslog (logins, direct host logins that bypass vCenter, SSH and ESXi Shell, lockdown mode, VM consoles, migrations, permission and configuration changes) into Prometheus metrics.\n\nWith no command it runs the exporter: it listens for syslog on UDP and TCP port 1514 and serves /metrics on "+DefaultWebAddress+". Point ESXi at it with\n  esxcli system syslog config set --loghost='tcp://EXPORTER:1514'\nTry it without a vSphere farm: "+name+" --demo")
	stampVersion()
	app.Version(version.Print(name))
	// Top-level --help lists every command with every flag.
	app.UsageTemplate(kingpin.LongHelpTemplate)
	app.HelpFlag.Short('h')
	logCfg := &promslog.Config{}
	promslogflag.AddFlags(app, logCfg)

	serveCmd := app.Command("serve", "Run the exporter (the default).").Default()
	webFlags := webflag.AddFlags(serveCmd, DefaultWebAddress)
	metricsPath := serveCmd.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	expo := expositionFlags(serveCmd)
	auditTZ := serveCmd.Flag("web.audit-timezone", "Time zone of the times of the audit report at /audit (read from the journal; behind the same --web.config.file auth and TLS as the metrics): Local (this machine's), UTC, Europe/Paris, ...").Default("Local").String()
	cfg := syslog.Config{}
	serveCmd.Flag("syslog.udp.listen-address", "Address for syslog over UDP (RFC 5426). Empty disables UDP.").Default(":1514").StringVar(&cfg.UDPAddress)
	serveCmd.Flag("syslog.tcp.listen-address", "Address for syslog over TCP, octet-counting or LF framing (RFC 6587), detected per connection. Empty disables TCP.").Default(":1514").StringVar(&cfg.TCPAddress)
	serveCmd.Flag("syslog.tls.listen-address", "Address for syslog over TLS (RFC 5425; ESXi's ssl://host:port). Empty disables TLS.").Default("").StringVar(&cfg.TLSAddress)
	serveCmd.Flag("syslog.tls.cert-file", "PEM certificate (chain) for the TLS listener; re-read when the file changes. Or --syslog.tls.config.file.").StringVar(&cfg.TLSCertFile)
	serveCmd.Flag("syslog.tls.key-file", "PEM private key for the TLS listener; re-read when the file changes.").StringVar(&cfg.TLSKeyFile)
	serveCmd.Flag("syslog.max-message-size", "Largest syslog message accepted, in bytes, in every framing (an LF or CR LF trailer not counted); longer ones are counted as oversize and dropped. ESXi sends at most 16 KiB.").Default("65536").IntVar(&cfg.MaxMessageSize)
	serveCmd.Flag("syslog.udp.readers", "Goroutines reading the UDP socket.").Default("2").IntVar(&cfg.UDPReaders)
	serveCmd.Flag("syslog.udp.receive-buffer", "UDP socket receive buffer in bytes (the kernel caps it at net.core.rmem_max unless the exporter has CAP_NET_ADMIN; a smaller buffer is logged at start).").Default(strconv.Itoa(syslog.DefaultUDPReceiveBuffer)).IntVar(&cfg.UDPReceiveBuffer)
	serveCmd.Flag("syslog.tcp.idle-timeout", "Close TCP/TLS connections that send nothing for this long (0 = never); the TLS handshake has its own timeout.").Default("1h").DurationVar(&cfg.IdleTimeout)
	serveCmd.Flag("syslog.tls.handshake-timeout", "Close TLS connections whose handshake has not completed this long after accept (counted as closed for tls_handshake), so that stalled handshakes free their connection slots.").Default("10s").DurationVar(&cfg.TLSHandshakeTimeout)
	serveCmd.Flag("syslog.max-connections", "Maximum concurrent TCP and TLS connections. The open-file limit must cover it and --web.max-requests: checked at start.").Default("1024").IntVar(&cfg.MaxConnections)
	senders := senderFlags(serveCmd)
	reassemblyTimeout := serveCmd.Flag("syslog.reassembly-timeout", "How long a split or multi-line message waits for its remaining parts.").Default("2s").Duration()
	timezone := serveCmd.Flag("syslog.timezone", "Time zone for timestamps that carry none (BSD syslog timestamps).").Default("UTC").String()
	mf := metricsFlags(serveCmd)
	cf := consoleFlags(serveCmd)
	demoMode := serveCmd.Flag("demo", "Demo mode: feed a built-in stream of realistic ESXi and vCenter syslog into this exporter's own listeners, continuously, and read an embedded vCenter simulator with generated activity over the vSphere API.").Bool()
	demoRate := serveCmd.Flag("demo.rate", "Messages per second the demo stream sends.").Default("20").Float64()
	vcf := vcenterFlags(serveCmd)
	jf := journalFlags(serveCmd)
	of := otlpFlags(serveCmd)
	vcAddrs := serveCmd.Flag("vcenter.address", "An address or CIDR range vCenter's vpxuser logs in to ESXi hosts from (repeatable). With the addresses of every --vcenter.url host, these are the known vCenters: a vpxuser login from any other address counts as a direct login (stolen vpxuser credentials). Without any, vpxuser logins are not judged.").Strings()

	replayCmd := app.Command("replay", "Read log files offline and print what the exporter recognizes in them. Input: one syslog message per line, as received (RFC 5424 or RFC 3164, with or without <PRI>), or as rsyslog or ESXi write them to files. Lines starting with '#' are skipped.")
	rOpts := replayFlags(replayCmd)

	reportCmd := app.Command("report", reportHelp)
	repOpts := reportFlags(reportCmd)

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v (try --help)\n", name, flagError(app, args, err))
		return 2
	}
	logger := promslog.New(logCfg)

	switch cmd {
	case replayCmd.FullCommand():
		return runReplay(ctx, logger, rOpts, stdin, stdout)
	case reportCmd.FullCommand():
		return runReport(ctx, repOpts, stdout)
	}

	loc, err := time.LoadLocation(*timezone)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: --syslog.timezone: %v\n", name, err)
		return 2
	}
	auditLoc, err := time.LoadLocation(*auditTZ)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: --web.audit-timezone: %v\n", name, err)
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
	for _, w := range vcf.Warnings() {
		logger.Warn(w)
	}
	knownVCs, err := audit.ParseVCenterAddrs(*vcAddrs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: --vcenter.address: %v\n", name, err)
		return 2
	}
	if err := expo.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}
	if err := of.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}
	if of.endpoint != "" && jf.path == "" {
		fmt.Fprintf(os.Stderr, "%s: --otlp.endpoint ships from the journal, its outbox, and --journal.path is empty; give --journal.path a directory on persistent storage\n", name)
		return 2
	}
	if err := senders.apply(&cfg, cfg.TLSCertFile != "" || cfg.TLSKeyFile != ""); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}
	metricsOpts, err := mf.options()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}
	consoleOpts, err := cf.options()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}
	if cfg.UDPAddress == "" && cfg.TCPAddress == "" && cfg.TLSAddress == "" && len(vcCfgs) == 0 && !*demoMode {
		fmt.Fprintf(os.Stderr, "%s: nothing to read: every syslog listener is disabled and no --vcenter.url is given; set --syslog.udp.listen-address, --syslog.tcp.listen-address, --syslog.tls.listen-address or --vcenter.url\n", name)
		return 2
	}
	if err := ensureOpenFiles(logger, cfg.TCPAddress != "" || cfg.TLSAddress != "", cfg.MaxConnections, expo.maxRequests); err != nil {
		fmt.Fprintf(os.Stderr, "%s: cannot start: %v\n", name, err)
		return 1
	}
	return serve(ctx, logger, serveOptions{
		web: webFlags, metricsPath: *metricsPath, exposition: *expo, auditLocation: auditLoc, syslog: cfg, reassemblyTimeout: *reassemblyTimeout,
		metrics: metricsOpts, console: consoleOpts, vcenters: vcCfgs, vcenter: vcf, stateDirGiven: flagGiven(args, "vcenter.state-dir"), knownVCenters: knownVCs,
		journal: *jf, journalGiven: flagGiven(args, "journal.path"),
		otlp: of,
		demo: *demoMode, demoRate: *demoRate, ready: ready,
	})
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

// journalOptions are the --journal.* flags.
type journalOptions struct {
	path      string
	retention model.Duration
	maxSize   units.Base2Bytes
}

// DefaultJournalPath is where the packaged service keeps its journal.
const DefaultJournalPath = "/var/lib/vsphere_audit_exporter/journal"

func journalFlags(cmd *kingpin.CmdClause) *journalOptions {
	o := &journalOptions{}
	cmd.Flag("journal.path", "Directory of the audit journal: every event with its exact time, in an embedded SQLite database, read by the report command and /audit. Empty disables it (metrics only).").Default(DefaultJournalPath).StringVar(&o.path)
	cmd.Flag("journal.retention", "Drop journal events older than this (audits ask for a year).").Default("400d").SetValue(&o.retention)
	cmd.Flag("journal.max-size", "Drop the oldest journal events while the journal is larger than this (0 = no limit), e.g. 10GiB.").Default("0").BytesVar(&o.maxSize)
	return o
}

// flagGiven reports whether --name appeared on the command line.
func flagGiven(args []string, name string) bool {
	for _, a := range args {
		if a == "--"+name || len(a) >= len(name)+3 && a[:len(name)+3] == "--"+name+"=" {
			return true
		}
	}
	return false
}

// flagError names the flag whose value err rejects: kingpin reports only
// the value's own error ("strconv.ParseInt: parsing "abc": invalid
// syntax").
func flagError(app *kingpin.Application, args []string, err error) error {
	pc, perr := app.ParseContext(args)
	if perr != nil || pc == nil {
		return err
	}
	for _, el := range pc.Elements {
		f, ok := el.Clause.(*kingpin.FlagClause)
		if !ok || el.Value == nil {
			continue
		}
		m := f.Model()
		if serr := m.Value.Set(*el.Value); serr != nil {
			return fmt.Errorf("--%s=%s: %v", m.Name, *el.Value, serr)
		}
	}
	return err
}

// stampVersion fills the version the Makefile did not stamp (go install,
// go run) from the module's build information.
func stampVersion() {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if version.Version == "" {
		version.Version = strings.TrimPrefix(bi.Main.Version, "v")
		if version.Version == "" || version.Version == "(devel)" {
			version.Version = "devel"
		}
	}
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && (version.Revision == "" || version.Revision == "unknown"):
			version.Revision = s.Value
		case s.Key == "vcs.time" && version.BuildDate == "":
			version.BuildDate = s.Value
		}
	}
}

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/alecthomas/kingpin/v2"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/syslog"
)

// senderOptions are the flags that restrict who may send syslog.
type senderOptions struct {
	allowed     []string
	perSource   int
	reserve     string
	hostBinding string
	tlsConfig   string
}

// senderFlags adds the --syslog.* flags about senders.
func senderFlags(cmd *kingpin.CmdClause) *senderOptions {
	o := &senderOptions{}
	cmd.Flag("syslog.allowed-sources", "Accept syslog only from these senders (repeatable): comma-separated addresses or CIDRs, optionally for one transport: udp=, tcp= or tls= (e.g. 10.20.0.0/16, tls=192.0.2.10,192.0.2.11). Once any is given, a transport no value names accepts nobody. Others are turned away before any byte is read, counted in vsphere_audit_syslog_rejected_total{reason=\"not_allowed\"} and logged once a minute per address. Default: any sender.").
		PlaceHolder("[udp=|tcp=|tls=]CIDR,...").StringsVar(&o.allowed)
	cmd.Flag("syslog.tls.config.file", "TLS configuration of the syslog TLS listener, in the exporter-toolkit's web configuration format (its tls_server_config section: cert_file, key_file, client_ca_file, client_auth_type for mTLS, min_version, cipher_suites, ...). The certificate is re-read when its files change. Replaces --syslog.tls.cert-file and --syslog.tls.key-file.").
		PlaceHolder("FILE").StringVar(&o.tlsConfig)
	cmd.Flag("syslog.max-connections-per-source", "Maximum concurrent TCP and TLS connections from one address, so that one sender cannot take every slot of --syslog.max-connections. 0: no cap.").
		Default(strconv.Itoa(syslog.DefaultMaxConnectionsPerSource)).IntVar(&o.perSource)
	cmd.Flag("syslog.new-source-reserve", "How many of --syslog.max-connections only an address with no open connection may take, so that senders holding many connections cannot lock a new one out. auto: an eighth of --syslog.max-connections; 0: no reserve.").
		Default("auto").StringVar(&o.reserve)
	cmd.Flag("syslog.host-binding", "Check the host name of each message against its sending address: each address is bound to the first host name it sends (a short name and its FQDN are one host). off (the default); flag: a message naming another host is counted in vsphere_audit_syslog_host_mismatch_total and logged; enforce: it is also dropped. Pin hosts to addresses with --syslog.allowed-sources (see README). Not behind a relay that forwards many hosts' logs.").
		Default(syslog.HostBindingOff).PlaceHolder("off|flag|enforce").StringVar(&o.hostBinding)
	return o
}

// apply checks the flags and sets them in cfg; errors name the flag.
func (o *senderOptions) apply(cfg *syslog.Config, tlsCertGiven bool) error {
	var err error
	if cfg.AllowedSources, err = syslog.ParseAllowedSources(o.allowed); err != nil {
		return fmt.Errorf("--syslog.allowed-sources: %w", err)
	}
	if cfg.HostBinding, err = syslog.ParseHostBinding(o.hostBinding); err != nil {
		return fmt.Errorf("--syslog.host-binding: %w", err)
	}
	if cfg.MaxConnections < 1 {
		return fmt.Errorf("--syslog.max-connections must be positive, got %d", cfg.MaxConnections)
	}
	switch {
	case o.perSource < 0:
		return fmt.Errorf("--syslog.max-connections-per-source must be 0 (no cap) or positive, got %d", o.perSource)
	case o.perSource == 0:
		cfg.MaxConnectionsPerSource = -1
	default:
		cfg.MaxConnectionsPerSource = o.perSource
	}
	if o.reserve != "auto" {
		n, err := strconv.Atoi(o.reserve)
		switch {
		case err != nil:
			return fmt.Errorf("--syslog.new-source-reserve: %q: want auto or a number of connections", o.reserve)
		case n < 0:
			return fmt.Errorf("--syslog.new-source-reserve must be auto, 0 (no reserve) or positive, got %d", n)
		case n >= cfg.MaxConnections:
			return fmt.Errorf("--syslog.new-source-reserve (%d) must be smaller than --syslog.max-connections (%d)", n, cfg.MaxConnections)
		case n == 0:
			cfg.NewSourceReserve = -1
		default:
			cfg.NewSourceReserve = n
		}
	}
	cfg.TLSConfigFile = o.tlsConfig
	if o.tlsConfig != "" {
		if tlsCertGiven {
			return errors.New("--syslog.tls.config.file and --syslog.tls.cert-file/--syslog.tls.key-file are exclusive: give the certificate in the file (tls_server_config: cert_file, key_file)")
		}
		if cfg.TLSAddress == "" {
			return errors.New("--syslog.tls.config.file is set but the TLS listener is disabled: set --syslog.tls.listen-address")
		}
	}
	return nil
}

// logSenders logs the allowed sources of each open transport at start,
// and warns about one no sender may use.
func logSenders(logger *slog.Logger, cfg syslog.Config) {
	a := cfg.AllowedSources
	if !a.Enabled() {
		return
	}
	for _, t := range []struct{ name, addr string }{{syslog.TransportUDP, cfg.UDPAddress}, {syslog.TransportTCP, cfg.TCPAddress}, {syslog.TransportTLS, cfg.TLSAddress}} {
		if t.addr == "" {
			continue
		}
		if a.String(t.name) == "none" {
			logger.Warn("syslog listener accepts no sender: --syslog.allowed-sources names no address for it (give "+t.name+"=CIDR, or an address without transport)", "transport", t.name, "address", t.addr)
			continue
		}
		logger.Info("syslog allowed sources", "transport", t.name, "sources", a.String(t.name))
	}
}

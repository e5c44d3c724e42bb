package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/journal"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/ship"
)

// otlpOptions are the --otlp.* flags: the journal's events shipped to a
// log store as OpenTelemetry log records.
type otlpOptions struct {
	endpoint     string
	headers      []string
	headersFile  string
	timeout      time.Duration
	compression  string
	caFile       string
	drainTimeout time.Duration
	// cfg is what validate made of the flags.
	cfg ship.OTLPConfig
}

func otlpFlags(cmd *kingpin.CmdClause) *otlpOptions {
	o := &otlpOptions{}
	cmd.Flag("otlp.endpoint", "Ship every journaled audit event as an OpenTelemetry log record over OTLP/HTTP to this receiver: a collector's base URL (http://collector:4318; /v1/logs is appended) or a full logs URL ending in /v1/logs (VictoriaLogs: http://victorialogs:9428/insert/opentelemetry/v1/logs). http:// is plain HTTP, https:// TLS. Needs the journal (--journal.path), which is the outbox: an outage of the receiver loses nothing. Empty disables.").StringVar(&o.endpoint)
	cmd.Flag("otlp.header", "A header sent with every OTLP request, name=value (repeatable). Secrets belong in --otlp.headers-file: flag values show in ps.").StringsVar(&o.headers)
	cmd.Flag("otlp.headers-file", "File of headers sent with every OTLP request, one a line, name=value or \"Name: value\" (# comments); e.g. Authorization: Bearer TOKEN.").StringVar(&o.headersFile)
	cmd.Flag("otlp.timeout", "Timeout of one OTLP export (a batch of up to 500 events); a failed export is retried with backoff.").Default("10s").DurationVar(&o.timeout)
	cmd.Flag("otlp.compression", "Compression of OTLP requests: gzip or none.").Default("gzip").EnumVar(&o.compression, "gzip", "none")
	cmd.Flag("otlp.ca-file", "PEM CA bundle that signed the OTLP receiver's certificate (https:// only; replaces the system roots).").StringVar(&o.caFile)
	cmd.Flag("otlp.drain-timeout", "At shutdown, how long to keep shipping what is journaled but not yet accepted by the receiver; the rest is shipped after the next start.").Default("10s").DurationVar(&o.drainTimeout)
	return o
}

// validate checks the flags (the endpoint URL, the headers, the headers
// file) and fills o.cfg. A header's value is never shown in an error.
func (o *otlpOptions) validate() error {
	if o.endpoint == "" {
		if len(o.headers) > 0 || o.headersFile != "" || o.caFile != "" {
			return fmt.Errorf("--otlp.header, --otlp.headers-file and --otlp.ca-file need --otlp.endpoint")
		}
		return nil
	}
	if _, err := ship.LogsURL(o.endpoint); err != nil {
		return fmt.Errorf("--otlp.endpoint: %w", err)
	}
	h := map[string]string{}
	if o.headersFile != "" {
		fh, err := ship.ReadHeadersFile(o.headersFile)
		if err != nil {
			return fmt.Errorf("--otlp.headers-file: %w", err)
		}
		h = fh
	}
	for i, s := range o.headers {
		k, v, err := ship.ParseHeader(s)
		if err != nil {
			return fmt.Errorf("--otlp.header (#%d): %w", i+1, err)
		}
		h[k] = v
	}
	if o.timeout <= 0 {
		return fmt.Errorf("--otlp.timeout must be positive")
	}
	o.cfg = ship.OTLPConfig{Endpoint: o.endpoint, Headers: h, Timeout: o.timeout, Gzip: o.compression != "none", CAFile: o.caFile}
	return nil
}

// newShipper returns the OTLP shipper reading jr, or nil when
// --otlp.endpoint is empty.
func newShipper(ctx context.Context, logger *slog.Logger, reg prometheus.Registerer, jr *journal.Journal, o *otlpOptions) (*ship.Shipper, error) {
	if o == nil || o.endpoint == "" {
		return nil, nil
	}
	exp, err := ship.NewOTLPExporter(ctx, o.cfg)
	if err != nil {
		return nil, fmt.Errorf("--otlp.endpoint: %w", err)
	}
	u, _ := ship.LogsURL(o.endpoint)
	sh, err := ship.New(jr, exp, ship.Options{Name: ship.SinkName(u), Timeout: o.timeout, ServiceName: name, ServiceVersion: version.Version,
		Registerer: reg, Logger: logger})
	if err != nil {
		return nil, err
	}
	cur, _ := jr.Cursor(ship.SinkName(u))
	last, _ := jr.LastSeq()
	logger.Info("shipping audit events as OpenTelemetry log records", "url", u.String(), "cursor", cur, "to_ship", max(last-cur, 0))
	return sh, nil
}

// drainShipper ships what the journal holds, within --otlp.drain-timeout,
// and closes the shipper: the last step before the journal closes.
func drainShipper(logger *slog.Logger, jr *journal.Journal, sh *ship.Shipper, timeout time.Duration) {
	if sh == nil {
		return
	}
	if err := jr.Sync(); err != nil {
		logger.Warn("journal sync before the final shipping", "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	begin := time.Now()
	rem, err := sh.Drain(ctx)
	if err != nil {
		logger.Warn("stopping with audit events not yet shipped; they are shipped after the next start (--otlp.drain-timeout)", "remaining", rem, "err", err)
	} else {
		logger.Info("every journaled audit event shipped", "cursor", sh.Cursor(), "took", time.Since(begin).Round(time.Millisecond))
	}
	_ = sh.Close(context.Background())
}

func (o *otlpOptions) drainTimeoutOr0() time.Duration {
	if o == nil {
		return 0
	}
	return o.drainTimeout
}

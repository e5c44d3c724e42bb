package collector

import (
	"context"
	"log/slog"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/metrics"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/pipeline"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/reassembly"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/syslogserver"
)

// SyslogOptions tune the syslog collector beyond its listeners.
type SyslogOptions struct {
	// ReassemblyTimeout releases split or multi-line messages (default 2s).
	ReassemblyTimeout time.Duration
	// OnReassemblyTimeout counts messages released incomplete.
	OnReassemblyTimeout func()
}

// Syslog receives ESXi and vCenter syslog and records audit events:
//
//	sockets -> framing -> logline -> reassembly -> rules -> dedup -> sink
type Syslog struct {
	server   *syslogserver.Server
	pipeline *pipeline.Pipeline
	log      *slog.Logger
}

// NewSyslog builds the collector; call Listen, then Run.
func NewSyslog(cfg syslogserver.Config, o SyslogOptions, logger *slog.Logger, health *metrics.Health, sink audit.Sink) *Syslog {
	p := pipeline.New(pipeline.Options{Reassembly: reassembly.Options{Timeout: o.ReassemblyTimeout, OnTimeout: o.OnReassemblyTimeout}}, sink)
	srv := syslogserver.New(cfg, logger, health, p.Process)
	srv.SetFilter(p.Skip)
	return &Syslog{server: srv, pipeline: p, log: logger}
}

// Name implements Collector.
func (s *Syslog) Name() string { return "syslog" }

// Listen binds the sockets.
func (s *Syslog) Listen() error { return s.server.Listen() }

// Server exposes the listeners (for their bound addresses).
func (s *Syslog) Server() *syslogserver.Server { return s.server }

// Run implements Collector.
func (s *Syslog) Run(ctx context.Context) error {
	done := make(chan struct{})
	go s.pipeline.Run(done, 250*time.Millisecond)
	err := s.server.Serve(ctx)
	close(done)
	s.pipeline.Flush()
	return err
}

package collector

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/metrics"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/pipeline"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vcenter"
)

// VCenterOptions tune the vCenter collector.
type VCenterOptions struct {
	// InventoryInterval is how often each vCenter's hosts' service and
	// lockdown state is read (default 60s; negative disables).
	InventoryInterval time.Duration
}

// VCenter reads one or more vCenters over the vSphere API: their event
// history (sessions, consoles, migrations, permissions, host services and
// the relayed esx.audit ids) and the live state of their hosts.
//
//	EventHistoryCollector -> mapping table -> pipeline (SSO join, dedup) -> sink
type VCenter struct {
	tailers []*vcenter.Tailer
	health  *metrics.VCenterHealth
	log     *slog.Logger
	o       VCenterOptions
}

// NewVCenter builds the collector for validated configs. Events go through
// p (the syslog collector's pipeline, so that the SSO client-IP join and
// de-duplication span both sources).
func NewVCenter(cfgs []vcenter.Config, o VCenterOptions, logger *slog.Logger, health *metrics.VCenterHealth, p *pipeline.Pipeline) *VCenter {
	if o.InventoryInterval == 0 {
		o.InventoryInterval = time.Minute
	}
	v := &VCenter{health: health, log: logger, o: o}
	sink := audit.SinkFunc(p.Record)
	for _, c := range cfgs {
		v.tailers = append(v.tailers, vcenter.NewTailer(c, sink, health, logger))
	}
	return v
}

// Pipeline exposes the syslog collector's pipeline, for the vCenter
// collector to feed.
func (s *Syslog) Pipeline() *pipeline.Pipeline { return s.pipeline }

// Name implements Collector.
func (v *VCenter) Name() string { return "vcenter" }

// Tailers returns the per-vCenter tailers.
func (v *VCenter) Tailers() []*vcenter.Tailer { return v.tailers }

// Run implements Collector: it returns when ctx is cancelled.
func (v *VCenter) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, t := range v.tailers {
		wg.Go(func() { _ = t.Run(ctx) })
		if v.o.InventoryInterval > 0 {
			wg.Go(func() { v.inventory(ctx, t) })
		}
	}
	wg.Wait()
	return ctx.Err()
}

// inventory polls t's hosts every InventoryInterval, and soon after each
// (re)connection.
func (v *VCenter) inventory(ctx context.Context, t *vcenter.Tailer) {
	var last time.Time
	var lastClient any
	tick := time.NewTicker(min(time.Second, v.o.InventoryInterval))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c := t.Client()
		if c == nil || (c == lastClient && time.Since(last) < v.o.InventoryInterval) {
			continue
		}
		last, lastClient = time.Now(), c
		pctx, cancel := context.WithTimeout(ctx, max(30*time.Second, v.o.InventoryInterval))
		hosts, err := vcenter.PollHosts(pctx, c)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			v.health.Error(t.Name(), "inventory")
			v.log.Warn("cannot read the vCenter's host services and lockdown mode", "vcenter", t.Name(), "err", err)
			continue
		}
		v.health.SetHosts(t.Name(), hosts)
	}
}

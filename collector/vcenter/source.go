package vcenter

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/console"
)

// SourceOptions tune the vCenter source.
type SourceOptions struct {
	// InventoryInterval is how often each vCenter's hosts' service and
	// lockdown state is read (default 60s; negative disables).
	InventoryInterval time.Duration
	// Guests, when set, receives each vCenter's VMs' guest host names and
	// addresses after every inventory read (the console ledger's
	// console.Mapper.SetInventory).
	Guests func(vcenter string, guests []console.Guest)
}

// Source reads one or more vCenters over the vSphere API: their event
// history (sessions, consoles, migrations, permissions, host services and
// the relayed esx.audit ids) and the live state of their hosts.
//
//	EventHistoryCollector -> mapping (internal/vsphere) -> audit.Sink
type Source struct {
	tailers []*Tailer
	health  *Health
	log     *slog.Logger
	o       SourceOptions
}

// NewSource builds the source for validated configs; events go to sink.
func NewSource(cfgs []Config, o SourceOptions, logger *slog.Logger, health *Health, sink audit.Sink) *Source {
	if o.InventoryInterval == 0 {
		o.InventoryInterval = time.Minute
	}
	v := &Source{health: health, log: logger, o: o}
	for _, c := range cfgs {
		v.tailers = append(v.tailers, NewTailer(c, sink, health, logger))
	}
	return v
}

// Run reads until ctx is cancelled. It returns when every tailer has
// stopped and logged out of its vCenter.
func (v *Source) Run(ctx context.Context) error {
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
func (v *Source) inventory(ctx context.Context, t *Tailer) {
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
		hosts, err := PollHosts(pctx, c)
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
		pctx, cancel = context.WithTimeout(ctx, max(30*time.Second, v.o.InventoryInterval))
		vms, err := PollVMs(pctx, c)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			v.health.Error(t.Name(), "inventory")
			v.log.Warn("cannot read the vCenter's VMs (guest names and addresses, console settings)", "vcenter", t.Name(), "err", err)
			continue
		}
		guests := Guests(vms)
		if v.o.Guests != nil {
			v.o.Guests(t.Name(), guests)
		}
		v.health.SetGuests(t.Name(), len(guests))
		v.health.SetVMs(t.Name(), vms)
	}
}

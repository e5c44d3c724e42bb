package main

import (
	"fmt"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/model"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/metrics"
)

// metricsFlagValues are the --metrics.* flags: the bounds of the audit
// metrics' label sets.
type metricsFlagValues struct {
	maxSeries      int
	maxTotalSeries int
	pagingReserve  int
	ttl            model.Duration
}

func metricsFlags(cmd *kingpin.CmdClause) *metricsFlagValues {
	f := &metricsFlagValues{}
	cmd.Flag("metrics.max-series", "Maximum label sets per audit metric. Beyond it, and beyond --metrics.max-total-series, samples go to an overflow series whose labels are \"__overflow__\" but those of bounded vocabularies (kind, method, direct, action, setting, technique, ...), so that an alert selecting on them still fires; counted in vsphere_audit_label_overflow_total.").
		Default(fmt.Sprint(metrics.DefaultMaxSeries)).IntVar(&f.maxSeries)
	cmd.Flag("metrics.max-total-series", "Maximum series of all audit metrics together, and of the sources' per-host metrics (a counter and its last-seen gauge count two). It bounds the exposition however many forged host or user names arrive. 0: no global budget.").
		Default(fmt.Sprint(metrics.DefaultMaxTotalSeries)).IntVar(&f.maxTotalSeries)
	cmd.Flag("metrics.paging-reserve", "Part of --metrics.max-total-series only label sets that page may take (direct logins, attack techniques, disabled lockdown or logging, snapshots removed, cross-VM disks, Tier-0 VM operations): a flood of other kinds fills the rest and stops. When the reserve is full too, paging samples overflow with their kind kept, counted in vsphere_audit_paging_overflow_total (alert VSphereAuditPagingSeriesOverflow). 0: a tenth of the budget.").
		Default("0").IntVar(&f.pagingReserve)
	cmd.Flag("metrics.series-ttl", "Drop an audit label set not observed for this long, returning it to the budget (its counter restarts if it comes back). 0: never.").
		Default("35d").SetValue(&f.ttl)
	return f
}

// options checks the flags and returns the sink's options.
func (f *metricsFlagValues) options() (metrics.Options, error) {
	o := metrics.Options{MaxSeries: f.maxSeries, MaxTotalSeries: f.maxTotalSeries, PagingReserve: f.pagingReserve, SeriesTTL: time.Duration(f.ttl)}
	switch {
	case f.maxSeries <= 0:
		return o, fmt.Errorf("--metrics.max-series must be positive, got %d", f.maxSeries)
	case f.maxTotalSeries < 0:
		return o, fmt.Errorf("--metrics.max-total-series must be 0 (no budget) or positive, got %d", f.maxTotalSeries)
	case f.pagingReserve < 0:
		return o, fmt.Errorf("--metrics.paging-reserve must be 0 (a tenth of the budget) or positive, got %d", f.pagingReserve)
	case f.maxTotalSeries > 0 && f.pagingReserve >= f.maxTotalSeries:
		return o, fmt.Errorf("--metrics.paging-reserve (%d) must be smaller than --metrics.max-total-series (%d)", f.pagingReserve, f.maxTotalSeries)
	case f.ttl < 0:
		return o, fmt.Errorf("--metrics.series-ttl must not be negative, got %s", f.ttl)
	}
	if f.maxTotalSeries == 0 {
		o.MaxTotalSeries = -1
	}
	if f.ttl == 0 {
		o.SeriesTTL = -1
	}
	return o, nil
}

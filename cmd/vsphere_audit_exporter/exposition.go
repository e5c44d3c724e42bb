package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultMaxRequests is --web.max-requests' default, node_exporter's.
const DefaultMaxRequests = 40

// expositionOptions are the --web.* flags of the metrics endpoint, as
// node_exporter has them.
type expositionOptions struct {
	// maxRequests bounds the scrapes served at once (0: no bound).
	maxRequests int
	// disableExporterMetrics leaves out the exporter's own go_*,
	// process_* and promhttp_* metrics.
	disableExporterMetrics bool
}

func expositionFlags(cmd *kingpin.CmdClause) *expositionOptions {
	o := &expositionOptions{}
	cmd.Flag("web.max-requests", "Maximum number of scrapes of the metrics path served at once; a scrape beyond it is answered 503 Service Unavailable at once. 0: no limit.").
		Default(fmt.Sprint(DefaultMaxRequests)).IntVar(&o.maxRequests)
	cmd.Flag("web.disable-exporter-metrics", "Leave the exporter's own Go runtime, process and scrape handler metrics (go_*, process_*, promhttp_*) out of the metrics path; the audit, source and build_info metrics stay.").
		BoolVar(&o.disableExporterMetrics)
	return o
}

func (o *expositionOptions) validate() error {
	if o.maxRequests < 0 {
		return fmt.Errorf("--web.max-requests must be 0 (no limit) or positive, got %d", o.maxRequests)
	}
	return nil
}

// metricsHandler serves gatherer's metrics the way node_exporter does: in
// the OpenMetrics format when the scraper asks for it (Accept), at most
// o.maxRequests scrapes at once, and, unless o.disableExporterMetrics,
// with the exporter's own go_* and process_* metrics and the handler's
// promhttp_metric_handler_* counters, from a registry of their own.
func metricsHandler(gatherer prometheus.Gatherer, o expositionOptions, logger *slog.Logger) http.Handler {
	exporterReg := prometheus.NewRegistry()
	gatherers := prometheus.Gatherers{gatherer}
	if !o.disableExporterMetrics {
		exporterReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		gatherers = prometheus.Gatherers{exporterReg, gatherer}
	}
	h := promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(logger.Handler(), slog.LevelError),
		MaxRequestsInFlight: o.maxRequests,
		// promhttp_metric_handler_errors_total: gathered with the other
		// exporter metrics, so left out with them.
		Registry:          exporterReg,
		EnableOpenMetrics: true,
	})
	if o.disableExporterMetrics {
		return h
	}
	return promhttp.InstrumentMetricHandler(exporterReg, h)
}

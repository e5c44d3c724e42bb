// Package collector holds the audit sources, one per file behind a small
// interface, in the manner of node_exporter's collectors: syslog.go
// receives ESXi and vCenter syslog. Each turns what it reads into
// audit.Event values for a sink.
package collector

import "context"

// Collector is one audit source. Run reads until ctx is cancelled or a fatal
// error occurs, handing every event to the sink it was built with.
type Collector interface {
	// Name is a short identifier used in logs ("syslog", "vcenter").
	Name() string
	Run(ctx context.Context) error
}

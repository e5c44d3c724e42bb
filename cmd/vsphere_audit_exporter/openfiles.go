package main

import "fmt"

// openFilesMargin is what the exporter needs besides syslog connections
// and scrapes: listeners, the UDP socket, the journal's database files,
// vCenter sessions, the OTLP client, standard streams.
const openFilesMargin = 64

// openFilesNeed is how many descriptors the flags may take at once:
// --syslog.max-connections (when a TCP or TLS listener is open), plus
// --web.max-requests (its default when 0, no limit), plus a margin.
func openFilesNeed(streamListeners bool, maxConnections, maxRequests int) uint64 {
	need := uint64(openFilesMargin)
	if streamListeners {
		need += uint64(maxConnections)
	}
	if maxRequests <= 0 {
		maxRequests = DefaultMaxRequests
	}
	return need + uint64(maxRequests)
}

// openFilesError explains a limit that cannot cover need.
func openFilesError(soft, hard, need uint64, streamListeners bool, maxConnections, maxRequests int) error {
	conns := "no TCP or TLS listener"
	if streamListeners {
		conns = fmt.Sprintf("--syslog.max-connections (%d)", maxConnections)
	}
	return fmt.Errorf("the open-file limit (RLIMIT_NOFILE: soft %d, hard %d) is below the %d descriptors the exporter may need: %s + --web.max-requests (%d) + %d for listeners, the journal and vCenter; with fewer, syslog connections beyond it fail and /metrics stops answering. Raise the limit (systemd: LimitNOFILE=, a shell: ulimit -n) or lower --syslog.max-connections or --web.max-requests",
		soft, hard, need, conns, maxRequests, openFilesMargin)
}

package syslog

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/labels"
)

const namespace = labels.Namespace

// Results of receiving one syslog message.
const (
	ResultParsed   = "parsed"   // a header was recognized
	ResultUnparsed = "unparsed" // no syslog header; the text was still checked by content rules
	ResultDropped  = "dropped"  // lost: a full queue or a socket buffer overrun
	ResultOversize = "oversize" // longer than the message size limit
	ResultEmpty    = "empty"    // an empty UDP datagram
)

// Health holds the exporter's own metrics for the syslog path.
type Health struct {
	Messages          *prometheus.CounterVec
	ConnectionsClosed *prometheus.CounterVec
	Connections       *prometheus.GaugeVec
	LastMessage       *prometheus.GaugeVec
	lastLim           *labels.Limiter
}

// NewHealth registers the health metrics on reg, with series for each of
// transports; b bounds the per-host last-message gauge.
func NewHealth(reg prometheus.Registerer, b labels.Bounds, transports []string) *Health {
	h := &Health{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "syslog", Name: "messages_total",
			Help: "Syslog messages received, by transport and result (parsed, unparsed, dropped, oversize, empty: an empty UDP datagram)."}, []string{"transport", "result"}),
		ConnectionsClosed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "syslog", Name: "connections_closed_total",
			Help: "TCP/TLS connections closed, by reason (eof, framing_error, oversize, idle_timeout, tls_handshake, error)."}, []string{"transport", "reason"}),
		Connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "syslog", Name: "connections",
			Help: "Open TCP/TLS syslog connections."}, []string{"transport"}),
		LastMessage: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "syslog", Name: "last_message_timestamp_seconds",
			Help: "Arrival time of the newest syslog message from each sending host."}, []string{"host"}),
	}
	h.lastLim = b.NewLimiter(namespace+"_syslog_last_message_timestamp_seconds", 1)
	reg.MustRegister(h.Messages, h.ConnectionsClosed, h.Connections, h.LastMessage)
	for _, t := range transports {
		for _, r := range []string{ResultParsed, ResultUnparsed, ResultDropped, ResultOversize} {
			h.Messages.WithLabelValues(t, r)
		}
		if t == TransportUDP {
			h.Messages.WithLabelValues(t, ResultEmpty)
		}
		h.Connections.WithLabelValues(t)
	}
	return h
}

// Seen records the arrival of a message from host at unix time ts.
func (h *Health) Seen(host string, ts float64) {
	if host == "" {
		return
	}
	h.LastMessage.WithLabelValues(h.lastLim.Admit([]string{host})...).Set(ts)
}

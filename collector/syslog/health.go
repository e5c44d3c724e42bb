package syslog

import (
	"crypto/tls"

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
	// ResultTruncated is a message cut short: the stream ended, timed out
	// or failed inside an octet-counted frame (or its length) or inside a
	// line.
	ResultTruncated = "truncated"
	// ResultFramingError is a frame length that is not one (octet
	// counting): the connection is closed, the rest of its stream lost.
	ResultFramingError = "framing_error"
)

// Health holds the exporter's own metrics for the syslog path.
type Health struct {
	Messages          *prometheus.CounterVec
	ConnectionsClosed *prometheus.CounterVec
	Connections       *prometheus.GaugeVec
	LastMessage       *prometheus.GaugeVec
	// Rejected counts datagrams and connections turned away before any
	// parsing, by transport and reason (Reject*).
	Rejected *prometheus.CounterVec
	// HostMismatch counts messages whose host name is not the one their
	// sending address is bound to (--syslog.host-binding).
	HostMismatch *prometheus.CounterVec
	// CertReloadErrors counts failed reloads of the TLS certificate.
	CertReloadErrors prometheus.Counter
	// CertNotAfter is the expiry of the TLS certificate in service.
	CertNotAfter prometheus.Gauge
	lastLim      *labels.Limiter
}

// NewHealth registers the health metrics on reg, with series for each of
// transports; b bounds the per-host last-message gauge.
func NewHealth(reg prometheus.Registerer, b labels.Bounds, transports []string) *Health {
	h := &Health{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "syslog", Name: "messages_total",
			Help: "Syslog messages received, by transport and result (parsed, unparsed, dropped, oversize, empty: an empty UDP datagram, truncated: cut short by the end of its connection, framing_error: a frame length that is not one, which closes the connection)."}, []string{"transport", "result"}),
		ConnectionsClosed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "syslog", Name: "connections_closed_total",
			Help: "TCP/TLS connections closed, by reason (eof, framing_error, oversize, idle_timeout, tls_handshake, limit, not_allowed, error)."}, []string{"transport", "reason"}),
		Connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "syslog", Name: "connections",
			Help: "Open TCP/TLS syslog connections."}, []string{"transport"}),
		LastMessage: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "syslog", Name: "last_message_timestamp_seconds",
			Help: "Arrival time of the newest syslog message from each sending host."}, []string{"host"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "syslog", Name: "rejected_total",
			Help: "Syslog datagrams and TCP/TLS connections turned away before any message was read, by transport and reason (not_allowed: outside --syslog.allowed-sources; connection_limit; source_connection_limit; tls_handshake; client_cert: mTLS without a valid client certificate)."}, []string{"transport", "reason"}),
		HostMismatch: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "syslog", Name: "host_mismatch_total",
			Help: "Syslog messages naming a host other than the one their sending address first named (--syslog.host-binding; dropped when it is enforce)."}, []string{"transport"}),
		CertReloadErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "syslog", Name: "tls_certificate_reload_errors_total",
			Help: "Failed reloads of the syslog TLS certificate or key after their files changed; the previous certificate stays in service."}),
		CertNotAfter: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "syslog", Name: "tls_certificate_expiry_timestamp_seconds",
			Help: "Expiry (notAfter) of the syslog TLS certificate in service."}),
	}
	h.lastLim = b.NewLimiter(namespace+"_syslog_last_message_timestamp_seconds", 1)
	reg.MustRegister(h.Messages, h.ConnectionsClosed, h.Connections, h.LastMessage, h.Rejected, h.HostMismatch)
	for _, t := range transports {
		for _, r := range []string{ResultParsed, ResultUnparsed, ResultDropped, ResultOversize} {
			h.Messages.WithLabelValues(t, r)
		}
		h.Rejected.WithLabelValues(t, RejectNotAllowed)
		h.HostMismatch.WithLabelValues(t)
		h.Connections.WithLabelValues(t)
		if t == TransportUDP {
			h.Messages.WithLabelValues(t, ResultEmpty)
			continue
		}
		h.Messages.WithLabelValues(t, ResultTruncated)
		h.Messages.WithLabelValues(t, ResultFramingError)
		h.Rejected.WithLabelValues(t, RejectConnLimit)
		h.Rejected.WithLabelValues(t, RejectSourceConnLimit)
		if t == TransportTLS {
			h.Rejected.WithLabelValues(t, RejectTLSHandshake)
			h.Rejected.WithLabelValues(t, RejectClientCert)
			reg.MustRegister(h.CertReloadErrors, h.CertNotAfter)
		}
	}
	return h
}

func (h *Health) certReloadError() {
	if h != nil {
		h.CertReloadErrors.Inc()
	}
}

func (h *Health) certLoaded(c *tls.Certificate) {
	if h != nil && c != nil && c.Leaf != nil {
		h.CertNotAfter.Set(float64(c.Leaf.NotAfter.Unix()))
	}
}

// Seen records the arrival of a message from host at unix time ts.
func (h *Health) Seen(host string, ts float64) {
	if host == "" {
		return
	}
	h.LastMessage.WithLabelValues(h.lastLim.Admit([]string{host})...).Set(ts)
}

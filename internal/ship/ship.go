// Package ship sends the journal's events to a log store: every audit
// event becomes one OpenTelemetry log record, exported over OTLP/HTTP
// (go.opentelemetry.io/otel/sdk/log records, the otlploghttp exporter).
//
// The journal is the outbox. A Shipper reads it in storage order (seq)
// from a cursor persisted in the journal itself, exports a batch, and
// advances the cursor only once the exporter returned without error, that
// is once the log store answered 2xx to the batch. The SDK's batching
// processor is not used: it exports in the background and only reports
// failures to a global error handler, so it cannot say which records the
// store accepted. An outage of the store therefore loses nothing: the
// cursor stays, the batch is retried with backoff, and when the store is
// back the events follow in order, also after a restart of the exporter.
//
// A batch the store accepted but whose answer was lost (a timeout, a
// connection reset after the request was processed) is sent again: delivery
// is at least once. Every record carries event.id (and log.record.uid), a
// stable id of the journaled event, so a store or collector that
// de-duplicates makes it exactly once.
package ship

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/journal"
)

// Defaults.
const (
	DefaultBatch        = 500
	DefaultPoll         = time.Second
	DefaultTimeout      = 10 * time.Second
	DefaultMinBackoff   = 500 * time.Millisecond
	DefaultMaxBackoff   = 10 * time.Second
	DefaultServiceName  = "vsphere_audit_exporter"
	instrumentationName = "github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/ship"
)

// Outbox is what a Shipper needs of the journal (*journal.Journal).
type Outbox interface {
	Scan(ctx context.Context, q journal.Query, fn func(journal.Row) error) error
	Cursor(name string) (int64, error)
	SetCursor(name string, seq int64) error
	LastSeq() (int64, error)
}

// Options configure a Shipper.
type Options struct {
	// Name names the sink: its cursor in the journal and the sink label of
	// its metrics ("otlp:http://collector:4318/v1/logs").
	Name string
	// Batch is the most events one export carries (default 500).
	Batch int
	// Poll is how often the journal is looked at for new events when the
	// shipper has caught up (default 1s).
	Poll time.Duration
	// Timeout bounds one export (default 10s).
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed export: it
	// starts at MinBackoff and doubles, with jitter, up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// ServiceName and ServiceVersion are the records' resource
	// (service.name, service.version); service.instance.id is this
	// machine's name.
	ServiceName, ServiceVersion string
	Registerer                  prometheus.Registerer
	Logger                      *slog.Logger
	Now                         func() time.Time
}

// Shipper exports the journal's events to one sink.
type Shipper struct {
	o      Options
	box    Outbox
	exp    sdklog.Exporter
	logger log.Logger
	cap    *capture
	lp     *sdklog.LoggerProvider
	log    *slog.Logger

	events, errs   prometheus.Counter
	lag, lastOK    prometheus.Gauge
	mu             sync.Mutex // one export at a time (Run and Drain)
	cursor         int64
	loaded         bool
	failures       int
	failingSince   time.Time
	lastFailureLog time.Time
}

// New returns a Shipper that reads box and exports to exp.
func New(box Outbox, exp sdklog.Exporter, o Options) (*Shipper, error) {
	if o.Name == "" {
		return nil, errors.New("ship: no sink name")
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	if o.ServiceName == "" {
		o.ServiceName = DefaultServiceName
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(o.ServiceName)}
	if o.ServiceVersion != "" {
		attrs = append(attrs, semconv.ServiceVersion(o.ServiceVersion))
	}
	// Which exporter shipped the record, when several do (not host.name:
	// the event's own host attribute is the ESXi host or vCenter).
	if h, err := os.Hostname(); err == nil && h != "" {
		attrs = append(attrs, semconv.ServiceInstanceID(h))
	}
	res := resource.NewWithAttributes(semconv.SchemaURL, attrs...)
	s := &Shipper{o: o, box: box, exp: exp, cap: &capture{}, log: o.Logger.With("sink", o.Name)}
	// The provider only stamps resource and scope on the records; the
	// capture processor hands them back, and the shipper exports them
	// itself. Each event field is one attribute: allow them all.
	s.lp = sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(s.cap), sdklog.WithAttributeCountLimit(64))
	s.logger = s.lp.Logger(instrumentationName, log.WithInstrumentationVersion(o.ServiceVersion))
	s.newMetrics(o.Registerer)
	return s, nil
}

// capture is a Processor that keeps what is emitted; the shipper is its
// only, single-threaded user.
type capture struct{ recs []sdklog.Record }

func (c *capture) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (c *capture) OnEmit(_ context.Context, r *sdklog.Record) error {
	c.recs = append(c.recs, r.Clone())
	return nil
}
func (c *capture) Shutdown(context.Context) error   { return nil }
func (c *capture) ForceFlush(context.Context) error { return nil }

func (s *Shipper) newMetrics(reg prometheus.Registerer) {
	const ns, sub = "vsphere_audit", "ship"
	l := []string{"sink"}
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "events_total",
		Help: "Journal events the log store accepted."}, l)
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "errors_total",
		Help: "Failed exports to the log store (each is retried; the cursor stays) and failed cursor writes."}, l)
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "lag_events",
		Help: "Journal events not yet accepted by the log store (the journal's last seq minus the sink's cursor)."}, l)
	lastOK := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "last_success_timestamp_seconds",
		Help: "When the log store last accepted a batch, or the shipper last found it had nothing to send."}, l)
	if reg != nil {
		events = register(reg, events)
		errs = register(reg, errs)
		lag = register(reg, lag)
		lastOK = register(reg, lastOK)
	}
	s.events, s.errs = events.WithLabelValues(s.o.Name), errs.WithLabelValues(s.o.Name)
	s.lag, s.lastOK = lag.WithLabelValues(s.o.Name), lastOK.WithLabelValues(s.o.Name)
}

// register registers c, or returns the collector already registered under
// its name (several sinks share the vectors).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if prev, ok := are.ExistingCollector.(C); ok {
				return prev
			}
		}
		panic(err)
	}
	return c
}

// Run ships until ctx ends: a batch whenever the journal holds events past
// the cursor, the journal looked at every Options.Poll when caught up,
// backoff after a failure. An export under way when ctx ends is finished
// (within Options.Timeout), so that its cursor is saved.
func (s *Shipper) Run(ctx context.Context) error {
	backoff := s.o.MinBackoff
	for {
		n, err := s.ShipBatch(ctx)
		wait := s.o.Poll
		switch {
		case err != nil:
			wait = jitter(backoff)
			backoff = min(backoff*2, s.o.MaxBackoff)
		case n > 0:
			backoff = s.o.MinBackoff
			if n == s.o.Batch {
				wait = 0 // more is waiting
			}
		default:
			backoff = s.o.MinBackoff
		}
		if ctx.Err() != nil {
			return nil
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
	}
}

// Drain ships until the cursor reaches the journal's last event at the
// time of the call, or ctx ends (then it returns how many events remain).
// Failed exports are retried with backoff while ctx lasts.
func (s *Shipper) Drain(ctx context.Context) (remaining int64, err error) {
	last, err := s.box.LastSeq()
	if err != nil {
		return 0, err
	}
	backoff := s.o.MinBackoff
	for {
		s.mu.Lock()
		err := s.loadCursor()
		cur := s.cursor
		s.mu.Unlock()
		if err != nil {
			return last, err
		}
		if cur >= last {
			return 0, nil
		}
		if ctx.Err() != nil {
			return last - cur, ctx.Err()
		}
		if _, err := s.ShipBatch(ctx); err != nil {
			t := time.NewTimer(jitter(backoff))
			backoff = min(backoff*2, s.o.MaxBackoff)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			continue
		}
		backoff = s.o.MinBackoff
	}
}

// Close shuts the exporter down.
func (s *Shipper) Close(ctx context.Context) error {
	err := s.exp.Shutdown(ctx)
	if e := s.lp.Shutdown(ctx); err == nil {
		err = e
	}
	return err
}

// Cursor is the seq of the last event the store accepted.
func (s *Shipper) Cursor() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursor
}

// loadCursor reads the saved cursor once; s.mu is held.
func (s *Shipper) loadCursor() error {
	if s.loaded {
		return nil
	}
	c, err := s.box.Cursor(s.o.Name)
	if err != nil {
		return fmt.Errorf("ship: read cursor %q: %w", s.o.Name, err)
	}
	s.cursor, s.loaded = c, true
	if c > 0 {
		s.log.Info("shipping resumes after the saved cursor", "cursor", c)
	}
	return nil
}

// ShipBatch exports the next batch past the cursor and, once the store
// accepted it, advances the cursor. It returns how many events it shipped
// (0 when there was nothing to ship).
func (s *Shipper) ShipBatch(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadCursor(); err != nil {
		s.errs.Inc()
		s.failed(err)
		return 0, err
	}
	last, err := s.box.LastSeq()
	if err == nil {
		s.lag.Set(float64(max(last-s.cursor, 0)))
	}
	if err == nil && last <= s.cursor {
		s.lastOK.Set(float64(s.o.Now().UnixNano()) / 1e9)
		s.recovered()
		return 0, nil
	}
	// Read the batch. The scan does not depend on ctx ending: an export
	// that began is finished and recorded.
	var rows []journal.Row
	err = s.box.Scan(context.WithoutCancel(ctx), journal.Query{AfterSeq: s.cursor, BySeq: true, Limit: s.o.Batch}, func(r journal.Row) error {
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		err = fmt.Errorf("ship: read the journal: %w", err)
		s.errs.Inc()
		s.failed(err)
		return 0, err
	}
	if len(rows) == 0 {
		return 0, nil
	}
	now := s.o.Now()
	s.cap.recs = s.cap.recs[:0]
	for i := range rows {
		s.logger.Emit(ctx, Record(rows[i], now))
	}
	recs := s.cap.recs
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.Timeout)
	err = s.exp.Export(ectx, recs)
	cancel()
	clear(s.cap.recs)
	if err != nil && !isPartialSuccess(err) {
		err = fmt.Errorf("ship: export %d events (seq %d..%d): %w", len(rows), rows[0].Seq, rows[len(rows)-1].Seq, err)
		s.errs.Inc()
		s.failed(err)
		return 0, err
	}
	if err != nil {
		// The store answered 2xx and named records it rejected: sending
		// them again gives the same answer. Counted, logged, passed.
		s.errs.Inc()
		s.log.Warn("the log store rejected some records of a batch it accepted", "seq_from", rows[0].Seq, "seq_to", rows[len(rows)-1].Seq, "err", err)
	}
	s.cursor = rows[len(rows)-1].Seq
	s.events.Add(float64(len(rows)))
	s.lastOK.Set(float64(s.o.Now().UnixNano()) / 1e9)
	if last >= s.cursor {
		s.lag.Set(float64(last - s.cursor))
	}
	s.recovered()
	if err := s.box.SetCursor(s.o.Name, s.cursor); err != nil {
		// The store has the batch; only a restart before the next saved
		// cursor sends it again.
		s.errs.Inc()
		s.log.Error("cannot save the shipping cursor; a restart will send these events again", "cursor", s.cursor, "err", err)
	}
	return len(rows), nil
}

// isPartialSuccess reports an OTLP partial success: the store accepted the
// request and rejected some of its records (otlploghttp's error type is
// internal; its message is stable).
func isPartialSuccess(err error) bool {
	return strings.Contains(err.Error(), "OTLP partial success")
}

// failed logs a failure: the first of an outage, then at most once a minute.
func (s *Shipper) failed(err error) {
	now := time.Now()
	s.failures++
	if s.failures == 1 {
		s.failingSince = now
	}
	if s.failures == 1 || now.Sub(s.lastFailureLog) >= time.Minute {
		s.lastFailureLog = now
		s.log.Warn("cannot ship audit events; retrying with backoff, nothing is lost while the journal holds them (repeats at most once a minute)",
			"failures", s.failures, "since", s.failingSince.Format(time.RFC3339), "err", err)
	}
}

func (s *Shipper) recovered() {
	if s.failures > 0 {
		s.log.Info("shipping resumed", "failed_attempts", s.failures, "outage", time.Since(s.failingSince).Round(time.Millisecond), "cursor", s.cursor)
		s.failures = 0
	}
}

func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// Severities: WARN for what an auditor looks at first.
func severity(e *audit.Event) (log.Severity, string) {
	switch {
	case e.Kind == audit.KindLogin && e.Direct,
		e.Kind == audit.KindLoginFailed, e.Kind == audit.KindAccountLocked,
		e.Kind == audit.KindAccessDenied, e.Kind == audit.KindLoggingFailed,
		e.Kind == audit.KindConsoleSessionReused,
		e.Outcome == audit.OutcomeFailure:
		return log.SeverityWarn, "WARN"
	}
	return log.SeverityInfo, "INFO"
}

// EventID is the stable id of a journaled event: its seq and a hash of its
// content, so that a journal rebuilt from scratch (seq starting again)
// does not give another event the same id.
func EventID(r journal.Row) string {
	data, _ := json.Marshal(r.Event)
	sum := sha256.Sum256(data)
	return strconv.FormatInt(r.Seq, 10) + "-" + hex.EncodeToString(sum[:8])
}

// field is an event field exported as an attribute.
type field struct {
	index     int
	name      string
	omitEmpty bool
}

// fields are the audit.Event fields with a JSON name, but the time (the
// record's timestamp) and the message (its body).
var fields = func() []field {
	var out []field
	t := reflect.TypeFor[audit.Event]()
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" || name == "time" || name == "message" {
			continue
		}
		out = append(out, field{index: i, name: name, omitEmpty: strings.Contains(opts, "omitempty")})
	}
	return out
}()

// Record is the log record of a journaled event: timestamp the event's
// time, observed time now, body its message (or its kind), every non-empty
// field an attribute under its JSON name, and event.id.
func Record(r journal.Row, now time.Time) log.Record {
	e := &r.Event
	var rec log.Record
	if !e.Time.IsZero() {
		rec.SetTimestamp(e.Time)
	}
	rec.SetObservedTimestamp(now)
	sev, text := severity(e)
	rec.SetSeverity(sev)
	rec.SetSeverityText(text)
	body := e.Message
	if body == "" {
		body = string(e.Kind)
	}
	rec.SetBody(attribute.StringValue(body))
	attrs := make([]attribute.KeyValue, 0, 16)
	v := reflect.ValueOf(e).Elem()
	for _, f := range fields {
		fv := v.Field(f.index)
		switch fv.Kind() {
		case reflect.String:
			if s := fv.String(); s != "" {
				attrs = append(attrs, attribute.String(f.name, s))
			}
		case reflect.Bool:
			if b := fv.Bool(); b || !f.omitEmpty {
				attrs = append(attrs, attribute.Bool(f.name, b))
			}
		}
	}
	id := EventID(r)
	attrs = append(attrs, attribute.String("event.id", id), attribute.String("log.record.uid", id))
	rec.AddAttributes(attrs...)
	return rec
}

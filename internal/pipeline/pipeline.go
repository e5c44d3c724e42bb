// Package pipeline connects the stages every audit fact goes through, from
// either source, to the sink:
//
//	syslog record -> reassembly -> detect --\
//	                                         +-> normalize -> login join -> dedup -> console ledger -> sink
//	vCenter event (collector/vcenter) ------/
//
// The console ledger (package console) gives guest events their VM and
// adds the console_session_reused events it derives.
//
// It implements the syslog source's Handler (Skip, Process) and audit.Sink
// (Record), so that the SSO/vCenter login join and the de-duplication
// span both sources.
package pipeline

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/console"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/dedup"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/detect"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/labels"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/reassembly"
)

// Options configure a Pipeline.
type Options struct {
	Reassembly reassembly.Options
	// DedupWindow: see package dedup (default 5s).
	DedupWindow time.Duration
	// Classifier defaults to the built-in rule tables.
	Classifier *detect.Classifier
	// Registerer, when set, gets the pipeline's own metrics (what waits in
	// reassembly and why it left).
	Registerer prometheus.Registerer
	// Now is the wall clock of the login join's hold (default time.Now).
	Now func() time.Time
	// VCenters are the addresses vCenter's vpxuser comes from; a vpxuser
	// login from any other is direct (audit.VCenterAddrs.JudgeVpxuser).
	VCenters audit.VCenterAddrs
	// Console configures the console ledger (its Now defaults to Now).
	Console console.Options
}

// Pipeline is safe for concurrent use.
type Pipeline struct {
	sink  audit.Sink
	cls   *detect.Classifier
	asm   *reassembly.Assembler
	dedup *dedup.Filter
	join  *LoginJoin
	cons  *console.Correlator
	vcs   audit.VCenterAddrs
	pool  sync.Pool
}

// New returns a pipeline that records events into sink.
func New(o Options, sink audit.Sink) *Pipeline {
	p := &Pipeline{sink: sink, cls: o.Classifier, dedup: dedup.New(o.DedupWindow, 0), vcs: o.VCenters}
	if p.cls == nil {
		p.cls = detect.MustNew()
	}
	if o.Reassembly.Hold == nil {
		o.Reassembly.Hold = p.cls.NeedsContinuation
	}
	var asm *reassembly.Assembler // set below; the gauges read it at scrape time
	if o.Registerer != nil {
		released := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: labels.Namespace, Subsystem: "syslog", Name: "reassembly_released_total",
			Help: releasedHelp},
			[]string{"program", "reason"})
		pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: labels.Namespace, Subsystem: "syslog", Name: "reassembly_pending_messages",
			Help: "Messages waiting in reassembly for their remaining parts or lines."}, func() float64 { return float64(asm.Pending()) })
		pendingBytes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: labels.Namespace, Subsystem: "syslog", Name: "reassembly_pending_bytes",
			Help: "Bytes of message text waiting in reassembly."}, func() float64 { return float64(asm.PendingBytes()) })
		o.Registerer.MustRegister(released, pending, pendingBytes)
		progs := newProgramLabels(maxReassemblyPrograms)
		prev := o.Reassembly.OnRelease
		o.Reassembly.OnRelease = func(program string, why reassembly.Reason) {
			if prev != nil {
				prev(program, why)
			}
			released.WithLabelValues(progs.label(program), why.String()).Inc()
		}
	}
	if o.Console.Now == nil {
		o.Console.Now = o.Now
	}
	p.cons = console.New(o.Console, sink.Record)
	p.join = newLoginJoin(audit.LoginJoinWindow, 4096, o.Now, p.emit)
	asm = reassembly.New(o.Reassembly, p.classify)
	p.asm = asm
	p.pool.New = func() any { s := make([]audit.Event, 0, 4); return &s }
	return p
}

// Skip reports whether a raw message can be dropped unparsed: its header
// has a common form (logline.Peek) and no rule could match its body, while
// no split message waits for a continuation. host is the peeked sender; it
// aliases line.
func (p *Pipeline) Skip(line []byte) (host string, skip bool) {
	if p.Holding() {
		return "", false
	}
	return p.Skippable(line)
}

// Skippable is Skip without the reassembly check, which Holding makes
// (syslog.SplitHandler): whether line could be dropped unparsed judged on
// line alone.
func (p *Pipeline) Skippable(line []byte) (host string, skip bool) {
	pk, ok := logline.Peek(line)
	if !ok {
		return "", false
	}
	return pk.Host, !p.cls.Candidate(pk.Program, pk.SDID, pk.Body)
}

// Holding reports that a split message waits for a continuation: no
// message may be skipped unparsed now.
func (p *Pipeline) Holding() bool { return p.asm.Pending() > 0 }

// Process takes one parsed record.
func (p *Pipeline) Process(rec *logline.Record) { p.asm.Add(rec) }

// Flush releases everything still held (end of input, shutdown): messages
// waiting for continuation lines, then logins waiting for their partner,
// then console openings waiting for their login window.
func (p *Pipeline) Flush() {
	p.asm.Flush()
	p.join.Flush()
	p.cons.Flush()
}

// Run expires waiting messages and logins every interval until done is
// closed. The caller flushes once every source has stopped.
func (p *Pipeline) Run(done <-chan struct{}, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			p.asm.Expire()
			p.join.Tick()
			p.cons.Tick()
		}
	}
}

func (p *Pipeline) classify(rec *logline.Record) {
	bufp := p.pool.Get().(*[]audit.Event)
	evs := p.cls.Classify(rec, (*bufp)[:0])
	for i := range evs {
		p.record(&evs[i])
	}
	clear(evs)
	*bufp = evs[:0]
	p.pool.Put(bufp)
}

// RestoreConsole gives the console ledger a guest event read back from the
// journal at start (console.Correlator.Restore).
func (p *Pipeline) RestoreConsole(e audit.Event) { p.cons.Restore(e) }

// Mark calls fn once every event recorded before it has reached the sink
// (the login join may hold one for up to its window): a source saves its
// checkpoint this way, so that it never covers an event the sink lacks.
func (p *Pipeline) Mark(fn func()) { p.join.Mark(fn) }

// Record passes an event from any source through the shared policy, the
// login join and de-duplication to the sink.
func (p *Pipeline) Record(e audit.Event) { p.record(&e) }

// record is Record by pointer: e is changed on its way (normalized,
// judged, joined) rather than copied at every stage.
func (p *Pipeline) record(e *audit.Event) {
	audit.Normalize(e)
	p.vcs.JudgeVpxuser(e)
	p.join.add(e)
}

func (p *Pipeline) emit(e *audit.Event) {
	if !p.dedup.Allow(e) {
		return
	}
	p.cons.Observe(e)
	p.sink.Record(*e)
}

// releasedHelp is the help of vsphere_audit_syslog_reassembly_released_total.
var releasedHelp = "Messages that waited in reassembly (split vCenter events, multi-line hostd messages), by program and why they left: complete, or incomplete by timeout, evicted (to respect the memory bound), restarted (the first part came again) or flushed (shutdown). The program label keeps the first " + strconv.Itoa(maxReassemblyPrograms) + " programs seen; later ones are \"" + labels.Overflow + "\"."

// maxReassemblyPrograms bounds the program label of the reassembly metrics.
// Only hostd holds multi-line messages and vpxd splits events; any sender
// may claim a program, though.
const maxReassemblyPrograms = 16

// programLabels bounds a program label: the first max programs seen keep
// their (cleaned) name, later ones share labels.Overflow.
type programLabels struct {
	max  int
	mu   sync.Mutex
	seen map[string]struct{}
}

func newProgramLabels(max int) *programLabels {
	return &programLabels{max: max, seen: map[string]struct{}{}}
}

func (l *programLabels) label(program string) string {
	v := labels.Clean(program, labels.DefaultMaxLabelLen)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[v]; ok {
		return v
	}
	if len(l.seen) >= l.max {
		return labels.Overflow
	}
	l.seen[v] = struct{}{}
	return v
}

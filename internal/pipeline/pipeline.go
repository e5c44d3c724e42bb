// Package pipeline connects the stages every syslog message goes through:
// reassembly, classification by the rule tables, the vCenter client-IP
// join, de-duplication, and finally the sink.
//
//	record -> reassembly -> rules -> clientip join -> dedup -> sink
package pipeline

import (
	"strings"
	"sync"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/dedup"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/reassembly"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/rules"
)

// Options configure a Pipeline.
type Options struct {
	Reassembly reassembly.Options
	// DedupWindow: see package dedup (default 5s).
	DedupWindow time.Duration
	// Classifier defaults to the built-in rule tables.
	Classifier *rules.Classifier
}

// Pipeline is safe for concurrent use.
type Pipeline struct {
	sink  audit.Sink
	cls   *rules.Classifier
	asm   *reassembly.Assembler
	dedup *dedup.Filter
	join  *ClientIPJoin
	pool  sync.Pool
}

// New returns a pipeline that records events into sink.
func New(o Options, sink audit.Sink) *Pipeline {
	p := &Pipeline{sink: sink, cls: o.Classifier, dedup: dedup.New(o.DedupWindow, 0), join: NewClientIPJoin(2*time.Minute, 4096)}
	if p.cls == nil {
		p.cls = rules.New()
	}
	if o.Reassembly.Hold == nil {
		o.Reassembly.Hold = p.cls.NeedsContinuation
	}
	p.asm = reassembly.New(o.Reassembly, p.classify)
	p.pool.New = func() any { s := make([]audit.Event, 0, 4); return &s }
	return p
}

// Skip reports whether a raw message can be dropped unparsed: its header
// has a common form (logline.Peek) and no rule could match its body, while
// no split message waits for a continuation. host is the peeked sender; it
// aliases line.
func (p *Pipeline) Skip(line []byte) (host string, skip bool) {
	pk, ok := logline.Peek(line)
	if !ok || p.asm.Pending() > 0 {
		return "", false
	}
	return pk.Host, !p.cls.Candidate(pk.Program, pk.Body)
}

// Process takes one parsed record.
func (p *Pipeline) Process(rec *logline.Record) { p.asm.Add(rec) }

// Flush releases every message still waiting for continuation lines (end of input).
func (p *Pipeline) Flush() { p.asm.Flush() }

// Run expires waiting messages every interval until done is closed.
func (p *Pipeline) Run(done <-chan struct{}, interval time.Duration) { p.asm.Run(done, interval) }

func (p *Pipeline) classify(rec *logline.Record) {
	bufp := p.pool.Get().(*[]audit.Event)
	evs := p.cls.Classify(rec, (*bufp)[:0])
	for i := range evs {
		p.Record(evs[i])
	}
	clear(evs)
	*bufp = evs[:0]
	p.pool.Put(bufp)
}

// Record passes an event from any source through the join and
// de-duplication to the sink.
func (p *Pipeline) Record(e audit.Event) {
	p.join.Apply(&e)
	if !p.dedup.Allow(&e) {
		return
	}
	p.sink.Record(e)
}

// ClientIPJoin gives a vCenter login that reports 127.0.0.1 (a vSphere
// Client session: the UI service logs in locally) the real client address
// that SSO recorded for the same user shortly before.
type ClientIPJoin struct {
	mu     sync.Mutex
	window time.Duration
	max    int
	m      map[string]ssoLogin
}

type ssoLogin struct {
	ip string
	t  time.Time
}

// NewClientIPJoin remembers up to max SSO logins for window.
func NewClientIPJoin(window time.Duration, max int) *ClientIPJoin {
	return &ClientIPJoin{window: window, max: max, m: map[string]ssoLogin{}}
}

// Apply records SSO logins and fixes loopback vCenter logins.
func (j *ClientIPJoin) Apply(e *audit.Event) {
	if e.Kind != audit.KindLogin {
		return
	}
	switch e.Method {
	case audit.MethodSSO:
		if e.ClientIP == "" || rules.IsLoopback(e.ClientIP) {
			return
		}
		j.mu.Lock()
		if len(j.m) >= j.max {
			j.m = map[string]ssoLogin{}
		}
		j.m[UserKey(e.User)] = ssoLogin{e.ClientIP, e.Time}
		j.mu.Unlock()
	case audit.MethodVCenter:
		if !rules.IsLoopback(e.ClientIP) {
			return
		}
		j.mu.Lock()
		l, ok := j.m[UserKey(e.User)]
		j.mu.Unlock()
		if ok {
			d := e.Time.Sub(l.t)
			if d < 0 {
				d = -d
			}
			if d <= j.window {
				e.ClientIP = l.ip
			}
		}
	}
}

// UserKey reduces "DOMAIN\user", "user@domain" and "user" to "user", lower case.
func UserKey(u string) string {
	if i := strings.LastIndexByte(u, '\\'); i >= 0 {
		u = u[i+1:]
	}
	if i := strings.IndexByte(u, '@'); i >= 0 {
		u = u[:i]
	}
	return strings.ToLower(u)
}

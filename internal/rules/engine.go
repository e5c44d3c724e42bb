// Package rules turns parsed log records into audit events. Detections live
// in one table of rules per program (hostd.go, sshd.go, vobd.go, shell.go,
// vpxd.go, sso.go): a new detection is one Rule entry plus one testdata line.
//
// Every rule first applies cheap literal checks (ID, Prefix, Contains) so
// that the noise that makes up most of a log stream is rejected before any
// regular expression runs.
package rules

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"sync"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
)

// MaxMessage bounds the Message field copied into an event.
const MaxMessage = 1024

// Rule is one detection.
type Rule struct {
	Name string
	Kind audit.Kind

	// Cheap literal filters, all optional, checked in this order.
	ID       string // the table's Prepare step set Input.ID to exactly this (vob id, vCenter event class)
	Prefix   string // Input.Text starts with this
	Contains string // Input.Text contains this

	// Re, when set, must match Input.Text. Named groups fill the event
	// field of the same JSON name (user, client_ip, vm, source_host,
	// target_host, service, ticket_type, setting, command, host).
	Re *regexp.Regexp
	// Pattern, when set, must match Input.Text: literal text with {field}
	// captures ("User {user}@{client_ip} logged in"), cheaper than Re. A
	// capture is a run without spaces up to the next literal.
	Pattern string

	// Constant fields.
	Method, Service, TicketType, Setting, User string

	// Fn may adjust the event; returning false drops it.
	Fn func(in *Input, e *audit.Event) bool

	// Continue lets later rules of the table match the same record too
	// (a shell command that is also a config change).
	Continue bool

	// MultiLine marks a rule whose text arrives over several lines: a
	// record starting with its Prefix waits for its continuation lines
	// before it is classified (see NeedsContinuation).
	MultiLine bool

	groups   []string
	pat      *pattern
	fullName string // "table/rule"
}

// Input is what rules see of a record after the table's Prepare step.
type Input struct {
	Rec  *logline.Record
	Text string // the text rules match against (Body, possibly trimmed)
	ID   string // an identifier extracted by Prepare (vob id, event class)
	// Host, when set, overrides the record's host (a vCenter event about an ESXi host).
	Host string
	// Reporter distinguishes several reports of the same fact by the same
	// rule (vobd's correlators), for de-duplication.
	Reporter string
	// EventID is the sender's id of the record, when it has one.
	EventID string
	// Fields extracted by Prepare: User and ClientIP become the event's
	// unless a rule sets them; Target and Extra are for Fn.
	User, ClientIP, Target, Extra string
}

// Table is the rule table of one program.
type Table struct {
	Name string
	// Programs are the normalized program names the table applies to.
	Programs []string
	// Sniff, when set, lets the table claim records whose program has no
	// table (bare message parts, vCenter files forwarded under other tags).
	Sniff func(text string) bool
	// Prepare, when set, extracts Input.ID and friends; false skips the table.
	Prepare func(in *Input) bool
	Rules   []Rule

	// The quick filter (Candidate) accepts a message for this table when
	// its body starts with a rule's Prefix or one of Prefixes, or contains
	// a rule's Contains (for rules without Prefix) or one of Contains. A
	// table with a rule that has no literal at all, and no declared
	// literals, or with Always set, accepts every message.
	Prefixes, Contains []string
	Always             bool

	byID  map[string][]int
	plain []int
	quick quickFilter
}

type quickFilter struct {
	always   bool
	prefixes []string
	byFirst  [256][]string // prefixes by their first byte
	contains []string
}

func (q *quickFilter) accept(body string) bool {
	if q.always {
		return true
	}
	if q.hasPrefix(body) {
		return true
	}
	if stripped := stripEventNumber(body); len(stripped) != len(body) && q.hasPrefix(stripped) {
		return true
	}
	for _, c := range q.contains {
		if strings.Contains(body, c) {
			return true
		}
	}
	return false
}

func (q *quickFilter) hasPrefix(s string) bool {
	if s == "" {
		return false
	}
	for _, p := range q.byFirst[s[0]] {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// stripEventNumber drops hostd's "Event 123 : ".
func stripEventNumber(s string) string {
	if strings.HasPrefix(s, "Event ") {
		if i := strings.Index(s, " : "); i > 6 && i < 20 {
			return s[i+3:]
		}
	}
	return s
}

func (t *Table) buildQuick() {
	q := quickFilter{always: t.Always, prefixes: append([]string(nil), t.Prefixes...), contains: append([]string(nil), t.Contains...)}
	declared := len(t.Prefixes)+len(t.Contains) > 0
	for _, r := range t.Rules {
		switch {
		case r.Prefix != "":
			q.prefixes = append(q.prefixes, r.Prefix)
		case r.Contains != "":
			q.contains = append(q.contains, r.Contains)
		case r.ID != "" && t.Prepare != nil:
			// Dispatch by ID: the table's declared literals must cover it.
			if !declared {
				q.always = true
			}
		default:
			if !declared {
				q.always = true
			}
		}
	}
	for _, p := range q.prefixes {
		if p == "" {
			q.always = true
			continue
		}
		q.byFirst[p[0]] = append(q.byFirst[p[0]], p)
	}
	t.quick = q
}

// Classifier applies the rule tables. It is safe for concurrent use.
type Classifier struct {
	byProgram map[string][]*Table
	multiLine map[string][]string // program -> prefixes of MultiLine rules
	sniffers  []*Table
}

// New builds a classifier from tables (Default() when none are given).
func New(tables ...*Table) *Classifier {
	if len(tables) == 0 {
		tables = Default()
	}
	c := &Classifier{byProgram: map[string][]*Table{}, multiLine: map[string][]string{}}
	for _, t := range tables {
		t.byID = map[string][]int{}
		t.plain = t.plain[:0]
		for i := range t.Rules {
			r := &t.Rules[i]
			if r.Re != nil {
				r.groups = r.Re.SubexpNames()
			}
			r.fullName = t.Name + "/" + r.Name
			if r.Pattern != "" {
				pat, err := compilePattern(r.Pattern)
				if err != nil {
					panic(fmt.Sprintf("rule %s: %v", r.fullName, err))
				}
				r.pat = pat
				if r.Prefix == "" {
					r.Prefix = pat.lits[0]
				}
			}
			if r.MultiLine {
				for _, p := range t.Programs {
					c.multiLine[p] = append(c.multiLine[p], r.Prefix)
				}
			}
			if r.ID != "" {
				t.byID[r.ID] = append(t.byID[r.ID], i)
			} else {
				t.plain = append(t.plain, i)
			}
		}
		for _, p := range t.Programs {
			c.byProgram[p] = append(c.byProgram[p], t)
		}
		if t.Sniff != nil {
			c.sniffers = append(c.sniffers, t)
		}
		t.buildQuick()
	}
	return c
}

// Candidate reports whether a message of program (as sent, any case) with
// this body could produce an event. It allocates nothing and runs no
// regular expression: most of a log stream is rejected here, before it is
// parsed in full.
func (c *Classifier) Candidate(program, body string) bool {
	// Lower-case the tag on the stack: a map lookup with string(b[:n])
	// does not allocate.
	var b [48]byte
	if len(program) > len(b) {
		return true
	}
	n := copy(b[:], program)
	for i := 0; i < n; i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	if tables, ok := c.byProgram[string(b[:n])]; ok {
		for _, t := range tables {
			if t.quick.accept(body) {
				return true
			}
		}
		return false
	}
	if quietPrograms[string(b[:n])] {
		return false
	}
	for _, t := range c.sniffers {
		if t.Sniff(body) {
			return true
		}
	}
	return false
}

// QuietPrograms are ESXi programs that never log audit activity; their
// messages skip even the content sniffers that look for vCenter lines
// forwarded under unexpected tags.
var QuietPrograms = []string{"vmkernel", "vpxa", "rhttpproxy", "crond", "vsanmgmtd", "healthd", "usbarb",
	"vmkwarning", "fdm", "sfcb-vmware_base", "sfcbd", "storagerm", "hostd-probe", "lwsmd", "netcpa"}

var quietPrograms = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range QuietPrograms {
		m[strings.ToLower(p)] = true
	}
	return m
}()

// Default returns the built-in rule tables.
func Default() []*Table {
	return []*Table{hostdTable(), sshdTable(), sshInitTable(), esxShellTable(), loginTable(),
		shellTable(), vobdTable(), vpxdTable(), ssoJSONTable(), ssoFileTable(), authzTable()}
}

// Classify appends the events found in rec to out. Continuation lines never
// produce events of their own.
func (c *Classifier) Classify(rec *logline.Record, out []audit.Event) []audit.Event {
	if rec.Continuation || rec.Body == "" && rec.SDID == "" {
		return out
	}
	tables := c.byProgram[rec.Program]
	if tables == nil {
		for _, t := range c.sniffers {
			if t.Sniff(rec.Body) {
				tables = []*Table{t}
				break
			}
		}
	}
	in := inputPool.Get().(*Input)
	defer inputPool.Put(in)
	for _, t := range tables {
		*in = Input{Rec: rec, Text: rec.Body}
		if t.Prepare != nil && !t.Prepare(in) {
			continue
		}
		n := len(out)
		if in.ID != "" {
			out = c.apply(t, t.byID[in.ID], in, out)
		}
		if len(out) == n {
			out = c.apply(t, t.plain, in, out)
		}
		if len(out) > n {
			break
		}
	}
	*in = Input{}
	return out
}

var inputPool = sync.Pool{New: func() any { return new(Input) }}

func (c *Classifier) apply(t *Table, idx []int, in *Input, out []audit.Event) []audit.Event {
	for _, i := range idx {
		r := &t.Rules[i]
		if r.Prefix != "" && !strings.HasPrefix(in.Text, r.Prefix) {
			continue
		}
		if r.Contains != "" && !strings.Contains(in.Text, r.Contains) {
			continue
		}
		var pv [4]string
		if r.pat != nil && !r.pat.match(in.Text, pv[:len(r.pat.caps)]) {
			continue
		}
		var m []string
		if r.Re != nil {
			m = r.Re.FindStringSubmatch(in.Text)
			if m == nil {
				continue
			}
		}
		// The event is built in place in out, so that it does not escape.
		out = append(out, audit.Event{
			Time:       in.Rec.Time,
			Source:     audit.SourceSyslog,
			Host:       in.Rec.Host,
			Kind:       r.Kind,
			Method:     r.Method,
			Service:    r.Service,
			TicketType: r.TicketType,
			Setting:    r.Setting,
			User:       r.User,
			Rule:       r.fullName,
			OpID:       in.Rec.Param("opID"),
		})
		e := &out[len(out)-1]
		e.Reporter = e.Rule
		if in.EventID != "" {
			e.EventID = t.Name + ":" + in.EventID
		}
		if in.Reporter != "" {
			e.Reporter += "/" + in.Reporter
		}
		if in.Host != "" {
			e.Host = in.Host
		}
		if in.User != "" && e.User == "" {
			e.User = in.User
		}
		if in.ClientIP != "" {
			e.ClientIP = in.ClientIP
		}
		if r.pat != nil {
			for i, name := range r.pat.caps {
				setField(e, name, pv[i])
			}
		}
		for gi, name := range r.groups {
			if name != "" && gi < len(m) && m[gi] != "" {
				setField(e, name, m[gi])
			}
		}
		if r.Fn != nil && !r.Fn(in, e) {
			out = out[:len(out)-1]
			continue
		}
		Finish(e, in.Rec)
		if len(in.Text) > MaxMessage {
			e.Message = in.Text[:MaxMessage]
		} else {
			e.Message = in.Text
		}
		if !r.Continue {
			break
		}
	}
	return out
}

func setField(e *audit.Event, name, v string) {
	switch name {
	case "user":
		e.User = v
	case "client_ip":
		e.ClientIP = v
	case "vm":
		e.VM = v
	case "source_host":
		e.SourceHost = v
	case "target_host":
		e.TargetHost = v
	case "service":
		e.Service = v
	case "ticket_type":
		e.TicketType = v
	case "setting":
		e.Setting = v
	case "command":
		e.Command = v
	case "host":
		e.Host = v
	}
}

// Finish applies the rules every source shares: the user taken from the
// record's structured data when the line itself names none, the outcome,
// and whether a login is direct. The vCenter collector calls it too.
func Finish(e *audit.Event, rec *logline.Record) {
	if e.User == "" && rec != nil {
		if u := rec.Param("user"); u != "" {
			e.User = u
		}
	}
	e.User = CleanUser(e.User)
	e.ClientIP = cleanIP(e.ClientIP)
	if e.Outcome == "" {
		switch e.Kind {
		case audit.KindLoginFailed:
			e.Outcome = audit.OutcomeFailure
		default:
			e.Outcome = audit.OutcomeSuccess
		}
	}
	e.Direct = IsDirect(e)
}

// CleanUser strips the "vpxuser:" prefix ESXi puts before the vCenter user
// acting through vCenter's account, and the quotes some messages use.
func CleanUser(u string) string {
	u = strings.Trim(u, `'"`)
	if rest, ok := strings.CutPrefix(u, "vpxuser:"); ok && rest != "" {
		return rest
	}
	return u
}

func cleanIP(ip string) string {
	ip = strings.Trim(ip, `'".,[]`)
	if i := strings.LastIndexByte(ip, '%'); i > 0 { // fe80::1%5
		ip = ip[:i]
	}
	return ip
}

// IsInternalUser reports whether u is vCenter's own account on a host
// (vpxuser) or the host's internal console session (dcui).
func IsInternalUser(u string) bool {
	return u == "vpxuser" || strings.HasPrefix(u, "vpxuser:") || u == "dcui"
}

// IsLoopback reports whether ip is a loopback address (local tooling on the host).
func IsLoopback(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && a.IsLoopback()
}

// IsDirect reports whether e is a successful login to an ESXi host that did
// not go through vCenter: a login by hostd, SSH or DCUI by anyone but
// vCenter's vpxuser and the host's own dcui session, and not from local
// tooling at 127.0.0.1.
func IsDirect(e *audit.Event) bool {
	if e.Kind != audit.KindLogin || e.Outcome == audit.OutcomeFailure {
		return false
	}
	switch e.Method {
	case audit.MethodHostd, audit.MethodSSH, audit.MethodDCUI:
	default:
		return false
	}
	if IsInternalUser(e.User) {
		return false
	}
	if e.Method != audit.MethodDCUI && IsLoopback(e.ClientIP) {
		return false
	}
	return true
}

// NeedsContinuation reports whether rec starts a multi-line message whose
// classification needs its continuation lines: a rule marked MultiLine
// (hostd's VmkVprobSource dump of a VOB event).
func (c *Classifier) NeedsContinuation(rec *logline.Record) bool {
	for _, p := range c.multiLine[rec.Program] {
		if strings.HasPrefix(rec.Body, p) {
			return true
		}
	}
	return false
}

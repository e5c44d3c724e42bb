// Package rules turns parsed log records into audit events. Detections live
// in one table of rules per program (hostd.go, sshd.go, vobd.go, shell.go,
// vpxd.go, sso.go): a new detection is one Rule entry plus one testdata line.
//
// Every rule first applies cheap literal checks (ID, Prefix, Contains) so
// that the noise that makes up most of a log stream is rejected before any
// regular expression runs.
package detect

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
)

// MaxMessage bounds the Message field copied into an event.
const MaxMessage = 1024

// Rule is one detection.
type Rule struct {
	Name string
	Kind audit.Kind

	// Cheap literal filters, all optional, checked in this order.
	ID       string   // the table's Prepare step set Input.ID to exactly this (vob id, vCenter event class)
	Prefix   string   // Input.Text starts with this
	Prefixes []string // Input.Text starts with one of these
	Contains string   // Input.Text contains this

	// Re, when set, must match Input.Text. Named groups fill the event
	// field of the same JSON name (user, client_ip, vm, source_host,
	// target_host, service, ticket_type, setting, command, host).
	Re *regexp.Regexp
	// Pattern, when set, must match Input.Text: literal text with {field}
	// captures ("User {user}@{client_ip} logged in"), cheaper than Re. A
	// capture is a run without spaces up to the next literal; a pattern
	// has at most MaxCaptures of them.
	Pattern string

	// Constant fields.
	Method, Service, TicketType, Setting, User, Action string

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
	// its body starts with a rule's Prefix or Prefixes or one of the
	// table's Prefixes, or contains a rule's Contains (for rules without
	// Prefix) or one of the table's Contains; with Always, every message.
	//
	// The table's Prefixes and Contains are the gate of its Prepare step:
	// rules that dispatch by ID or decide in Fn alone sit behind it. A rule
	// with its own Re or Pattern must carry its own literal (Prefix,
	// Prefixes, Contains, or a Pattern, whose text up to its first capture
	// is its Prefix) unless the table is Always; a table without a gate
	// must be Always to hold a rule with no literal at all.
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
	// lead, when set, is a prefix every one of contains starts with:
	// accept looks for it, and for the needles only where it occurs.
	lead string
}

// minLead is the shortest shared prefix of the contains needles worth
// looking for first.
const minLead = 4

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
	return q.containsAny(body)
}

// containsAny reports whether body contains one of q.contains. Every
// occurrence of a needle is an occurrence of q.lead: with several needles
// one search for the lead does the work of one search per needle.
func (q *quickFilter) containsAny(body string) bool {
	if q.lead == "" {
		for _, c := range q.contains {
			if strings.Contains(body, c) {
				return true
			}
		}
		return false
	}
	for i := 0; ; i++ {
		j := strings.Index(body[i:], q.lead)
		if j < 0 {
			return false
		}
		i += j
		for _, c := range q.contains {
			if strings.HasPrefix(body[i:], c) {
				return true
			}
		}
	}
}

// commonPrefix is the longest prefix the strings of ss share.
func commonPrefix(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	p := ss[0]
	for _, s := range ss[1:] {
		n := 0
		for n < len(p) && n < len(s) && p[n] == s[n] {
			n++
		}
		p = p[:n]
	}
	return p
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
	if i := eventNumberEnd(s); i >= 0 {
		return s[i+3:]
	}
	return s
}

// eventNumberEnd returns the index of the " : " that ends hostd's
// "Event 123 : ", or -1: the first " : " of s when it lies at 7 to 19.
func eventNumberEnd(s string) int {
	if !strings.HasPrefix(s, "Event ") {
		return -1
	}
	// A first " : " at 19 or before lies within s[:22]: search no further.
	if i := strings.Index(s[:min(len(s), 22)], " : "); i > 6 && i < 20 {
		return i
	}
	return -1
}

func (t *Table) buildQuick() {
	q := quickFilter{always: t.Always, prefixes: append([]string(nil), t.Prefixes...), contains: append([]string(nil), t.Contains...)}
	for _, r := range t.Rules {
		switch {
		case r.Prefix != "":
			q.prefixes = append(q.prefixes, r.Prefix)
		case len(r.Prefixes) > 0:
			q.prefixes = append(q.prefixes, r.Prefixes...)
		case r.Contains != "":
			q.contains = append(q.contains, r.Contains)
		}
	}
	for _, p := range q.prefixes {
		if p == "" {
			q.always = true
			continue
		}
		q.byFirst[p[0]] = append(q.byFirst[p[0]], p)
	}
	if lead := commonPrefix(q.contains); len(q.contains) > 1 && len(lead) >= minLead {
		q.lead = lead
	}
	t.quick = q
}

// MaxCaptures is the most captures a Pattern may have.
const MaxCaptures = 4

// check builds rule r of table t and reports what is wrong with it.
func (t *Table) check(r *Rule, kinds map[audit.Kind]bool) error {
	if r.Name == "" {
		return errors.New("a rule has no Name")
	}
	if r.Kind == "" && r.Fn == nil {
		return errors.New("no Kind and no Fn to set one")
	}
	if r.Kind != "" && !kinds[r.Kind] {
		return fmt.Errorf("unknown kind %q", r.Kind)
	}
	if r.Re != nil {
		for _, g := range r.Re.SubexpNames() {
			if g != "" && !audit.IsField(g) {
				return fmt.Errorf("group %q of Re is not an event field (%s); make it (?:...)", g, strings.Join(audit.Fields, ", "))
			}
		}
		r.groups = r.Re.SubexpNames()
	}
	if r.Pattern != "" {
		pat, err := compilePattern(r.Pattern)
		if err != nil {
			return err
		}
		if len(pat.caps) > MaxCaptures {
			return fmt.Errorf("pattern %q has %d captures, at most %d", r.Pattern, len(pat.caps), MaxCaptures)
		}
		for _, c := range pat.caps {
			if !audit.IsField(c) {
				return fmt.Errorf("pattern %q: capture {%s} is not an event field (%s)", r.Pattern, c, strings.Join(audit.Fields, ", "))
			}
		}
		if pat.lits[0] == "" {
			return fmt.Errorf("pattern %q starts with a capture: the quick filter needs a literal prefix", r.Pattern)
		}
		if r.Prefix != "" && !strings.HasPrefix(pat.lits[0], r.Prefix) {
			return fmt.Errorf("the Prefix %q is not the start of pattern %q", r.Prefix, r.Pattern)
		}
		r.pat = pat
		if r.Prefix == "" {
			r.Prefix = pat.lits[0]
		}
	}
	if r.ID != "" && t.Prepare == nil {
		return errors.New("ID is set but the table has no Prepare step to extract one")
	}
	if r.MultiLine && r.Prefix == "" {
		return errors.New("a MultiLine rule needs a Prefix (the start of the message that waits for its continuation)")
	}
	own := r.Prefix != "" || len(r.Prefixes) > 0 || r.Contains != ""
	gated := len(t.Prefixes)+len(t.Contains) > 0
	switch {
	case own || t.Always:
	case r.Re != nil:
		return errors.New("a Re without a Prefix, Prefixes or Contains: the quick filter would drop its lines (give it a literal, or mark the table Always)")
	case !gated:
		return errors.New("no literal (Prefix, Prefixes, Contains) and the table has no Prefixes/Contains gate: the quick filter would drop its lines (or mark the table Always)")
	}
	return nil
}

// Classifier applies the rule tables. It is safe for concurrent use.
type Classifier struct {
	byProgram map[string][]*Table
	// programs is what Candidate looks up: the tables of a program, or
	// quiet for one of QuietPrograms that has none.
	programs  programIndex
	multiLine map[string][]string // program -> prefixes of MultiLine rules
	sniffers  []*Table
}

// New builds a classifier from tables (Default() when none are given). A
// table that breaks the contract (see Table) is an error naming the table
// and the rule.
func New(tables ...*Table) (*Classifier, error) {
	if len(tables) == 0 {
		tables = Default()
	}
	kinds := map[audit.Kind]bool{}
	for _, k := range audit.Kinds {
		kinds[k] = true
	}
	c := &Classifier{byProgram: map[string][]*Table{}, multiLine: map[string][]string{}}
	names := map[string]bool{}
	for _, t := range tables {
		if t.Name == "" {
			return nil, errors.New("detect: a table has no Name")
		}
		if len(t.Programs) == 0 && t.Sniff == nil {
			return nil, fmt.Errorf("detect: table %s: no Programs and no Sniff: nothing reaches it", t.Name)
		}
		t.byID = map[string][]int{}
		t.plain = t.plain[:0]
		for i := range t.Rules {
			r := &t.Rules[i]
			r.fullName = t.Name + "/" + r.Name
			if err := t.check(r, kinds); err != nil {
				return nil, fmt.Errorf("detect: rule %s: %w", r.fullName, err)
			}
			if names[r.fullName] {
				return nil, fmt.Errorf("detect: rule %s: listed twice", r.fullName)
			}
			names[r.fullName] = true
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
	for p := range quietPrograms {
		if _, has := c.byProgram[p]; !has {
			c.programs.add(p, programTables{quiet: true})
		}
	}
	for p, tables := range c.byProgram {
		c.programs.add(p, programTables{tables: tables})
	}
	return c, nil
}

type programTables struct {
	tables []*Table
	quiet  bool
}

// programIndex finds a program's tables by its first byte and then its
// name: Candidate looks up every line's program, and a few dozen names
// compare faster this way than they hash.
type programIndex struct {
	byFirst [256][]programEntry
}

type programEntry struct {
	name string
	pt   programTables
}

func (x *programIndex) add(name string, pt programTables) {
	if name == "" {
		return
	}
	x.byFirst[name[0]] = append(x.byFirst[name[0]], programEntry{name, pt})
}

// get returns the tables of the (lower-case) program name.
func (x *programIndex) get(name []byte) (programTables, bool) {
	if len(name) == 0 {
		return programTables{}, false
	}
	for i := range x.byFirst[name[0]] {
		if e := &x.byFirst[name[0]][i]; e.name == string(name) {
			return e.pt, true
		}
	}
	return programTables{}, false
}

// MustNew is New for the built-in tables, which tests prove sound.
func MustNew() *Classifier {
	c, err := New()
	if err != nil {
		panic(err)
	}
	return c
}

// Candidate reports whether a message of program (as sent, any case) with
// this body, whose first structured-data element is sdid ("" for none),
// could produce an event. It allocates nothing and runs no regular
// expression: most of a log stream is rejected here, before it is parsed
// in full.
func (c *Classifier) Candidate(program, sdid, body string) bool {
	if sdid != "" && IsAuditRecord(sdid) {
		return true
	}
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
	if pt, ok := c.programs.get(b[:n]); ok {
		for _, t := range pt.tables {
			if t.quick.accept(body) {
				return true
			}
		}
		return false // a quiet program has no tables
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
		shellTable(), vobdTable(), vpxdTable(), ssoJSONTable(), ssoFileTable(), authzTable(), dcuiTable(),
		guestLoginTable(), guestDisplayManagerTable(), windowsJSONTable(), snareTable()}
}

// Classify appends the events found in rec to out. Continuation lines never
// produce events of their own.
func (c *Classifier) Classify(rec *logline.Record, out []audit.Event) []audit.Event {
	if rec.Continuation || rec.Body == "" && rec.SDID == "" {
		return out
	}
	// An ESX audit record, from whichever program sent it.
	if rec.SDID != "" {
		if ar := auditRecord(rec.SDID); ar != nil {
			return classifyRecord(ar, rec, out)
		}
	}
	tables, known := c.byProgram[rec.Program]
	if !known && !quietPrograms[rec.Program] {
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
		// The quick filter the syslog server applies (Candidate), applied
		// here too: what it would drop live classifies to nothing here.
		if known && !t.quick.accept(rec.Body) {
			continue
		}
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
		if len(r.Prefixes) > 0 && !hasAnyPrefix(in.Text, r.Prefixes) {
			continue
		}
		if r.Contains != "" && !strings.Contains(in.Text, r.Contains) {
			continue
		}
		var pv [MaxCaptures]string
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
			Action:     r.Action,
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
				audit.SetField(e, name, pv[i])
			}
		}
		for gi, name := range r.groups {
			if name != "" && gi < len(m) && m[gi] != "" {
				audit.SetField(e, name, m[gi])
			}
		}
		if r.Fn != nil && !r.Fn(in, e) {
			out = out[:len(out)-1]
			continue
		}
		finish(e, in.Rec)
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

func hasAnyPrefix(s string, ps []string) bool {
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// finish takes the user from the record's structured data when the line
// itself names none, then applies the policy every source shares
// (audit.Normalize).
func finish(e *audit.Event, rec *logline.Record) {
	if e.User == "" && rec != nil {
		if u := rec.Param("user"); u != "" {
			e.User = u
		}
	}
	audit.Normalize(e)
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

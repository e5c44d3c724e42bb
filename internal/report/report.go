// Package report answers the audit question from the journal: who logged
// in where and when (direct host logins first), which sources failed to
// log in, which consoles each administrator opened, which VMs were
// migrated, how long SSH and the ESXi Shell stayed on, and which
// permissions, roles, accounts and settings changed, over a period.
//
// Build reads a *journal.Journal one query per section, each selecting only
// its kinds (the kind and time index), and returns a Report; WriteText,
// WriteCSV, WriteJSON and WriteHTML render it. Handler serves it as a web
// page (the exporter's /audit). With Options.PageSize a section holds one
// page of its rows, read with Limit and Offset, and its total from Count.
package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/journal"
)

// Layout is how the text, CSV and HTML renderers print a time: in the
// report's location, with its offset. JSON has RFC 3339 with the offset.
const Layout = "2006-01-02 15:04:05 -07:00"

// Filter selects what the report covers; zero fields select all.
type Filter struct {
	Since, Until time.Time // [Since, Until)
	User, Host   string    // Host: the host or vCenter that reported the event
	VM           string
	// Kinds restricts the report to the sections that show these kinds.
	Kinds []audit.Kind
}

// Section ids, in report order.
const (
	SectionLogins       = "logins"
	SectionFailedLogins = "failed_logins"
	SectionConsoles     = "consoles"
	SectionConsoleReuse = "console_reuse"
	SectionMigrations   = "migrations"
	SectionShell        = "shell"
	SectionChanges      = "changes"
)

// Column is one column of a section: Key names it in CSV and JSON, Title
// in text and HTML.
type Column struct {
	Key, Title string
}

type sectionDef struct {
	id, title, note string
	kinds           []audit.Kind
	cols            []Column
}

var (
	colTime = Column{"time", "Time"}
	colUser = Column{"user", "User"}
	colHost = Column{"host", "Host"}
	colIP   = Column{"client_ip", "Client IP"}
	colVM   = Column{"vm", "VM"}
)

var defs = []sectionDef{
	{id: SectionLogins, title: "Logins", note: "direct host logins first, then the rest; each newest first",
		kinds: []audit.Kind{audit.KindLogin},
		cols:  []Column{colTime, colUser, colIP, {"method", "Method"}, {"host", "Target host"}, {"direct", "Direct"}}},
	{id: SectionFailedLogins, title: "Failed logins by source", note: "most attempts first",
		kinds: []audit.Kind{audit.KindLoginFailed},
		cols:  []Column{colIP, {"users", "Users tried"}, {"count", "Count"}, {"first", "First"}, {"last", "Last"}}},
	{id: SectionConsoles, title: "Consoles", note: "opened and closed, newest first",
		kinds: []audit.Kind{audit.KindConsoleOpened, audit.KindConsoleClosed},
		cols:  []Column{colTime, {"user", "Admin"}, colVM, {"ticket_type", "Ticket type"}, colHost, {"event", "Event"}}},
	{id: SectionConsoleReuse, title: "Console sessions reused", note: "a console opened on a guest session another person left logged on, with no logon after; newest first",
		kinds: []audit.Kind{audit.KindConsoleSessionReused},
		cols:  []Column{colTime, colVM, {"user", "Opened by"}, {"session_of", "Session of"}, colHost, {"evidence", "Evidence"}}},
	{id: SectionMigrations, title: "Migrations", note: "newest first",
		kinds: []audit.Kind{audit.KindVMMigrated},
		cols:  []Column{colTime, colVM, {"user", "Who"}, {"from", "From"}, {"to", "To"}}},
	{id: SectionShell, title: "SSH and ESXi Shell enabled", note: "newest first; on until the next disable of the same service on the same host",
		kinds: []audit.Kind{audit.KindServiceEnabled, audit.KindServiceDisabled},
		cols:  []Column{{"time", "Enabled"}, colHost, {"service", "Service"}, {"user", "By"}, {"disabled", "Disabled"}, {"on_for", "On for"}}},
	{id: SectionChanges, title: "Permission, role, account and configuration changes", note: "newest first",
		kinds: []audit.Kind{audit.KindPermissionChanged, audit.KindRoleChanged, audit.KindAccountChanged, audit.KindConfigChanged,
			audit.KindLockdownEnabled, audit.KindLockdownDisabled},
		cols: []Column{colTime, colHost, colUser, {"kind", "Kind"}, {"setting", "Setting"}, {"action", "Action"}, {"value", "Value"},
			{"command", "Command"}, {"detail", "Detail"}}},
}

// Sections lists the section ids in report order.
func Sections() []string {
	ids := make([]string, len(defs))
	for i, d := range defs {
		ids[i] = d.id
	}
	return ids
}

// Kinds lists the kinds some section shows, in report order: the values
// Filter.Kinds may hold.
func Kinds() []audit.Kind {
	var ks []audit.Kind
	for _, d := range defs {
		ks = append(ks, d.kinds...)
	}
	return ks
}

// Options configure Build.
type Options struct {
	// Location is the time zone of every time in the report (default
	// time.Local).
	Location *time.Location
	// Now ends a period with no Until and the time a service that is
	// still on has been on (default time.Now).
	Now func() time.Time
	// PageSize, when set, makes each section one page of that many rows;
	// Page gives the page (from 1) of each section id, 1 when missing.
	PageSize int
	Page     map[string]int
}

// Report is the answer: its sections, in order, with their rows.
type Report struct {
	Filter    Filter
	Location  *time.Location
	Generated time.Time
	// From and To are the period covered, in Location (From is zero when
	// the filter has no Since; To is the Until or Generated).
	From, To time.Time
	Sections []*Section
}

// Section is one part of the report.
type Section struct {
	ID, Title, Note string
	Columns         []Column
	Rows            Rows
	// Total is how many rows the whole selection has; Rows is all of them,
	// or the page Page of PageSize rows.
	Total          int
	Page, PageSize int
}

// Pages is how many pages the section has (1 when not paged or empty).
func (s *Section) Pages() int {
	if s.PageSize <= 0 || s.Total <= s.PageSize {
		return 1
	}
	return (s.Total + s.PageSize - 1) / s.PageSize
}

// Row is one row of a section: its cells, one per column, as the text,
// CSV and HTML renderers print them; JSON marshals the row itself.
type Row interface {
	Cells() []string
}

// Rows are a section's rows (a slice of Login, FailedSource, Console,
// Migration, ShellWindow or Change).
type Rows interface {
	Len() int
	At(i int) Row
	// cells and widen are At(i).Cells() and At(i).(widener).widen
	// without boxing the row (false: the row is no widener).
	cells(i int) []string
	widen(i int, w []int) bool
}

type rows[T Row] []T

func (r rows[T]) Len() int             { return len(r) }
func (r rows[T]) At(i int) Row         { return r[i] }
func (r rows[T]) cells(i int) []string { return r[i].Cells() }
func (r rows[T]) widen(i int, w []int) bool {
	wr, ok := any(&r[i]).(widener) // a pointer: not boxed
	if ok {
		wr.widen(w)
	}
	return ok
}

// chain is its slices one after the other, without copying them.
type chain[T Row] []rows[T]

func (c chain[T]) Len() int {
	n := 0
	for _, r := range c {
		n += len(r)
	}
	return n
}

func (c chain[T]) At(i int) Row {
	r, k := c.find(i)
	return r[k]
}

func (c chain[T]) cells(i int) []string {
	r, k := c.find(i)
	return r.cells(k)
}

func (c chain[T]) widen(i int, w []int) bool {
	r, k := c.find(i)
	return r.widen(k, w)
}

func (c chain[T]) find(i int) (rows[T], int) {
	for _, r := range c {
		if i < len(r) {
			return r, i
		}
		i -= len(r)
	}
	panic("report: row out of range")
}

// Len is how many rows s holds.
func (s *Section) Len() int {
	if s.Rows == nil {
		return 0
	}
	return s.Rows.Len()
}

// Login is a row of the logins section.
type Login struct {
	Time     time.Time `json:"time"`
	User     string    `json:"user"`
	ClientIP string    `json:"client_ip"`
	Method   string    `json:"method"`
	Host     string    `json:"host"`
	Direct   bool      `json:"direct"`
}

func (r Login) Cells() []string {
	return []string{r.Time.Format(Layout), r.User, r.ClientIP, r.Method, r.Host, yesNo(r.Direct)}
}

// FailedSource is a row of the failed logins section: one source address.
type FailedSource struct {
	ClientIP string    `json:"client_ip"`
	Users    []string  `json:"users"`
	Count    int       `json:"count"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
}

// maxUsersShown is how many of a source's users the cells name.
const maxUsersShown = 10

func (r FailedSource) Cells() []string {
	users := strings.Join(r.Users[:min(len(r.Users), maxUsersShown)], ", ")
	if n := len(r.Users) - maxUsersShown; n > 0 {
		users += fmt.Sprintf(" (+%d more)", n)
	}
	return []string{r.ClientIP, users, fmt.Sprint(r.Count), r.First.Format(Layout), r.Last.Format(Layout)}
}

// Console is a row of the consoles section. Host is the ESXi host of the
// VM where the event names it, else the host or vCenter that reported it.
type Console struct {
	Time       time.Time `json:"time"`
	User       string    `json:"user"`
	VM         string    `json:"vm"`
	TicketType string    `json:"ticket_type"`
	Host       string    `json:"host"`
	Event      string    `json:"event"` // opened, closed
}

func (r Console) Cells() []string {
	return []string{r.Time.Format(Layout), r.User, r.VM, r.TicketType, r.Host, r.Event}
}

// ConsoleReuse is a row of the console sessions reused section: who
// opened the console, whose guest session it showed, and the evidence
// (the console opening and the guest logon).
type ConsoleReuse struct {
	Time      time.Time `json:"time"`
	VM        string    `json:"vm"`
	User      string    `json:"user"`
	SessionOf string    `json:"session_of"`
	Host      string    `json:"host"`
	Evidence  string    `json:"evidence"`
}

func (r ConsoleReuse) Cells() []string {
	return []string{r.Time.Format(Layout), r.VM, r.User, r.SessionOf, r.Host, r.Evidence}
}

// Migration is a row of the migrations section; User is DRS for DRS.
type Migration struct {
	Time time.Time `json:"time"`
	VM   string    `json:"vm"`
	User string    `json:"user"`
	From string    `json:"from"`
	To   string    `json:"to"`
}

func (r Migration) Cells() []string {
	return []string{r.Time.Format(Layout), r.VM, r.User, r.From, r.To}
}

// ShellWindow is a row of the SSH and ESXi Shell section: one
// service_enabled event and the next service_disabled of the same service
// on the same host (Disabled is nil while it is still on; OnFor then runs
// to the end of the report's period).
type ShellWindow struct {
	Time     time.Time  `json:"time"`
	Host     string     `json:"host"`
	Service  string     `json:"service"`
	User     string     `json:"user"`
	Disabled *time.Time `json:"disabled"`
	StillOn  bool       `json:"still_on"`
	OnFor    Duration   `json:"on_for_seconds"`
}

// Duration marshals as seconds.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprint(time.Duration(d).Seconds())), nil
}

// StillOn is the Disabled cell of a service that was not disabled.
const StillOn = "still on"

func (r ShellWindow) Cells() []string {
	if r.Disabled == nil {
		return []string{r.Time.Format(Layout), r.Host, r.Service, r.User, StillOn, FormatDuration(time.Duration(r.OnFor)) + " so far"}
	}
	return []string{r.Time.Format(Layout), r.Host, r.Service, r.User, r.Disabled.Format(Layout), FormatDuration(time.Duration(r.OnFor))}
}

// Change is a row of the changes section.
type Change struct {
	Time    time.Time  `json:"time"`
	Host    string     `json:"host"`
	User    string     `json:"user"`
	Kind    audit.Kind `json:"kind"`
	Setting string     `json:"setting,omitempty"`
	Action  string     `json:"action,omitempty"`
	Value   string     `json:"value,omitempty"`
	Command string     `json:"command,omitempty"`
	Detail  string     `json:"detail,omitempty"`
}

func (r Change) Cells() []string {
	return []string{r.Time.Format(Layout), r.Host, r.User, string(r.Kind), r.Setting, r.Action, r.Value, r.Command, r.Detail}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// FormatDuration prints d to the second in days, hours, minutes and
// seconds, omitting the units that are zero: "2d 3h 5s", "45m", "0s".
func FormatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	var parts []string
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.d; n > 0 {
			parts = append(parts, fmt.Sprintf("%d%s", n, u.name))
			d -= n * u.d
		}
	}
	return strings.Join(parts, " ")
}

// Build reads the report from j: one goroutine and one query (or two) per
// section, each selecting only its kinds.
func Build(ctx context.Context, j *journal.Journal, f Filter, o Options) (*Report, error) {
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	now := o.Now()
	r := &Report{Filter: f, Location: o.Location, Generated: now.In(o.Location), To: now.In(o.Location)}
	if !f.Since.IsZero() {
		r.From = f.Since.In(o.Location)
	}
	if !f.Until.IsZero() {
		r.To = f.Until.In(o.Location)
	}
	b := &builder{j: j, f: f, o: o, end: r.To}
	var wg sync.WaitGroup
	errs := make([]error, len(defs))
	for i, d := range defs {
		if len(f.Kinds) > 0 && !slices.ContainsFunc(d.kinds, func(k audit.Kind) bool { return slices.Contains(f.Kinds, k) }) {
			continue
		}
		s := &Section{ID: d.id, Title: d.title, Note: d.note, Columns: d.cols, Page: 1, PageSize: o.PageSize}
		if o.PageSize > 0 {
			s.Page = max(1, o.Page[d.id])
		}
		r.Sections = append(r.Sections, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.section(ctx, d, s)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("report: %s: %w", d.title, errs[i])
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

type builder struct {
	j   *journal.Journal
	f   Filter
	o   Options
	end time.Time
}

// query is the filter's selection of kinds.
func (b *builder) query(kinds ...audit.Kind) journal.Query {
	return journal.Query{Since: b.f.Since, Until: b.f.Until, User: b.f.User, Host: b.f.Host, VM: b.f.VM, Kinds: kinds}
}

func (b *builder) paged() bool { return b.o.PageSize > 0 }

// window is the Limit and Offset of the section's page, once its total is
// known; the page is clamped to the last one.
func (b *builder) window(s *Section, total int) (limit, offset int) {
	s.Total = total
	if !b.paged() {
		return 0, 0
	}
	s.Page = min(s.Page, s.Pages())
	return s.PageSize, (s.Page - 1) * s.PageSize
}

func (b *builder) section(ctx context.Context, d sectionDef, s *Section) error {
	loc := b.o.Location
	switch d.id {
	case SectionLogins:
		return b.logins(ctx, s)
	case SectionFailedLogins:
		return b.failed(ctx, s)
	case SectionShell:
		return b.shell(ctx, s)
	case SectionConsoles:
		return list(ctx, b, s, d.kinds, []string{"time", "kind", "user", "vm", "ticket_type", "target_host", "host"}, func(e *audit.Event) Console {
			ev := "opened"
			if e.Kind == audit.KindConsoleClosed {
				ev = "closed"
			}
			return Console{Time: e.Time.In(loc), User: e.User, VM: e.VM, TicketType: e.TicketType, Host: cmpOr(e.TargetHost, e.Host), Event: ev}
		})
	case SectionConsoleReuse:
		return list(ctx, b, s, d.kinds, []string{"time", "vm", "user", "value", "host", "message"}, func(e *audit.Event) ConsoleReuse {
			return ConsoleReuse{Time: e.Time.In(loc), VM: e.VM, User: e.User, SessionOf: e.Value, Host: e.Host, Evidence: e.Message}
		})
	case SectionMigrations:
		return list(ctx, b, s, d.kinds, []string{"time", "vm", "user", "source_host", "target_host"}, func(e *audit.Event) Migration {
			return Migration{Time: e.Time.In(loc), VM: e.VM, User: e.User, From: e.SourceHost, To: e.TargetHost}
		})
	}
	return list(ctx, b, s, d.kinds, []string{"time", "host", "user", "kind", "setting", "action", "value", "command", "object", "message"}, func(e *audit.Event) Change {
		detail := e.Object
		if e.Kind != audit.KindConfigChanged || detail == "" {
			detail = e.Message
		}
		return Change{Time: e.Time.In(loc), Host: e.Host, User: e.User, Kind: e.Kind, Setting: e.Setting, Action: e.Action, Value: e.Value, Command: e.Command, Detail: detail}
	})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// list is a section of one row per event, newest first.
func list[T Row](ctx context.Context, b *builder, s *Section, kinds []audit.Kind, fields []string, row func(*audit.Event) T) error {
	q := b.query(kinds...)
	q.Desc, q.Columns = true, fields
	n, err := b.j.Count(ctx, q) // the index alone
	if err != nil {
		return err
	}
	if b.paged() {
		// The database orders the kinds and keeps the page only.
		q.Limit, q.Offset = b.window(s, int(n))
		rs := make(rows[T], 0, q.Limit)
		err := b.j.Scan(ctx, q, func(r journal.Row) error {
			rs = append(rs, row(&r.Event))
			return nil
		})
		s.Rows = rs
		return err
	}
	s.Total = int(n)
	if len(kinds) == 1 {
		rs := make(rows[T], 0, n)
		err := b.j.Scan(ctx, q, func(r journal.Row) error {
			rs = append(rs, row(&r.Event))
			return nil
		})
		s.Rows = rs
		return err
	}
	// Several kinds: each in the order of its index, merged here (the
	// database would sort every stored event of the result).
	type keyed struct {
		ns, seq int64
		row     T
	}
	all := make([]keyed, 0, n)
	for _, k := range kinds {
		qk := q
		qk.Kinds = []audit.Kind{k}
		if err := b.j.Scan(ctx, qk, func(r journal.Row) error {
			all = append(all, keyed{r.Event.Time.UnixNano(), r.Seq, row(&r.Event)})
			return nil
		}); err != nil {
			return err
		}
	}
	slices.SortFunc(all, func(a, c keyed) int {
		if a.ns != c.ns {
			return cmp.Compare(c.ns, a.ns)
		}
		return cmp.Compare(c.seq, a.seq)
	})
	rs := make(rows[T], len(all))
	for i := range all {
		rs[i] = all[i].row
	}
	s.Rows = rs
	return nil
}

func (b *builder) login(e *audit.Event) Login {
	return Login{Time: e.Time.In(b.o.Location), User: e.User, ClientIP: e.ClientIP, Method: e.Method, Host: e.Host, Direct: e.Direct}
}

// logins: direct host logins first, then the rest, each newest first.
func (b *builder) logins(ctx context.Context, s *Section) error {
	q := b.query(audit.KindLogin)
	q.Desc, q.Columns = true, []string{"time", "user", "client_ip", "method", "host", "direct"}
	if !b.paged() {
		return b.allLogins(ctx, q, s)
	}
	yes, no := true, false
	qd, qr := q, q
	qd.Direct, qr.Direct = &yes, &no
	nd, err := b.j.Count(ctx, qd)
	if err != nil {
		return err
	}
	n, err := b.j.Count(ctx, q)
	if err != nil {
		return err
	}
	limit, offset := b.window(s, int(n))
	var rs rows[Login]
	defer func() { s.Rows = rs }()
	add := func(r journal.Row) error { rs = append(rs, b.login(&r.Event)); return nil }
	if offset < int(nd) {
		qd.Limit, qd.Offset = limit, offset
		if err := b.j.Scan(ctx, qd, add); err != nil {
			return err
		}
	}
	if len(rs) < limit {
		qr.Limit, qr.Offset = limit-len(rs), max(0, offset-int(nd))
		return b.j.Scan(ctx, qr, add)
	}
	return nil
}

// loginParts is how many parts of the period the logins of a large
// report are read in, side by side.
func loginParts(n int64) int {
	if n < 100000 {
		return 1
	}
	return min(max(1, runtime.GOMAXPROCS(0)), 4)
}

// allLogins reads every login of the period: in parts of the period read
// side by side when they are many, each part split in direct logins and
// the rest.
func (b *builder) allLogins(ctx context.Context, q journal.Query, s *Section) error {
	n, err := b.j.Count(ctx, q) // the index alone
	if err != nil {
		return err
	}
	parts := loginParts(n)
	if q.Since.IsZero() {
		parts = 1
	}
	// Part k is [bounds[k+1], bounds[k]), newest first; the bounds are the
	// times of the logins at equal distances in the index.
	bounds := make([]time.Time, parts+1)
	bounds[0], bounds[parts] = q.Until, q.Since
	for k := 1; k < parts; k++ {
		qb := q
		qb.Columns, qb.Limit, qb.Offset = []string{"time"}, 1, int(n)*k/parts
		if err := b.j.Scan(ctx, qb, func(r journal.Row) error { bounds[k] = r.Event.Time; return nil }); err != nil {
			return err
		}
	}
	direct, rest := make(chain[Login], parts), make(chain[Login], parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for k := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			qk := q
			qk.Since, qk.Until = bounds[k+1], bounds[k]
			// Oldest first, then reversed: SQLite steps to the next row
			// of the table instead of seeking it when the rows are
			// consecutive, as logins often are.
			qk.Desc = false
			rest[k] = make(rows[Login], 0, int(n)/parts+16)
			errs[k] = b.j.Scan(ctx, qk, func(r journal.Row) error {
				if r.Event.Direct {
					direct[k] = append(direct[k], b.login(&r.Event))
				} else {
					rest[k] = append(rest[k], b.login(&r.Event))
				}
				return nil
			})
			slices.Reverse(direct[k])
			slices.Reverse(rest[k])
		}()
	}
	wg.Wait()
	s.Rows = append(direct, rest...)
	s.Total = s.Rows.Len()
	return errors.Join(errs...)
}

// failed groups the failed logins by source address.
func (b *builder) failed(ctx context.Context, s *Section) error {
	q := b.query(audit.KindLoginFailed)
	q.Columns = []string{"time", "client_ip", "user"}
	type group struct {
		FailedSource
		users map[string]struct{}
	}
	groups := map[string]*group{}
	err := b.j.Scan(ctx, q, func(r journal.Row) error {
		e := &r.Event
		g := groups[e.ClientIP]
		if g == nil {
			g = &group{FailedSource: FailedSource{ClientIP: e.ClientIP, First: e.Time}, users: map[string]struct{}{}}
			groups[e.ClientIP] = g
		}
		g.Count++
		g.Last = e.Time // oldest first
		g.users[e.User] = struct{}{}
		return nil
	})
	if err != nil {
		return err
	}
	out := make(rows[FailedSource], 0, len(groups))
	for _, g := range groups {
		fs := g.FailedSource
		for u := range g.users {
			fs.Users = append(fs.Users, u)
		}
		sort.Strings(fs.Users)
		fs.First, fs.Last = fs.First.In(b.o.Location), fs.Last.In(b.o.Location)
		out = append(out, fs)
	}
	sort.Slice(out, func(i, k int) bool {
		a, c := out[i], out[k]
		if a.Count != c.Count {
			return a.Count > c.Count
		}
		if !a.Last.Equal(c.Last) {
			return a.Last.After(c.Last)
		}
		return a.ClientIP < c.ClientIP
	})
	limit, offset := b.window(s, len(out))
	if limit > 0 {
		out = out[min(offset, len(out)):min(offset+limit, len(out))]
	}
	s.Rows = out
	return nil
}

// shellServices are the services the section shows.
var shellServices = []string{audit.ServiceSSH, audit.ServiceESXiShell}

// shell pairs each enabling of SSH or the ESXi Shell with the next
// disabling of the same service on the same host, whenever it came (also
// after the period, and by anyone).
func (b *builder) shell(ctx context.Context, s *Section) error {
	q := b.query(audit.KindServiceEnabled)
	q.Desc, q.Columns = true, []string{"time", "host", "service", "user"}
	type enabled struct {
		seq int64
		e   audit.Event
	}
	var on []enabled
	n := 0
	var first, last int // the page: the matching enablings [first, last)
	if b.paged() {
		first, last = (s.Page-1)*s.PageSize, s.Page*s.PageSize
	}
	err := b.j.Scan(ctx, q, func(r journal.Row) error {
		if !slices.Contains(shellServices, r.Event.Service) {
			return nil
		}
		if !b.paged() || n >= first && n < last {
			on = append(on, enabled{r.Seq, r.Event})
		}
		n++
		return nil
	})
	if err != nil {
		return err
	}
	s.Total = n
	if b.paged() && first >= n && n > 0 {
		// Past the last page: show the last one.
		s.Page = s.Pages()
		return b.shell(ctx, s)
	}
	if len(on) == 0 {
		return nil
	}
	var ws rows[ShellWindow]
	defer func() { s.Rows = ws }()
	// The disablings from the oldest enabling shown on, by host and service.
	type off struct {
		seq int64
		t   time.Time
	}
	offs := map[string][]off{}
	qd := journal.Query{Since: on[len(on)-1].e.Time, Host: b.f.Host, Kinds: []audit.Kind{audit.KindServiceDisabled},
		Columns: []string{"time", "host", "service"}}
	err = b.j.Scan(ctx, qd, func(r journal.Row) error {
		k := r.Event.Host + "\x00" + r.Event.Service
		offs[k] = append(offs[k], off{r.Seq, r.Event.Time})
		return nil
	})
	if err != nil {
		return err
	}
	for _, en := range on {
		e := &en.e
		w := ShellWindow{Time: e.Time.In(b.o.Location), Host: e.Host, Service: e.Service, User: e.User}
		list := offs[e.Host+"\x00"+e.Service]
		// The first disabling after the enabling (time, then storage order).
		i := sort.Search(len(list), func(i int) bool {
			d := list[i]
			return d.t.After(e.Time) || d.t.Equal(e.Time) && d.seq > en.seq
		})
		if i < len(list) {
			t := list[i].t.In(b.o.Location)
			w.Disabled, w.OnFor = &t, Duration(t.Sub(e.Time))
		} else {
			w.StillOn, w.OnFor = true, Duration(max(0, b.end.Sub(e.Time)))
		}
		ws = append(ws, w)
	}
	return nil
}

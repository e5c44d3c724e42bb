package console

import (
	"container/list"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// Defaults of Options.
const (
	DefaultLoginWindow = 2 * time.Minute
	DefaultMaxGuests   = 10000
	DefaultMaxPending  = 4096
	// historyLen bounds the logons and logoffs remembered per guest; older
	// ones are folded into the session they leave.
	historyLen = 16
	// maxEvidence bounds the message of a console_session_reused event.
	maxEvidence = 1024
)

// Options configure a Correlator.
type Options struct {
	// LoginWindow: a console logon (or unlock) in the guest this long after
	// the console opened means the console asked for credentials (default
	// 2m).
	LoginWindow time.Duration
	// MaxGuests bounds the guests remembered (the least recently active go
	// first); MaxPending the console openings waiting for their window.
	MaxGuests, MaxPending int
	// Mapper maps a guest's host to its VM (default: the guest's name).
	Mapper *Mapper
	// Now is the wall clock of Tick (default time.Now).
	Now func() time.Time
}

// Correlator watches the events that reach the sink and reports a VM
// console opened on a guest session that another person left open:
//
// A console opened on VM X by B (console_opened with ticket type mks,
// webmks, remote_console or none) at time t, where X's guest shows the
// console session of a different person A at t (A's last console logon or
// unlock, with no logoff by A and no lock since), and no console logon or
// unlock in X's guest within LoginWindow after t (by anyone: a logon in
// the window means the console asked for credentials), is a
// console_session_reused event (vm X, user B, value A, at t).
//
// Persons are compared by the user's name without its domain, case
// insensitively: vCenter's "mallory@vsphere.local" is the guest's
// "CORP\mallory" ("mallory@corp").
//
// An opening is decided once an event dated more than LoginWindow after it
// is observed from one of the two clocks that matter, the guest's (an
// event of the same VM) or the reporter's (an event of the same host or
// vCenter), so that another sender's clock running ahead decides nothing
// early (event time: a replay decides deterministically); once it has
// waited LoginWindow on the wall clock (Tick); or at Flush. The guest's
// state is read as of the opening's time, so guest lines that arrive
// before the decision count in whatever order they came. State is in
// memory; at start the exporter restores the guests' sessions from the
// journal (Restore).
//
// It is safe for concurrent use.
type Correlator struct {
	o    Options
	emit func(audit.Event)

	mu      sync.Mutex
	guests  map[string]*list.Element // VM key -> element of lru (a *guest)
	lru     *list.List               // front: most recently active
	pending []*opening               // sorted by time; decided ones until compact
	live    int                      // openings in pending not decided
	// byClock are the openings waiting for a clock, sorted by time:
	// "h\x00"+reporting host and "v\x00"+VM key.
	byClock map[string][]*opening
	// names are the VM names as vCenter spells them (console events), by
	// VM key, for the guests' events; bounded by MaxGuests (cleared when
	// full).
	names map[string]string
	// guestHosts are the hosts (lower case) that sent guest logons or
	// logoffs: guests, not ESXi hosts. Bounded by MaxGuests (cleared when
	// full).
	guestHosts map[string]struct{}
}

// guest is what one VM's guest said of its console sessions.
type guest struct {
	key     string
	base    session  // the session left by the events folded out of history
	history []record // sorted by time
}

type session struct {
	user, message string
	at            time.Time
}

type record struct {
	at      time.Time
	kind    audit.Kind
	action  string
	user    string
	message string
}

type opening struct {
	e       audit.Event
	arrived time.Time
	done    bool
}

func hostClock(h string) string { return "h\x00" + h }
func vmClock(vm string) string  { return "v\x00" + vmKey(vm) }

// New returns a Correlator that passes the events it derives to emit.
func New(o Options, emit func(audit.Event)) *Correlator {
	if o.LoginWindow <= 0 {
		o.LoginWindow = DefaultLoginWindow
	}
	if o.MaxGuests <= 0 {
		o.MaxGuests = DefaultMaxGuests
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.Mapper == nil {
		o.Mapper = NewMapper(nil)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Correlator{o: o, emit: emit, guests: map[string]*list.Element{}, lru: list.New(), names: map[string]string{}, guestHosts: map[string]struct{}{}, byClock: map[string][]*opening{}}
}

// vmKey is how VM names are compared.
func vmKey(vm string) string { return strings.ToLower(vm) }

// person is how users are compared: the name without its domain.
func person(u string) string {
	if i := strings.IndexByte(u, '@'); i > 0 {
		u = u[:i]
	}
	return strings.ToLower(u)
}

// consoleTicket reports whether a console_opened of this ticket type shows
// the guest's screen to whoever opened it: mks, webmks, VMRC, or a ticket
// of unknown type (VmAcquiredMksTicketEvent); not a device, guest control
// or screenshot ticket.
func consoleTicket(t string) bool {
	switch t {
	case "", "mks", "webmks", "remote_console":
		return true
	}
	return false
}

// Observe looks at one event on its way to the sink. A guest event gets its
// VM (e.VM) from the Mapper. Events it derives go to emit, after Observe
// has released its lock.
func (c *Correlator) Observe(e *audit.Event) {
	var out []audit.Event
	c.mu.Lock()
	if (e.Kind == audit.KindLogin || e.Kind == audit.KindLogout) && e.Method == audit.MethodSSH && c.isGuest(e.Host) {
		asGuest(e)
	}
	switch e.Kind {
	case audit.KindGuestLogon, audit.KindGuestLogoff:
		if h := strings.ToLower(e.Host); h != "" {
			if _, ok := c.guestHosts[h]; !ok && len(c.guestHosts) >= c.o.MaxGuests {
				clear(c.guestHosts)
			}
			c.guestHosts[h] = struct{}{}
		}
		if e.VM == "" {
			e.VM = c.o.Mapper.VM(e.Host)
		}
		if name, ok := c.names[vmKey(e.VM)]; ok && e.VM != "" {
			e.VM = name // the VM's name as vCenter spells it
		}
		if e.VM != "" && e.Method != audit.MethodRemote {
			c.recordGuest(e)
		}
	case audit.KindConsoleOpened:
		if e.VM != "" && e.Outcome != audit.OutcomeFailure && consoleTicket(e.TicketType) {
			if _, ok := c.names[vmKey(e.VM)]; !ok && len(c.names) >= c.o.MaxGuests {
				clear(c.names)
			}
			c.names[vmKey(e.VM)] = e.VM
			out = c.addOpening(e, out)
		}
	}
	if c.live > 0 {
		out = c.advance(hostClock(e.Host), e.Time, out)
		if e.VM != "" {
			out = c.advance(vmClock(e.VM), e.Time, out)
		}
	}
	c.mu.Unlock()
	for _, d := range out {
		c.emit(d)
	}
}

// isGuest reports whether host is a VM's guest, not an ESXi host: it sent
// guest logons, or the map file or the inventory names it.
func (c *Correlator) isGuest(host string) bool {
	if _, ok := c.guestHosts[strings.ToLower(host)]; ok {
		return true
	}
	return c.o.Mapper.Known(host)
}

// asGuest makes an SSH login or logout that a guest logged (its sshd reads
// like ESXi's) the guest's remote logon or logoff: not a direct login to a
// host.
func asGuest(e *audit.Event) {
	if e.Kind == audit.KindLogin {
		e.Kind, e.Action = audit.KindGuestLogon, audit.ActionLogon
	} else {
		e.Kind, e.Action = audit.KindGuestLogoff, audit.ActionLogoff
	}
	e.Method, e.Direct = audit.MethodRemote, false
}

// Restore takes a guest event read back from the journal at start (its VM
// already set), so that a restart remembers the guests' open sessions.
// Restored events are in the guests' history only: nothing is decided or
// emitted.
func (c *Correlator) Restore(e audit.Event) {
	if e.Kind != audit.KindGuestLogon && e.Kind != audit.KindGuestLogoff || e.VM == "" || e.Method == audit.MethodRemote {
		return
	}
	c.mu.Lock()
	if h := strings.ToLower(e.Host); h != "" && len(c.guestHosts) < c.o.MaxGuests {
		c.guestHosts[h] = struct{}{}
	}
	c.recordGuest(&e)
	c.mu.Unlock()
}

// Tick decides the openings that have waited LoginWindow on the wall clock.
func (c *Correlator) Tick() {
	now := c.o.Now()
	c.mu.Lock()
	out := c.releaseLocked(func(o *opening) bool { return now.Sub(o.arrived) >= c.o.LoginWindow }, nil)
	c.mu.Unlock()
	for _, d := range out {
		c.emit(d)
	}
}

// Flush decides every waiting opening (end of input, shutdown).
func (c *Correlator) Flush() {
	c.mu.Lock()
	out := c.releaseLocked(func(*opening) bool { return true }, nil)
	c.mu.Unlock()
	for _, d := range out {
		c.emit(d)
	}
}

// Pending returns the openings waiting for their window.
func (c *Correlator) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}

// Guests returns the guests remembered.
func (c *Correlator) Guests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.guests)
}

// guestOf returns the guest of vm, remembered from now on.
func (c *Correlator) guestOf(vm string) *guest {
	k := vmKey(vm)
	if el, ok := c.guests[k]; ok {
		c.lru.MoveToFront(el)
		return el.Value.(*guest)
	}
	for len(c.guests) >= c.o.MaxGuests {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.guests, old.Value.(*guest).key)
	}
	g := &guest{key: k}
	c.guests[k] = c.lru.PushFront(g)
	return g
}

func (c *Correlator) recordGuest(e *audit.Event) {
	g := c.guestOf(e.VM)
	r := record{at: e.Time, kind: e.Kind, action: e.Action, user: e.User, message: e.Message}
	i := sort.Search(len(g.history), func(i int) bool { return g.history[i].at.After(r.at) })
	g.history = append(g.history, record{})
	copy(g.history[i+1:], g.history[i:])
	g.history[i] = r
	if len(g.history) > historyLen {
		g.base = apply(g.base, g.history[0])
		g.history = g.history[1:]
	}
}

// apply returns the session s leaves after r.
func apply(s session, r record) session {
	switch {
	case r.kind == audit.KindGuestLogon:
		return session{user: r.user, at: r.at, message: r.message}
	case r.action == audit.ActionLock:
		return session{}
	case r.action == audit.ActionLogoff && person(r.user) == person(s.user):
		return session{}
	}
	return s
}

func (c *Correlator) addOpening(e *audit.Event, out []audit.Event) []audit.Event {
	for _, o := range c.byClock[vmClock(e.VM)] {
		// vCenter reports one console opening as a ticket and an MKS ticket.
		if !o.done && person(o.e.User) == person(e.User) && absDuration(o.e.Time.Sub(e.Time)) <= c.o.LoginWindow {
			return out
		}
	}
	if c.live >= c.o.MaxPending {
		// Decide the oldest now: its window is not over, so a logon in
		// the rest of it is missed; bounded memory comes first.
		for _, o := range c.pending {
			if !o.done {
				out = c.finish(o, out)
				break
			}
		}
	}
	if len(c.pending) >= 2*c.o.MaxPending {
		c.compact()
	}
	o := &opening{e: *e, arrived: c.o.Now()}
	c.pending = insertByTime(c.pending, o)
	c.live++
	for _, k := range []string{hostClock(e.Host), vmClock(e.VM)} {
		c.byClock[k] = insertByTime(c.byClock[k], o)
	}
	return out
}

func insertByTime(l []*opening, o *opening) []*opening {
	i := sort.Search(len(l), func(i int) bool { return l[i].e.Time.After(o.e.Time) })
	l = append(l, nil)
	copy(l[i+1:], l[i:])
	l[i] = o
	return l
}

// finish decides o and marks it decided.
func (c *Correlator) finish(o *opening, out []audit.Event) []audit.Event {
	o.done = true
	c.live--
	return c.decide(o, out)
}

// advance decides the openings waiting for clock k that t, a time of that
// clock, is more than LoginWindow past, oldest first.
func (c *Correlator) advance(k string, t time.Time, out []audit.Event) []audit.Event {
	l, ok := c.byClock[k]
	if !ok {
		return out
	}
	i := 0
	for ; i < len(l) && t.Sub(l[i].e.Time) > c.o.LoginWindow; i++ {
		if !l[i].done {
			out = c.finish(l[i], out)
		}
	}
	for i < len(l) && l[i].done {
		i++
	}
	if i == len(l) {
		delete(c.byClock, k)
	} else if i > 0 {
		clear(l[:i])
		c.byClock[k] = l[i:]
	}
	if len(c.pending) > 2*c.live+64 {
		c.compact()
	}
	return out
}

// compact drops the decided openings from pending and byClock.
func (c *Correlator) compact() {
	keep := c.pending[:0]
	for _, o := range c.pending {
		if !o.done {
			keep = append(keep, o)
		}
	}
	clear(c.pending[len(keep):])
	c.pending = keep
	for k, l := range c.byClock {
		kl := l[:0]
		for _, o := range l {
			if !o.done {
				kl = append(kl, o)
			}
		}
		clear(l[len(kl):])
		if len(kl) == 0 {
			delete(c.byClock, k)
		} else {
			c.byClock[k] = kl
		}
	}
}

// releaseLocked decides the openings due says are due, oldest first.
func (c *Correlator) releaseLocked(due func(*opening) bool, out []audit.Event) []audit.Event {
	for _, o := range c.pending {
		if !o.done && due(o) {
			out = c.finish(o, out)
		}
	}
	c.compact()
	return out
}

// decide appends the console_session_reused event of opening o, if it is one.
func (c *Correlator) decide(o *opening, out []audit.Event) []audit.Event {
	el, ok := c.guests[vmKey(o.e.VM)]
	if !ok {
		return out
	}
	g := el.Value.(*guest)
	t, end := o.e.Time, o.e.Time.Add(c.o.LoginWindow)
	s := g.base
	for _, r := range g.history {
		if r.at.After(t) {
			if r.kind == audit.KindGuestLogon && !r.at.After(end) {
				return out // the console asked for credentials
			}
			continue
		}
		s = apply(s, r)
	}
	if s.user == "" || person(s.user) == person(o.e.User) {
		return out
	}
	msg := fmt.Sprintf("%s opened the console of %s (%s) at %s on the guest's console session of %s, logged on at %s and neither logged off nor locked; no console logon within %s. Opening: %s Guest: %s",
		o.e.User, o.e.VM, ticketName(o.e.TicketType), t.UTC().Format(time.RFC3339), s.user, s.at.UTC().Format(time.RFC3339), c.o.LoginWindow, o.e.Message, s.message)
	if len(msg) > maxEvidence {
		msg = msg[:maxEvidence]
	}
	return append(out, audit.Event{
		Time: t, Source: o.e.Source, Host: o.e.Host, Kind: audit.KindConsoleSessionReused,
		User: o.e.User, VM: o.e.VM, Value: s.user, TicketType: o.e.TicketType, TargetHost: o.e.TargetHost,
		Outcome: audit.OutcomeSuccess, Message: msg, Rule: "console/session_reused",
		// The opening's id: a vCenter event read again after a crash gives
		// the same reuse, which the journal then recognizes (journal.UID).
		EventID: o.e.EventID,
	})
}

func ticketName(t string) string {
	if t == "" {
		return "console"
	}
	return t
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

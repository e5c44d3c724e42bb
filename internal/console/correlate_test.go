package console

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func opened(d time.Duration, vm, user, ticket string) audit.Event {
	return audit.Event{Time: at(d), Source: audit.SourceVCenter, Host: "vc01", Kind: audit.KindConsoleOpened, VM: vm, User: user, TicketType: ticket, Message: "opened " + vm}
}

func guestEv(d time.Duration, host string, kind audit.Kind, action, method, user string) audit.Event {
	return audit.Event{Time: at(d), Source: audit.SourceSyslog, Host: host, Kind: kind, Action: action, Method: method, User: user, Message: action + " " + user}
}

func logon(d time.Duration, host, user string) audit.Event {
	return guestEv(d, host, audit.KindGuestLogon, audit.ActionLogon, audit.MethodConsole, user)
}

type collected struct{ evs []audit.Event }

func (c *collected) emit(e audit.Event) { c.evs = append(c.evs, e) }

func (c *collected) summary() string {
	var out []string
	for _, e := range c.evs {
		out = append(out, fmt.Sprintf("%s %s %s<-%s", e.Time.Format("15:04:05"), e.VM, e.User, e.Value))
	}
	return strings.Join(out, "; ")
}

func feed(o Options, evs ...audit.Event) (*Correlator, *collected) {
	var got collected
	c := New(o, got.emit)
	for i := range evs {
		c.Observe(&evs[i])
	}
	return c, &got
}

func TestCorrelatorCases(t *testing.T) {
	for _, c := range []struct {
		name string
		evs  []audit.Event
		want string
	}{
		{"reused", []audit.Event{logon(0, "dc01", "alice@corp"), opened(10*time.Minute, "dc01", "mallory@vsphere.local", "webmks")},
			"10:10:00 dc01 mallory@vsphere.local<-alice@corp"},
		{"the same person", []audit.Event{logon(0, "dc01", "alice@corp"), opened(10*time.Minute, "dc01", "ALICE@vsphere.local", "webmks")}, ""},
		{"a device ticket shows no screen", []audit.Event{logon(0, "dc01", "alice@corp"), opened(10*time.Minute, "dc01", "mallory@vsphere.local", "device")}, ""},
		{"a mks and a webmks ticket of one opening are one", []audit.Event{logon(0, "dc01", "alice@corp"),
			opened(10*time.Minute, "dc01", "mallory@vsphere.local", "mks"), opened(10*time.Minute+time.Second, "dc01", "mallory@vsphere.local", "webmks")},
			"10:10:00 dc01 mallory@vsphere.local<-alice@corp"},
		{"another VM", []audit.Event{logon(0, "dc01", "alice@corp"), opened(10*time.Minute, "dc02", "mallory@vsphere.local", "webmks")}, ""},
		{"the guest's name, case-insensitively, by its first label", []audit.Event{logon(0, "DC01.corp.example.com", "alice@corp"), opened(10*time.Minute, "dc01", "mallory@vsphere.local", "")},
			"10:10:00 dc01 mallory@vsphere.local<-alice@corp"},
		{"a logon in the window by someone else", []audit.Event{logon(0, "dc01", "alice@corp"), opened(10*time.Minute, "dc01", "mallory@vsphere.local", "webmks"),
			logon(11*time.Minute, "dc01", "administrator")}, ""},
		{"a remote logon does not clear it", []audit.Event{logon(0, "dc01", "alice@corp"), opened(10*time.Minute, "dc01", "mallory@vsphere.local", "webmks"),
			guestEv(11*time.Minute, "dc01", audit.KindGuestLogon, audit.ActionLogon, audit.MethodRemote, "mallory@corp")},
			"10:10:00 dc01 mallory@vsphere.local<-alice@corp"},
		{"a remote logoff does not end the console session", []audit.Event{logon(0, "dc01", "alice@corp"),
			guestEv(time.Minute, "dc01", audit.KindGuestLogoff, audit.ActionLogoff, audit.MethodRemote, "alice@corp"),
			opened(10*time.Minute, "dc01", "mallory@vsphere.local", "webmks")},
			"10:10:00 dc01 mallory@vsphere.local<-alice@corp"},
		{"a logoff with no logon type ends it", []audit.Event{logon(0, "dc01", "alice@corp"),
			guestEv(time.Minute, "dc01", audit.KindGuestLogoff, audit.ActionLogoff, "", "alice@corp"),
			opened(10*time.Minute, "dc01", "mallory@vsphere.local", "webmks")}, ""},
		{"a lock by anyone ends it", []audit.Event{logon(0, "dc01", "alice@corp"),
			guestEv(time.Minute, "dc01", audit.KindGuestLogoff, audit.ActionLock, audit.MethodConsole, "alice@corp"),
			opened(10*time.Minute, "dc01", "mallory@vsphere.local", "webmks")}, ""},
		{"a logon after the opening, arriving first", []audit.Event{logon(0, "dc01", "alice@corp"), logon(10*time.Minute+30*time.Second, "dc01", "mallory@corp"),
			opened(10*time.Minute, "dc01", "mallory@vsphere.local", "webmks")}, ""},
		{"a logon before the opening, arriving after it", []audit.Event{opened(10*time.Minute, "dc01", "mallory@vsphere.local", "webmks"), logon(0, "dc01", "alice@corp")},
			"10:10:00 dc01 mallory@vsphere.local<-alice@corp"},
		{"a failed opening", []audit.Event{logon(0, "dc01", "alice@corp"), func() audit.Event {
			e := opened(10*time.Minute, "dc01", "mallory@vsphere.local", "webmks")
			e.Outcome = audit.OutcomeFailure
			return e
		}()}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cr, got := feed(Options{}, c.evs...)
			cr.Flush()
			if s := got.summary(); s != c.want {
				t.Errorf("got %q, want %q", s, c.want)
			}
		})
	}
}

// An opening is decided by event time once an event more than the window
// after it arrives; before, by the wall clock (Tick); the event carries
// the evidence.
func TestCorrelatorDecides(t *testing.T) {
	now := t0
	op := opened(10*time.Minute, "dc01", "mallory@vsphere.local", "webmks")
	op.EventID = "5100181"
	cr, got := feed(Options{Now: func() time.Time { return now }}, logon(0, "dc01", "alice@corp"), op)
	if len(got.evs) != 0 || cr.Pending() != 1 {
		t.Fatalf("decided before the window: %v, %d pending", got.summary(), cr.Pending())
	}
	vcEvent := func(d time.Duration) *audit.Event {
		return &audit.Event{Time: at(d), Source: audit.SourceVCenter, Host: "vc01", Kind: audit.KindLogin, User: "carol"}
	}
	cr.Observe(vcEvent(12 * time.Minute)) // exactly the window: not yet
	if len(got.evs) != 0 {
		t.Fatalf("decided at the window's end: %v", got.summary())
	}
	// Another sender's clock, ahead: it decides nothing.
	ev := logon(3*time.Hour, "web01", "bob")
	cr.Observe(&ev)
	if len(got.evs) != 0 || cr.Pending() != 1 {
		t.Fatalf("decided by another sender's clock: %v, %d pending", got.summary(), cr.Pending())
	}
	cr.Observe(vcEvent(12*time.Minute + time.Millisecond))
	if len(got.evs) != 1 || cr.Pending() != 0 {
		t.Fatalf("not decided after the window by the reporter's clock: %v, %d pending", got.summary(), cr.Pending())
	}
	e := got.evs[0]
	if e.Kind != audit.KindConsoleSessionReused || e.Host != "vc01" || e.Source != audit.SourceVCenter || e.TicketType != "webmks" || e.Rule != "console/session_reused" || e.EventID != "5100181" ||
		e.Message != "mallory@vsphere.local opened the console of dc01 (webmks) at 2026-12-03T10:10:00Z on the guest's console session of alice@corp, logged on at 2026-12-03T10:00:00Z and neither logged off nor locked; no console logon within 2m0s. Opening: opened dc01 Guest: logon alice@corp" {
		t.Errorf("event %+v", e)
	}

	// The guest's clock decides too.
	got.evs = nil
	o := opened(15*time.Minute, "dc01", "dave@vsphere.local", "mks")
	cr.Observe(&o)
	ev = logon(17*time.Minute+time.Second, "dc01", "")
	ev.Kind, ev.Action = audit.KindGuestLogoff, audit.ActionLogoff // someone else's logoff: no change
	cr.Observe(&ev)
	if got.summary() != "10:15:00 dc01 dave@vsphere.local<-alice@corp" {
		t.Fatalf("by the guest's clock: %q", got.summary())
	}

	got.evs = nil
	o = opened(20*time.Minute, "dc01", "eve@vsphere.local", "mks")
	cr.Observe(&o)
	now = now.Add(2*time.Minute - time.Nanosecond)
	cr.Tick()
	if len(got.evs) != 0 {
		t.Fatalf("Tick decided before the window: %v", got.summary())
	}
	now = now.Add(time.Nanosecond)
	cr.Tick()
	if got.summary() != "10:20:00 dc01 eve@vsphere.local<-alice@corp" {
		t.Fatalf("Tick after the window: %q", got.summary())
	}
}

// Memory is bounded: the guests remembered, the openings waiting, the
// history of one guest (older entries folded into its session).
func TestCorrelatorBounds(t *testing.T) {
	cr, got := feed(Options{MaxGuests: 3, MaxPending: 2})
	for i := range 10 {
		ev := logon(time.Duration(i)*time.Second, fmt.Sprintf("vm%d", i), "alice")
		cr.Observe(&ev)
	}
	if cr.Guests() != 3 {
		t.Errorf("%d guests, want 3", cr.Guests())
	}
	// vm0 was forgotten, vm9 is remembered.
	for _, vm := range []string{"vm0", "vm9", "vm8", "vm7"} {
		o := opened(time.Minute, vm, "mallory", "webmks")
		cr.Observe(&o)
	}
	if cr.Pending() != 2 {
		t.Errorf("%d pending, want 2", cr.Pending())
	}
	cr.Flush()
	if s := got.summary(); s != "10:01:00 vm9 mallory<-alice; 10:01:00 vm8 mallory<-alice; 10:01:00 vm7 mallory<-alice" {
		t.Errorf("got %q", s)
	}

	// A flood of openings: decided as the reporter's clock passes them, or
	// the oldest early when MaxPending wait; what is kept stays bounded.
	cr, _ = feed(Options{MaxPending: 100})
	for i := range 20000 {
		o := opened(time.Duration(i)*time.Second, fmt.Sprintf("vm%d", i), "mallory", "webmks")
		cr.Observe(&o)
		if cr.Pending() > 100 || len(cr.pending) > 200 || len(cr.byClock) > 201 {
			t.Fatalf("after %d openings a second: %d pending, %d kept, %d clocks", i+1, cr.Pending(), len(cr.pending), len(cr.byClock))
		}
	}
	if cr.Pending() != 100 {
		t.Errorf("%d pending after a second apart, want 100 (the bound; the window holds 120)", cr.Pending())
	}
	cr, _ = feed(Options{MaxPending: 1000})
	for i := range 20000 {
		o := opened(time.Duration(i)*time.Second, fmt.Sprintf("vm%d", i), "mallory", "webmks")
		cr.Observe(&o)
	}
	if cr.Pending() != 121 || len(cr.pending) > 2*121+64 {
		t.Errorf("%d pending (%d kept), want the 121 of the last two minutes", cr.Pending(), len(cr.pending))
	}

	// 40 lock/unlock pairs after alice's logon: the logon is folded, not lost.
	evs := []audit.Event{logon(0, "dc01", "alice@corp")}
	for i := range 40 {
		evs = append(evs, guestEv(time.Duration(2*i+1)*time.Second, "dc01", audit.KindGuestLogoff, audit.ActionLock, audit.MethodConsole, "alice@corp"),
			guestEv(time.Duration(2*i+2)*time.Second, "dc01", audit.KindGuestLogon, audit.ActionUnlock, audit.MethodConsole, "alice@corp"))
	}
	evs = append(evs, opened(10*time.Minute, "dc01", "mallory@vsphere.local", "webmks"))
	cr, got = feed(Options{}, evs...)
	cr.Flush()
	if s := got.summary(); s != "10:10:00 dc01 mallory@vsphere.local<-alice@corp" {
		t.Errorf("after 80 lock/unlock lines: %q", s)
	}
	if g := cr.guests["dc01"].Value.(*guest); len(g.history) != historyLen {
		t.Errorf("history of %d entries, want %d", len(g.history), historyLen)
	}
}

// Guest events get their VM, spelled as vCenter spells it once a console
// event named it.
func TestCorrelatorNamesVM(t *testing.T) {
	m := NewMapper(map[string]string{"10.0.0.7": "App Server 7"})
	m.SetInventory("vc01", []Guest{{VM: "dc01", HostName: "ad01.corp.example.com", IPs: []string{"10.0.0.10"}}})
	cr, _ := feed(Options{Mapper: m})
	for _, c := range []struct{ host, want string }{
		{"10.0.0.7", "App Server 7"}, {"AD01.corp.example.com", "dc01"}, {"ad01", "dc01"}, {"10.0.0.10", "dc01"},
		{"WEB01.lab.local", "WEB01"}, {"10.9.9.9", ""},
	} {
		ev := logon(0, c.host, "alice")
		cr.Observe(&ev)
		if ev.VM != c.want {
			t.Errorf("%s: vm %q, want %q", c.host, ev.VM, c.want)
		}
	}
	o := opened(time.Minute, "web01", "bob", "webmks")
	cr.Observe(&o)
	ev := logon(2*time.Minute, "WEB01.lab.local", "alice")
	cr.Observe(&ev)
	if ev.VM != "web01" {
		t.Errorf("after vCenter named it: vm %q, want web01", ev.VM)
	}
	// Named before the guest's first line.
	o = opened(3*time.Minute, "App01", "bob", "webmks")
	cr.Observe(&o)
	ev = logon(4*time.Minute, "app01.lab.local", "alice")
	cr.Observe(&ev)
	if ev.VM != "App01" {
		t.Errorf("named before the guest's first line: vm %q, want App01", ev.VM)
	}
	// The map file wins over the inventory.
	m2 := NewMapper(map[string]string{"ad01.corp.example.com": "dc01-new"})
	m2.SetInventory("vc01", []Guest{{VM: "dc01", HostName: "ad01.corp.example.com"}})
	if vm := m2.VM("ad01.corp.example.com"); vm != "dc01-new" {
		t.Errorf("map file and inventory: %q, want dc01-new", vm)
	}
}

package dedup

import (
	"fmt"
	"hash/maphash"
	"strings"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

var t0 = time.Date(2024, 3, 12, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func hostdLogin(rep string, d time.Duration) audit.Event {
	return audit.Event{Time: at(d), Host: "esx01", Kind: audit.KindLogin, Method: audit.MethodHostd,
		User: "root", ClientIP: "10.0.0.1", OpID: "esxui-8c02-9b39", Reporter: rep}
}

func sshFailure(rep string, d time.Duration) audit.Event {
	return audit.Event{Time: at(d), Host: "esx01", Kind: audit.KindLoginFailed, Method: audit.MethodSSH,
		User: "root", ClientIP: "203.0.113.7", Reporter: rep}
}

func TestAllow(t *testing.T) {
	cases := []struct {
		name   string
		window time.Duration
		events []audit.Event
		want   []bool
	}{
		{
			name: "one hostd login reported by Accepted password and Event N counts once",
			events: []audit.Event{
				hostdLogin("hostd/accepted_password", 0),
				hostdLogin("hostd/login_event", 40*time.Millisecond),
			},
			want: []bool{true, false},
		},
		{
			name: "same login without client IP in one report is still one fact",
			events: []audit.Event{
				hostdLogin("hostd/accepted_password", 0),
				func() audit.Event { e := hostdLogin("hostd/login_event", time.Second); e.ClientIP = ""; return e }(),
			},
			want: []bool{true, false},
		},
		{
			name: "different opIDs are different logins",
			events: []audit.Event{
				hostdLogin("hostd/accepted_password", 0),
				func() audit.Event { e := hostdLogin("hostd/login_event", time.Second); e.OpID = "other"; return e }(),
			},
			want: []bool{true, true},
		},
		{
			name: "three SSH failures by one reporter, echoed by a second, count 3",
			events: []audit.Event{
				sshFailure("sshd/pam_failure", 0),
				sshFailure("vobd/ssh_failure", 100*time.Millisecond),
				sshFailure("sshd/pam_failure", 1*time.Second),
				sshFailure("vobd/ssh_failure", 1100*time.Millisecond),
				sshFailure("sshd/pam_failure", 2*time.Second),
				sshFailure("vobd/ssh_failure", 2100*time.Millisecond),
			},
			want: []bool{true, false, true, false, true, false},
		},
		{
			name: "second reporter reports first and more often: count follows the most prolific",
			events: []audit.Event{
				sshFailure("vobd/ssh_failure", 0),
				sshFailure("vobd/ssh_failure", 100*time.Millisecond),
				sshFailure("sshd/pam_failure", 200*time.Millisecond),
				sshFailure("sshd/pam_failure", 300*time.Millisecond),
				sshFailure("sshd/pam_failure", 400*time.Millisecond),
				sshFailure("vobd/ssh_failure", 500*time.Millisecond),
			},
			want: []bool{true, true, false, false, true, false},
		},
		{
			name: "reports further apart than the window count again",
			events: []audit.Event{
				hostdLogin("hostd/accepted_password", 0),
				hostdLogin("hostd/login_event", 5*time.Second+time.Millisecond),
			},
			want: []bool{true, true},
		},
		{
			name: "reports exactly one window apart are one fact",
			events: []audit.Event{
				hostdLogin("hostd/accepted_password", 0),
				hostdLogin("hostd/login_event", 5*time.Second),
			},
			want: []bool{true, false},
		},
		{
			name:   "a custom window",
			window: time.Second,
			events: []audit.Event{
				hostdLogin("hostd/accepted_password", 0),
				hostdLogin("hostd/login_event", 2*time.Second),
				hostdLogin("hostd/accepted_password", 2500*time.Millisecond),
			},
			want: []bool{true, true, false},
		},
		{
			name: "the same EventID twice counts once",
			events: []audit.Event{
				func() audit.Event { e := hostdLogin("hostd/login_event", 0); e.EventID = "hostd:975279"; return e }(),
				func() audit.Event { e := hostdLogin("hostd/login_event", 0); e.EventID = "hostd:975279"; return e }(),
			},
			want: []bool{true, false},
		},
		{
			name: "without EventID the same report twice is two facts",
			events: []audit.Event{
				hostdLogin("hostd/login_event", 0),
				hostdLogin("hostd/login_event", 0),
			},
			want: []bool{true, true},
		},
		{
			name: "different EventIDs of one reporter are two facts",
			events: []audit.Event{
				func() audit.Event { e := hostdLogin("hostd/login_event", 0); e.EventID = "hostd:1"; return e }(),
				func() audit.Event { e := hostdLogin("hostd/login_event", 0); e.EventID = "hostd:2"; return e }(),
			},
			want: []bool{true, true},
		},
		{
			name: "the same EventID on another host is another fact",
			events: []audit.Event{
				func() audit.Event { e := hostdLogin("hostd/login_event", 0); e.EventID = "hostd:1"; return e }(),
				func() audit.Event {
					e := hostdLogin("hostd/login_event", 0)
					e.EventID, e.Host = "hostd:1", "esx02"
					return e
				}(),
			},
			want: []bool{true, true},
		},
		{
			name: "a late report dedups against its own window",
			events: []audit.Event{
				hostdLogin("hostd/accepted_password", 0),
				hostdLogin("hostd/accepted_password", 60*time.Second),
				hostdLogin("hostd/login_event", 1*time.Second), // late echo of the first
				hostdLogin("hostd/login_event", 61*time.Second),
			},
			want: []bool{true, true, false, false},
		},
		{
			name: "a late genuine report in an old window still counts",
			events: []audit.Event{
				hostdLogin("hostd/accepted_password", 0),
				hostdLogin("hostd/accepted_password", 60*time.Second),
				hostdLogin("hostd/accepted_password", 1*time.Second), // a second login, reported late
			},
			want: []bool{true, true, true},
		},
		{
			name: "reporter falls back to the rule",
			events: []audit.Event{
				{Time: at(0), Host: "h", Kind: audit.KindShellCommand, User: "root", Command: "ls", Rule: "shell/command"},
				{Time: at(0), Host: "h", Kind: audit.KindShellCommand, User: "root", Command: "ls", Rule: "esxaudit/shell"},
				{Time: at(0), Host: "h", Kind: audit.KindShellCommand, User: "root", Command: "ls", Rule: "shell/command"},
			},
			want: []bool{true, false, true},
		},
		{
			name: "a service change is the host's, whoever the line names",
			events: []audit.Event{
				{Time: at(0), Host: "esx01", Kind: audit.KindServiceEnabled, Service: audit.ServiceSSH, Reporter: "ssh/init"},
				{Time: at(0), Host: "esx01", Kind: audit.KindServiceEnabled, Service: audit.ServiceSSH, User: "root", Reporter: "hostd/event"},
				{Time: at(0), Host: "esx01", Kind: audit.KindServiceDisabled, Service: audit.ServiceSSH, User: "root", Reporter: "hostd/event"},
				{Time: at(0), Host: "esx01", Kind: audit.KindServiceEnabled, Service: audit.ServiceDCUI, Reporter: "hostd/event"},
			},
			want: []bool{true, false, true, true},
		},
		{
			name: "a config change is keyed by setting",
			events: []audit.Event{
				{Time: at(0), Host: "esx01", Kind: audit.KindConfigChanged, Setting: audit.SettingSyslog, Command: "esxcli system syslog config set", Reporter: "shell"},
				{Time: at(0), Host: "esx01", Kind: audit.KindConfigChanged, Setting: audit.SettingSyslog, Reporter: "hostd/set"},
				{Time: at(0), Host: "esx01", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall, Reporter: "hostd/set"},
			},
			want: []bool{true, false, true},
		},
		{
			name: "different users are different logins",
			events: []audit.Event{
				hostdLogin("hostd/accepted_password", 0),
				func() audit.Event { e := hostdLogin("hostd/login_event", 0); e.User = "admin"; return e }(),
			},
			want: []bool{true, true},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(c.want) != len(c.events) {
				t.Fatalf("bad case: %d events, %d wants", len(c.events), len(c.want))
			}
			f := New(c.window, 0)
			for i := range c.events {
				e := c.events[i]
				if got := f.Allow(&e); got != c.want[i] {
					t.Errorf("event %d (%s by %q at %v): Allow = %v, want %v", i, e.Kind, e.Reporter, e.Time.Sub(t0), got, c.want[i])
				}
			}
		})
	}
}

// The same EventID arriving again much later is a new record (ids are
// reused after a restart), not a resend.
func TestAllowEventIDOutsideWindow(t *testing.T) {
	f := New(time.Second, 0)
	e1 := hostdLogin("hostd/login_event", 0)
	e1.EventID = "hostd:7"
	e2 := e1
	e2.Time = at(time.Hour)
	if !f.Allow(&e1) || !f.Allow(&e2) {
		t.Fatal("same EventID an hour apart: want both allowed")
	}
}

func TestKeyBound(t *testing.T) {
	for _, max := range []int{1, 2, 16, 100} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			f := New(time.Second, max)
			for i := 0; i < 5000; i++ {
				e := audit.Event{Time: at(time.Duration(i) * time.Millisecond), Host: "esx01", Kind: audit.KindLoginFailed,
					Method: audit.MethodSSH, User: fmt.Sprintf("user%d", i), Reporter: "sshd", EventID: fmt.Sprintf("sshd:%d", i)}
				if !f.Allow(&e) {
					t.Fatalf("distinct user %d was not allowed", i)
				}
				if n := f.Len(); n > max {
					t.Fatalf("after %d distinct users Len() = %d, want <= %d", i+1, n, max)
				}
			}
		})
	}
}

// After a flood forced a prune, a fact seen just before is still
// recognized when its key survived, and the filter keeps working.
func TestKeyBoundStillDedups(t *testing.T) {
	f := New(time.Second, 64)
	for i := 0; i < 1000; i++ {
		e := audit.Event{Time: at(time.Duration(i) * 10 * time.Second), Host: "h", Kind: audit.KindLoginFailed,
			Method: audit.MethodSSH, User: fmt.Sprintf("u%d", i), Reporter: "sshd"}
		f.Allow(&e)
	}
	last := at(999 * 10 * time.Second)
	a := audit.Event{Time: last, Host: "h", Kind: audit.KindLoginFailed, Method: audit.MethodSSH, User: "u999", Reporter: "vobd"}
	if f.Allow(&a) {
		t.Error("echo of the newest fact by another reporter was allowed")
	}
	if f.Len() > 64 {
		t.Errorf("Len() = %d", f.Len())
	}
}

func TestConcurrentAllow(t *testing.T) {
	f := New(0, 0)
	done := make(chan int)
	for g := 0; g < 4; g++ {
		go func(g int) {
			n := 0
			for i := 0; i < 200; i++ {
				e := sshFailure(fmt.Sprintf("rep%d", g), time.Duration(i)*time.Millisecond)
				if f.Allow(&e) {
					n++
				}
			}
			done <- n
		}(g)
	}
	total := 0
	for g := 0; g < 4; g++ {
		total += <-done
	}
	// Four reporters each report 200 failures of one key within 200ms (one
	// window): the fact counts as often as one reporter saw it.
	if total != 200 {
		t.Errorf("allowed %d, want 200", total)
	}
}

// idKey hashes what the string it replaces held.
func TestIDKey(t *testing.T) {
	for _, c := range [][2]string{{"", ""}, {"esx01", "hostd:975279"}, {"a\x00", "b"}, {"a", "\x00b"}, {strings.Repeat("h", 300), strings.Repeat("i", 200)}} {
		if got, want := idKey(c[0], c[1]), maphash.String(seed, c[0]+"\x00"+c[1]); got != want {
			t.Errorf("idKey(%q, %q) = %x, want %x", c[0], c[1], got, want)
		}
	}
}

// The entries of new keys share chunks but never each other's slots.
func TestNewEntriesDoNotAlias(t *testing.T) {
	f := New(0, 0)
	var all [][]entry
	for i := range 3 * entryChunk {
		all = append(all, f.newEntries(entry{emitted: int32(i)}))
	}
	for i := range all {
		all[i] = append(all[i], entry{emitted: -1}) // a key's second window
		all[i][0].nrep = int32(i)
	}
	for i, es := range all {
		if len(es) != 2 || es[0].emitted != int32(i) || es[0].nrep != int32(i) || es[1].emitted != -1 {
			t.Fatalf("key %d: entries %+v", i, es)
		}
	}
}

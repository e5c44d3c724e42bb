package pipeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// A vSphere Client login is one login, whichever half comes first; an SSO
// login with no vCenter session stays an sso login once its window is over.
func TestLoginJoin(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	sso := audit.Event{Time: t0, Source: audit.SourceSyslog, Kind: audit.KindLogin, Method: audit.MethodSSO, User: "administrator@vsphere.local", ClientIP: "10.1.2.3"}
	vc := audit.Event{Time: t0.Add(time.Second), Source: audit.SourceSyslog, Kind: audit.KindLogin, Method: audit.MethodVCenter, User: `VSPHERE.LOCAL\Administrator`, ClientIP: "127.0.0.1"}
	other := audit.Event{Time: t0.Add(3 * time.Minute), Source: audit.SourceSyslog, Kind: audit.KindLogout, Method: audit.MethodHostd, User: "root"}
	for _, c := range []struct {
		name string
		in   []audit.Event
		want []string // method client_ip, in order
	}{
		{"sso first", []audit.Event{sso, vc}, []string{"vcenter 10.1.2.3"}},
		{"vcenter first", []audit.Event{vc, sso}, []string{"vcenter 10.1.2.3"}},
		{"sso alone, released by a later event", []audit.Event{sso, other}, []string{"sso 10.1.2.3", "hostd "}},
		{"vcenter alone, at flush", []audit.Event{vc}, []string{"vcenter 127.0.0.1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			p := New(Options{}, audit.SinkFunc(func(e audit.Event) { got = append(got, e.Method+" "+e.ClientIP) }))
			for _, e := range c.in {
				p.Record(e)
			}
			p.Flush()
			if len(got) != len(c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("got %q, want %q", got, c.want)
				}
			}
		})
	}
}

// Tick releases a half that waited the window on the wall clock.
func TestLoginJoinTick(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	var got []audit.Event
	j := NewLoginJoin(audit.LoginJoinWindow, 10, func() time.Time { return now }, func(e audit.Event) { got = append(got, e) })
	e := audit.Event{Time: now, Kind: audit.KindLogin, Method: audit.MethodSSO, User: "a@b", ClientIP: "10.0.0.1"}
	audit.Normalize(&e)
	j.Add(e)
	j.Tick()
	if len(got) != 0 || j.Held() != 1 {
		t.Fatalf("released early: %v", got)
	}
	now = now.Add(audit.LoginJoinWindow + time.Second)
	j.Tick()
	if len(got) != 1 || j.Held() != 0 {
		t.Fatalf("not released after the window: %v", got)
	}
}

// A mark waits for the halves held when it was set: a source's checkpoint
// never runs ahead of an event the join still holds.
func TestLoginJoinMark(t *testing.T) {
	now := time.Date(2025, 1, 29, 8, 0, 0, 0, time.UTC)
	var got []string
	j := NewLoginJoin(audit.LoginJoinWindow, 16, func() time.Time { return now }, func(e audit.Event) { got = append(got, "event:"+e.User) })
	j.Mark(func() { got = append(got, "mark1") }) // nothing held: at once
	half := audit.Event{Time: now, Source: audit.SourceVCenter, Kind: audit.KindLogin, Method: audit.MethodVCenter, User: "bob", ClientIP: "127.0.0.1"}
	audit.Normalize(&half)
	j.Add(half)
	j.Mark(func() { got = append(got, "mark2") })
	other := audit.Event{Time: now, Source: audit.SourceVCenter, Kind: audit.KindLogout, User: "carol"}
	j.Add(other) // passes at once; mark2 still waits for bob's half
	if want := "[mark1 event:carol]"; fmt.Sprint(got) != want {
		t.Fatalf("before the release: %v, want %v", got, want)
	}
	now = now.Add(audit.LoginJoinWindow + time.Second)
	j.Tick()
	if want := "[mark1 event:carol event:bob mark2]"; fmt.Sprint(got) != want {
		t.Fatalf("after the release: %v, want %v", got, want)
	}
}

// A checkpoint never falls between the two halves of a joined login. The
// vCenter session (page 1) waits for its SSO half; page 1's checkpoint
// waits with it. The SSO half comes in page 2: page 1's checkpoint, which
// covers the session but not the SSO half, must not be saved then (nor by
// a Tick before page 2 ends): after a crash the SSO half alone would be
// read again, held, and counted a second time or joined to the next
// session of the user. Page 2's checkpoint supersedes it. Found by the
// SIGKILL test (e2e TestCrashExactlyOnce): an exporter's own login stored
// twice, the next one with the first one's address.
func TestLoginJoinMarkAcrossJoin(t *testing.T) {
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	var got []string
	j := NewLoginJoin(audit.LoginJoinWindow, 16, func() time.Time { return now }, func(e audit.Event) { got = append(got, "event:"+e.User+"@"+e.ClientIP) })
	vc := audit.Event{Time: now, Source: audit.SourceVCenter, Kind: audit.KindLogin, Method: audit.MethodVCenter, User: "bob@vsphere.local", ClientIP: "127.0.0.1"}
	sso := audit.Event{Time: now.Add(time.Second), Source: audit.SourceVCenter, Kind: audit.KindLogin, Method: audit.MethodSSO, User: "bob@vsphere.local", ClientIP: "10.1.2.3"}
	other := audit.Event{Time: now.Add(2 * time.Second), Source: audit.SourceVCenter, Kind: audit.KindLogout, User: "carol"}
	for _, e := range []*audit.Event{&vc, &sso, &other} {
		audit.Normalize(e)
	}
	j.Add(vc)
	j.Mark(func() { got = append(got, "checkpoint1") })
	j.Add(sso)
	j.Tick()
	if want := "[event:bob@vsphere.local@10.1.2.3]"; fmt.Sprint(got) != want {
		t.Fatalf("after the join: %v, want %v (no checkpoint between the halves)", got, want)
	}
	j.Add(other)
	j.Mark(func() { got = append(got, "checkpoint2") })
	if want := "[event:bob@vsphere.local@10.1.2.3 event:carol@ checkpoint2]"; fmt.Sprint(got) != want {
		t.Fatalf("after page 2: %v, want %v", got, want)
	}

	// A mark set before a join runs at Flush when none follows it.
	got = nil
	j.Add(vc)
	j.Mark(func() { got = append(got, "checkpoint3") })
	j.Add(sso)
	j.Flush()
	if want := "[event:bob@vsphere.local@10.1.2.3 checkpoint3]"; fmt.Sprint(got) != want {
		t.Fatalf("at flush: %v, want %v", got, want)
	}
}

// A mark set while released halves are on their way to the sink (Tick
// took them under the lock and emits them outside it) runs after them,
// not before: otherwise a checkpoint would be queued ahead of a half it
// covers.
func TestLoginJoinMarkWhileReleasing(t *testing.T) {
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	var got []string
	var j *LoginJoin
	j = NewLoginJoin(audit.LoginJoinWindow, 16, func() time.Time { return now }, func(e audit.Event) {
		if e.User == "bob@vsphere.local" {
			// The source's next page ends here, between the release and the emission.
			j.Mark(func() { got = append(got, "checkpoint2") })
		}
		got = append(got, "event:"+e.User)
	})
	vc := audit.Event{Time: now, Source: audit.SourceVCenter, Kind: audit.KindLogin, Method: audit.MethodVCenter, User: "bob@vsphere.local", ClientIP: "127.0.0.1"}
	audit.Normalize(&vc)
	j.Add(vc)
	j.Mark(func() { got = append(got, "checkpoint1") })
	now = now.Add(audit.LoginJoinWindow + time.Second)
	j.Tick()
	if want := "[event:bob@vsphere.local checkpoint1 checkpoint2]"; fmt.Sprint(got) != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

package dedup

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// model is de-duplication as the package documents it, with plain maps
// and no memory bound: a record id seen within the window is a resend; a
// fact (the fields its kind is told apart by) counts, within a window from
// its first report, as often as its most prolific reporter reported it. A
// fact keeps its last maxWindowsPerKey windows.
type model struct {
	window time.Duration
	ids    map[string]time.Time
	facts  map[string][]*modelWindow
}

type modelWindow struct {
	first   time.Time
	counts  map[string]int
	emitted int
}

// factKey is the fact an event reports (package doc, Key).
func factKey(e *audit.Event) string {
	f := []string{e.Host, string(e.Kind)}
	switch e.Kind {
	case audit.KindLogin, audit.KindLoginFailed, audit.KindLogout, audit.KindAccountLocked:
		f = append(f, e.Method, e.User, e.OpID)
	case audit.KindServiceEnabled, audit.KindServiceDisabled, audit.KindLockdownEnabled, audit.KindLockdownDisabled:
		f = append(f, e.Service)
	case audit.KindConfigChanged:
		f = append(f, e.Setting)
	case audit.KindPermissionChanged, audit.KindRoleChanged, audit.KindAccountChanged, audit.KindLoggingFailed:
	case audit.KindShellCommand:
		f = append(f, e.User, truncate(e.Command))
	default:
		f = append(f, e.Method, e.User, e.VM, e.TicketType, e.SourceHost, e.TargetHost, e.Setting, e.OpID,
			e.Action, e.Operation, truncate(e.Path))
	}
	return strings.Join(f, "\x00")
}

func (m *model) allow(e *audit.Event) bool {
	if e.EventID != "" {
		idk := e.Host + "\x00" + e.EventID
		if t, ok := m.ids[idk]; ok && absDuration(e.Time.Sub(t)) <= m.window {
			return false
		}
		m.ids[idk] = e.Time
	}
	k := factKey(e)
	var w *modelWindow
	for _, x := range m.facts[k] {
		if absDuration(e.Time.Sub(x.first)) <= m.window {
			w = x
			break
		}
	}
	if w == nil {
		w = &modelWindow{first: e.Time, counts: map[string]int{}}
		ws := append(m.facts[k], w)
		if len(ws) > maxWindowsPerKey {
			ws = ws[len(ws)-maxWindowsPerKey:]
		}
		m.facts[k] = ws
	}
	rep := e.Reporter
	if rep == "" {
		rep = e.Rule
	}
	w.counts[rep]++
	if w.counts[rep] > w.emitted {
		w.emitted++
		return true
	}
	return false
}

// FuzzAllow feeds a Filter events decoded from the input, 4 bytes each,
// from small vocabularies (so that facts, reporters and record ids
// collide), within a span of event time the Filter keeps in one
// generation, and holds every answer to the model's.
func FuzzAllow(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 2})
	f.Add([]byte{1, 1, 4, 0, 1, 1, 5, 3, 1, 1, 4, 9, 1, 1, 4, 70})
	f.Add([]byte{2, 3, 0x10, 0, 2, 3, 0x10, 5, 3, 0, 0x21, 30, 3, 0, 0x21, 31, 6, 7, 0, 0})
	kinds := []audit.Kind{audit.KindLogin, audit.KindLoginFailed, audit.KindServiceEnabled, audit.KindConfigChanged,
		audit.KindPermissionChanged, audit.KindShellCommand, audit.KindVMPower, audit.KindLogout}
	const window = time.Second
	f.Fuzz(func(t *testing.T, in []byte) {
		d := New(window, 0)
		m := &model{window: window, ids: map[string]time.Time{}, facts: map[string][]*modelWindow{}}
		for i := 0; i+4 <= len(in) && i < 4*256; i += 4 {
			b := in[i : i+4]
			e := audit.Event{
				Kind:     kinds[int(b[0])%len(kinds)],
				Host:     "esx0" + strconv.Itoa(int(b[1]&1)),
				User:     []string{"root", "admin", ""}[int(b[1]>>1&3)%3],
				Method:   []string{audit.MethodSSH, audit.MethodHostd}[int(b[1]>>3&1)],
				Service:  "ssh",
				Setting:  []string{"a", "b"}[int(b[1]>>4&1)],
				Command:  []string{"ls", "rm -rf /"}[int(b[1]>>5&1)],
				VM:       []string{"vm1", "vm2"}[int(b[1]>>6&1)],
				Reporter: []string{"sshd/a", "vobd/b", "hostd/c", ""}[int(b[2]&3)],
				Rule:     "rule/" + strconv.Itoa(int(b[0]>>4&1)),
				// 61 steps of a tenth of the window: the span a generation covers.
				Time: t0.Add(time.Duration(int(b[3])%(generationSpan*10+1)) * window / 10),
			}
			if id := b[2] >> 2 & 7; id < 3 {
				e.EventID = "ev" + strconv.Itoa(int(id))
			}
			want := m.allow(&e)
			if got := d.Allow(&e); got != want {
				t.Fatalf("event %d (%s %s %s by %q, id %q, at %s): Allow = %v, the model says %v",
					i/4, e.Kind, e.Host, e.User, e.Reporter, e.EventID, e.Time.Sub(t0), got, want)
			}
		}
	})
}

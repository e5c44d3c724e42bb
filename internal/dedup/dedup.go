// Package dedup makes one fact one event. ESXi reports a login several
// times: hostd's "Accepted password ..." and "Event N : User x@ip logged in"
// (same opID), sshd's "Accepted ..." and vobd's "SSH session was opened"
// (once per correlator). Reports of the same fact share a key; within a
// short window the fact is counted as often as the most prolific single
// reporter saw it, so N genuine logins reported by two programs still count
// N, and one login reported by three programs counts once.
package dedup

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/audit"
)

// DefaultWindow is how far apart (in event time) reports of one fact may be.
const DefaultWindow = 5 * time.Second

// maxWindowsPerKey bounds the windows remembered for one key.
const maxWindowsPerKey = 4

// DefaultMaxKeys bounds the memory of a Filter.
const DefaultMaxKeys = 65536

type entry struct {
	first   time.Time
	emitted int
	counts  []reporterCount // few: one per program or correlator that reports the fact
}

type reporterCount struct {
	reporter string
	n        int
}

// add counts one report by rep and returns that reporter's count.
func (en *entry) add(rep string) int {
	for i := range en.counts {
		if en.counts[i].reporter == rep {
			en.counts[i].n++
			return en.counts[i].n
		}
	}
	en.counts = append(en.counts, reporterCount{rep, 1})
	return 1
}

// Filter de-duplicates events. It is safe for concurrent use.
type Filter struct {
	window  time.Duration
	maxKeys int
	mu      sync.Mutex
	m       map[uint64][]*entry
	ids     map[uint64]time.Time
	latest  time.Time
}

// New returns a Filter; zero arguments take the defaults.
func New(window time.Duration, maxKeys int) *Filter {
	if window <= 0 {
		window = DefaultWindow
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Filter{window: window, maxKeys: maxKeys, m: map[uint64][]*entry{}, ids: map[uint64]time.Time{}}
}

// Key identifies the fact an event reports. Which fields make up a fact
// depends on the kind: a login is a user's (within one hostd operation when
// the line names it); a service or lockdown change is a host's, whoever
// the line names as its user (hostd names one, the init script does not).
// The client IP is left out on purpose: some reports of a session name it
// and some do not.
func Key(e *audit.Event) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	add := func(parts ...string) {
		for _, p := range parts {
			h.WriteString(p)
			h.WriteByte(0)
		}
	}
	switch e.Kind {
	case audit.KindLogin, audit.KindLoginFailed, audit.KindLogout, audit.KindAccountLocked:
		add(e.Host, string(e.Kind), e.Method, e.User, e.OpID)
	case audit.KindServiceEnabled, audit.KindServiceDisabled, audit.KindLockdownEnabled, audit.KindLockdownDisabled:
		add(e.Host, string(e.Kind), e.Service)
	case audit.KindConfigChanged:
		// The shell command, hostd's "Set called with key" and vobd's VOB
		// of one change name it differently; the setting is what they share.
		add(e.Host, string(e.Kind), e.Setting)
	case audit.KindPermissionChanged, audit.KindRoleChanged, audit.KindAccountChanged, audit.KindLoggingFailed:
		add(e.Host, string(e.Kind))
	case audit.KindShellCommand:
		add(e.Host, string(e.Kind), e.User, truncate(e.Command))
	default:
		add(e.Host, string(e.Kind), e.Method, e.User, e.VM, e.TicketType, e.SourceHost, e.TargetHost, e.Setting, e.OpID)
	}
	return h.Sum64()
}

// seed is fixed per process: keys only live in memory.
var seed = maphash.MakeSeed()

func truncate(s string) string {
	if len(s) > 256 {
		return s[:256]
	}
	return s
}

// Allow reports whether e should be counted.
func (f *Filter) Allow(e *audit.Event) bool {
	k := Key(e)
	rep := e.Reporter
	if rep == "" {
		rep = e.Rule
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if e.Time.After(f.latest) {
		f.latest = e.Time
	}
	if e.EventID != "" {
		// The same record received twice (a resend, two relays).
		idk := maphash.String(seed, e.Host+"\x00"+e.EventID)
		if t, ok := f.ids[idk]; ok && absDuration(e.Time.Sub(t)) <= f.window {
			return false
		}
		if len(f.ids) >= f.maxKeys {
			f.ids = make(map[uint64]time.Time, f.maxKeys/4)
		}
		f.ids[idk] = e.Time
	}
	// A key keeps a few recent windows, so that a late report (a vCenter
	// relay, arriving after a newer event) still finds its fact.
	entries := f.m[k]
	var en *entry
	for _, x := range entries {
		if absDuration(e.Time.Sub(x.first)) <= f.window {
			en = x
			break
		}
	}
	if en == nil {
		if len(f.m) >= f.maxKeys {
			f.prune()
		}
		en = &entry{first: e.Time}
		if len(entries) >= maxWindowsPerKey {
			entries = entries[1:]
		}
		f.m[k] = append(entries, en)
	}
	if en.add(rep) > en.emitted {
		en.emitted++
		return true
	}
	return false
}

// prune drops entries outside the window of the latest event; if that does
// not free enough, it starts over (a flood of distinct keys).
func (f *Filter) prune() {
	for k, entries := range f.m {
		if f.latest.Sub(entries[len(entries)-1].first) > f.window {
			delete(f.m, k)
		}
	}
	if len(f.m) >= f.maxKeys*3/4 {
		f.m = make(map[uint64][]*entry, f.maxKeys/4)
	}
}

// Len returns the number of keys remembered.
func (f *Filter) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

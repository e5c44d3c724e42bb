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

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// DefaultWindow is how far apart (in event time) reports of one fact may be.
const DefaultWindow = 5 * time.Second

// maxWindowsPerKey bounds the windows remembered for one key.
const maxWindowsPerKey = 4

// DefaultMaxKeys bounds the memory of a Filter.
const DefaultMaxKeys = 65536

type entry struct {
	first   time.Time
	emitted int32
	nrep    int32
	counts  [maxReporters]reporterCount // one per program or correlator that reports the fact
}

type reporterCount struct {
	reporter uint64
	n        int32
}

// maxReporters bounds the reporters tracked per fact; ESXi reports a fact
// through at most four (sshd, vobd per correlator, hostd).
const maxReporters = 6

// add counts one report by rep and returns that reporter's count.
func (en *entry) add(rep uint64) int32 {
	for i := int32(0); i < en.nrep; i++ {
		if en.counts[i].reporter == rep {
			en.counts[i].n++
			return en.counts[i].n
		}
	}
	if en.nrep == maxReporters {
		return en.emitted + 1 // an unknown extra reporter: count it
	}
	en.counts[en.nrep] = reporterCount{rep, 1}
	en.nrep++
	return 1
}

// Filter de-duplicates events. It is safe for concurrent use. It keeps two
// generations of facts, so that memory stays bounded without scanning: when
// the current generation spans generationSpan windows of event time (or
// holds too many keys), the older one is dropped.
type Filter struct {
	window  time.Duration
	maxKeys int
	mu      sync.Mutex
	cur     map[uint64][]entry
	prev    map[uint64][]entry
	ids     map[uint64]time.Time
	prevIDs map[uint64]time.Time
	genFrom time.Time
	chunk   []entry // where newEntries cuts from
}

// New returns a Filter; zero arguments take the defaults.
func New(window time.Duration, maxKeys int) *Filter {
	if window <= 0 {
		window = DefaultWindow
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Filter{window: window, maxKeys: maxKeys, cur: map[uint64][]entry{}, ids: map[uint64]time.Time{}}
}

// generationSpan is how much event time one generation covers, in windows:
// a late report (a vCenter relay) still finds its fact for at least this long.
const generationSpan = 6

// rotate starts a new generation when the current one spans
// generationSpan windows; it also keeps the number of keys within maxKeys.
func (f *Filter) rotate(t time.Time) {
	if f.genFrom.IsZero() {
		f.genFrom = t
	}
	if t.Sub(f.genFrom) > generationSpan*f.window || len(f.cur)+len(f.prev) >= f.maxKeys || len(f.ids)+len(f.prevIDs) >= f.maxKeys {
		// The maps of the generation dropped are reused, cleared.
		oldest, oldestIDs := f.prev, f.prevIDs
		if oldest == nil {
			oldest = make(map[uint64][]entry, len(f.cur))
		}
		if oldestIDs == nil {
			oldestIDs = make(map[uint64]time.Time, len(f.ids))
		}
		clear(oldest)
		clear(oldestIDs)
		f.prev, f.cur = f.cur, oldest
		f.prevIDs, f.ids = f.ids, oldestIDs
		if len(f.prev) >= f.maxKeys {
			f.prev = nil
		}
		if len(f.prevIDs) >= f.maxKeys {
			f.prevIDs = nil
		}
		f.genFrom = t
	}
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
	case audit.KindGuestLogon, audit.KindGuestLogoff:
		// login(1)'s PAM line and its own "LOGIN ON", Windows' 4647 (no
		// logon type) and 4634 of one logoff: the method is left out.
		add(e.Host, string(e.Kind), e.User, e.Action)
	default:
		add(e.Host, string(e.Kind), e.Method, e.User, e.VM, e.TicketType, e.SourceHost, e.TargetHost, e.Setting, e.OpID,
			e.Action, e.Operation, truncate(e.Path))
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

// idKey is maphash.String(seed, host+"\x00"+id) without building the string.
func idKey(host, id string) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(host)
	h.WriteByte(0)
	h.WriteString(id)
	return h.Sum64()
}

// Allow reports whether e should be counted.
func (f *Filter) Allow(e *audit.Event) bool {
	k := Key(e)
	rep := e.Reporter
	if rep == "" {
		rep = e.Rule
	}
	rh := maphash.String(seed, rep)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rotate(e.Time)
	if e.EventID != "" {
		// The same record received twice (a resend, two relays).
		idk := idKey(e.Host, e.EventID)
		t, ok := f.ids[idk]
		if !ok {
			t, ok = f.prevIDs[idk]
		}
		if ok && absDuration(e.Time.Sub(t)) <= f.window {
			return false
		}
		f.ids[idk] = e.Time
	}
	en := f.find(f.cur, k, e.Time)
	if en == nil {
		fact := entry{first: e.Time}
		if old := f.find(f.prev, k, e.Time); old != nil {
			fact = *old // carry the fact over to the current generation
		}
		es := f.cur[k]
		if es == nil {
			es = f.newEntries(fact)
		} else {
			es = append(es, fact)
		}
		f.cur[k] = es
		if len(es) > maxWindowsPerKey {
			es = es[len(es)-maxWindowsPerKey:]
			f.cur[k] = es
		}
		en = &es[len(es)-1]
	}
	if en.add(rh) > en.emitted {
		en.emitted++
		return true
	}
	return false
}

// entryChunk is how many keys' first entries one allocation holds.
const entryChunk = 64

// newEntries returns the entries of a new key, fact alone. They are cut
// from a chunk shared with other keys, with no room to grow (a key's next
// window is appended to a copy), so that a new key costs no allocation of
// its own.
func (f *Filter) newEntries(fact entry) []entry {
	if len(f.chunk) == cap(f.chunk) {
		f.chunk = make([]entry, 0, entryChunk)
	}
	f.chunk = append(f.chunk, fact)
	n := len(f.chunk)
	return f.chunk[n-1 : n : n]
}

// find returns the entry of key k whose window holds t. A key keeps a few
// recent windows, so that a late report (a vCenter relay, arriving after a
// newer event) still finds its fact.
func (f *Filter) find(m map[uint64][]entry, k uint64, t time.Time) *entry {
	es := m[k]
	for i := range es {
		if absDuration(t.Sub(es[i].first)) <= f.window {
			return &es[i]
		}
	}
	return nil
}

// Len returns the number of keys remembered.
func (f *Filter) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.cur) + len(f.prev)
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

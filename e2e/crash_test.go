package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	dto "github.com/prometheus/client_model/go"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/journal"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vcsim"
)

// crashSeedEnv overrides the seed of TestCrashExactlyOnce (it is logged).
const crashSeedEnv = "VSPHERE_AUDIT_CRASH_SEED"

const (
	crashEvents   = 10000
	crashUser     = "auditor@vsphere.local"
	crashPassword = "kill-9-s3cret"
	// crashBacklog is how many posted events may wait unstored before the
	// test posts more. vcsim keeps only its newest ~1000 events (a
	// collector whose position falls out of them stalls, and a restart
	// cannot re-read what fell out): a backlog plus the largest chunk stays
	// well below that.
	crashBacklog  = 200
	crashChunkMin = 250
	crashChunkMax = 500
	crashKillsMin = 12
)

// posted is one event posted to vcsim: what the journal must hold for it.
type posted struct {
	user, kind, ip, vm string
	key                int32
	created            time.Time
}

// TestCrashExactlyOnce is the crash-and-resume test of the vCenter source
// with real crashes: the exporter built from this tree runs as a child
// process with a journal, reading an in-test vCenter simulator (TLS, the
// thumbprint pinned, the password in a file); 10,000 events are posted in
// chunks while the child is killed with SIGKILL at random points (shortly
// after a chunk, while its page is read, recorded or committed; after the
// commit; right after a start), at least crashKillsMin times, and
// restarted on the same journal each time. After a final clean run: every
// posted event is in the journal exactly once with its exact time and
// vCenter key, none is lost, the checkpoint covers the last one, and the
// counters on /metrics, live and restored by a fresh start, equal the
// per-kind totals of the journal.
//
// Each start's own login (vCenter's session event, from 127.0.0.1) waits
// in the login join for its SSO half, which the test posts, as vCenter
// does for a vSphere Client login: a kill while it waits must neither lose
// it nor let the checkpoint pass it; each start's login is in the journal
// once, joined. After a third of the restarts the SSO half comes only with
// the next chunk and the child is killed as soon as the joined login is
// stored: a checkpoint saved between the two halves would have the SSO
// half read again alone and the login stored twice (it was, before the
// login join held such checkpoints back).
//
// The seed is logged; set VSPHERE_AUDIT_CRASH_SEED to replay a run's
// schedule (chunk sizes, event kinds, kill points and delays; where a kill
// lands in the child's work is the machine's timing).
func TestCrashExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; not in -short mode")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", crashSeedEnv, s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with %s=%d)", seed, crashSeedEnv, seed)
	rnd := rand.New(rand.NewPCG(seed, 0x6b696c6c2d39))
	begin := time.Now()
	dir := t.TempDir()
	exe := buildExporter(t, dir)
	sim := startCrashSim(t)

	pwFile := filepath.Join(dir, "vcenter-password")
	if err := os.WriteFile(pwFile, []byte(crashPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	jdir := filepath.Join(dir, "journal")
	vcName := sim.url.Host // the vcenter label and checkpoint name: host:port
	args := func(web string) []string {
		return []string{"--log.level=debug", "--web.listen-address=" + web,
			"--syslog.udp.listen-address=", "--syslog.tcp.listen-address=",
			"--journal.path=" + jdir,
			"--vcenter.url=" + sim.url.String(), "--vcenter.user=" + crashUser, "--vcenter.password-file=" + pwFile,
			"--vcenter.thumbprint=" + sim.thumb, "--vcenter.state-dir=" + filepath.Join(dir, "state"),
			"--vcenter.lookback=1h", "--vcenter.poll-interval=20ms", "--vcenter.inventory-interval=1h"}
	}

	// The schedule, all from the seed: chunk sizes, after which chunks the
	// child is killed and how long after posting.
	var chunks []int
	for n := 0; n < crashEvents; {
		c := min(crashChunkMin+rnd.IntN(crashChunkMax-crashChunkMin+1), crashEvents-n)
		chunks = append(chunks, c)
		n += c
	}
	killAfter := map[int]bool{}
	for _, i := range rnd.Perm(len(chunks))[:min(len(chunks), crashKillsMin+rnd.IntN(4))] {
		killAfter[i] = true
	}
	// How a kill comes: mid-chunk (once the journal holds part, not all,
	// of the chunk being posted: pages read, recorded and committed while
	// more arrive), or a delay after the chunk is posted: while its page
	// is read or recorded, around the commit, or after it.
	type killPlan struct {
		mid   bool
		delay time.Duration
	}
	plan := func() killPlan {
		switch r := rnd.IntN(10); {
		case r < 3:
			return killPlan{mid: true}
		case r < 6:
			return killPlan{delay: time.Duration(rnd.IntN(30)) * time.Millisecond}
		case r < 8:
			return killPlan{delay: time.Duration(30+rnd.IntN(170)) * time.Millisecond}
		default:
			return killPlan{delay: time.Duration(200+rnd.IntN(600)) * time.Millisecond}
		}
	}
	var (
		runs   []*crashRun
		events []posted
		ssoIPs []string
		kills  int
		behind []int // per restart: posted events after the journal's checkpoint
		lagged []int // per kill: posted events the journal did not hold yet
		mids   int   // kills with part of a chunk stored
		joins  int   // kills right after a start's login was joined and stored
		// deferred: the current start's SSO half is posted with the next
		// chunk, and the process killed once the joined login is stored.
		deferred bool
	)
	var jr *journal.Journal
	logTails := func() {
		for _, r := range runs[max(0, len(runs)-2):] {
			t.Logf("--- %s log:\n%s", r.p.name, r.p.tail())
		}
	}
	t.Cleanup(func() {
		if t.Failed() && len(runs) > 0 {
			logTails()
		}
	})
	// postSSO posts the SSO half of the current start's login: one login,
	// from a new address.
	postSSO := func() string {
		ip := fmt.Sprintf("10.254.%d.%d", len(ssoIPs)/250, len(ssoIPs)%250+1)
		sim.postSSOLogin(crashUser, ip)
		ssoIPs = append(ssoIPs, ip)
		return ip
	}
	start := func(join bool) *crashRun {
		t.Helper()
		web := freeAddr(t)
		r := &crashRun{p: spawnExporter(t, dir, fmt.Sprintf("exporter-%02d", len(runs)), exe, args(web)...), url: "http://" + web + "/metrics"}
		runs = append(runs, r)
		waitUntil(t, 30*time.Second, r.p.name+" reads the vCenter", r.p, func() bool {
			m, err := scrapeSamples(r.url)
			return err == nil && m.sum("vsphere_audit_vcenter_up", nil) == 1
		})
		if jr == nil {
			jr = openJournalReader(t, jdir)
		}
		if join {
			postSSO()
		}
		return r
	}
	kill := func(r *crashRun, d time.Duration) {
		t.Helper()
		time.Sleep(d)
		select {
		case <-r.p.done:
			t.Fatalf("%s exited before it was killed:\n%s", r.p.name, r.p.tail())
		default:
		}
		if err := r.p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-r.p.done
		kills++
		lagged = append(lagged, len(events)-countStored(t, jr))
	}
	restart := func() *crashRun {
		t.Helper()
		if cp, ok := journalCheckpoint(t, jr, vcName); ok {
			n := 0
			for _, e := range events {
				if e.created.After(cp) {
					n++
				}
			}
			behind = append(behind, n)
		} else {
			behind = append(behind, -1)
		}
		deferred = rnd.IntN(3) == 0
		return start(!deferred)
	}
	// waitCaughtUp waits until at most backlog posted events are unstored
	// and the login of every earlier start is stored (so that vcsim still
	// has whatever a restart must read again), or, with all, every start's.
	// A login stored twice fails at once.
	waitCaughtUp := func(r *crashRun, backlog int, all bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			n, logins := countStored(t, jr), storedSSOLogins(t, jr)
			var missing []string
			for i, ip := range ssoIPs {
				switch {
				case logins[ip] > 1:
					t.Fatalf("the login of start %d (SSO half from %s) is stored %d times", i, ip, logins[ip])
				case logins[ip] == 0 && (all || i < len(ssoIPs)-1):
					missing = append(missing, ip)
				}
			}
			if len(events)-n <= backlog && len(missing) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 60s the journal holds %d of the %d events posted (want all but %d), and not the login of the starts whose SSO half came from %v (stored: %v)",
					n, len(events), backlog, missing, logins)
			}
			select {
			case <-r.p.done:
				t.Fatalf("%s exited:\n%s", r.p.name, r.p.tail())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}

	run := start(true)
	for ci, size := range chunks {
		waitCaughtUp(run, crashBacklog, false)
		run.scrapeDups()
		kp := killPlan{}
		if killAfter[ci] {
			kp = plan()
		}
		if deferred {
			// The SSO half first, then the chunk: the join completes in
			// the page after the session's, followed by the chunk's
			// events; killed as soon as the joined login is stored.
			ip := postSSO()
			for range size {
				events = append(events, sim.postAudit(rnd, len(events)))
			}
			for deadline := time.Now().Add(10 * time.Second); storedSSOLogins(t, jr)[ip] == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: the login joined with %s not stored after 10s", run.p.name, ip)
				}
			}
			kill(run, 0)
			joins++
		} else if !kp.mid {
			for range size {
				events = append(events, sim.postAudit(rnd, len(events)))
			}
			if !killAfter[ci] {
				continue
			}
			kill(run, kp.delay)
		} else {
			// Post in slices of 25, 2ms apart, and kill as soon as the
			// journal holds some of the chunk but not all posted so far.
			from := len(events)
			killed := false
			partial := func() bool { n := countStored(t, jr); return n > from && n < len(events) }
			for posted := 0; posted < size && !killed; {
				for k := 0; k < 25 && posted < size; k++ {
					events = append(events, sim.postAudit(rnd, len(events)))
					posted++
				}
				if partial() {
					kill(run, 0)
					killed, mids = true, mids+1
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
			for deadline := time.Now().Add(2 * time.Second); !killed; {
				if partial() {
					mids++
				} else if countStored(t, jr) < len(events) && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
					continue
				}
				kill(run, 0)
				killed = true
			}
			// The rest of the chunk, for the next start.
			for len(events) < from+size {
				events = append(events, sim.postAudit(rnd, len(events)))
			}
		}
		run = restart()
		if !deferred && rnd.IntN(4) == 0 {
			// Again, right after the start: while the backlog and what the
			// last process read but did not commit are read again.
			kill(run, time.Duration(rnd.IntN(60))*time.Millisecond)
			run = restart()
		}
	}
	if deferred {
		postSSO()
	}
	last := events[len(events)-1]

	// The final clean run catches up.
	waitCaughtUp(run, 0, true)
	run.scrapeDups()
	dups := 0.0
	for _, r := range runs {
		dups += r.dups
	}
	t.Logf("posted %d events in %d chunks; %d SIGKILLs (%d with part of a chunk stored, %d right after a login join was stored), %d starts; per kill, posted events not yet in the journal: %v; "+
		"per restart, posted events after the journal's checkpoint: %v (-1: none yet); read again after restarts and recognized by the journal: %v",
		len(events), len(chunks), kills, mids, joins, len(runs), lagged, behind, dups)
	if kills < 10 {
		t.Errorf("%d kills, want at least 10", kills)
	}

	// Every posted event exactly once, as posted, none lost.
	rows := storedPosted(t, jr)
	byUser := map[string][]storedRow{}
	for _, r := range rows {
		byUser[r.user] = append(byUser[r.user], r)
	}
	lost, doubled, wrong := 0, 0, 0
	for _, e := range events {
		got := byUser[e.user]
		switch {
		case len(got) == 0:
			if lost++; lost <= 5 {
				t.Errorf("lost: %s %s (vCenter key %d, %s)", e.kind, e.user, e.key, e.created.Format(time.RFC3339Nano))
			}
			continue
		case len(got) > 1:
			if doubled++; doubled <= 5 {
				t.Errorf("stored %d times: %s %s (vCenter key %d): %+v", len(got), e.kind, e.user, e.key, got)
			}
		}
		g := got[0]
		uid := fmt.Sprintf("vcenter:%d:%d", e.key, e.created.UnixNano())
		if g.kind != e.kind || g.ip != e.ip || g.vm != e.vm || g.timeNs != e.created.UnixNano() || !strings.Contains(g.uid, uid) {
			if wrong++; wrong <= 5 {
				t.Errorf("%s stored as %+v, want kind %s, client_ip %q, vm %q, time %d, uid with %s", e.user, g, e.kind, e.ip, e.vm, e.created.UnixNano(), uid)
			}
		}
	}
	if len(rows) != crashEvents || lost+doubled+wrong > 0 {
		t.Errorf("the journal holds %d rows of the %d posted events: %d lost, %d stored more than once, %d not as posted", len(rows), crashEvents, lost, doubled, wrong)
	}
	// Each start's own login once, joined with its SSO half.
	logins := storedSSOLogins(t, jr)
	for _, ip := range ssoIPs {
		if logins[ip] != 1 {
			t.Errorf("the login of the start whose SSO half came from %s is stored %d times, want 1", ip, logins[ip])
		}
	}

	// The counters of the live process, then of a fresh start, which has
	// only the journal to restore them from.
	counters := func(r *crashRun, what string) {
		t.Helper()
		// The journal does not change while the process runs idle (its
		// own login waits for a partner); read it on both sides of the scrape.
		var m samples
		var totals map[string]int
		for i := 0; ; i++ {
			totals = kindTotals(t, jr)
			var err error
			if m, err = scrapeSamples(r.url); err != nil {
				t.Fatal(err)
			}
			if again := kindTotals(t, jr); fmt.Sprint(again) == fmt.Sprint(totals) || i == 20 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		all := 0
		for kind, n := range totals {
			all += n
			if got := m.sum("vsphere_audit_events_total", map[string]string{"kind": kind}); got != float64(n) {
				t.Errorf("%s: vsphere_audit_events_total{kind=%q} = %v, the journal holds %d", what, kind, got, n)
			}
		}
		if got := m.sum("vsphere_audit_events_total", nil); got != float64(all) {
			t.Errorf("%s: vsphere_audit_events_total = %v in all, the journal holds %d", what, got, all)
		}
		for metric, kind := range map[string]string{"vsphere_audit_logins_total": "login", "vsphere_audit_login_failures_total": "login_failed",
			"vsphere_audit_logouts_total": "logout", "vsphere_audit_vm_power_total": "vm_power"} {
			if got := m.sum(metric, nil); got != float64(totals[kind]) {
				t.Errorf("%s: %s summed = %v, the journal holds %d %s events", what, metric, got, totals[kind], kind)
			}
		}
		if got := m.sum("vsphere_audit_label_overflow_total", nil); got != 0 {
			t.Errorf("%s: %v samples in overflow series", what, got)
		}
		t.Logf("%s: counters equal the journal's totals %v (%d events)", what, totals, all)
	}
	counters(run, "final clean run")
	stop := func(r *crashRun) {
		t.Helper()
		if err := r.p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-r.p.done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s did not stop on SIGTERM", r.p.name)
		}
		if code := r.p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s exited with %d after SIGTERM", r.p.name, code)
		}
	}
	stop(run)
	if cp, ok := journalCheckpoint(t, jr, vcName); !ok || cp.Before(last.created) {
		t.Errorf("after a clean stop the journal's checkpoint is %v (present %v), before the last event read (%s)", cp, ok, last.created.Format(time.RFC3339Nano))
	}
	run = start(false) // no SSO half: its own login waits, neither stored nor counted
	counters(run, "restored at start")
	stop(run)
	t.Logf("crash test in %s", time.Since(begin).Round(time.Millisecond))
}

// crashRun is one start of the exporter.
type crashRun struct {
	p   *process
	url string
	// dups is the process's vsphere_audit_journal_duplicates_total when
	// last scraped: events it read again and the journal recognized.
	dups float64
}

func (r *crashRun) scrapeDups() {
	if m, err := scrapeSamples(r.url); err == nil {
		r.dups = m.sum("vsphere_audit_journal_duplicates_total", nil)
	}
}

// spawnExporter starts the exporter with its output in dir/name.log; a
// process still running when the test ends is killed.
func spawnExporter(t *testing.T, dir, name, bin string, args ...string) *process {
	t.Helper()
	p := launch(t, dir, name, bin, args...)
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// crashSim is an in-test vCenter simulator with TLS and a password.
type crashSim struct {
	model *simulator.Model
	url   *url.URL
	thumb string
	dc    *simulator.Datacenter
	hosts []*simulator.HostSystem
	vms   []*simulator.VirtualMachine
}

func startCrashSim(t *testing.T) *crashSim {
	t.Helper()
	model := simulator.VPX()
	if err := model.Create(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(model.Remove)
	// Every SIGKILL leaves a session and its event collector behind.
	model.Map().EventManager().MaxCollector = 1 << 20
	model.Service.Listen = &url.URL{User: url.UserPassword(crashUser, crashPassword)}
	model.Service.TLS = new(tls.Config)
	model.Service.RegisterEndpoints = true
	s := &crashSim{model: model}
	for _, r := range model.Map().All("HostSystem") {
		s.hosts = append(s.hosts, r.(*simulator.HostSystem))
	}
	for _, r := range model.Map().All("VirtualMachine") {
		s.vms = append(s.vms, r.(*simulator.VirtualMachine))
	}
	s.dc = model.Map().All("Datacenter")[0].(*simulator.Datacenter)
	vcsim.SetSimHostState(model, nil)
	srv := model.Service.NewServer()
	t.Cleanup(srv.Close)
	u := *srv.URL
	u.User = nil
	s.url = &u
	s.thumb = srv.CertificateInfo().ThumbprintSHA256
	return s
}

// postAudit posts the i-th event: a login, a failed login, a logout or a VM
// power-on by its own user (crash-NNNNN), each one audit event.
func (s *crashSim) postAudit(rnd *rand.Rand, i int) posted {
	p := posted{user: fmt.Sprintf("crash-%05d", i), ip: fmt.Sprintf("10.%d.%d.%d", 1+i/62500, i/250%250, i%250+1)}
	var ev types.BaseEvent
	switch r := rnd.IntN(10); {
	case r < 5:
		p.kind = "login"
		ev = &types.UserLoginSessionEvent{IpAddress: p.ip, UserAgent: "crash-test"}
	case r < 7:
		p.kind = "login_failed"
		ev = &types.BadUsernameSessionEvent{IpAddress: p.ip}
	case r < 9:
		p.kind = "logout"
		ev = &types.UserLogoutSessionEvent{IpAddress: p.ip}
	default:
		p.kind, p.ip = "vm_power", ""
		vm, h := s.vms[i%len(s.vms)], s.hosts[i%len(s.hosts)]
		p.vm = vm.Name
		ev = &types.VmPoweredOnEvent{VmEvent: types.VmEvent{Event: types.Event{
			Vm:         &types.VmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: vm.Name}, Vm: vm.Self},
			Host:       &types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: h.Name}, Host: h.Self},
			Datacenter: &types.DatacenterEventArgument{EntityEventArgument: types.EntityEventArgument{Name: s.dc.Name}, Datacenter: s.dc.Self},
		}}}
	}
	vcsim.PostAs(s.model, p.user, ev)
	b := ev.GetEvent()
	p.key, p.created = b.Key, b.CreatedTime
	return p
}

// postSSOLogin posts SSO's half of a vSphere Client login: the user's real address.
func (s *crashSim) postSSOLogin(user, ip string) {
	vcsim.PostAs(s.model, user, &types.EventEx{EventTypeId: "com.vmware.sso.LoginSuccess", ObjectType: "HostSystem", ObjectId: s.hosts[0].Self.Value,
		Arguments: []types.KeyAnyValue{{Key: "user", Value: user}, {Key: "client", Value: ip}}})
}

// openJournalReader opens the exporter's journal read-only, beside the
// exporter (WAL: a reader does not block the writer).
func openJournalReader(t *testing.T, dir string) *journal.Journal {
	t.Helper()
	j, err := journal.OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// scanJournal calls fn for every stored event.
func scanJournal(t *testing.T, j *journal.Journal, fn func(journal.Row)) {
	t.Helper()
	if err := j.Scan(context.Background(), journal.Query{BySeq: true}, func(r journal.Row) error { fn(r); return nil }); err != nil {
		t.Fatal(err)
	}
}

func countStored(t *testing.T, j *journal.Journal) int {
	t.Helper()
	n := 0
	scanJournal(t, j, func(r journal.Row) {
		if strings.HasPrefix(r.Event.User, "crash-") {
			n++
		}
	})
	return n
}

// storedSSOLogins counts the stored logins by client address among those
// of the starts' SSO halves (10.254.x.y).
func storedSSOLogins(t *testing.T, j *journal.Journal) map[string]int {
	t.Helper()
	out := map[string]int{}
	scanJournal(t, j, func(r journal.Row) {
		if r.Event.Kind == audit.KindLogin && strings.HasPrefix(r.Event.ClientIP, "10.254.") {
			out[r.Event.ClientIP]++
		}
	})
	return out
}

type storedRow struct {
	user, kind, ip, vm, uid string
	timeNs                  int64
}

func storedPosted(t *testing.T, j *journal.Journal) []storedRow {
	t.Helper()
	var out []storedRow
	scanJournal(t, j, func(r journal.Row) {
		e := &r.Event
		if strings.HasPrefix(e.User, "crash-") {
			out = append(out, storedRow{user: e.User, kind: string(e.Kind), ip: e.ClientIP, vm: e.VM, uid: journal.UID(e), timeNs: e.Time.UnixNano()})
		}
	})
	return out
}

func kindTotals(t *testing.T, j *journal.Journal) map[string]int {
	t.Helper()
	out := map[string]int{}
	scanJournal(t, j, func(r journal.Row) { out[string(r.Event.Kind)]++ })
	return out
}

// journalCheckpoint is the creation time the journal's checkpoint of the
// vCenter named name covers.
func journalCheckpoint(t *testing.T, j *journal.Journal, name string) (time.Time, bool) {
	t.Helper()
	data, err := j.Checkpoint("vcenter:" + name)
	if err != nil {
		t.Fatal(err)
	}
	if data == nil {
		return time.Time{}, false
	}
	var cp struct {
		CreatedTime time.Time `json:"created_time"`
	}
	if err := json.Unmarshal(data, &cp); err != nil {
		t.Fatalf("checkpoint %s: %v", data, err)
	}
	return cp.CreatedTime, true
}

// samples are the samples of one scrape.
type samples []sample

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// sum adds the samples of metric whose labels include match.
func (s samples) sum(metric string, match map[string]string) float64 {
	var v float64
next:
	for _, x := range s {
		if x.name != metric {
			continue
		}
		for k, want := range match {
			if x.labels[k] != want {
				continue next
			}
		}
		v += x.value
	}
	return v
}

func scrapeSamples(u string) (samples, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	dec := expfmt.NewDecoder(resp.Body, expfmt.NewFormat(expfmt.TypeTextPlain))
	var out samples
	for {
		mf := new(dto.MetricFamily)
		if err := dec.Decode(mf); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			out = append(out, sample{name: mf.GetName(), labels: l, value: m.GetCounter().GetValue() + m.GetGauge().GetValue()})
		}
	}
}

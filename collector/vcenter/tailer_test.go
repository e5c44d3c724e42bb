package vcenter

import (
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/metrics"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vcsim"
)

// keyOf is the vCenter key in an audit event's EventID ("vcenter:KEY:NANOS").
func keyOf(e audit.Event) string {
	parts := strings.Split(e.EventID, ":")
	if len(parts) != 3 {
		return ""
	}
	return parts[1] + ":" + parts[2]
}

func findSeries(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			if labelsMatch(m, want) {
				return true
			}
		}
	}
	return false
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.Label {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// TestMapping: each covered class and id becomes the right audit event and
// metric series.
func TestMapping(t *testing.T) {
	s := newSim(t, "")
	h, h2, vm := s.hosts[0], s.hosts[1], s.vms[0]
	hostArg := &types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: h.Name}, Host: h.Self}
	srcArg := types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: h2.Name}, Host: h2.Self}
	vmArg := &types.VmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: vm.Name}, Vm: vm.Self}
	hostEv := types.HostEvent{Event: types.Event{Host: hostArg}}
	vmEv := types.VmEvent{Event: types.Event{Vm: vmArg, Host: hostArg}}
	ex := func(id, msg string, args ...types.KeyAnyValue) *types.EventEx {
		return &types.EventEx{EventTypeId: id, ObjectType: "HostSystem", ObjectId: h.Self.Value, ObjectName: h.Name, Message: msg, Arguments: args,
			Event: types.Event{Host: hostArg}}
	}
	ext := func(id string, data ...types.ExtendedEventPair) *types.ExtendedEvent {
		return &types.ExtendedEvent{EventTypeId: id, ManagedObject: h.Self, Data: data, GeneralEvent: types.GeneralEvent{Event: types.Event{Host: hostArg}}}
	}
	vc := DefaultName(s.url)
	cases := []struct {
		name   string
		user   string
		ev     types.BaseEvent
		want   audit.Event
		metric string
		labels map[string]string
	}{
		{"login", `VSPHERE.LOCAL\alice`, &types.UserLoginSessionEvent{IpAddress: "10.1.1.1", UserAgent: "pyvmomi"},
			audit.Event{Kind: audit.KindLogin, Host: vc, User: "alice@vsphere.local", ClientIP: "10.1.1.1", Method: audit.MethodVCenter},
			"vsphere_audit_logins_total", map[string]string{"host": vc, "client_ip": "10.1.1.1", "method": "vcenter", "direct": "false"}},
		{"logout", "bob", &types.UserLogoutSessionEvent{IpAddress: "10.1.1.2"},
			audit.Event{Kind: audit.KindLogout, Host: vc, User: "bob", ClientIP: "10.1.1.2", Method: audit.MethodVCenter},
			"vsphere_audit_logouts_total", map[string]string{"user": "bob", "client_ip": "10.1.1.2"}},
		{"bad username", "mallory", &types.BadUsernameSessionEvent{IpAddress: "203.0.113.9"},
			audit.Event{Kind: audit.KindLoginFailed, Host: vc, User: "mallory", ClientIP: "203.0.113.9", Method: audit.MethodVCenter, Outcome: audit.OutcomeFailure},
			"vsphere_audit_login_failures_total", map[string]string{"user": "mallory", "client_ip": "203.0.113.9", "method": "vcenter"}},
		{"session terminated", "admin", &types.SessionTerminatedEvent{SessionId: "x", TerminatedUsername: "carol"},
			audit.Event{Kind: audit.KindLogout, Host: vc, User: "carol", Method: audit.MethodVCenter},
			"vsphere_audit_logouts_total", map[string]string{"user": "carol"}},
		{"ticket", "alice", &types.VmAcquiredTicketEvent{VmEvent: vmEv, TicketType: "webmks"},
			audit.Event{Kind: audit.KindConsoleOpened, Host: vc, User: "alice", VM: vm.Name, TargetHost: h.Name, TicketType: "webmks", Method: audit.MethodVCenter},
			"vsphere_audit_console_opened_total", map[string]string{"vm": vm.Name, "user": "alice", "ticket_type": "webmks"}},
		{"mks ticket", "alice", &types.VmAcquiredMksTicketEvent{VmEvent: vmEv},
			audit.Event{Kind: audit.KindConsoleOpened, Host: vc, User: "alice", VM: vm.Name, TargetHost: h.Name, TicketType: "mks", Method: audit.MethodVCenter},
			"vsphere_audit_console_opened_total", map[string]string{"ticket_type": "mks"}},
		{"remote console", "alice", &types.VmRemoteConsoleConnectedEvent{VmEvent: vmEv},
			audit.Event{Kind: audit.KindConsoleOpened, Host: vc, User: "alice", VM: vm.Name, TargetHost: h.Name, TicketType: "remote_console", Method: audit.MethodVCenter},
			"vsphere_audit_console_opened_total", map[string]string{"ticket_type": "remote_console"}},
		{"vmotion", "alice", &types.VmMigratedEvent{VmEvent: vmEv, SourceHost: srcArg},
			audit.Event{Kind: audit.KindVMMigrated, Host: vc, User: "alice", VM: vm.Name, SourceHost: h2.Name, TargetHost: h.Name},
			"vsphere_audit_vm_migrations_total", map[string]string{"user": "alice", "vm": vm.Name}},
		{"drs", "", &types.DrsVmMigratedEvent{VmMigratedEvent: types.VmMigratedEvent{VmEvent: vmEv, SourceHost: srcArg}},
			audit.Event{Kind: audit.KindVMMigrated, Host: vc, User: "DRS", VM: vm.Name, SourceHost: h2.Name, TargetHost: h.Name},
			"vsphere_audit_vm_migrations_total", map[string]string{"user": "DRS"}},
		{"relocated", "bob", &types.VmRelocatedEvent{VmRelocateSpecEvent: types.VmRelocateSpecEvent{VmEvent: vmEv}, SourceHost: srcArg},
			audit.Event{Kind: audit.KindVMMigrated, Host: vc, User: "bob", VM: vm.Name, SourceHost: h2.Name, TargetHost: h.Name},
			"vsphere_audit_vm_migrations_total", map[string]string{"user": "bob"}},
		{"cross-vc migration", "bob", &types.EventEx{EventTypeId: "com.vmware.vc.vm.DstVmMigratedEvent", ObjectType: "VirtualMachine", ObjectId: vm.Self.Value, ObjectName: vm.Name,
			Event: types.Event{Vm: vmArg, Host: hostArg}, Arguments: []types.KeyAnyValue{{Key: "srcHost", Value: "esx-other"}}},
			audit.Event{Kind: audit.KindVMMigrated, Host: vc, User: "bob", VM: vm.Name, SourceHost: "esx-other", TargetHost: h.Name},
			"vsphere_audit_vm_migrations_total", map[string]string{"user": "bob", "vm": vm.Name}},
		{"permission", "admin", &types.PermissionAddedEvent{PermissionEvent: types.PermissionEvent{Principal: "bob"}, Role: types.RoleEventArgument{Name: "Admin"}},
			audit.Event{Kind: audit.KindPermissionChanged, Host: vc, User: "admin"},
			"vsphere_audit_permission_changes_total", map[string]string{"type": "permission", "user": "admin"}},
		{"role", "admin", &types.RoleUpdatedEvent{RoleEvent: types.RoleEvent{Role: types.RoleEventArgument{Name: "x"}}},
			audit.Event{Kind: audit.KindRoleChanged, Host: vc, User: "admin"},
			"vsphere_audit_permission_changes_total", map[string]string{"type": "role"}},
		{"account", "root", &types.AccountCreatedEvent{HostEvent: hostEv, Spec: &types.HostAccountSpec{Id: "eve"}},
			audit.Event{Kind: audit.KindAccountChanged, Host: h.Name, User: "root"},
			"vsphere_audit_permission_changes_total", map[string]string{"type": "account", "host": h.Name}},
		{"local tsm", "root", &types.LocalTSMEnabledEvent{HostEvent: hostEv},
			audit.Event{Kind: audit.KindServiceEnabled, Host: h.Name, User: "root", Service: audit.ServiceESXiShell},
			"vsphere_audit_service_changes_total", map[string]string{"host": h.Name, "service": "esxi_shell"}},
		{"remote tsm", "root", &types.RemoteTSMEnabledEvent{HostEvent: hostEv},
			audit.Event{Kind: audit.KindServiceEnabled, Host: h.Name, User: "root", Service: audit.ServiceSSH},
			"vsphere_audit_service_changes_total", map[string]string{"host": h.Name, "service": "ssh"}},
		{"admin disable", "root", &types.HostAdminDisableEvent{HostEvent: hostEv},
			audit.Event{Kind: audit.KindLockdownEnabled, Host: h.Name, User: "root"},
			"vsphere_audit_lockdown_changes_total", map[string]string{"host": h.Name}},
		{"admin enable", "root", &types.HostAdminEnableEvent{HostEvent: hostEv},
			audit.Event{Kind: audit.KindLockdownDisabled, Host: h.Name, User: "root"},
			"vsphere_audit_lockdown_changes_total", map[string]string{"host": h.Name}},
		{"ssh enabled (ExtendedEvent)", "root", ext("esx.audit.ssh.enabled"),
			audit.Event{Kind: audit.KindServiceEnabled, Host: h.Name, User: "root", Service: audit.ServiceSSH},
			"vsphere_audit_service_changes_total", map[string]string{"service": "ssh"}},
		{"shell disabled (EventEx)", "root", ex("esx.audit.shell.disabled", ""),
			audit.Event{Kind: audit.KindServiceDisabled, Host: h.Name, User: "root", Service: audit.ServiceESXiShell},
			"vsphere_audit_service_changes_total", map[string]string{"service": "esxi_shell"}},
		{"dcui disabled", "root", ext("esx.audit.dcui.disabled"),
			audit.Event{Kind: audit.KindServiceDisabled, Host: h.Name, User: "root", Service: audit.ServiceDCUI},
			"vsphere_audit_service_changes_total", map[string]string{"service": "dcui"}},
		{"lockdown", "root", ext("esx.audit.lockdownmode.enabled"),
			audit.Event{Kind: audit.KindLockdownEnabled, Host: h.Name, User: "root"},
			"vsphere_audit_lockdown_changes_total", map[string]string{"host": h.Name}},
		{"ssh session", "", ex("esx.audit.ssh.session.opened", "SSH session was opened for 'root@192.0.2.5'."),
			audit.Event{Kind: audit.KindLogin, Host: h.Name, User: "root", ClientIP: "192.0.2.5", Method: audit.MethodSSH, Direct: true},
			"vsphere_audit_logins_total", map[string]string{"host": h.Name, "method": "ssh", "direct": "true", "client_ip": "192.0.2.5"}},
		{"ssh failed", "", ex("esx.audit.ssh.session.failed", "SSH login has failed for 'admin@192.0.2.6'."),
			audit.Event{Kind: audit.KindLoginFailed, Host: h.Name, User: "admin", ClientIP: "192.0.2.6", Method: audit.MethodSSH, Outcome: audit.OutcomeFailure},
			"vsphere_audit_login_failures_total", map[string]string{"method": "ssh", "user": "admin"}},
		{"account locked", "", ex("esx.audit.account.locked", "Remote access for ESXi local user account 'dave' has been locked"),
			audit.Event{Kind: audit.KindAccountLocked, Host: h.Name, User: "dave"},
			"vsphere_audit_account_locks_total", map[string]string{"user": "dave"}},
		{"login failures", "", ex("esx.audit.account.loginfailures", "Multiple remote login failures detected for ESXi local user account 'dave'."),
			audit.Event{Kind: audit.KindLoginFailed, Host: h.Name, User: "dave", Outcome: audit.OutcomeFailure},
			"vsphere_audit_login_failures_total", map[string]string{"user": "dave"}},
		{"firewall", "root", ext("esx.audit.net.firewall.disabled"),
			audit.Event{Kind: audit.KindConfigChanged, Host: h.Name, User: "root", Setting: audit.SettingFirewall, Action: audit.ActionDisabled},
			"vsphere_audit_config_changes_total", map[string]string{"setting": "firewall", "action": "disabled"}},
		{"acceptance", "root", ex("esx.audit.esximage.hostacceptance.changed", "Host acceptance level changed from 'PartnerSupported' to 'CommunitySupported'"),
			audit.Event{Kind: audit.KindConfigChanged, Host: h.Name, User: "root", Setting: audit.SettingAcceptanceLevel, Action: audit.ActionSet, Value: "CommunitySupported"},
			"vsphere_audit_config_changes_total", map[string]string{"setting": "acceptance_level", "action": "set"}},
		// Positional arguments fill what the template says they are: {1}
		// of account.locked is the user, {2} the lock's seconds (not an
		// address), {3} the failures; vmsyslogd's {1} is a protocol.
		{"account locked (arguments)", "", ext("esx.audit.account.locked",
			types.ExtendedEventPair{Key: "1", Value: "dave"}, types.ExtendedEventPair{Key: "2", Value: "900"}, types.ExtendedEventPair{Key: "3", Value: "5"}),
			audit.Event{Kind: audit.KindAccountLocked, Host: h.Name, User: "dave"},
			"vsphere_audit_account_locks_total", map[string]string{"user": "dave"}},
		{"syslog target unreachable (arguments)", "", ex("esx.problem.vmsyslogd.remote.failure", "",
			types.KeyAnyValue{Key: "1", Value: "udp"}, types.KeyAnyValue{Key: "2", Value: "10.0.0.9"}, types.KeyAnyValue{Key: "3", Value: "514"}),
			audit.Event{Kind: audit.KindLoggingFailed, Host: h.Name},
			"vsphere_audit_logging_failures_total", map[string]string{"host": h.Name}},
		{"sso login", "", &types.EventEx{EventTypeId: "com.vmware.sso.LoginSuccess", ObjectType: "HostSystem", ObjectId: h.Self.Value,
			Message: "User alice@corp.example@10.9.9.9 logged in with response code 200"},
			audit.Event{Kind: audit.KindLogin, Host: vc, User: "alice@corp.example", ClientIP: "10.9.9.9", Method: audit.MethodSSO},
			"vsphere_audit_logins_total", map[string]string{"method": "sso", "client_ip": "10.9.9.9"}},
		{"sso failure", "", &types.EventEx{EventTypeId: "com.vmware.sso.LoginFailure", ObjectType: "HostSystem", ObjectId: h.Self.Value,
			Arguments: []types.KeyAnyValue{{Key: "user", Value: "eve"}, {Key: "client", Value: "198.51.100.1"}}},
			audit.Event{Kind: audit.KindLoginFailed, Host: vc, User: "eve", ClientIP: "198.51.100.1", Method: audit.MethodSSO, Outcome: audit.OutcomeFailure},
			"vsphere_audit_login_failures_total", map[string]string{"method": "sso", "user": "eve"}},
	}
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	health := NewHealth(reg)
	tl := NewTailer(s.config(t), rec, health, quietLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	waitFor(t, 10*time.Second, "collector", func() bool { return testutil.ToFloat64(health.Up.WithLabelValues(vc)) == 1 })
	for _, c := range cases {
		s.post(c.user, c.ev)
	}
	// An id outside the table (matched by the ExtendedEvent class) is read
	// as type "other" but not recorded.
	s.post("x", ext("com.example.unmapped"))
	waitFor(t, 10*time.Second, "events", func() bool {
		return testutil.ToFloat64(health.EventsRead.WithLabelValues(vc, TypeOther)) == 1 && len(rec.snapshot()) >= len(cases)
	})
	cancel()
	<-done
	got := rec.snapshot()
	if len(got) != len(cases) {
		t.Fatalf("got %d events, want %d", len(got), len(cases))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := got[i]
			w := c.want
			w.Source = audit.SourceVCenter
			if w.Outcome == "" {
				w.Outcome = audit.OutcomeSuccess
			}
			g2 := g
			g2.Time, g2.Message, g2.Rule, g2.EventID = time.Time{}, "", "", ""
			if g2 != w {
				t.Errorf("event\n got %+v\nwant %+v", g2, w)
			}
			if g.Rule == "" || keyOf(g) == "" || g.Time.IsZero() {
				t.Errorf("rule/id/time missing: %+v", g)
			}
			r := prometheus.NewRegistry()
			sink := metrics.NewSink(r, metrics.Options{MaxSeries: 100})
			reg := metrics.Merge(r, sink)
			sink.Record(g)
			if !findSeries(t, reg, c.metric, c.labels) {
				t.Errorf("no series %s%v", c.metric, c.labels)
			}
			if !findSeries(t, reg, "vsphere_audit_events_total", map[string]string{"source": "vcenter", "kind": string(c.want.Kind)}) {
				t.Errorf("no events_total series")
			}
		})
	}
	if v := testutil.ToFloat64(health.EventsRead.WithLabelValues(vc, TypeOther)); v != 1 {
		t.Errorf("events_read{type=other} = %v, want 1", v)
	}
	if v := testutil.ToFloat64(health.EventsRead.WithLabelValues(vc, "UserLoginSessionEvent")); v != 1 {
		t.Errorf("events_read{type=UserLoginSessionEvent} = %v, want 1", v)
	}
}

// TestLoginHalves: the tailer hands on both halves of a vSphere Client
// login as they are (vCenter's 127.0.0.1 session and SSO's login with the
// real address), in user-canonical form; the pipeline makes one login of
// them (internal/pipeline, and the serve test end to end).
func TestLoginHalves(t *testing.T) {
	s := newSim(t, "")
	ot, oid := "HostSystem", s.hosts[0].Self.Value
	s.post(`VSPHERE.LOCAL\alice`, &types.UserLoginSessionEvent{IpAddress: "127.0.0.1", UserAgent: "vsphere-ui"})
	s.post("", &types.EventEx{EventTypeId: "com.vmware.sso.LoginSuccess", ObjectType: ot, ObjectId: oid,
		Arguments: []types.KeyAnyValue{{Key: "user", Value: "alice@vsphere.local"}, {Key: "client", Value: "10.20.30.40"}}})
	rec := &recorder{}
	cfg := s.config(t)
	cfg.Lookback = time.Minute // both events were posted before the first start
	_, cancel, done := startTailer(t, cfg, rec)
	defer func() { cancel(); <-done }()
	// The lookback also reads what vcsim reported when it built its model
	// (every VM created and powered on, with no user): wait for the two
	// logins themselves, not for a number of events.
	got := map[string]string{}
	waitFor(t, 10*time.Second, "both logins", func() bool {
		for _, e := range rec.snapshot() {
			if e.Kind == audit.KindLogin && e.User == "alice@vsphere.local" {
				got[e.Method] = e.User + " " + e.ClientIP
			}
		}
		return len(got) >= 2
	})
	want := map[string]string{"vcenter": "alice@vsphere.local 127.0.0.1", "sso": "alice@vsphere.local 10.20.30.40"}
	if len(got) != 2 || got["vcenter"] != want["vcenter"] || got["sso"] != want["sso"] {
		t.Errorf("logins = %v, want %v", got, want)
	}
}

// producer posts n covered events in-process, at most rate per second,
// and remembers every key posted.
type producer struct {
	mu   sync.Mutex
	keys map[string]bool
	// pause is held around each post: vcsim's DestroyCollector races with
	// in-process PostEvent (an unsynchronised map, see the reference), so
	// the crash test stops posting while a tailer shuts down.
	pause sync.Mutex
}

func (p *producer) run(s *sim, n int, perMs int) {
	users := []string{"alice", "bob", `VSPHERE.LOCAL\carol`}
	for i := 0; i < n; i++ {
		var ev types.BaseEvent
		switch i % 3 {
		case 0:
			ev = &types.UserLoginSessionEvent{IpAddress: "10.0.0." + strconv.Itoa(i%250+1)}
		case 1:
			ev = &types.BadUsernameSessionEvent{IpAddress: "192.0.2.1"}
		default:
			ev = &types.UserLogoutSessionEvent{IpAddress: "10.0.0.9"}
		}
		p.pause.Lock()
		s.post(users[i%len(users)], ev)
		p.pause.Unlock()
		b := ev.GetEvent()
		p.mu.Lock()
		p.keys[strconv.Itoa(int(b.Key))+":"+strconv.FormatInt(b.CreatedTime.UnixNano(), 10)] = true
		p.mu.Unlock()
		if perMs > 0 && i%perMs == perMs-1 {
			time.Sleep(time.Millisecond)
		}
	}
}

func (p *producer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.keys)
}

// checkExactlyOnce: every posted key recorded once, no key recorded twice.
func checkExactlyOnce(t *testing.T, p *producer, got []audit.Event) {
	t.Helper()
	seen := map[string]int{}
	for _, e := range got {
		seen[keyOf(e)]++
	}
	dups, missing := 0, 0
	for k, n := range seen {
		if n > 1 {
			dups++
			if dups < 5 {
				t.Errorf("key %s recorded %d times", k, n)
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.keys {
		if seen[k] == 0 {
			missing++
			if missing < 5 {
				t.Errorf("key %s never recorded", k)
			}
		}
	}
	if dups > 0 || missing > 0 {
		t.Fatalf("posted %d, recorded %d: %d duplicated, %d missing", len(p.keys), len(got), dups, missing)
	}
}

func waitAll(t *testing.T, p *producer, rec *recorder, d time.Duration) {
	t.Helper()
	waitFor(t, d, "every posted event", func() bool {
		seen := map[string]bool{}
		for _, e := range rec.snapshot() {
			seen[keyOf(e)] = true
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for k := range p.keys {
			if !seen[k] {
				return false
			}
		}
		return true
	})
}

// TestCrashResume streams 10,000 events while the tailer is cancelled at
// random points and restarted from its checkpoint file: every event is
// recorded exactly once.
func TestCrashResume(t *testing.T) {
	s := newSim(t, "")
	cfg := s.config(t)
	cfg.Lookback = time.Minute
	rec := &recorder{}
	p := &producer{keys: map[string]bool{}}
	const total = 10000
	prodDone := make(chan struct{})
	go func() { p.run(s, total, 4); close(prodDone) }()
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	restarts := 0
	for {
		tl, cancel, done := startTailer(t, cfg, rec)
		select {
		case <-prodDone:
			if restarts >= 5 {
				waitAll(t, p, rec, 30*time.Second)
				cancel()
				<-done // the producer is done: no post overlaps the collector's destruction
				checkExactlyOnce(t, p, rec.snapshot())
				if cp := tl.Checkpoint(); cp.IsZero() {
					t.Error("no checkpoint")
				}
				t.Logf("posted %d, recorded %d, %d restarts", p.count(), len(rec.snapshot()), restarts)
				return
			}
		default:
		}
		time.Sleep(time.Duration(30+rnd.IntN(300)) * time.Millisecond)
		p.pause.Lock()
		cancel()
		<-done
		p.pause.Unlock()
		restarts++
	}
}

// TestSessionLoss: the tailer's session is terminated from another client
// mid-stream; it logs in again and loses nothing.
func TestSessionLoss(t *testing.T) {
	s := newSim(t, "")
	cfg := s.config(t)
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	health := NewHealth(reg)
	tl := NewTailer(cfg, rec, health, quietLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, 10*time.Second, "up", func() bool { return testutil.ToFloat64(health.Up.WithLabelValues(cfg.Name)) == 1 })
	p := &producer{keys: map[string]bool{}}
	p.run(s, 300, 0)
	c := tl.Client()
	us, err := session.NewManager(c).UserSession(ctx)
	if err != nil || us == nil {
		t.Fatalf("tailer session: %v %v", us, err)
	}
	admin := login(t, s)
	if err := session.NewManager(admin).TerminateSession(ctx, []string{us.Key}); err != nil {
		t.Fatal(err)
	}
	p.run(s, 300, 0)
	waitAll(t, p, rec, 20*time.Second)
	p.run(s, 100, 0)
	waitAll(t, p, rec, 20*time.Second)
	checkExactlyOnce(t, p, rec.snapshot())
	if n := testutil.ToFloat64(health.Errors.WithLabelValues(cfg.Name, "not_authenticated")); n < 1 {
		t.Errorf("errors{reason=not_authenticated} = %v", n)
	}
	if tl.Attempts.Load() < 2 {
		t.Errorf("attempts = %d, want a re-login", tl.Attempts.Load())
	}
	if testutil.ToFloat64(health.Up.WithLabelValues(cfg.Name)) != 1 {
		t.Error("not up again")
	}
}

func login(t *testing.T, s *sim) *vim25.Client {
	t.Helper()
	sc := soap.NewClient(s.url, false)
	sc.SetThumbprint(s.url.Host, s.thumb)
	c, err := vim25.NewClient(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := session.NewManager(c).Login(context.Background(), url.UserPassword(simUser, simPass)); err != nil {
		t.Fatal(err)
	}
	return c
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestSimulatorRestart: the vCenter restarts and its keys start again at 1;
// the new events are recorded, none taken as already seen.
func TestSimulatorRestart(t *testing.T) {
	addr := freePort(t)
	a := newSim(t, addr)
	cfg := a.config(t)
	rec := &recorder{}
	tl, cancel, done := startTailer(t, cfg, rec)
	defer func() { cancel(); <-done }()
	waitFor(t, 10*time.Second, "collector", func() bool { return tl.Client() != nil })
	time.Sleep(100 * time.Millisecond)
	pa := &producer{keys: map[string]bool{}}
	pa.run(a, 50, 0)
	waitAll(t, pa, rec, 10*time.Second)
	a.close()
	b := newSim(t, addr)
	if b.thumb != a.thumb {
		t.Fatalf("the simulator's certificate changed across restarts")
	}
	pb := &producer{keys: map[string]bool{}}
	pb.run(b, 30, 0)
	waitAll(t, pb, rec, 20*time.Second)
	// The restarted simulator reused keys the first one had.
	reused := 0
	for k := range pb.keys {
		key, _, _ := strings.Cut(k, ":")
		for k2 := range pa.keys {
			if strings.HasPrefix(k2, key+":") {
				reused++
			}
		}
	}
	if reused == 0 {
		t.Errorf("test premise: no key of the second simulator was used by the first")
	}
	all := &producer{keys: map[string]bool{}}
	for k := range pa.keys {
		all.keys[k] = true
	}
	for k := range pb.keys {
		all.keys[k] = true
	}
	checkExactlyOnce(t, all, rec.snapshot())
}

// TestFailures: a wrong password, a wrong thumbprint and an unreachable URL
// each give an error counted by reason, spaced attempts, and no exit.
func TestFailures(t *testing.T) {
	s := newSim(t, "")
	unreachable, _ := url.Parse("https://" + freePort(t) + "/sdk")
	cases := []struct {
		name   string
		mod    func(*Config)
		reason string
	}{
		{"wrong thumbprint", func(c *Config) {
			c.Thumbprint = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"
		}, "tls"},
		{"unreachable", func(c *Config) { c.URL = unreachable; c.Name = "unreachable" }, "network"},
	}
	var wg sync.WaitGroup
	for _, c := range cases {
		cfg := s.config(t)
		c.mod(&cfg)
		cfg.RetryMin, cfg.RetryMax = 100*time.Millisecond, 400*time.Millisecond
		reg := prometheus.NewRegistry()
		health := NewHealth(reg)
		tl := NewTailer(cfg, &recorder{}, health, quietLogger())
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := tl.Run(ctx)
			t.Run(c.name, func(t *testing.T) {
				if time.Since(start) < 1400*time.Millisecond {
					t.Errorf("Run returned early: %v", err)
				}
				n := tl.Attempts.Load()
				// 100+200+400+400 ms of backoff fit in 1.5 s: about 5 attempts.
				if n < 3 || n > 8 {
					t.Errorf("%d attempts in 1.5s, want spaced retries (3..8)", n)
				}
				// Every attempt fails and is counted, but the last one may
				// be cut short by the end of the test.
				if got := testutil.ToFloat64(health.Errors.WithLabelValues(cfg.Name, c.reason)); got != float64(n) && got != float64(n-1) {
					t.Errorf("errors{reason=%s} = %v, want %d", c.reason, got, n)
				}
				for _, r := range ErrorReasons {
					if r != c.reason && testutil.ToFloat64(health.Errors.WithLabelValues(cfg.Name, r)) != 0 {
						t.Errorf("errors{reason=%s} counted too", r)
					}
				}
				if testutil.ToFloat64(health.Up.WithLabelValues(cfg.Name)) != 0 {
					t.Error("up = 1")
				}
			})
		}()
	}
	wg.Wait()
}

// TestInventory: the hosts' service state and lockdown mode from the
// simulator's model, extended with a host service configuration.
func TestInventory(t *testing.T) {
	s := newSim(t, "")
	vcsim.SetSimHost(s.model, s.hosts[0], vcsim.HostSimState{SSH: true, Shell: true, DCUI: true, Lockdown: types.HostLockdownModeLockdownDisabled})
	vcsim.SetSimHost(s.model, s.hosts[1], vcsim.HostSimState{DCUI: false, Lockdown: types.HostLockdownModeLockdownStrict})
	c := login(t, s)
	hosts, err := PollHosts(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h := NewHealth(reg)
	h.SetHosts("vc", hosts)
	check := func(g *prometheus.GaugeVec, want float64, lv ...string) {
		t.Helper()
		if v := testutil.ToFloat64(g.WithLabelValues(lv...)); v != want {
			t.Errorf("%v = %v, want %v", lv, v, want)
		}
	}
	h0, h1 := s.hosts[0].Name, s.hosts[1].Name
	check(h.ServiceRunning, 1, "vc", h0, "ssh")
	check(h.ServiceRunning, 1, "vc", h0, "esxi_shell")
	check(h.ServiceRunning, 0, "vc", h1, "ssh")
	check(h.ServiceRunning, 0, "vc", h1, "dcui")
	check(h.ServicePolicy, 1, "vc", h0, "ssh", "on")
	check(h.ServicePolicy, 1, "vc", h1, "ssh", "off")
	check(h.LockdownMode, 1, "vc", h0, "lockdownDisabled")
	check(h.LockdownMode, 1, "vc", h1, "lockdownStrict")
	if n := testutil.CollectAndCount(h.LockdownMode); n != len(s.hosts) {
		t.Errorf("%d lockdown series, want one per host (%d)", n, len(s.hosts))
	}
	// A change replaces the old series.
	vcsim.SetSimHost(s.model, s.hosts[1], vcsim.HostSimState{Lockdown: types.HostLockdownModeLockdownNormal})
	hosts, err = PollHosts(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	h.SetHosts("vc", hosts)
	if n := testutil.CollectAndCount(h.LockdownMode); n != len(s.hosts) {
		t.Errorf("%d lockdown series after a change, want %d", n, len(s.hosts))
	}
	check(h.LockdownMode, 1, "vc", h1, "lockdownNormal")
}

// TestCheckpointAhead (issue 11, finding 7): a checkpoint an hour ahead of
// the vCenter's clock (the vCenter's clock was set back) made the tailer
// drop every event while vcenter_up was 1. It is detected at connect,
// counted, and the tailer resumes from the vCenter's time minus a margin.
func TestCheckpointAhead(t *testing.T) {
	s := newSim(t, "")
	cfg := s.config(t)
	future := time.Now().Add(time.Hour)
	ahead := Checkpoint{VCenter: cfg.Name, CreatedTime: future, Keys: []int32{1}}
	if err := ahead.Save(CheckpointFile(cfg.StateDir, cfg.Name)); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	health := NewHealth(reg)
	tl := NewTailer(cfg, rec, health, quietLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, 10*time.Second, "up", func() bool { return testutil.ToFloat64(health.Up.WithLabelValues(cfg.Name)) == 1 })
	p := &producer{keys: map[string]bool{}}
	p.run(s, 30, 0)
	waitAll(t, p, rec, 10*time.Second)
	checkExactlyOnce(t, p, rec.snapshot())
	if n := testutil.ToFloat64(health.Errors.WithLabelValues(cfg.Name, "checkpoint_ahead")); n != 1 {
		t.Errorf(`errors{reason="checkpoint_ahead"} = %v, want 1`, n)
	}
	if cp := tl.Checkpoint(); !cp.CreatedTime.Before(future) {
		t.Errorf("checkpoint still at %v, ahead of the vCenter", cp.CreatedTime)
	}
	cp, err := LoadCheckpoint(CheckpointFile(cfg.StateDir, cfg.Name))
	if err != nil || !cp.CreatedTime.Before(future) {
		t.Errorf("saved checkpoint %v (%v), want it moved back", cp.CreatedTime, err)
	}
}

// TestLoginRejectedBacksOff (issue 11, finding 9): a rejected password was
// retried at the network backoff (here 50 ms doubling to 400 ms; 1, 2, 4,
// 8, 16 s by default), which can lock the service account. A login the
// vCenter refuses now waits LoginRetryMin (1 minute) before the next try.
func TestLoginRejectedBacksOff(t *testing.T) {
	s := newSim(t, "")
	cfg := s.config(t)
	cfg.Password = "wrong"
	reg := prometheus.NewRegistry()
	health := NewHealth(reg)
	tl := NewTailer(cfg, &recorder{}, health, quietLogger())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	err := tl.Run(ctx)
	if time.Since(start) < 2900*time.Millisecond {
		t.Errorf("Run returned early: %v", err)
	}
	if n := tl.Attempts.Load(); n < 1 || n > 2 {
		t.Errorf("%d login attempts in 3s, want 1 or 2 (a rejected login waits minutes)", n)
	}
	if got := testutil.ToFloat64(health.Errors.WithLabelValues(cfg.Name, "login")); got != 1 {
		t.Errorf(`errors{reason="login"} = %v, want 1`, got)
	}
	for _, r := range ErrorReasons {
		if r != "login" && testutil.ToFloat64(health.Errors.WithLabelValues(cfg.Name, r)) != 0 {
			t.Errorf("errors{reason=%s} counted too", r)
		}
	}
	if testutil.ToFloat64(health.Up.WithLabelValues(cfg.Name)) != 0 {
		t.Error("up = 1")
	}
}

// The backoff after a refused login starts at a minute and doubles to 15
// minutes; the network backoff is unchanged.
func TestLoginBackoff(t *testing.T) {
	cfg := Config{URL: &url.URL{Scheme: "https", Host: "vc.example.com"}, User: "u", Password: "p"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tl := &Tailer{cfg: cfg}
	for n, want := range map[int]time.Duration{
		1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute, 4: 8 * time.Minute,
		5: 15 * time.Minute, 6: 15 * time.Minute, 100: 15 * time.Minute,
	} {
		if got := tl.loginBackoff(n); got != want {
			t.Errorf("loginBackoff(%d) = %v, want %v", n, got, want)
		}
		if got := tl.loginBackoff(n); got < time.Minute {
			t.Errorf("loginBackoff(%d) = %v, under a minute", n, got)
		}
	}
	if got := tl.backoff(1); got != time.Second {
		t.Errorf("network backoff(1) = %v, want 1s", got)
	}
	// Only a refusal of the Login call backs off to minutes.
	invalid := soap.WrapSoapFault(&soap.Fault{Detail: struct {
		//lint:ignore SA5008 govmomi's vim25/xml fork has the typeattr option (as soap.Fault's own Detail does)
		Fault types.AnyType `xml:",any,typeattr"`
	}{Fault: &types.InvalidLogin{}}})
	notAuth := soap.WrapSoapFault(&soap.Fault{Detail: struct {
		//lint:ignore SA5008 govmomi's vim25/xml fork has the typeattr option (as soap.Fault's own Detail does)
		Fault types.AnyType `xml:",any,typeattr"`
	}{Fault: &types.NotAuthenticated{}}})
	for _, c := range []struct {
		name   string
		err    error
		want   bool
		reason string
	}{
		{"InvalidLogin at login", loginError{invalid}, true, "login"},
		{"NotAuthenticated at login", loginError{notAuth}, true, "login"},
		{"NotAuthenticated on a read", notAuth, false, "not_authenticated"},
		{"network error at login", loginError{&url.Error{Op: "Post", URL: "https://vc/sdk", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}}, false, "network"},
	} {
		if got := LoginRejected(c.err); got != c.want {
			t.Errorf("%s: LoginRejected = %v, want %v", c.name, got, c.want)
		}
		if got := Reason(c.err); got != c.reason {
			t.Errorf("%s: Reason = %q, want %q", c.name, got, c.reason)
		}
	}
}

// TestCheckpointNamesVCenter (issue 11, finding 12): the saved checkpoint
// file's vcenter field was always empty; it names the vCenter.
func TestCheckpointNamesVCenter(t *testing.T) {
	s := newSim(t, "")
	cfg := s.config(t)
	rec := &recorder{}
	health := NewHealth(prometheus.NewRegistry())
	tl := NewTailer(cfg, rec, health, quietLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	waitFor(t, 10*time.Second, "up", func() bool { return testutil.ToFloat64(health.Up.WithLabelValues(cfg.Name)) == 1 })
	p := &producer{keys: map[string]bool{}}
	p.run(s, 5, 0)
	waitAll(t, p, rec, 10*time.Second)
	cancel()
	<-done
	cp, err := LoadCheckpoint(CheckpointFile(cfg.StateDir, cfg.Name))
	if err != nil {
		t.Fatal(err)
	}
	if cp.IsZero() {
		t.Fatal("no checkpoint saved")
	}
	if cp.VCenter != cfg.Name {
		t.Errorf("saved checkpoint's vcenter = %q, want %q", cp.VCenter, cfg.Name)
	}
}

// TestOneTLSHandshake: a catch-up of several pages, the inventory and
// polls run over one TLS connection, verified once: with a pinned
// thumbprint the first handshake is the one that counts (no handshake
// failed against the system roots first, which the vCenter logs as a
// rejected certificate).
func TestOneTLSHandshake(t *testing.T) {
	var hellos atomic.Int64
	s := newSim(t, "", func(m *simulator.Model) {
		m.Service.TLS.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
			hellos.Add(1)
			return nil, nil
		}
	})
	const total = 2500 // three pages of 1000
	p := &producer{keys: map[string]bool{}}
	p.run(s, total, 0)
	cfg := s.config(t)
	cfg.Lookback = time.Hour
	rec := &recorder{}
	_, cancel, done := startTailer(t, cfg, rec)
	waitAll(t, p, rec, 60*time.Second)
	// A few polls more on the same connection.
	polled := hellos.Load()
	time.Sleep(10 * cfg.PollInterval)
	cancel()
	<-done
	t.Logf("%d events, %d TLS handshakes at catch-up, %d after polls", len(rec.snapshot()), polled, hellos.Load())
	if got := hellos.Load(); got != 1 {
		t.Errorf("%d TLS handshakes for one session, want 1", got)
	}
}

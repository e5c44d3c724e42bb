package demo

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sync"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/vcenter"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vcsim"
)

// VCSim is an embedded vCenter simulator (govmomi's vcsim, in-process, on
// loopback, TLS with its own certificate) with an activity generator: the
// demo's vCenter-API side.
type VCSim struct {
	model  *simulator.Model
	server *simulator.Server
	url    *url.URL
	thumb  string
	log    *slog.Logger
	rnd    *rand.Rand
	hosts  []*simulator.HostSystem
	vms    []*simulator.VirtualMachine
	ssh    map[string]bool
	once   sync.Once
}

const (
	vcsimUser      = "svc-audit@vsphere.local"
	vcsimAdminPass = "demo-admin" // what the activity generator's admins log in with
)

// StartVCSim starts the simulator on a free loopback port.
func StartVCSim(logger *slog.Logger) (*VCSim, error) {
	model := simulator.VPX()
	model.Host = 1 // standalone host besides the cluster's
	if err := model.Create(); err != nil {
		return nil, err
	}
	model.Map().EventManager().MaxCollector = 1000
	s := &VCSim{model: model, log: logger, rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)), ssh: map[string]bool{}}
	for i, r := range model.Map().All("HostSystem") {
		h := r.(*simulator.HostSystem)
		if i < len(esxHosts) {
			h.Name = esxHosts[i]
		}
		s.hosts = append(s.hosts, h)
	}
	for i, r := range model.Map().All("VirtualMachine") {
		vm := r.(*simulator.VirtualMachine)
		if i < len(vms) {
			vm.Name = vms[i]
		}
		s.vms = append(s.vms, vm)
	}
	pass := fmt.Sprintf("demo-%x", s.rnd.Uint64())
	model.Service.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword(vcsimUser, pass)}
	model.Service.TLS = new(tls.Config)
	model.Service.RegisterEndpoints = true
	model.Map().SessionManager().ValidLogin = func(req *types.Login) bool {
		return (req.UserName == vcsimUser && req.Password == pass) || req.Password == vcsimAdminPass
	}
	s.server = model.Service.NewServer()
	// The thumbprint check first tries (and fails) a verified handshake.
	s.server.Config.ErrorLog = log.New(io.Discard, "", 0)
	vcsim.SetSimHostState(model, nil)
	// One host starts with SSH left on and one in lockdown mode.
	if len(s.hosts) > 1 {
		h := s.hosts[1]
		vcsim.SetSimHost(model, h, vcsim.HostSimState{SSH: true, DCUI: true})
		s.ssh[h.Name] = true
		// ... switched on by someone, as vCenter would have recorded it:
		// the "running now, and since when" table has its "since".
		hostArg := &types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: h.Name}, Host: h.Self}
		vcsim.PostAs(model, admins[0], &types.EventEx{EventTypeId: "esx.audit.ssh.enabled", ObjectType: "HostSystem", ObjectId: h.Self.Value, ObjectName: h.Name,
			Severity: "warning", Event: types.Event{Host: hostArg}})
	}
	if len(s.hosts) > 2 {
		vcsim.SetSimHost(model, s.hosts[2], vcsim.HostSimState{DCUI: true, Lockdown: types.HostLockdownModeLockdownNormal})
	}
	u := *s.server.URL
	u.User = nil
	s.url = &u
	s.thumb = s.server.CertificateInfo().ThumbprintSHA256
	s.url.User = url.UserPassword(vcsimUser, pass) // kept only in memory, see Config
	return s, nil
}

// Config is the exporter's configuration for the simulator: TLS pinned to
// its thumbprint, not insecure.
func (s *VCSim) Config() vcenter.Config {
	u := *s.url
	pass, _ := u.User.Password()
	u.User = nil
	return vcenter.Config{Name: "vcsa.lab.local", URL: &u, User: vcsimUser, Password: pass, Thumbprint: s.thumb}
}

// Close stops the simulator.
func (s *VCSim) Close() {
	s.once.Do(func() {
		s.server.Close()
		s.model.Remove()
	})
}

// Run generates vCenter activity until ctx is done: vSphere Client logins
// with their SSO events, API logins, failed logins, console tickets,
// vMotions by users and by DRS, SSH switched on and off.
func (s *VCSim) Run(ctx context.Context) error {
	tick := time.NewTicker(1500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		s.step(ctx)
	}
}

func pickOf[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func (s *VCSim) root() (string, string) {
	ref := s.model.Map().Get(s.model.ServiceContent.RootFolder)
	return "Folder", ref.Reference().Value
}

func (s *VCSim) step(ctx context.Context) {
	r := s.rnd
	admin, ip := pickOf(r, admins), pickOf(r, adminIPs)
	h, vm := pickOf(r, s.hosts), pickOf(r, s.vms)
	hostArg := &types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: h.Name}, Host: h.Self}
	vmArg := &types.VmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: vm.Name}, Vm: vm.Self}
	ot, oid := s.root()
	switch n := r.IntN(100); {
	case n < 25: // vSphere Client login: SSO has the real address, vpxd says 127.0.0.1
		vcsim.PostAs(s.model, admin, &types.EventEx{EventTypeId: "com.vmware.sso.LoginSuccess", ObjectType: ot, ObjectId: oid, Severity: "info",
			Message:   fmt.Sprintf("User %s@%s logged in with response code 200", admin, ip),
			Arguments: []types.KeyAnyValue{{Key: "user", Value: admin}, {Key: "client", Value: ip}}})
		vcsim.PostAs(s.model, admin, &types.UserLoginSessionEvent{IpAddress: "127.0.0.1", UserAgent: "vsphere-ui/8.0.3"})
	case n < 35: // a real API login and logout through the simulator
		if err := s.login(ctx, admin, vcsimAdminPass); err != nil {
			s.log.Debug("demo vCenter login", "err", err)
		}
	case n < 45: // failed logins from unknown addresses
		bad := pickOf(r, []string{"root", "admin", "administrator@vsphere.local"})
		_ = s.login(ctx, bad, "wrong-password") // vcsim posts nothing for it
		vcsim.PostAs(s.model, bad, &types.BadUsernameSessionEvent{IpAddress: pickOf(r, badIPs)})
	case n < 62: // console tickets
		ev := types.Event{Vm: vmArg, Host: hostArg}
		if r.IntN(3) == 0 {
			vcsim.PostAs(s.model, admin, &types.VmAcquiredMksTicketEvent{VmEvent: types.VmEvent{Event: ev}})
		} else {
			vcsim.PostAs(s.model, admin, &types.VmAcquiredTicketEvent{VmEvent: types.VmEvent{Event: ev}, TicketType: "webmks"})
		}
	case n < 74: // a user's vMotion, through RelocateVM_Task
		if err := s.relocate(ctx, admin, vm); err != nil {
			s.log.Debug("demo vCenter relocate", "err", err)
		}
	case n < 84: // DRS
		src := pickOf(r, s.hosts)
		for src == h && len(s.hosts) > 1 {
			src = pickOf(r, s.hosts)
		}
		// Every argument the simulator's message template names
		// (".ComputeResource.Name", ".Datacenter.Name"), or it logs a
		// template error instead of the message.
		vcsim.PostAs(s.model, "", &types.DrsVmMigratedEvent{VmMigratedEvent: types.VmMigratedEvent{
			VmEvent: types.VmEvent{Event: types.Event{Vm: vmArg, Host: hostArg,
				ComputeResource: &types.ComputeResourceEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "Cluster0"}},
				Datacenter:      &types.DatacenterEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "DC0"}}}},
			SourceHost: types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: src.Name}, Host: src.Self}}})
	default: // SSH switched on or off
		on := !s.ssh[h.Name]
		s.ssh[h.Name] = on
		id := "esx.audit.ssh.disabled"
		if on {
			id = "esx.audit.ssh.enabled"
			vcsim.PostAs(s.model, admin, &types.RemoteTSMEnabledEvent{HostEvent: types.HostEvent{Event: types.Event{Host: hostArg}}})
		}
		vcsim.PostAs(s.model, admin, &types.EventEx{EventTypeId: id, ObjectType: "HostSystem", ObjectId: h.Self.Value, ObjectName: h.Name,
			Severity: "warning", Event: types.Event{Host: hostArg}})
		lock := types.HostLockdownModeLockdownDisabled
		if h == s.hosts[min(2, len(s.hosts)-1)] {
			lock = types.HostLockdownModeLockdownNormal
		}
		vcsim.SetSimHost(s.model, h, vcsim.HostSimState{SSH: on, DCUI: true, Lockdown: lock})
	}
}

// client logs in to the simulator as user.
func (s *VCSim) client(ctx context.Context, user, pass string) (*vim25.Client, error) {
	u := *s.url
	u.User = nil
	sc := soap.NewClient(&u, false)
	sc.SetThumbprint(u.Host, s.thumb)
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, err
	}
	if err := session.NewManager(c).Login(ctx, url.UserPassword(user, pass)); err != nil {
		c.CloseIdleConnections()
		return nil, err
	}
	return c, nil
}

func (s *VCSim) login(ctx context.Context, user, pass string) error {
	c, err := s.client(ctx, user, pass)
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	return session.NewManager(c).Logout(ctx)
}

// relocate moves vm to another host of its cluster with RelocateVM_Task
// (vcsim records a VmMigratedEvent).
func (s *VCSim) relocate(ctx context.Context, user string, vm *simulator.VirtualMachine) error {
	c, err := s.client(ctx, user, vcsimAdminPass)
	if err != nil {
		return err
	}
	defer func() { _ = session.NewManager(c).Logout(ctx); c.CloseIdleConnections() }()
	var cur types.ManagedObjectReference
	if vm.Runtime.Host != nil {
		cur = *vm.Runtime.Host
	}
	var target *simulator.HostSystem
	for _, h := range s.hosts {
		if h.Self != cur && h.Parent != nil && vm.Runtime.Host != nil && s.sameCluster(h, cur) {
			target = h
			break
		}
	}
	if target == nil {
		return fmt.Errorf("no other host in the cluster of %s", vm.Name)
	}
	ref := target.Self
	task, err := object.NewVirtualMachine(c, vm.Self).Relocate(ctx, types.VirtualMachineRelocateSpec{Host: &ref}, types.VirtualMachineMovePriorityDefaultPriority)
	if err != nil {
		return err
	}
	return task.Wait(ctx)
}

func (s *VCSim) sameCluster(h *simulator.HostSystem, other types.ManagedObjectReference) bool {
	for _, x := range s.hosts {
		if x.Self == other {
			return x.Parent != nil && h.Parent != nil && *x.Parent == *h.Parent
		}
	}
	return false
}

package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/vcenter"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vcsim"
)

// TestVCenterOnly runs the exporter as a vCenter-only deployment (every
// syslog listener disabled) against the simulator, and scrapes it: a
// vSphere Client login (SSO's event with the real address, then vCenter's
// 127.0.0.1 session) is one login with the real address and the canonical
// user; the hosts' state is in the host metrics; the exposition passes
// promtool. Before, a vCenter-only start exited 2 and the login counted
// twice (method="sso" and method="vcenter").
func TestVCenterOnly(t *testing.T) {
	model, srv := startSim(t)
	var hosts []*simulator.HostSystem
	for _, r := range model.Map().All("HostSystem") {
		hosts = append(hosts, r.(*simulator.HostSystem))
	}
	vcsim.SetSimHostState(model, map[string]vcsim.HostSimState{hosts[0].Name: {SSH: true, DCUI: true, Lockdown: types.HostLockdownModeLockdownStrict}})
	u := *srv.URL
	u.User = nil
	t.Setenv(vcenter.PasswordEnv, "pw")
	e := startExporterArgs(t, []string{"--log.level=error", "--web.listen-address=127.0.0.1:0",
		"--syslog.udp.listen-address=", "--syslog.tcp.listen-address=",
		"--vcenter.url=" + u.String(), "--vcenter.user=auditor", "--vcenter.thumbprint=" + srv.CertificateInfo().ThumbprintSHA256,
		"--vcenter.state-dir=" + t.TempDir(), "--vcenter.poll-interval=20ms", "--vcenter.inventory-interval=200ms"})
	if e.udp != "" || e.tcp != "" {
		t.Fatalf("syslog listeners open: udp %q tcp %q", e.udp, e.tcp)
	}
	vc := u.Host
	waitUntil(t, func() bool { return scrape(t, e.url)[`vsphere_audit_vcenter_up{vcenter="`+vc+`"}`] == 1 }, func() string { return fmt.Sprint(scrape(t, e.url)) })

	h := hosts[0]
	vcsim.PostAs(model, "alice@vsphere.local", &types.EventEx{EventTypeId: "com.vmware.sso.LoginSuccess", ObjectType: "HostSystem", ObjectId: h.Self.Value,
		Arguments: []types.KeyAnyValue{{Key: "user", Value: "alice@vsphere.local"}, {Key: "client", Value: "10.1.2.3"}}})
	vcsim.PostAs(model, `VSPHERE.LOCAL\alice`, &types.UserLoginSessionEvent{IpAddress: "127.0.0.1", UserAgent: "vsphere-ui"})
	login := `vsphere_audit_logins_total{client_ip="10.1.2.3", direct="false", host="` + vc + `", method="vcenter", user="alice@vsphere.local"}`
	waitUntil(t, func() bool {
		m := scrape(t, e.url)
		return m[login] == 1 && m[`vsphere_audit_host_service_running{host="`+h.Name+`", service="ssh", vcenter="`+vc+`"}`] == 1
	}, func() string {
		var out []string
		for k, v := range scrape(t, e.url) {
			if strings.HasPrefix(k, "vsphere_audit_") && v != 0 {
				out = append(out, fmt.Sprint(k, " ", v))
			}
		}
		return strings.Join(out, "\n")
	})
	m := scrape(t, e.url)
	if got := m[`vsphere_audit_events_total{host="`+vc+`", kind="login", source="vcenter"}`]; got != 1 {
		t.Errorf("login events = %v, want 1", got)
	}
	for k := range m {
		if strings.HasPrefix(k, "vsphere_audit_logins_total{") && k != login {
			t.Errorf("another login series: %s = %v", k, m[k])
		}
	}
	if got := m[`vsphere_audit_host_lockdown_mode{host="`+h.Name+`", mode="lockdownStrict", vcenter="`+vc+`"}`]; got != 1 {
		t.Errorf("lockdown_mode = %v, want 1", got)
	}
	resp, err := http.Get(e.url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	promtool := testenv.RequireBinary(t, "promtool", "prometheus")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, msg)
	}
}

func waitUntil(t *testing.T, f func() bool, state ...func() string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			for _, s := range state {
				t.Log(s())
			}
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestVCenterConsoleSessionReused: the console ledger over the API path.
// The simulator's VM has the guest host name guest-7.corp.example.com and
// the address 10.20.0.7 (VMware Tools), unlike its name; the guest's
// console logon arrives as syslog from that name and is mapped to the VM
// through the inventory. alice opens the console (a ticket event read over
// the API), logs on at the guest's console; mallory opens the console and
// does not log on: one console_session_reused, by mallory on alice's
// session, decided once the login window has passed on the wall clock.
func TestVCenterConsoleSessionReused(t *testing.T) {
	model, srv := startSim(t)
	simVMs := model.Map().All("VirtualMachine") // in no fixed order: read once
	vm, other := simVMs[0].(*simulator.VirtualMachine), simVMs[1].(*simulator.VirtualMachine)
	model.Service.Context.WithLock(vm, func() {
		vm.Guest.HostName = "guest-7.corp.example.com"
		vm.Guest.IpAddress = "10.20.0.7"
		// A copy, so that no array another VM's extraConfig may share is written.
		vm.Config.ExtraConfig = append(slices.Clone(vm.Config.ExtraConfig), &types.OptionValue{Key: "tools.guest.desktop.autolock", Value: "TRUE"},
			&types.OptionValue{Key: "RemoteDisplay.maxConnections", Value: "1"})
	})
	u := *srv.URL
	u.User = nil
	t.Setenv(vcenter.PasswordEnv, "pw")
	e := startExporterArgs(t, []string{"--log.level=error", "--web.listen-address=127.0.0.1:0",
		"--syslog.udp.listen-address=", "--syslog.tcp.listen-address=127.0.0.1:0", "--console.login-window=1s",
		"--vcenter.url=" + u.String(), "--vcenter.user=auditor", "--vcenter.thumbprint=" + srv.CertificateInfo().ThumbprintSHA256,
		"--vcenter.state-dir=" + t.TempDir(), "--vcenter.poll-interval=20ms", "--vcenter.inventory-interval=200ms"})
	vc := u.Host
	waitUntil(t, func() bool { return scrape(t, e.url)[`vsphere_audit_vcenter_guests{vcenter="`+vc+`"}`] >= 1 })

	ticket := func(user string) {
		vcsim.PostAs(model, user, &types.VmAcquiredTicketEvent{TicketType: "webmks",
			VmEvent: types.VmEvent{Event: types.Event{Vm: &types.VmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: vm.Name}, Vm: vm.Self}}}})
	}
	opened := func(user string) string {
		return `vsphere_audit_console_opened_total{host="` + vc + `", ticket_type="webmks", user="` + user + `", vm="` + vm.Name + `"}`
	}
	ticket(`VSPHERE.LOCAL\alice`)
	waitUntil(t, func() bool { return scrape(t, e.url)[opened("alice@vsphere.local")] == 1 })

	conn, err := net.Dial("tcp", e.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	line := "<86>1 " + time.Now().UTC().Format(time.RFC3339Nano) + " guest-7.corp.example.com login 1302 - - pam_unix(login:session): session opened for user alice(uid=1000) by LOGIN(uid=0)\n"
	if _, err := conn.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	logon := `vsphere_audit_guest_logons_total{action="logon", host="guest-7.corp.example.com", method="console", user="alice", vm="` + vm.Name + `"}`
	waitUntil(t, func() bool { return scrape(t, e.url)[logon] == 1 }, func() string { return fmt.Sprint(scrape(t, e.url)) })

	ticket(`VSPHERE.LOCAL\mallory`)
	reused := `vsphere_audit_console_sessions_reused_total{user="mallory@vsphere.local", vm="` + vm.Name + `"}`
	waitUntil(t, func() bool { return scrape(t, e.url)[reused] == 1 })
	m := scrape(t, e.url)
	for k, v := range m {
		if strings.HasPrefix(k, "vsphere_audit_console_sessions_reused_total{") && k != reused {
			t.Errorf("another reuse series: %s = %v", k, v)
		}
	}
	if got := m[opened("mallory@vsphere.local")]; got != 1 {
		t.Errorf("mallory's console openings = %v, want 1", got)
	}
	// The console posture: autolock and the connection limit of the VM
	// that sets them; the other VM does not lock, and sets no limit.
	for k, want := range map[string]float64{
		`vsphere_audit_vm_console_autolock{vcenter="` + vc + `", vm="` + vm.Name + `"}`:        1,
		`vsphere_audit_vm_console_max_connections{vcenter="` + vc + `", vm="` + vm.Name + `"}`: 1,
		`vsphere_audit_vm_console_autolock{vcenter="` + vc + `", vm="` + other.Name + `"}`:     0,
		`vsphere_audit_vcenter_guests{vcenter="` + vc + `"}`:                                   1,
	} {
		if got, ok := m[k]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	if _, ok := m[`vsphere_audit_vm_console_max_connections{vcenter="`+vc+`", vm="`+other.Name+`"}`]; ok {
		t.Errorf("a connection limit for %s, which sets none", other.Name)
	}
}

// startSim runs the vCenter simulator over TLS with the user auditor
// (password pw), removed when the test ends.
func startSim(t *testing.T) (*simulator.Model, *simulator.Server) {
	t.Helper()
	model := simulator.VPX()
	if err := model.Create(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(model.Remove)
	model.Service.Listen = &url.URL{User: url.UserPassword("auditor", "pw")}
	model.Service.TLS = new(tls.Config)
	model.Service.RegisterEndpoints = true
	srv := model.Service.NewServer()
	t.Cleanup(srv.Close)
	return model, srv
}

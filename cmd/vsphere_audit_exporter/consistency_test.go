package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/vcenter"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/detect"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vsphere"
)

// An example message for each vCenter class or id of the vSphere table
// that both paths can see, in vCenter 8's templates; {user} {ip} {vm}
// {src} {dst} {host} are the values of the event's own fields.
var examples = map[string]string{
	"UserLoginSessionEvent":            "User {user}@{ip} logged in as pyvmomi/8.0",
	"UserLogoutSessionEvent":           "User {user}@{ip} logged out (login time: Wednesday, 02 December, 2026 10:00:00 AM, number of API invocations: 3, user agent: pyvmomi/8.0)",
	"BadUsernameSessionEvent":          "Cannot login {user}@{ip}",
	"SessionTerminatedEvent":           "A session for user '{user}' has stopped",
	"VmAcquiredTicketEvent":            "A ticket for {vm} of type webmks on {dst} in DC1 has been acquired",
	"VmAcquiredMksTicketEvent":         "Remote console to {vm} on {dst} in DC1 has been opened",
	"VmRemoteConsoleConnectedEvent":    "Remote console connected to {vm} on host {dst}",
	"VmRemoteConsoleDisconnectedEvent": "Remote console disconnected from {vm} on host {dst}",
	"VmMigratedEvent":                  "Migration of virtual machine {vm} from {src}, ds01 to {dst}, ds02 completed",
	"DrsVmMigratedEvent":               "DRS migrated {vm} from {src}, ds01 to {dst}, ds02 in cluster C1 in DC1",
	"VmRelocatedEvent":                 "Completed the relocation of the virtual machine {vm} from {src}, ds01 to {dst}, ds02",
	"PermissionAddedEvent":             "Permission created for VSPHERE.LOCAL\\bob on DC1, role is Admin, propagation is Enabled",
	"PermissionUpdatedEvent":           "Permission changed for VSPHERE.LOCAL\\bob on DC1",
	"PermissionRemovedEvent":           "Permission rule removed for VSPHERE.LOCAL\\bob on DC1",
	"RoleAddedEvent":                   "New role Ops created",
	"RoleUpdatedEvent":                 "Role modified Previous name: Ops, new name Ops",
	"RoleRemovedEvent":                 "Role Ops removed",
	"AccountCreatedEvent":              "An account was created on host {host}",
	"AccountUpdatedEvent":              "An account was updated on host {host}",
	"AccountRemovedEvent":              "Account backup was removed on host {host}",
	"UserPasswordChanged":              "Password was changed for account backup on host {host}",
	"UserAssignedToGroup":              "User backup was added to group admins on host {host}",
	"UserUnassignedFromGroup":          "User backup removed from group admins on host {host}",
	"LocalTSMEnabledEvent":             "ESXi Shell for the host {host} has been enabled",
	"RemoteTSMEnabledEvent":            "SSH for the host {host} has been enabled",
	"HostAdminDisableEvent":            "Administrator permissions have been removed from host {host}",
	"HostAdminEnableEvent":             "Administrator permissions have been restored to host {host}",
	"GeneralHostWarningEvent":          "Issue detected on {host} in DC1: vmsyslog logger 10.0.0.9:514 lost 12 log messages",
	"com.vmware.sso.LoginSuccess":      "Successful login {user} from {ip} at 12/02/2026 10:00:00 GMT in SSO",
	"com.vmware.sso.LoginFailure":      "Failed login {user} from {ip} at 12/02/2026 10:00:00 GMT in SSO",
	// VM power and lifecycle (vCenter 8's templates, as vcsim has them).
	"VmPoweredOnEvent":           "{vm} on {dst} in DC1 is powered on",
	"VmPoweredOffEvent":          "{vm} on {dst} in DC1 is powered off",
	"VmResettingEvent":           "{vm} on {dst} in DC1 is reset",
	"VmSuspendedEvent":           "{vm} on {dst} in DC1 is suspended",
	"VmCreatedEvent":             "Created virtual machine {vm} on {dst} in DC1",
	"VmRemovedEvent":             "Removed {vm} on {dst} from DC1",
	"VmRegisteredEvent":          "Registered {vm} on {dst} in DC1",
	"VmBeingClonedEvent":         "Cloning {vm} on host {src} in DC1 to {vm}-copy on host {dst}",
	"VmBeingClonedNoFolderEvent": "Cloning {vm} on host {src} in DC1 to {vm}-copy on host {dst} to a vApp",
	"VmClonedEvent":              "Clone of vm00 completed",
	"HostShutdownEvent":          "Shut down of {host} in DC1: maintenance window",
	// Ids vCenter relays by text whose Text reads more than the description.
	"com.vmware.vc.vm.VmStateRevertedToSnapshot":              "The execution state of the virtual machine {vm} on host {dst}, in compute resource C1 has been reverted to the state of snapshot before-patch, with ID 12",
	"com.vmware.vc.guestOperations.GuestOperation":            "Guest operation Start Program performed on Virtual machine {vm}.",
	"com.vmware.vc.guestOperations.GuestOperationAuthFailure": "Guest operation authentication failed for operation Start Program on Virtual machine {vm}.",
	"esx.audit.esximage.hostacceptance.changed":               "Host acceptance level changed from 'PartnerSupported' to 'CommunitySupported'",
	"esx.audit.uw.security.execInstalledOnly.violation":       "Execution of unknown (non VIB installed) binary '/tmp/encrypt' prevented. Unknown content can cause malware attacks similar to Ransomware.",
	"esx.audit.esxcli.host.reboot.reason":                     "The host is being rebooted through esxcli. Reason for reboot: patching, User: root.",
	"esx.audit.esxcli.host.poweroff.reason":                   "The host is being powered off through esxcli. Reason for powering off: patching, User: root.",
	"esx.audit.hostd.host.reboot.reason":                      "The host is being rebooted through hostd. Reason for reboot: patching, User: root.",
	"esx.audit.hostd.host.poweroff.reason":                    "The host is being powered off through hostd. Reason for powering off: patching, User: root.",
	"esx.audit.subsystem.host.reboot.reason":                  "The host is being rebooted. Reason for reboot: upgrade, User: root, Subsystem: vLCM.",
	"esx.audit.subsystem.host.poweroff.reason":                "The host is being powered off. Reason for powering off: upgrade, User: root, Subsystem: vLCM.",
	"esx.audit.host.reboot.reason.available":                  "The host has been rebooted. Reason for reboot: patching.",
	"esx.audit.host.reboot.reason.management":                 "The reboot at 2026-12-02T09:55:00Z was requested by hostd by user/entity root due to: patching.",
	"esx.audit.host.poweroff.reason.available":                "The host has been powered off. Reason for powering off: patching.",
	"esx.audit.host.poweroff.reason.management":               "The power off at 2026-12-02T09:55:00Z was requested by hostd by user/entity root due to: patching.",
	"esx.problem.vmsyslogd.remote.logmessages.dropped":        `The host "udp://10.0.0.9:514" has lost 12 log messages.`,
	"esx.problem.vmsyslogd.auditrecord.local.disabled":        "The local storage of audit records is disabled due to the error: No space left on device. Please refer to KB-386607 for remediation steps.",
}

// syslogLacksVM: the classes whose text vpxd logs does not name the VM
// the API path reads ("Clone of {source} completed" names only the
// source): the comparison leaves the VM out, and the syslog event has none.
var syslogLacksVM = map[string]bool{"VmClonedEvent": true}

// TestSyslogAndAPIAgree: for every vCenter class and id both paths can see
// (a typed class, or an id vCenter relays with its description), the
// event read over the vSphere API (collector/vcenter) and the same event
// in vpxd's syslog stream (internal/detect) give the same kind and fields.
func TestSyslogAndAPIAgree(t *testing.T) {
	cls := detect.MustNew()
	parser := logline.NewParser(logline.Options{})
	const vc = "vc01"
	vals := map[string]string{"{user}": `VSPHERE.LOCAL\alice`, "{ip}": "10.1.1.1", "{vm}": "vm01", "{src}": "esx01", "{dst}": "esx02", "{host}": "esx02"}
	created := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	n := 0
	for _, vt := range vsphere.Of(vsphere.VCenter) {
		msg, ok := examples[vt.ID]
		switch {
		case !ok && vt.Extended() && vt.Description != "":
			// An ESXi VOB vCenter relays: its description names it.
			msg = vt.Description + "."
			if vt.Kind == audit.KindLogin || vt.Kind == audit.KindLogout || vt.Kind == audit.KindLoginFailed || vt.Kind == audit.KindAccountLocked {
				msg = vt.Description + " 'root@{ip}'."
				vals["{user}"] = "root"
			}
		case !ok && vt.Extended():
			continue // no description: vpxd's line does not say which id it is
		case !ok:
			t.Errorf("%s: a typed class with no example message here", vt.ID)
			continue
		}
		user := vals["{user}"]
		if strings.HasPrefix(msg, vt.Description+" 'root@") && vt.Description != "" {
			user = "root"
		}
		for k, v := range vals {
			if k == "{user}" {
				v = user
			}
			msg = strings.ReplaceAll(msg, k, v)
		}
		vals["{user}"] = `VSPHERE.LOCAL\alice`
		n++
		t.Run(vt.ID, func(t *testing.T) {
			ev := apiEvent(t, vt, msg, user, vals)
			ev.GetEvent().CreatedTime = created
			apis := vcenter.ToAudit(vc, ev)
			if len(apis) != 1 {
				t.Fatalf("the API path gives %d events for %s", len(apis), vt.ID)
			}
			api := apis[0]
			class, target := vt.ID, "DC1"
			if vt.Extended() {
				class, target = "EventEx", vals["{host}"]
			}
			colUser := user
			if vt.ID == "SessionTerminatedEvent" {
				colUser = "VSPHERE.LOCAL\\admin"
			}
			line := fmt.Sprintf("<14>1 2026-12-02T10:00:00Z %s vpxd 7213 - -  Event [42] [1-1] [2026-12-02T10:00:00Z] [vim.event.%s] [info] [%s] [%s] [42] [%s]", vc, class, colUser, target, msg)
			rec, err := parser.Parse([]byte(line))
			if err != nil {
				t.Fatal(err)
			}
			evs := cls.Classify(&rec, nil)
			if len(evs) != 1 {
				t.Fatalf("the syslog path gives %d events for %q", len(evs), line)
			}
			sl := evs[0]
			strip := func(e audit.Event) audit.Event {
				return audit.Event{Host: e.Host, Kind: e.Kind, User: e.User, ClientIP: e.ClientIP, Method: e.Method, Direct: e.Direct, Outcome: e.Outcome,
					VM: e.VM, SourceHost: e.SourceHost, TargetHost: e.TargetHost, Service: e.Service, TicketType: e.TicketType, Setting: e.Setting,
					Action: e.Action, Path: e.Path, Operation: e.Operation, Value: e.Value, Reason: e.Reason, Object: e.Object, CrossVM: e.CrossVM}
			}
			if syslogLacksVM[vt.ID] {
				if sl.VM != "" {
					t.Errorf("the syslog path names VM %q, which the text does not", sl.VM)
				}
				if api.VM == "" {
					t.Errorf("the API path names no VM")
				}
				api.VM = ""
			}
			if a, s := strip(api), strip(sl); a != s {
				t.Errorf("API and syslog disagree:\n   api %+v\nsyslog %+v\n(line %q)", a, s, line)
			}
		})
	}
	if n < 40 {
		t.Errorf("only %d classes and ids compared", n)
	}
}

// apiEvent builds the vSphere API's event of vt's class (an EventEx for a
// dotted id), its fields set from vals.
func apiEvent(t *testing.T, vt *vsphere.EventType, msg, user string, vals map[string]string) types.BaseEvent {
	t.Helper()
	hostArg := func(name string) *types.HostEventArgument {
		return &types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: name}, Host: types.ManagedObjectReference{Type: "HostSystem", Value: "host-" + name}}
	}
	if vt.Extended() {
		ex := &types.EventEx{EventTypeId: vt.ID, Message: msg}
		if vt.Scope == vsphere.ScopeHost {
			ex.ObjectType, ex.ObjectName = "HostSystem", vals["{host}"]
			ex.Host = hostArg(vals["{host}"])
		}
		ex.FullFormattedMessage = msg
		ex.UserName = user
		return ex
	}
	typ, ok := types.TypeFunc()(vt.ID)
	if !ok {
		t.Fatalf("govmomi has no class %s", vt.ID)
	}
	v := reflect.New(typ)
	ev := v.Interface().(types.BaseEvent)
	b := ev.GetEvent()
	b.UserName = user
	b.FullFormattedMessage = msg
	b.Host = hostArg(vals["{dst}"])
	b.Vm = &types.VmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: vals["{vm}"]}}
	// Class-specific fields, by name, wherever the class embeds them.
	set := func(name string, val any) {
		if f := v.Elem().FieldByName(name); f.IsValid() && f.CanSet() && f.Type() == reflect.TypeOf(val) {
			f.Set(reflect.ValueOf(val))
		}
	}
	set("IpAddress", vals["{ip}"])
	set("TicketType", "webmks")
	set("SourceHost", *hostArg(vals["{src}"]))
	// Clones: the event's host is the source VM's, DestHost the copy's.
	set("DestName", vals["{vm}"]+"-copy")
	set("DestHost", *hostArg(vals["{dst}"]))
	if f := v.Elem().FieldByName("DestHost"); f.IsValid() {
		b.Host = hostArg(vals["{src}"])
	}
	set("SourceVm", types.VmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "vm00"}})
	set("Reason", "maintenance window")
	if vt.ID == "SessionTerminatedEvent" {
		set("TerminatedUsername", user)
		b.UserName = `VSPHERE.LOCAL\admin`
	}
	return ev
}

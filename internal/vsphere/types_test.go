package vsphere

import (
	"testing"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// TestRelayedTexts: a message vCenter or hostd relays by text alone is
// recognized as the right id (LookupDescription), and the id's Text fills
// exactly these fields. The texts are Broadcom's catalogue templates and
// vcsim's copies of vCenter 8's, with values filled in.
func TestRelayedTexts(t *testing.T) {
	cases := []struct {
		text string
		id   string // "" when the text must not be recognized
		want audit.Event
	}{
		{"Execution of unknown (non VIB installed) binary '/tmp/x' prevented. Unknown content can cause malware attacks similar to Ransomware.",
			"esx.audit.uw.security.execInstalledOnly.violation",
			audit.Event{Kind: audit.KindAccessDenied, Outcome: audit.OutcomeFailure, Reason: "execInstalledOnly: execution prevented", Object: "/tmp/x"}},
		// The warning's text starts like the violation's: not recognized by text.
		{"Execution of unknown (non VIB installed) binary '/tmp/x'. Unknown content can cause malware attacks similar to Ransomware.", "", audit.Event{}},
		{"The host is being rebooted through esxcli. Reason for reboot: kernel patch, User: root.", "esx.audit.esxcli.host.reboot.reason",
			audit.Event{Kind: audit.KindHostPower, Action: audit.ActionReboot, Reason: "kernel patch", User: "root"}},
		{"The host is being rebooted. Reason for reboot: upgrade, User: vpxuser, Subsystem: vLCM.", "esx.audit.subsystem.host.reboot.reason",
			audit.Event{Kind: audit.KindHostPower, Action: audit.ActionReboot, Reason: "upgrade", User: "vpxuser"}},
		{"The host is being powered off through hostd. Reason for powering off: DC move, User: admin.", "esx.audit.hostd.host.poweroff.reason",
			audit.Event{Kind: audit.KindHostPower, Action: audit.ActionShutdown, Reason: "DC move", User: "admin"}},
		// The four "The reboot at {1} was requested ..." forms.
		{"The reboot at 2024-05-02T09:20:01Z was requested by esxcli by user/entity root due to: kernel patch.", "esx.audit.host.reboot.reason.management",
			audit.Event{Kind: audit.KindHostPower, Action: audit.ActionReboot, Reason: "kernel patch", User: "root"}},
		{"The reboot at 2024-05-02T09:20:01Z was requested by vsan due to: resync.", "esx.audit.host.reboot.reason.management",
			audit.Event{Kind: audit.KindHostPower, Action: audit.ActionReboot, Reason: "resync"}},
		{"The reboot at 2024-05-02T09:20:01Z was requested due to: watchdog.", "esx.audit.host.reboot.reason.management",
			audit.Event{Kind: audit.KindHostPower, Action: audit.ActionReboot, Reason: "watchdog"}},
		{"The reboot at 2024-05-02T09:20:01Z was requested by user/entity alice due to: test.", "esx.audit.host.reboot.reason.management",
			audit.Event{Kind: audit.KindHostPower, Action: audit.ActionReboot, Reason: "test", User: "alice"}},
		{"The power off at 2024-05-02T09:20:01Z was requested by user/entity alice due to: move.", "esx.audit.host.poweroff.reason.management",
			audit.Event{Kind: audit.KindHostPower, Action: audit.ActionShutdown, Reason: "move", User: "alice"}},
		{"Host had been rebooted. The reboot was not the result of a kernel error, deliberate reboot, or shut down. This could indicate a hardware issue.",
			"esx.audit.host.reboot.reason.unavailable",
			audit.Event{Kind: audit.KindHostPower, Action: audit.ActionReboot, Reason: unexpectedReason}},
		{`The host "tcp://10.0.0.9:514" has lost 7 log messages.`, "esx.problem.vmsyslogd.remote.logmessages.dropped",
			audit.Event{Kind: audit.KindLoggingFailed, Reason: "lost 7 log messages"}},
		{`The host "tcp://10.0.0.9:514" has lost 3 audit records.`, "esx.problem.vmsyslogd.remote.logmessages.dropped",
			audit.Event{Kind: audit.KindLoggingFailed, Reason: "lost 3 audit records"}},
		{`The host "tcp://10.0.0.9:514" is in maintenance.`, "", audit.Event{}},
		{"ExecInstalledOnly has been disabled. This allows the execution of non-installed binaries on the host.", "esx.audit.uw.security.User.ExecInstalledOnly.disabled",
			audit.Event{Kind: audit.KindConfigChanged, Setting: audit.SettingExecInstalledOnly, Action: audit.ActionDisabled}},
		{"Host acceptance level changed from 'VMwareAccepted' to 'CommunitySupported'", "esx.audit.esximage.hostacceptance.changed",
			audit.Event{Kind: audit.KindConfigChanged, Setting: audit.SettingAcceptanceLevel, Action: audit.ActionSet, Value: "CommunitySupported"}},
		{"Guest operation authentication failed for operation Start Program on Virtual machine dc 01.", "com.vmware.vc.guestOperations.GuestOperationAuthFailure",
			audit.Event{Kind: audit.KindGuestOperation, Outcome: audit.OutcomeFailure, Operation: "Start Program", VM: "dc 01"}},
		{"Guest operation Initiate File Transfer From Guest performed on Virtual machine dc01.", "com.vmware.vc.guestOperations.GuestOperation",
			audit.Event{Kind: audit.KindGuestOperation, Outcome: audit.OutcomeSuccess, Operation: "Initiate File Transfer From Guest", VM: "dc01"}},
	}
	for _, c := range cases {
		vt := LookupDescription(c.text, VCenter)
		switch {
		case c.id == "" && vt != nil && vt.Fill(c.text, &audit.Event{}):
			t.Errorf("%q: read as %s, want no event", c.text, vt.ID)
			continue
		case c.id == "":
			continue
		case vt == nil:
			t.Errorf("%q: not recognized, want %s", c.text, c.id)
			continue
		case vt.ID != c.id:
			t.Errorf("%q: read as %s, want %s", c.text, vt.ID, c.id)
		}
		var e audit.Event
		vt.Apply(&e)
		if !vt.Fill(c.text, &e) {
			t.Errorf("%q: the Text of %s does not match", c.text, vt.ID)
		}
		if e != c.want {
			t.Errorf("%q:\n got %+v\nwant %+v", c.text, e, c.want)
		}
	}
}

// TestTypedTexts: the texts of the typed VM classes (vcsim's copies of
// vCenter 8's templates) fill exactly these fields, VM names with spaces
// included.
func TestTypedTexts(t *testing.T) {
	cases := []struct {
		id, text string
		want     audit.Event
	}{
		{"VmPoweredOffEvent", "db 01 on esx01.lab.local in Data Center 1 is powered off",
			audit.Event{Kind: audit.KindVMPower, Action: audit.ActionOff, VM: "db 01", TargetHost: "esx01.lab.local"}},
		{"VmBeingClonedEvent", "Cloning dc01 on host esx01.lab.local in Datacenter to dc01 copy on host esx02.lab.local",
			audit.Event{Kind: audit.KindVMLifecycle, Action: audit.ActionClone, VM: "dc01", Value: "dc01 copy", SourceHost: "esx01.lab.local", TargetHost: "esx02.lab.local"}},
		{"VmClonedEvent", "Clone of dc01 completed", audit.Event{Kind: audit.KindVMLifecycle, Action: audit.ActionCreate, Value: "dc01"}},
		{"VmRemovedEvent", "Removed old-fs01 on esx01.lab.local from Datacenter",
			audit.Event{Kind: audit.KindVMLifecycle, Action: audit.ActionDelete, VM: "old-fs01", TargetHost: "esx01.lab.local"}},
		{"HostShutdownEvent", "Shut down of esx04.lab.local in Datacenter: hardware maintenance",
			audit.Event{Kind: audit.KindHostPower, Action: audit.ActionShutdown, Host: "esx04.lab.local", Reason: "hardware maintenance"}},
	}
	for _, c := range cases {
		vt := Lookup(c.id)
		var e audit.Event
		vt.Apply(&e)
		if !vt.Fill(c.text, &e) {
			t.Errorf("%s: %q does not match", c.id, c.text)
		}
		if e != c.want {
			t.Errorf("%s %q:\n got %+v\nwant %+v", c.id, c.text, e, c.want)
		}
	}
}

// TestAPIOnly: the classes whose vpxd line cannot tell them are read over
// the vSphere API alone: no syslog rule is made of them (Of(VCenter) is
// what the vpxd rules are built from).
func TestAPIOnly(t *testing.T) {
	for _, id := range []string{"TaskEvent", "VmReconfiguredEvent"} {
		if vt := Lookup(id); vt == nil || vt.Origin != API {
			t.Errorf("%s: origin %v, want API", id, vt)
		}
		for _, vt := range Of(VCenter) {
			if vt.ID == id {
				t.Errorf("%s is among the vCenter types vpxd's rules are made of", id)
			}
		}
	}
}

package vsphere

import "github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"

// Types is the table. Message templates are vCenter 8.0's (the
// FullFormattedMessage vCenter writes, and vpxd logs as the last column of
// its event stream); the ids and descriptions of the ESXi VOBs are
// Broadcom's catalogue (vSphere 8.0 U3 event list).
//
// A new vCenter class or id is one entry here plus one testdata line: both
// the vCenter API mapping and the vpxd syslog detection pick it up.
var Types = []EventType{
	// Sessions.
	{ID: "UserLoginSessionEvent", Kind: audit.KindLogin, Method: audit.MethodVCenter, Origin: VCenter,
		Text: `^User (?P<user>.*)@(?P<client_ip>[^@\s]+) logged in`},
	{ID: "UserLogoutSessionEvent", Kind: audit.KindLogout, Method: audit.MethodVCenter, Origin: VCenter,
		Text: `^User (?P<user>.*)@(?P<client_ip>[^@\s]+) logged out`},
	{ID: "BadUsernameSessionEvent", Kind: audit.KindLoginFailed, Method: audit.MethodVCenter, Origin: VCenter,
		Text: `^Cannot login (?P<user>.*)@(?P<client_ip>[^@\s]+)`},
	{ID: "SessionTerminatedEvent", Kind: audit.KindLogout, Method: audit.MethodVCenter, Origin: VCenter,
		Text: `^A session for user '(?P<user>[^']+)' has stopped`, Optional: true,
		Note: "template from vSphere's locale catalogue; the user is the session's, not the administrator's who ended it"},

	// Consoles.
	{ID: "VmAcquiredTicketEvent", Kind: audit.KindConsoleOpened, Method: audit.MethodVCenter, Origin: VCenter,
		Text: `^A ticket for (?P<vm>.+) of type (?P<ticket_type>\S+) on (?P<target_host>\S+) in `},
	{ID: "VmAcquiredMksTicketEvent", Kind: audit.KindConsoleOpened, Method: audit.MethodVCenter, TicketType: "mks", Origin: VCenter,
		Text: `^Remote console to (?P<vm>.+) on (?P<target_host>\S+) in `},
	{ID: "VmRemoteConsoleConnectedEvent", Kind: audit.KindConsoleOpened, Method: audit.MethodVCenter, TicketType: "remote_console", Origin: VCenter,
		Text: `(?:to|for) (?P<vm>.+?) on (?:host )?(?P<target_host>[^\s,]+)`},
	{ID: "VmRemoteConsoleDisconnectedEvent", Kind: audit.KindConsoleClosed, Method: audit.MethodVCenter, TicketType: "remote_console", Origin: VCenter,
		Text: `(?:from|to|for) (?P<vm>.+?) on (?:host )?(?P<target_host>[^\s,]+)`,
		Note: "text unverified: modelled on VmRemoteConsoleConnectedEvent's"},

	// Migrations: the destination is the event's host, the origin its SourceHost.
	{ID: "VmMigratedEvent", Kind: audit.KindVMMigrated, Origin: VCenter,
		Text: `^Migration of virtual machine (?P<vm>.+) from (?P<source_host>[^,\s]+),.* to (?P<target_host>[^,\s]+)`},
	{ID: "DrsVmMigratedEvent", Kind: audit.KindVMMigrated, User: "DRS", Origin: VCenter,
		Text: `^(?:DRS migrated|Migration of virtual machine) (?P<vm>.+) from (?P<source_host>[^,\s]+),?.* to (?P<target_host>[^,\s]+)`},
	{ID: "VmRelocatedEvent", Kind: audit.KindVMMigrated, Origin: VCenter,
		Text: `^(?:Virtual machine |Completed the relocation of the virtual machine )?(?P<vm>\S.*?) (?:was relocated |relocated )?from (?P<source_host>[^,\s]+),?.* to (?P<target_host>[^,\s]+)`},
	{ID: "com.vmware.vc.vm.SrcVmMigratedEvent", Kind: audit.KindVMMigrated, Origin: VCenter,
		Note: "cross-vCenter vMotion, source side; no verified message template, so the API path alone reads it"},
	{ID: "com.vmware.vc.vm.DstVmMigratedEvent", Kind: audit.KindVMMigrated, Origin: VCenter,
		Note: "cross-vCenter vMotion, destination side; no verified message template, so the API path alone reads it"},

	// VM power. vCenter 8's templates, which vcsim copies
	// (simulator/esx/event_manager.go): "{vm} on {host} in {datacenter} is
	// powered on". A reset is VmResettingEvent ("is reset"); vCenter has
	// no event for a killed VM (ESXi's vm.kill audit record reports it).
	// DrsVmPoweredOnEvent is left out: DRS reports a power-on that
	// VmPoweredOnEvent reports too.
	{ID: "VmPoweredOnEvent", Kind: audit.KindVMPower, Action: audit.ActionOn, Origin: VCenter, Text: vmStateText + `powered on`},
	{ID: "VmPoweredOffEvent", Kind: audit.KindVMPower, Action: audit.ActionOff, Origin: VCenter, Text: vmStateText + `powered off`},
	{ID: "VmResettingEvent", Kind: audit.KindVMPower, Action: audit.ActionReset, Origin: VCenter, Text: vmStateText + `reset`},
	{ID: "VmSuspendedEvent", Kind: audit.KindVMPower, Action: audit.ActionSuspend, Origin: VCenter, Text: vmStateText + `suspended`},

	// Snapshots have no event class: vCenter reports their tasks
	// (collector/vcenter maps the task's DescriptionId to the action and
	// drops every other task). vpxd's line of a TaskEvent says only "Task:
	// Create virtual machine snapshot", without the VM.
	{ID: "TaskEvent", Kind: audit.KindVMSnapshot, Origin: API,
		Note: "snapshot tasks: VirtualMachine.createSnapshot(Ex) create, VirtualMachineSnapshot.remove remove, VirtualMachine.removeAllSnapshots remove_all, VirtualMachineSnapshot.revert and VirtualMachine.revertToCurrentSnapshot revert, VirtualMachineSnapshot.rename rename"},
	{ID: "com.vmware.vc.vm.VmStateRevertedToSnapshot", Kind: audit.KindVMSnapshot, Action: audit.ActionRevert, Origin: VCenter,
		Description: "The execution state of the virtual machine ",
		Text:        `^The execution state of the virtual machine (?P<vm>.+?) on host (?P<target_host>[^\s,]+), in compute resource .* has been reverted to the state of snapshot `,
		Note:        "Broadcom's catalogue: The execution state of the virtual machine {vm.name} on host {host.name}, in compute resource {computeResource.name} has been reverted to the state of snapshot {snapshotName}, with ID {snapshotId}"},

	// Virtual disks: one event per disk a reconfiguration adds, edits or
	// removes (collector/vcenter reads ConfigSpec.DeviceChange and sets
	// cross_vm for a disk from another VM's folder); a reconfiguration
	// without a disk change is no event.
	{ID: "VmReconfiguredEvent", Kind: audit.KindVMDiskChanged, Origin: API,
		Note: "vpxd writes the changes as a dump split over several parts (testdata/corpus/vcenter-wire.log, §13f/§14e) whose format is not verified, so the API path alone reads it"},

	// VM lifecycle. Templates: vCenter 8's, as vcsim copies them. A clone is
	// counted twice, as the clone of its source (VmBeingClonedEvent: vm is
	// the source, value the new name) and as the creation of the copy
	// (VmClonedEvent: vm is the copy, value the source): Tier-0 alerts
	// match the source's name.
	{ID: "VmCreatedEvent", Kind: audit.KindVMLifecycle, Action: audit.ActionCreate, Origin: VCenter,
		Text: `^Created virtual machine (?P<vm>.+?) on (?P<target_host>[^\s,]+) in `},
	{ID: "VmRemovedEvent", Kind: audit.KindVMLifecycle, Action: audit.ActionDelete, Origin: VCenter,
		Text: `^Removed (?P<vm>.+?) on (?P<target_host>[^\s,]+) from `,
		Note: "vCenter reports a VM removed from the inventory (UnregisterVM) as removed too, as vcsim does; there is no unregister class"},
	{ID: "VmRegisteredEvent", Kind: audit.KindVMLifecycle, Action: audit.ActionRegister, Origin: VCenter,
		Text: `^Registered (?P<vm>.+?) on (?P<target_host>[^\s,]+) in `},
	{ID: "VmBeingClonedEvent", Kind: audit.KindVMLifecycle, Action: audit.ActionClone, Origin: VCenter, Text: cloningText},
	{ID: "VmBeingClonedNoFolderEvent", Kind: audit.KindVMLifecycle, Action: audit.ActionClone, Origin: VCenter, Text: cloningText, Optional: true,
		Note: "a clone into a vApp; its template is taken to be VmBeingClonedEvent's (unverified)"},
	{ID: "VmClonedEvent", Kind: audit.KindVMLifecycle, Action: audit.ActionCreate, Origin: VCenter,
		Text: `^Clone of (?P<value>.+?) completed`,
		Note: "the text names only the source: over syslog the copy (vm) is unknown, the API path reads it"},
	{ID: "com.vmware.vc.vm.SrcVmClonedEvent", Kind: audit.KindVMLifecycle, Action: audit.ActionClone, Origin: VCenter,
		Note: "clone across vCenters, source side (vm is the source); no verified message template, so the API path alone reads it"},
	{ID: "com.vmware.vc.vm.DstVmClonedEvent", Kind: audit.KindVMLifecycle, Action: audit.ActionCreate, Origin: VCenter,
		Note: "clone across vCenters, destination side (vm is the copy); no verified message template, so the API path alone reads it"},
	{ID: "com.vmware.vc.VmInstantClonedEvent", Kind: audit.KindVMLifecycle, Action: audit.ActionClone, Origin: VCenter,
		Note: "the event is the new VM's, its first argument the source's name (William Lam's VMCloneInfo.ps1): vm is the source, value the copy; no verified message template, so the API path alone reads it"},
	{ID: "com.vmware.ovfs.ExportEvent", Kind: audit.KindVMLifecycle, Action: audit.ActionExport, Origin: VCenter,
		Note: "Cloned entity to Content Library (lamw's vCenter 8.0 U3 event list); no verified message template, so the API path alone reads it"},
	{ID: "com.vmware.vmtx.LibraryItemCreateEvent", Kind: audit.KindVMLifecycle, Action: audit.ActionExport, Origin: VCenter,
		Note: "Cloned virtual machine to Content Library as VM template (lamw's vCenter 8.0 U3 event list); no verified message template, so the API path alone reads it"},

	// Guest operations (VMware Tools: programs started, files copied in or
	// out). Broadcom's catalogue; hostd writes the same text (log-samples
	// §13d: "Guest operation Start Program performed on Virtual machine X.").
	// The operation is the name the text shows; the API falls back on the
	// operationName argument when the text is missing.
	{ID: "com.vmware.vc.guestOperations.GuestOperation", Kind: audit.KindGuestOperation, Outcome: audit.OutcomeSuccess, Origin: VCenter,
		Description: "Guest operation ",
		Text:        `^Guest operation (?P<operation>.+?) performed on Virtual machine (?P<vm>.+?)\.?$`},
	{ID: "com.vmware.vc.guestOperations.GuestOperationAuthFailure", Kind: audit.KindGuestOperation, Outcome: audit.OutcomeFailure, Origin: VCenter,
		Description: "Guest operation authentication failed for operation ",
		Text:        `^Guest operation authentication failed for operation (?P<operation>.+?) on Virtual machine (?P<vm>.+?)\.?$`},

	// Permissions and roles.
	{ID: "PermissionAddedEvent", Kind: audit.KindPermissionChanged, Origin: VCenter},
	{ID: "PermissionUpdatedEvent", Kind: audit.KindPermissionChanged, Origin: VCenter},
	{ID: "PermissionRemovedEvent", Kind: audit.KindPermissionChanged, Origin: VCenter},
	{ID: "RoleAddedEvent", Kind: audit.KindRoleChanged, Origin: VCenter},
	{ID: "RoleUpdatedEvent", Kind: audit.KindRoleChanged, Origin: VCenter},
	{ID: "RoleRemovedEvent", Kind: audit.KindRoleChanged, Origin: VCenter},
	{ID: "com.vmware.cis.CreateGlobalPermission", Kind: audit.KindPermissionChanged, Origin: VCenter},
	{ID: "com.vmware.cis.CreatePermission", Kind: audit.KindPermissionChanged, Origin: VCenter},
	{ID: "com.vmware.cis.RemovePermission", Kind: audit.KindPermissionChanged, Origin: VCenter},
	{ID: "com.vmware.cis.RemoveGlobalPermission", Kind: audit.KindPermissionChanged, Origin: VCenter},

	// ESXi local accounts, as vCenter reports them (host events).
	{ID: "AccountCreatedEvent", Kind: audit.KindAccountChanged, Scope: ScopeHost, Origin: VCenter, Text: hostInText, Optional: true},
	{ID: "AccountUpdatedEvent", Kind: audit.KindAccountChanged, Scope: ScopeHost, Origin: VCenter, Text: hostInText, Optional: true},
	{ID: "AccountRemovedEvent", Kind: audit.KindAccountChanged, Scope: ScopeHost, Origin: VCenter, Text: hostInText, Optional: true},
	{ID: "UserPasswordChanged", Kind: audit.KindAccountChanged, Scope: ScopeHost, Origin: VCenter, Text: hostInText, Optional: true},
	{ID: "UserAssignedToGroup", Kind: audit.KindAccountChanged, Scope: ScopeHost, Origin: VCenter, Text: hostInText, Optional: true},
	{ID: "UserUnassignedFromGroup", Kind: audit.KindAccountChanged, Scope: ScopeHost, Origin: VCenter, Text: hostInText, Optional: true},

	// Host services and lockdown (host events).
	{ID: "LocalTSMEnabledEvent", Kind: audit.KindServiceEnabled, Service: audit.ServiceESXiShell, Scope: ScopeHost, Origin: VCenter,
		Text: hostInText, Optional: true},
	{ID: "RemoteTSMEnabledEvent", Kind: audit.KindServiceEnabled, Service: audit.ServiceSSH, Scope: ScopeHost, Origin: VCenter,
		Text: hostInText, Optional: true},
	{ID: "HostAdminDisableEvent", Kind: audit.KindLockdownEnabled, Scope: ScopeHost, Origin: VCenter,
		Text: hostInText, Optional: true},
	{ID: "HostAdminEnableEvent", Kind: audit.KindLockdownDisabled, Scope: ScopeHost, Origin: VCenter,
		Text: hostInText, Optional: true},
	{ID: "GeneralHostWarningEvent", Kind: audit.KindLoggingFailed, Scope: ScopeHost, Origin: VCenter, Require: "log messages",
		Text: `^Issue detected on (?P<host>\S+) in .*: vmsyslog logger \S+ lost \d+ log messages`},

	// vCenter single sign-on (EventEx, vCenter 7.0+): the real client
	// address of a vSphere Client login. vCenter writes "User u@ip logged
	// in"; websso's audit log "Successful login u from ip at ...".
	{ID: "com.vmware.sso.LoginSuccess", Kind: audit.KindLogin, Method: audit.MethodSSO, Origin: VCenter,
		Description: "Successful login ", Optional: true,
		Text: `^(?:Successful login (?P<user>\S+) from (?P<client_ip>\S+) at |User (?P<user>.*)@(?P<client_ip>[^@\s]+) logged in)`},
	{ID: "com.vmware.sso.LoginFailure", Kind: audit.KindLoginFailed, Method: audit.MethodSSO, Origin: VCenter,
		Description: "Failed login ", Optional: true,
		Text: `^Failed login (?P<user>\S+) from (?P<client_ip>\S+) at `},
	{ID: "com.vmware.sso.Logout", Kind: audit.KindLogout, Method: audit.MethodSSO, Origin: VCenter,
		Text: `^User (?P<user>.*)@(?P<client_ip>[^@\s]+) logged out`, Optional: true},
	{ID: "com.vmware.sso.PrincipalManagement", Kind: audit.KindAccountChanged, Method: audit.MethodSSO, Origin: VCenter},
	{ID: "com.vmware.sso.RoleManagement", Kind: audit.KindRoleChanged, Method: audit.MethodSSO, Origin: VCenter},
	{ID: "com.vmware.sso.PasswordPolicy", Kind: audit.KindConfigChanged, Method: audit.MethodSSO, Setting: audit.SettingOther, Origin: VCenter},
	{ID: "com.vmware.sso.LockoutPolicy", Kind: audit.KindConfigChanged, Method: audit.MethodSSO, Setting: audit.SettingOther, Origin: VCenter},
	{ID: "com.vmware.sso.IdentitySourceManagement", Kind: audit.KindConfigChanged, Method: audit.MethodSSO, Setting: audit.SettingOther, Origin: VCenter},

	// ESXi VOBs. vobd logs the id; hostd and vCenter relay the
	// description; the vCenter API delivers the esx.* ids as ExtendedEvent
	// or EventEx. The vob.user.* ids are vobd's alone.
	{ID: "esx.audit.ssh.enabled", Kind: audit.KindServiceEnabled, Service: audit.ServiceSSH, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "SSH access has been enabled"},
	{ID: "esx.audit.ssh.disabled", Kind: audit.KindServiceDisabled, Service: audit.ServiceSSH, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "SSH access has been disabled"},
	{ID: "esx.audit.shell.enabled", Kind: audit.KindServiceEnabled, Service: audit.ServiceESXiShell, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "The ESXi command line shell has been enabled"},
	{ID: "esx.audit.shell.disabled", Kind: audit.KindServiceDisabled, Service: audit.ServiceESXiShell, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "The ESXi command line shell has been disabled"},
	{ID: "esx.audit.dcui.enabled", Kind: audit.KindServiceEnabled, Service: audit.ServiceDCUI, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "The DCUI has been enabled"},
	{ID: "esx.audit.dcui.disabled", Kind: audit.KindServiceDisabled, Service: audit.ServiceDCUI, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "The DCUI has been disabled"},
	{ID: "esx.audit.dcui.login.failed", Kind: audit.KindLoginFailed, Method: audit.MethodDCUI, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Login authentication on DCUI failed", Args: []string{"user"}},
	{ID: "esx.audit.dcui.login.passwd.changed", Kind: audit.KindAccountChanged, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "DCUI login password changed"},
	{ID: "esx.audit.lockdownmode.enabled", Kind: audit.KindLockdownEnabled, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Administrator access to the host has been disabled"},
	{ID: "esx.audit.lockdownmode.disabled", Kind: audit.KindLockdownDisabled, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Administrator access to the host has been enabled"},
	{ID: "esx.audit.lockdownmode.exceptions.changed", Kind: audit.KindConfigChanged, Setting: audit.SettingLockdownExceptions, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "List of lockdown exception users has been changed"},
	{ID: "esx.audit.account.locked", Kind: audit.KindAccountLocked, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Remote access for ESXi local user account", Args: []string{"user"}},
	{ID: "esx.audit.account.loginfailures", Kind: audit.KindLoginFailed, Scope: ScopeHost, Origin: VCenter, Args: []string{"user"},
		Note: "vCenter's template: Multiple remote login failures detected for ESXi local user account '{1}'."},
	{ID: "vob.user.account.locked", Kind: audit.KindAccountLocked, Scope: ScopeHost, Origin: ESXi},
	{ID: "esx.audit.ssh.session.opened", Kind: audit.KindLogin, Method: audit.MethodSSH, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "SSH session was opened for", Args: userAtIP},
	{ID: "vob.user.ssh.session.opened", Kind: audit.KindLogin, Method: audit.MethodSSH, Scope: ScopeHost, Origin: ESXi},
	{ID: "esx.audit.ssh.session.closed", Kind: audit.KindLogout, Method: audit.MethodSSH, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "SSH session was closed for", Args: userAtIP},
	{ID: "vob.user.ssh.session.closed", Kind: audit.KindLogout, Method: audit.MethodSSH, Scope: ScopeHost, Origin: ESXi},
	{ID: "esx.audit.ssh.session.failed", Kind: audit.KindLoginFailed, Method: audit.MethodSSH, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "SSH login has failed for", Args: userAtIP},
	{ID: "vob.user.ssh.session.failed", Kind: audit.KindLoginFailed, Method: audit.MethodSSH, Scope: ScopeHost, Origin: ESXi},
	// Firewall, acceptance level, execInstalledOnly: the direction of the
	// change is the action, so that alerts fire on a protection switched
	// off or weakened, not on any change. Templates: Broadcom's catalogue.
	{ID: "esx.audit.net.firewall.disabled", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall, Action: audit.ActionDisabled, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Firewall has been disabled"},
	{ID: "esx.audit.net.firewall.enabled", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall, Action: audit.ActionEnabled, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Firewall has been enabled",
		Note: "template: Firewall has been enabled for port {1}."},
	{ID: "esx.audit.net.firewall.config.changed", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall, Action: audit.ActionSet, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Firewall configuration has changed",
		Note: "template: Firewall configuration has changed. Operation '{1}' for rule set {2} succeeded."},
	{ID: "esx.audit.net.firewall.port.hooked", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall, Action: audit.ActionEnabled, Scope: ScopeHost, Origin: ESXi | VCenter,
		Note: "template: Port {1} is now protected by Firewall. (too generic a start to be recognized by text)"},
	{ID: "esx.audit.net.firewall.port.removed", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall, Action: audit.ActionLowered, Scope: ScopeHost, Origin: ESXi | VCenter,
		Note: "template: Port {1} is no longer protected with Firewall. (too generic a start to be recognized by text)"},
	{ID: "esx.audit.esximage.hostacceptance.changed", Kind: audit.KindConfigChanged, Setting: audit.SettingAcceptanceLevel, Action: audit.ActionSet, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Host acceptance level changed",
		Text: `^Host acceptance level changed from '?[^'\s]*'? to '?(?P<value>[^'\s.]+)`, Optional: true, Args: []string{"", "value"},
		Note: "template: Host acceptance level changed from {1} to {2}; the direction is not worked out (set), the new level is the value"},
	{ID: "esx.audit.esximage.install.novalidation", Kind: audit.KindConfigChanged, Setting: audit.SettingAcceptanceLevel, Action: audit.ActionLowered, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "Attempting to install an image profile with validation disabled"},
	{ID: "esx.audit.esximage.install.nosigcheck", Kind: audit.KindConfigChanged, Setting: audit.SettingAcceptanceLevel, Action: audit.ActionLowered, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "Attempting to install an image profile bypassing signing and acceptance level verification"},
	{ID: "esx.audit.esximage.install.securityalert", Kind: audit.KindConfigChanged, Setting: audit.SettingAcceptanceLevel, Action: audit.ActionLowered, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "SECURITY ALERT: Installing image profile ",
		Note:        "template: SECURITY ALERT: Installing image profile '{1}' with {2}. (an install that skips a check)"},
	{ID: "esx.audit.uw.security.User.ExecInstalledOnly.disabled", Kind: audit.KindConfigChanged, Setting: audit.SettingExecInstalledOnly, Action: audit.ActionDisabled, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "ExecInstalledOnly has been disabled"},
	{ID: "esx.audit.uw.security.User.ExecInstalledOnly.enabled", Kind: audit.KindConfigChanged, Setting: audit.SettingExecInstalledOnly, Action: audit.ActionEnabled, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "ExecInstalledOnly has been enabled"},
	// A binary execInstalledOnly stopped (violation) or, in audit mode, let
	// run (warning). Both texts start "Execution of unknown (non VIB
	// installed) binary '{1}'", and only the violation's says "prevented"
	// after the binary: a relay by text is the violation when it says so,
	// and the warning is read by its id alone (vobd, the vSphere API).
	// The outcome is the execution's: failure when prevented.
	{ID: "esx.audit.uw.security.execInstalledOnly.violation", Kind: audit.KindAccessDenied, Outcome: audit.OutcomeFailure, Reason: "execInstalledOnly: execution prevented", Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "Execution of unknown (non VIB installed) binary '", Args: []string{"object"},
		Text: `^Execution of unknown \(non VIB installed\) binary '(?P<object>[^']*)' prevented`},
	{ID: "esx.audit.uw.security.execInstalledOnly.warning", Kind: audit.KindAccessDenied, Outcome: audit.OutcomeSuccess, Reason: "execInstalledOnly audit mode: execution allowed", Scope: ScopeHost, Origin: ESXi | VCenter,
		Args: []string{"object"}, Text: `^Execution of unknown \(non VIB installed\) binary '(?P<object>[^']*)'`, Optional: true,
		Note: "template: Execution of unknown (non VIB installed) binary '{1}'. Unknown content can cause malware attacks similar to Ransomware."},
	{ID: "esx.problem.vmsyslogd.remote.failure", Kind: audit.KindLoggingFailed, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Remote logging host has become unreachable"},
	// vCenter 9's lost-message ids. Both texts start 'The host "{1}://{2}:{3}"
	// has lost {4} ...' (as does remote.failure's 'has become unreachable'):
	// a relay by text is read as logmessages.dropped, whose Text reads both.
	{ID: "esx.problem.vmsyslogd.remote.logmessages.dropped", Kind: audit.KindLoggingFailed, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: `The host "`, Text: `^The host "[^"]*" has (?P<reason>lost \d+ (?:log messages|audit records))`,
		Note: `template: The host "{1}://{2}:{3}" has lost {4} log messages.`},
	{ID: "esx.problem.vmsyslogd.remote.auditrecords.dropped", Kind: audit.KindLoggingFailed, Scope: ScopeHost, Origin: ESXi | VCenter,
		Text: `^The host "[^"]*" has (?P<reason>lost \d+ audit records)`, Optional: true,
		Note: `template: The host "{1}://{2}:{3}" has lost {4} audit records.`},
	{ID: "esx.problem.vmsyslogd.auditrecord.local.disabled", Kind: audit.KindLoggingFailed, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "The local storage of audit records is disabled",
		Text:        `^The local storage of audit records is disabled due to the error: (?P<reason>.*?)\.(?: Please refer|$)`, Optional: true, Args: []string{"reason"}},

	// Host shutdown and reboot. Templates: Broadcom's catalogue. The
	// "... through esxcli/hostd" ids come before the host goes down (and
	// may not reach vCenter), the host.*.reason.* ids after it is back;
	// the restart.reason ids have the reboot.reason ids' text and are read
	// by id alone. The user is the one the text names.
	{ID: "HostShutdownEvent", Kind: audit.KindHostPower, Action: audit.ActionShutdown, Scope: ScopeHost, Origin: VCenter,
		Text: `^Shut down of (?P<host>[^\s,:]+?)(?: in [^:]*)?: (?P<reason>.*)`, Optional: true,
		Note: "template Shut down of {host.name} in {datacenter.name}: {reason} from vSphere's locale catalogue (unverified); the API path reads Reason"},
	{ID: "esx.audit.host.stop.reboot", Kind: audit.KindHostPower, Action: audit.ActionReboot, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Host is rebooting"},
	{ID: "esx.audit.host.stop.shutdown", Kind: audit.KindHostPower, Action: audit.ActionShutdown, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Host is shutting down"},
	{ID: "esx.audit.dcui.host.reboot", Kind: audit.KindHostPower, Action: audit.ActionReboot, Reason: "DCUI", Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "The host is being rebooted through the Direct Console User Interface"},
	{ID: "esx.audit.dcui.host.shutdown", Kind: audit.KindHostPower, Action: audit.ActionShutdown, Reason: "DCUI", Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "The host is being shut down through the Direct Console User Interface"},
	{ID: "esx.audit.esxcli.host.reboot.reason", Kind: audit.KindHostPower, Action: audit.ActionReboot, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "The host is being rebooted through esxcli", Text: rebootText, Optional: true, Args: reasonUser},
	{ID: "esx.audit.esxcli.host.restart.reason", Kind: audit.KindHostPower, Action: audit.ActionReboot, Scope: ScopeHost, Origin: ESXi | VCenter,
		Text: rebootText, Optional: true, Args: reasonUser},
	{ID: "esx.audit.esxcli.host.poweroff.reason", Kind: audit.KindHostPower, Action: audit.ActionShutdown, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "The host is being powered off through esxcli", Text: powerOffText, Optional: true, Args: reasonUser},
	{ID: "esx.audit.hostd.host.reboot.reason", Kind: audit.KindHostPower, Action: audit.ActionReboot, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "The host is being rebooted through hostd", Text: rebootText, Optional: true, Args: reasonUser},
	{ID: "esx.audit.hostd.host.restart.reason", Kind: audit.KindHostPower, Action: audit.ActionReboot, Scope: ScopeHost, Origin: ESXi | VCenter,
		Text: rebootText, Optional: true, Args: reasonUser},
	{ID: "esx.audit.hostd.host.poweroff.reason", Kind: audit.KindHostPower, Action: audit.ActionShutdown, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "The host is being powered off through hostd", Text: powerOffText, Optional: true, Args: reasonUser},
	{ID: "esx.audit.subsystem.host.reboot.reason", Kind: audit.KindHostPower, Action: audit.ActionReboot, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "The host is being rebooted. Reason for reboot: ", Text: rebootText, Optional: true, Args: reasonUser},
	{ID: "esx.audit.subsystem.host.restart.reason", Kind: audit.KindHostPower, Action: audit.ActionReboot, Scope: ScopeHost, Origin: ESXi | VCenter,
		Text: rebootText, Optional: true, Args: reasonUser},
	{ID: "esx.audit.subsystem.host.poweroff.reason", Kind: audit.KindHostPower, Action: audit.ActionShutdown, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "The host is being powered off. Reason for powering off: ", Text: powerOffText, Optional: true, Args: reasonUser},
	// Reported once the host is back: why it went down. The .management,
	// .subsystem, .timestamp and .user texts all start "The reboot at {1}
	// was requested": a relay by text is read as .management, whose Text
	// reads all four; the others by id.
	{ID: "esx.audit.host.reboot.reason.available", Kind: audit.KindHostPower, Action: audit.ActionReboot, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "The host has been rebooted. Reason for reboot: ", Text: `^The host has been rebooted\. Reason for reboot: (?P<reason>.*?)\.?$`, Optional: true, Args: []string{"reason"}},
	{ID: "esx.audit.host.reboot.reason.management", Kind: audit.KindHostPower, Action: audit.ActionReboot, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "The reboot at ", Text: requestedText("reboot"), Optional: true, Args: []string{"", "", "user", "reason"}},
	{ID: "esx.audit.host.reboot.reason.subsystem", Kind: audit.KindHostPower, Action: audit.ActionReboot, Scope: ScopeHost, Origin: ESXi | VCenter,
		Text: requestedText("reboot"), Optional: true, Args: []string{"", "", "reason"}},
	{ID: "esx.audit.host.reboot.reason.timestamp", Kind: audit.KindHostPower, Action: audit.ActionReboot, Scope: ScopeHost, Origin: ESXi | VCenter,
		Text: requestedText("reboot"), Optional: true, Args: []string{"", "reason"}},
	{ID: "esx.audit.host.reboot.reason.user", Kind: audit.KindHostPower, Action: audit.ActionReboot, Scope: ScopeHost, Origin: ESXi | VCenter,
		Text: requestedText("reboot"), Optional: true, Args: []string{"", "user", "reason"}},
	{ID: "esx.audit.host.reboot.reason.unavailable", Kind: audit.KindHostPower, Action: audit.ActionReboot, Reason: unexpectedReason, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "Host had been rebooted. The reboot was not the result of"},
	{ID: "esx.audit.host.poweroff.reason.available", Kind: audit.KindHostPower, Action: audit.ActionShutdown, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "The host has been powered off. Reason for powering off: ", Text: `^The host has been powered off\. Reason for powering off: (?P<reason>.*?)\.?$`, Optional: true, Args: []string{"reason"}},
	{ID: "esx.audit.host.poweroff.reason.management", Kind: audit.KindHostPower, Action: audit.ActionShutdown, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "The power off at ", Text: requestedText("power off"), Optional: true, Args: []string{"", "", "user", "reason"}},
	{ID: "esx.audit.host.poweroff.reason.subsystem", Kind: audit.KindHostPower, Action: audit.ActionShutdown, Scope: ScopeHost, Origin: ESXi | VCenter,
		Text: requestedText("power off"), Optional: true, Args: []string{"", "", "reason"}},
	{ID: "esx.audit.host.poweroff.reason.timestamp", Kind: audit.KindHostPower, Action: audit.ActionShutdown, Scope: ScopeHost, Origin: ESXi | VCenter,
		Text: requestedText("power off"), Optional: true, Args: []string{"", "reason"}},
	{ID: "esx.audit.host.poweroff.reason.user", Kind: audit.KindHostPower, Action: audit.ActionShutdown, Scope: ScopeHost, Origin: ESXi | VCenter,
		Text: requestedText("power off"), Optional: true, Args: []string{"", "user", "reason"}},
	{ID: "esx.audit.host.poweroff.reason.unavailable", Kind: audit.KindHostPower, Action: audit.ActionShutdown, Reason: unexpectedReason, Scope: ScopeHost, Origin: ESXi | VCenter,
		Description: "Host had been powered off. The poweroff was not the result of"},
}

// hostInText finds the ESXi host a vCenter host event names ("SSH for the
// host esx01 has been enabled", "Administrator permissions have been
// restored to host esx01").
const hostInText = `(?:for the host|on host|host) (?P<host>[^\s,]+?)[,.]?(?: |$)`

// vmStateText reads "{vm} on {host} in {datacenter} is <state>".
const vmStateText = `^(?P<vm>.+?) on (?P<target_host>[^\s,]+) in .+ is `

// cloningText reads "Cloning {vm} on host {host} in {datacenter} to
// {destName} on host {destHost}": vm is the source, value the copy.
const cloningText = `^Cloning (?P<vm>.+?) on host (?P<source_host>[^\s,]+) in .+? to (?P<value>.+?) on host (?P<target_host>[^\s,\]]+)`

// rebootText and powerOffText read "... Reason for reboot: {1}, User: {2}."
// and "..., User: {2}, Subsystem: {3}.".
const (
	rebootText   = `Reason for reboot: (?P<reason>.*?), User: (?P<user>[^,]*?)(?:, Subsystem: .*?)?\.?$`
	powerOffText = `Reason for powering off: (?P<reason>.*?), User: (?P<user>[^,]*?)(?:, Subsystem: .*?)?\.?$`
)

// requestedText reads the four "The reboot at {1} was requested [by {2}]
// [by user/entity {3}] due to: {4}." texts (what: "reboot", "power off").
func requestedText(what string) string {
	return `^The ` + what + ` at .+? was requested (?:by (?:user/entity (?P<user>.+?)|.+? by user/entity (?P<user>.+?)|.+?) )?due to: (?P<reason>.*?)\.?$`
}

// unexpectedReason is the reason of a host that went down without a
// deliberate reboot or shutdown (power, hardware).
const unexpectedReason = "unexpected (no kernel error, deliberate reboot or shutdown)"

// Positional arguments: "'{1}@{2}'" and "Reason: {1}, User: {2}".
var (
	userAtIP   = []string{"user", "client_ip"}
	reasonUser = []string{"reason", "user"}
)

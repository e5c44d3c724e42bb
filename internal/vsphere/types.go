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
	{ID: "esx.audit.dcui.login.failed", Kind: audit.KindLoginFailed, Method: audit.MethodDCUI, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Login authentication on DCUI failed"},
	{ID: "esx.audit.dcui.login.passwd.changed", Kind: audit.KindAccountChanged, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "DCUI login password changed"},
	{ID: "esx.audit.lockdownmode.enabled", Kind: audit.KindLockdownEnabled, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Administrator access to the host has been disabled"},
	{ID: "esx.audit.lockdownmode.disabled", Kind: audit.KindLockdownDisabled, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Administrator access to the host has been enabled"},
	{ID: "esx.audit.lockdownmode.exceptions.changed", Kind: audit.KindConfigChanged, Setting: audit.SettingLockdownExceptions, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "List of lockdown exception users has been changed"},
	{ID: "esx.audit.account.locked", Kind: audit.KindAccountLocked, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Remote access for ESXi local user account"},
	{ID: "esx.audit.account.loginfailures", Kind: audit.KindLoginFailed, Scope: ScopeHost, Origin: VCenter,
		Note: "vCenter's template: Multiple remote login failures detected for ESXi local user account '{1}'."},
	{ID: "vob.user.account.locked", Kind: audit.KindAccountLocked, Scope: ScopeHost, Origin: ESXi},
	{ID: "esx.audit.ssh.session.opened", Kind: audit.KindLogin, Method: audit.MethodSSH, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "SSH session was opened for"},
	{ID: "vob.user.ssh.session.opened", Kind: audit.KindLogin, Method: audit.MethodSSH, Scope: ScopeHost, Origin: ESXi},
	{ID: "esx.audit.ssh.session.closed", Kind: audit.KindLogout, Method: audit.MethodSSH, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "SSH session was closed for"},
	{ID: "vob.user.ssh.session.closed", Kind: audit.KindLogout, Method: audit.MethodSSH, Scope: ScopeHost, Origin: ESXi},
	{ID: "esx.audit.ssh.session.failed", Kind: audit.KindLoginFailed, Method: audit.MethodSSH, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "SSH login has failed for"},
	{ID: "vob.user.ssh.session.failed", Kind: audit.KindLoginFailed, Method: audit.MethodSSH, Scope: ScopeHost, Origin: ESXi},
	{ID: "esx.audit.net.firewall.disabled", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Firewall has been disabled"},
	{ID: "esx.audit.net.firewall.enabled", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Firewall has been enabled"},
	{ID: "esx.audit.net.firewall.config.changed", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Firewall configuration has changed"},
	{ID: "esx.audit.net.firewall.port.hooked", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall, Scope: ScopeHost, Origin: ESXi | VCenter},
	{ID: "esx.audit.net.firewall.port.removed", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall, Scope: ScopeHost, Origin: ESXi | VCenter},
	{ID: "esx.audit.esximage.hostacceptance.changed", Kind: audit.KindConfigChanged, Setting: audit.SettingAcceptanceLevel, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Host acceptance level changed"},
	{ID: "esx.audit.esximage.install.novalidation", Kind: audit.KindConfigChanged, Setting: audit.SettingAcceptanceLevel, Scope: ScopeHost, Origin: ESXi | VCenter},
	{ID: "esx.audit.esximage.install.nosigcheck", Kind: audit.KindConfigChanged, Setting: audit.SettingAcceptanceLevel, Scope: ScopeHost, Origin: ESXi | VCenter},
	{ID: "esx.audit.esximage.install.securityalert", Kind: audit.KindConfigChanged, Setting: audit.SettingAcceptanceLevel, Scope: ScopeHost, Origin: ESXi | VCenter},
	{ID: "esx.audit.uw.security.User.ExecInstalledOnly.disabled", Kind: audit.KindConfigChanged, Setting: audit.SettingEncryption, Scope: ScopeHost, Origin: ESXi | VCenter},
	{ID: "esx.audit.uw.security.User.ExecInstalledOnly.enabled", Kind: audit.KindConfigChanged, Setting: audit.SettingEncryption, Scope: ScopeHost, Origin: ESXi | VCenter},
	{ID: "esx.problem.vmsyslogd.remote.failure", Kind: audit.KindLoggingFailed, Scope: ScopeHost, Origin: ESXi | VCenter, Description: "Remote logging host has become unreachable"},
}

// hostInText finds the ESXi host a vCenter host event names ("SSH for the
// host esx01 has been enabled", "Administrator permissions have been
// restored to host esx01").
const hostInText = `(?:for the host|on host|host) (?P<host>[^\s,]+?)[,.]?(?: |$)`

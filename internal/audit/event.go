// Package audit defines the normalized audit event that every source
// (ESXi/vCenter syslog, the vCenter event API) produces, and the Sink that
// receives it.
//
// Data flows one way: a collector (source) turns what it reads into Events
// and hands them to a Sink (the Prometheus metrics, the replay printer).
package audit

import (
	"time"
)

// Kind is the fixed, documented vocabulary of audit event kinds.
type Kind string

// The audit event kinds. docs/events.md documents each one.
const (
	KindLogin             Kind = "login"              // a successful login (user, client_ip, method, direct)
	KindLoginFailed       Kind = "login_failed"       // a rejected login attempt
	KindLogout            Kind = "logout"             // a session ended
	KindAccountLocked     Kind = "account_locked"     // an account was locked after failures
	KindServiceEnabled    Kind = "service_enabled"    // ssh, esxi_shell or dcui enabled/started
	KindServiceDisabled   Kind = "service_disabled"   // ssh, esxi_shell or dcui disabled/stopped
	KindLockdownEnabled   Kind = "lockdown_enabled"   // lockdown mode entered
	KindLockdownDisabled  Kind = "lockdown_disabled"  // lockdown mode left
	KindConsoleOpened     Kind = "console_opened"     // a VM console ticket was issued (vm, ticket_type)
	KindConsoleClosed     Kind = "console_closed"     // a VM remote console disconnected (vm, ticket_type)
	KindVMMigrated        Kind = "vm_migrated"        // a VM moved hosts (vm, user or DRS, source_host, target_host)
	KindShellCommand      Kind = "shell_command"      // a command typed in the ESXi shell or run over SSH
	KindPermissionChanged Kind = "permission_changed" // a permission was added, changed or removed
	KindRoleChanged       Kind = "role_changed"       // a role was added, changed or removed
	KindAccountChanged    Kind = "account_changed"    // a local or SSO account/group/password was changed
	KindConfigChanged     Kind = "config_changed"     // security-relevant configuration (setting says which)
	KindLoggingFailed     Kind = "logging_failed"     // a host reports that remote logging failed or lost messages
	KindVMPower           Kind = "vm_power"           // a VM powered on, off, reset, suspended or killed (action)
	KindVMSnapshot        Kind = "vm_snapshot"        // a VM snapshot created, removed, reverted or renamed (action)
	KindVMDiskChanged     Kind = "vm_disk_changed"    // a virtual disk added, edited or removed (action, path, cross_vm)
	KindVMLifecycle       Kind = "vm_lifecycle"       // a VM created, deleted, registered, unregistered, cloned or exported (action)
	KindGuestOperation    Kind = "guest_operation"    // a guest operation (VMware Tools) run in a VM (operation, outcome)
	KindDatastoreAccess   Kind = "datastore_access"   // a datastore file browsed or downloaded over HTTP (path)
	KindAccessDenied      Kind = "access_denied"      // an authorization check denied an operation (object)
	KindHostPower         Kind = "host_power"         // an ESXi host shut down or rebooted (action, reason)
	// A guest's own logons, from the guest's syslog (Linux login, display
	// managers; Windows Security events through NXLog or Snare): host is
	// the guest's name, vm the VM it runs in when known.
	KindGuestLogon  Kind = "guest_logon"  // a user logged on to a guest or unlocked it (action logon|unlock, method console|remote)
	KindGuestLogoff Kind = "guest_logoff" // a user logged off a guest or locked it (action logoff|lock)
	// KindConsoleSessionReused is a correlation (package console): a VM's
	// console opened by user while the guest's console session of another
	// person (value) was still open, and no console logon followed.
	KindConsoleSessionReused Kind = "console_session_reused"
)

// Kinds lists every kind, in documentation order.
var Kinds = []Kind{
	KindLogin, KindLoginFailed, KindLogout, KindAccountLocked,
	KindServiceEnabled, KindServiceDisabled, KindLockdownEnabled, KindLockdownDisabled,
	KindConsoleOpened, KindConsoleClosed, KindVMMigrated, KindShellCommand,
	KindPermissionChanged, KindRoleChanged, KindAccountChanged, KindConfigChanged,
	KindLoggingFailed,
	KindVMPower, KindVMSnapshot, KindVMDiskChanged, KindVMLifecycle, KindGuestOperation,
	KindDatastoreAccess, KindAccessDenied, KindHostPower,
	KindGuestLogon, KindGuestLogoff, KindConsoleSessionReused,
}

// Methods: how a login reached its target.
const (
	MethodHostd   = "hostd"   // Host Client, API, PowerCLI or SDK directly on an ESXi host
	MethodSSH     = "ssh"     // SSH to an ESXi host
	MethodDCUI    = "dcui"    // the host's physical console (DCUI or local shell)
	MethodVCenter = "vcenter" // a vCenter session (vpxd)
	MethodSSO     = "sso"     // vCenter single sign-on (websso / STS)
	// A guest logon's way in.
	MethodConsole = "console" // the guest's own console (a VM console through vCenter or the host, a tty, the display manager)
	MethodRemote  = "remote"  // RDP (Windows logon type 10) or a remote login
)

// Services named in service_enabled / service_disabled events.
const (
	ServiceSSH       = "ssh"
	ServiceESXiShell = "esxi_shell"
	ServiceDCUI      = "dcui"
)

// Settings named in config_changed events. A fixed vocabulary so that the
// metric label stays bounded.
const (
	SettingSyslog             = "syslog"              // remote log host or log directory
	SettingFirewall           = "firewall"            // host firewall enabled/disabled/rules
	SettingAcceptanceLevel    = "acceptance_level"    // VIB acceptance level / unsigned VIB install
	SettingAuditRecords       = "audit_records"       // esxcli system auditrecords
	SettingEncryption         = "encryption"          // host encryption / secure boot / execInstalledOnly
	SettingLockdownExceptions = "lockdown_exceptions" // lockdown exception users
	SettingAdminsGroup        = "admins_group"        // Config.HostAgent.plugins.hostsvc.esxAdminsGroup
	SettingExecInstalledOnly  = "exec_installed_only" // VMkernel.Boot.execInstalledOnly and its enforcement
	SettingSecureBoot         = "secure_boot"         // the Secure Boot requirement of configuration encryption
	SettingTLS                = "tls"                 // TLS protocols, ciphers and profiles of the host
	SettingTime               = "time"                // NTP, PTP and the system clock
	SettingCertificates       = "certificates"        // host and CA certificates
	SettingUSBPassthrough     = "usb_passthrough"     // USB devices made available to VMs
	SettingWelcomeMessage     = "welcome_message"     // the DCUI and SSH welcome/banner message
	SettingForensicSnapshots  = "forensic_snapshots"  // Mem.*/vmx core dumps and the host's coredump target
	SettingServices           = "services"            // the start policy of a host service, a service uninstalled
	SettingAdvanced           = "advanced"            // another advanced or kernel option
	SettingSoftware           = "software"            // a VIB (software package) installed or removed
	SettingOther              = "other"
)

// Settings lists every setting, for the label vocabulary.
var Settings = []string{SettingSyslog, SettingFirewall, SettingAcceptanceLevel, SettingAuditRecords, SettingEncryption,
	SettingLockdownExceptions, SettingAdminsGroup, SettingExecInstalledOnly, SettingSecureBoot, SettingTLS, SettingTime,
	SettingCertificates, SettingUSBPassthrough, SettingWelcomeMessage, SettingForensicSnapshots, SettingServices,
	SettingAdvanced, SettingSoftware, SettingOther}

// Actions: what a vm_power, vm_snapshot, vm_disk_changed, vm_lifecycle or
// host_power event did, and the direction of a config_changed event. A
// fixed vocabulary, so that the metric label stays bounded.
const (
	ActionOn         = "on"
	ActionOff        = "off"
	ActionReset      = "reset"
	ActionSuspend    = "suspend"
	ActionKill       = "kill"
	ActionCreate     = "create"
	ActionRemove     = "remove"
	ActionRemoveAll  = "remove_all"
	ActionRevert     = "revert"
	ActionRename     = "rename"
	ActionAdd        = "add"
	ActionEdit       = "edit"
	ActionDelete     = "delete"
	ActionRegister   = "register"
	ActionUnregister = "unregister"
	ActionClone      = "clone"
	ActionExport     = "export"
	ActionShutdown   = "shutdown"
	ActionReboot     = "reboot"
	// guest_logon and guest_logoff.
	ActionLogon  = "logon"
	ActionUnlock = "unlock"
	ActionLock   = "lock"
	ActionLogoff = "logoff"
	// config_changed: the direction of the change.
	ActionEnabled  = "enabled"  // the setting or feature was switched on
	ActionDisabled = "disabled" // the setting or feature was switched off
	ActionLowered  = "lowered"  // a protection was weakened (acceptance level lowered, a firewall ruleset opened)
	ActionSet      = "set"      // changed, direction unknown
)

// Outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Sources.
const (
	SourceSyslog  = "syslog"
	SourceVCenter = "vcenter"
)

// Event is one normalized audit event. Every source produces this type; the
// JSON field names are part of the replay output contract.
type Event struct {
	Time       time.Time `json:"time"`
	Source     string    `json:"source"`
	Host       string    `json:"host"`
	Kind       Kind      `json:"kind"`
	User       string    `json:"user,omitempty"`
	ClientIP   string    `json:"client_ip,omitempty"`
	Method     string    `json:"method,omitempty"`
	Direct     bool      `json:"direct"`
	Outcome    string    `json:"outcome,omitempty"`
	VM         string    `json:"vm,omitempty"`
	SourceHost string    `json:"source_host,omitempty"`
	TargetHost string    `json:"target_host,omitempty"`
	Service    string    `json:"service,omitempty"`
	TicketType string    `json:"ticket_type,omitempty"`
	Setting    string    `json:"setting,omitempty"`
	Command    string    `json:"command,omitempty"`
	// Action says what a VM, snapshot, disk, lifecycle or host power event
	// did, or which way a setting changed (audit.Action* constants).
	Action string `json:"action,omitempty"`
	// Path is a datastore path or URL (a disk's backing file, a datastore
	// file downloaded).
	Path string `json:"path,omitempty"`
	// Operation is a guest operation's name.
	Operation string `json:"operation,omitempty"`
	// Technique is the MITRE ATT&CK technique a shell command matches
	// (T1490, T1562.001, ...).
	Technique string `json:"technique,omitempty"`
	// Value is the new value of a setting, where the record gives one.
	Value string `json:"value,omitempty"`
	// Reason is why an operation failed or a host rebooted.
	Reason string `json:"reason,omitempty"`
	// Object is what an access_denied event was denied on.
	Object string `json:"object,omitempty"`
	// CrossVM marks a disk attached to a VM from another VM's folder (the
	// offline theft of a domain controller's database).
	CrossVM bool   `json:"cross_vm,omitempty"`
	Message string `json:"message,omitempty"`
	// Rule names the detection that produced the event (for example
	// "hostd/login_event"); it helps a user trace an event back to its line.
	Rule string `json:"rule,omitempty"`

	// Reporter and OpID serve de-duplication only: Reporter names which
	// report of a fact this is (the rule, plus vobd's correlator), OpID the
	// operation it belongs to (hostd's opID). They are not exported.
	Reporter string `json:"-"`
	OpID     string `json:"-"`
	// EventID is the sender's own id of the record ("hostd:975279" for
	// hostd's "Event 975279", a vCenter event key): a record sent twice is
	// counted once.
	EventID string `json:"-"`
}

// Sink receives audit events. Implementations must be safe for concurrent use.
type Sink interface {
	Record(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

// Record calls f(e).
func (f SinkFunc) Record(e Event) { f(e) }

package rules

import (
	"strings"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/audit"
)

// AuditID describes one ESXi VOB / vCenter event type id (esx.audit.*,
// vob.user.*, esx.problem.*): the audit kind it maps to and the canonical
// description vCenter shows for it (lamw/vcenter-event-mapping, vSphere
// 8.0u3). vobd logs the id; vCenter relays the description; the vCenter API
// delivers the id as an ExtendedEvent or EventEx. All three use this table.
type AuditID struct {
	ID          string
	Kind        audit.Kind
	Method      string
	Service     string
	Setting     string
	Description string // the start of the canonical description text
}

// AuditIDs is the table of ids the exporter turns into audit events.
var AuditIDs = []AuditID{
	{ID: "esx.audit.ssh.enabled", Kind: audit.KindServiceEnabled, Service: audit.ServiceSSH, Description: "SSH access has been enabled"},
	{ID: "esx.audit.ssh.disabled", Kind: audit.KindServiceDisabled, Service: audit.ServiceSSH, Description: "SSH access has been disabled"},
	{ID: "esx.audit.shell.enabled", Kind: audit.KindServiceEnabled, Service: audit.ServiceESXiShell, Description: "The ESXi command line shell has been enabled"},
	{ID: "esx.audit.shell.disabled", Kind: audit.KindServiceDisabled, Service: audit.ServiceESXiShell, Description: "The ESXi command line shell has been disabled"},
	{ID: "esx.audit.dcui.enabled", Kind: audit.KindServiceEnabled, Service: audit.ServiceDCUI, Description: "The DCUI has been enabled"},
	{ID: "esx.audit.dcui.disabled", Kind: audit.KindServiceDisabled, Service: audit.ServiceDCUI, Description: "The DCUI has been disabled"},
	{ID: "esx.audit.dcui.login.failed", Kind: audit.KindLoginFailed, Method: audit.MethodDCUI, Description: "Login authentication on DCUI failed"},
	{ID: "esx.audit.dcui.login.passwd.changed", Kind: audit.KindAccountChanged, Description: "DCUI login password changed"},
	{ID: "esx.audit.lockdownmode.enabled", Kind: audit.KindLockdownEnabled, Description: "Administrator access to the host has been disabled"},
	{ID: "esx.audit.lockdownmode.disabled", Kind: audit.KindLockdownDisabled, Description: "Administrator access to the host has been enabled"},
	{ID: "esx.audit.lockdownmode.exceptions.changed", Kind: audit.KindConfigChanged, Setting: audit.SettingLockdownExceptions, Description: "List of lockdown exception users has been changed"},
	{ID: "esx.audit.account.locked", Kind: audit.KindAccountLocked, Description: "Remote access for ESXi local user account"},
	{ID: "vob.user.account.locked", Kind: audit.KindAccountLocked},
	{ID: "esx.audit.ssh.session.opened", Kind: audit.KindLogin, Method: audit.MethodSSH, Description: "SSH session was opened for"},
	{ID: "vob.user.ssh.session.opened", Kind: audit.KindLogin, Method: audit.MethodSSH},
	{ID: "esx.audit.ssh.session.closed", Kind: audit.KindLogout, Method: audit.MethodSSH, Description: "SSH session was closed for"},
	{ID: "vob.user.ssh.session.closed", Kind: audit.KindLogout, Method: audit.MethodSSH},
	{ID: "esx.audit.ssh.session.failed", Kind: audit.KindLoginFailed, Method: audit.MethodSSH, Description: "SSH login has failed for"},
	{ID: "vob.user.ssh.session.failed", Kind: audit.KindLoginFailed, Method: audit.MethodSSH},
	{ID: "esx.audit.net.firewall.disabled", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall, Description: "Firewall has been disabled"},
	{ID: "esx.audit.net.firewall.enabled", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall, Description: "Firewall has been enabled"},
	{ID: "esx.audit.net.firewall.config.changed", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall, Description: "Firewall configuration has changed"},
	{ID: "esx.audit.net.firewall.port.hooked", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall},
	{ID: "esx.audit.net.firewall.port.removed", Kind: audit.KindConfigChanged, Setting: audit.SettingFirewall},
	{ID: "esx.audit.esximage.hostacceptance.changed", Kind: audit.KindConfigChanged, Setting: audit.SettingAcceptanceLevel, Description: "Host acceptance level changed"},
	{ID: "esx.audit.esximage.install.novalidation", Kind: audit.KindConfigChanged, Setting: audit.SettingAcceptanceLevel},
	{ID: "esx.audit.esximage.install.nosigcheck", Kind: audit.KindConfigChanged, Setting: audit.SettingAcceptanceLevel},
	{ID: "esx.audit.esximage.install.securityalert", Kind: audit.KindConfigChanged, Setting: audit.SettingAcceptanceLevel},
	{ID: "esx.audit.uw.security.User.ExecInstalledOnly.disabled", Kind: audit.KindConfigChanged, Setting: audit.SettingEncryption},
	{ID: "esx.audit.uw.security.User.ExecInstalledOnly.enabled", Kind: audit.KindConfigChanged, Setting: audit.SettingEncryption},
	{ID: "esx.problem.vmsyslogd.remote.failure", Kind: audit.KindLoggingFailed, Description: "Remote logging host has become unreachable"},
}

var auditByID = func() map[string]*AuditID {
	m := make(map[string]*AuditID, len(AuditIDs))
	for i := range AuditIDs {
		m[AuditIDs[i].ID] = &AuditIDs[i]
	}
	return m
}()

// LookupAuditID returns the entry for an event type id, or nil.
func LookupAuditID(id string) *AuditID { return auditByID[id] }

// LookupAuditDescription returns the entry whose canonical description
// starts text, or nil. vCenter relays ExtendedEvents with only their text.
func LookupAuditDescription(text string) *AuditID {
	for i := range AuditIDs {
		d := AuditIDs[i].Description
		if d != "" && strings.HasPrefix(text, d) {
			return &AuditIDs[i]
		}
	}
	return nil
}

// userAtIP extracts "user@ip" or "user" from texts such as
// "SSH session was opened for 'root@1.2.3.4'." or "account 'root' has been locked".
func userAtIP(text string) (user, ip string) {
	s := text
	if i := strings.IndexByte(s, '\''); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '\''); j >= 0 {
			s = s[:j]
		}
	} else if i := strings.LastIndex(s, " for "); i >= 0 {
		s = strings.TrimRight(s[i+5:], ".")
	} else {
		return "", ""
	}
	if at := strings.LastIndexByte(s, '@'); at > 0 {
		return s[:at], s[at+1:]
	}
	if strings.ContainsAny(s, " \t") {
		return "", ""
	}
	return s, ""
}

// eventFromAuditID fills e from an audit-id entry and the event's text.
func eventFromAuditID(a *AuditID, text string, e *audit.Event) {
	e.Kind = a.Kind
	if e.Method == "" {
		e.Method = a.Method
	}
	e.Service = a.Service
	e.Setting = a.Setting
	switch a.Kind {
	case audit.KindLogin, audit.KindLogout, audit.KindLoginFailed, audit.KindAccountLocked:
		if u, ip := userAtIP(text); u != "" {
			e.User = u
			if ip != "" {
				e.ClientIP = ip
			}
		}
	}
}

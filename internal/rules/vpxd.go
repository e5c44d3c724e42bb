package rules

import (
	"regexp"
	"strings"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/audit"
)

// vpxdTable: vCenter's event stream as vpxd writes it to syslog
// (log-samples.md §1e, §3e, §4e, §8a, §15a):
//
//	Event [575792] [1-1] [2021-09-06T14:40:13.26309Z] [vim.event.UserLoginSessionEvent] [info] [VSPHERE.LOCAL\Administrator] [] [575792] [User VSPHERE.LOCAL\Administrator@10.100.10.190 logged in as Go-http-client/1.1]
//
// Rules are keyed by the event class; the description supplies VM, hosts
// and addresses. Split events ("[1-3]" ... "[3-3]") are joined before they
// get here (package reassembly).
func vpxdTable() *Table {
	return &Table{
		Name:     "vpxd",
		Programs: []string{"vpxd"},
		Sniff:    func(text string) bool { return strings.HasPrefix(text, "Event [") },
		Prepare:  prepareVpxdEvent,
		Prefixes: []string{"Event ["},
		Rules: []Rule{
			{Name: "login", ID: "UserLoginSessionEvent", Kind: audit.KindLogin, Method: audit.MethodVCenter,
				Re: regexp.MustCompile(`^User (?P<user>.*)@(?P<client_ip>[^@\s]+) logged in`)},
			{Name: "logout", ID: "UserLogoutSessionEvent", Kind: audit.KindLogout, Method: audit.MethodVCenter,
				Re: regexp.MustCompile(`^User (?P<user>.*)@(?P<client_ip>[^@\s]+) logged out`)},
			{Name: "bad_username", ID: "BadUsernameSessionEvent", Kind: audit.KindLoginFailed, Method: audit.MethodVCenter,
				Re: regexp.MustCompile(`^Cannot login (?P<user>.*)@(?P<client_ip>[^@\s]+)`)},
			{Name: "console_ticket", ID: "VmAcquiredTicketEvent", Kind: audit.KindConsoleOpened, Method: audit.MethodVCenter,
				Re: regexp.MustCompile(`^A ticket for (?P<vm>.+) of type (?P<ticket_type>\S+) on (?P<target_host>\S+) in `), Fn: lowerTicket},
			{Name: "mks_ticket", ID: "VmAcquiredMksTicketEvent", Kind: audit.KindConsoleOpened, Method: audit.MethodVCenter, TicketType: "mks",
				Re: regexp.MustCompile(`^Remote console to (?P<vm>.+) on (?P<target_host>\S+) in `)},
			{Name: "remote_console", ID: "VmRemoteConsoleConnectedEvent", Kind: audit.KindConsoleOpened, Method: audit.MethodVCenter, TicketType: "remote_console",
				Re: regexp.MustCompile(`(?:to|for) (?P<vm>.+?) on (?:host )?(?P<target_host>[^\s,]+)`)},
			{Name: "vm_migrated", ID: "VmMigratedEvent", Kind: audit.KindVMMigrated,
				Re: regexp.MustCompile(`^Migration of virtual machine (?P<vm>.+) from (?P<source_host>[^,\s]+),.* to (?P<target_host>[^,\s]+)`)},
			{Name: "drs_vm_migrated", ID: "DrsVmMigratedEvent", Kind: audit.KindVMMigrated, User: "DRS",
				Re: regexp.MustCompile(`^(?:DRS migrated|Migration of virtual machine) (?P<vm>.+) from (?P<source_host>[^,\s]+),?.* to (?P<target_host>[^,\s]+)`)},
			{Name: "vm_relocated", ID: "VmRelocatedEvent", Kind: audit.KindVMMigrated,
				Re: regexp.MustCompile(`^(?:Virtual machine |Completed the relocation of the virtual machine )?(?P<vm>\S.*?) (?:was relocated |relocated )?from (?P<source_host>[^,\s]+),?.* to (?P<target_host>[^,\s]+)`)},
			{Name: "permission_added", ID: "PermissionAddedEvent", Kind: audit.KindPermissionChanged},
			{Name: "permission_updated", ID: "PermissionUpdatedEvent", Kind: audit.KindPermissionChanged},
			{Name: "permission_removed", ID: "PermissionRemovedEvent", Kind: audit.KindPermissionChanged},
			{Name: "role_added", ID: "RoleAddedEvent", Kind: audit.KindRoleChanged},
			{Name: "role_updated", ID: "RoleUpdatedEvent", Kind: audit.KindRoleChanged},
			{Name: "role_removed", ID: "RoleRemovedEvent", Kind: audit.KindRoleChanged},
			{Name: "account_created", ID: "AccountCreatedEvent", Kind: audit.KindAccountChanged},
			{Name: "account_updated", ID: "AccountUpdatedEvent", Kind: audit.KindAccountChanged},
			{Name: "account_removed", ID: "AccountRemovedEvent", Kind: audit.KindAccountChanged},
			{Name: "password_changed", ID: "UserPasswordChanged", Kind: audit.KindAccountChanged},
			{Name: "user_assigned_to_group", ID: "UserAssignedToGroup", Kind: audit.KindAccountChanged},
			{Name: "user_unassigned_from_group", ID: "UserUnassignedFromGroup", Kind: audit.KindAccountChanged},
			{Name: "local_tsm_enabled", ID: "LocalTSMEnabledEvent", Kind: audit.KindServiceEnabled, Service: audit.ServiceESXiShell, Fn: hostFromText},
			{Name: "remote_tsm_enabled", ID: "RemoteTSMEnabledEvent", Kind: audit.KindServiceEnabled, Service: audit.ServiceSSH, Fn: hostFromText},
			{Name: "host_admin_disabled", ID: "HostAdminDisableEvent", Kind: audit.KindLockdownEnabled, Fn: hostFromText},
			{Name: "host_admin_enabled", ID: "HostAdminEnableEvent", Kind: audit.KindLockdownDisabled, Fn: hostFromText},
			{Name: "syslog_lost", ID: "GeneralHostWarningEvent", Kind: audit.KindLoggingFailed,
				Contains: "log messages", Re: regexp.MustCompile(`^Issue detected on (?P<host>\S+) in .*: vmsyslog logger \S+ lost \d+ log messages`)},
			// EventEx / ExtendedEvent: the class says nothing, the text does.
			{Name: "sso_login", ID: "EventEx", Kind: audit.KindLogin, Method: audit.MethodSSO, Prefix: "Successful login ",
				Re: regexp.MustCompile(`^Successful login (?P<user>\S+) from (?P<client_ip>\S+) at `)},
			{Name: "sso_login_failed", ID: "EventEx", Kind: audit.KindLoginFailed, Method: audit.MethodSSO, Prefix: "Failed login ",
				Re: regexp.MustCompile(`^Failed login (?P<user>\S+) from (?P<client_ip>\S+) at `)},
			{Name: "esx_audit", ID: "EventEx", Fn: relayedAudit},
			{Name: "esx_audit", ID: "ExtendedEvent", Fn: relayedAudit},
		},
	}
}

// prepareVpxdEvent splits "Event [id] [k-N] [created] [vim.event.Type] [severity] [user] [target] [chain] [desc]".
func prepareVpxdEvent(in *Input) bool {
	s, ok := strings.CutPrefix(in.Text, "Event [")
	if !ok {
		return false
	}
	var f [8]string
	for i := range f {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		f[i] = s[:end]
		s = strings.TrimPrefix(s[end+1:], " ")
		if i < 7 {
			if !strings.HasPrefix(s, "[") {
				return false
			}
			s = s[1:]
		}
	}
	// f: id, part, created, type, severity, user, target, chain
	desc := strings.TrimPrefix(s, "[")
	desc = strings.TrimSuffix(desc, "]")
	in.ID = strings.TrimPrefix(f[3], "vim.event.")
	in.EventID = f[0]
	in.User = f[5]
	in.Target = f[6]
	in.Text = desc
	if t, err := time.Parse(time.RFC3339Nano, f[2]); err == nil {
		rec := *in.Rec
		rec.Time = t
		in.Rec = &rec
	}
	return true
}

func lowerTicket(in *Input, e *audit.Event) bool {
	e.TicketType = strings.ToLower(e.TicketType)
	return true
}

var forHostRe = regexp.MustCompile(`(?:for the host|on host|host) (\S+?)[,.]? `)

// hostFromText points the event at the ESXi host the vCenter event is about.
func hostFromText(in *Input, e *audit.Event) bool {
	if m := forHostRe.FindStringSubmatch(in.Text + " "); m != nil {
		e.Host = m[1]
	}
	return true
}

// relayedAudit handles an esx.audit VOB relayed by vCenter (its description
// text); the event is about the ESXi host in the target column.
func relayedAudit(in *Input, e *audit.Event) bool {
	a := LookupAuditDescription(in.Text)
	if a == nil {
		return false
	}
	eventFromAuditID(a, in.Text, e)
	if in.Target != "" {
		e.Host = in.Target
	}
	return true
}

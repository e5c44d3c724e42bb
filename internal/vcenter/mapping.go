// Package vcenter reads vCenter's event history over the vSphere API
// (govmomi): a loss-free tailer with a checkpoint per vCenter, re-login and
// backoff, the mapping of event classes and ids to audit events, and a
// poller of each host's SSH / ESXi Shell / DCUI service state and lockdown
// mode.
package vcenter

import (
	"fmt"
	"strings"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/rules"
)

// Mapping turns one event class (UserLoginSessionEvent) or one
// EventEx/ExtendedEvent id (esx.audit.ssh.enabled) into an audit event.
type Mapping struct {
	Type    string // class name or eventTypeId; also the events_read "type" label
	Kind    audit.Kind
	Method  string
	Service string
	Setting string
	User    string // fixed user ("DRS")
	// Scope says which name goes into the event's host: the vCenter's
	// (sessions, VMs, permissions) or the ESXi host's the event names.
	Scope scope
	// Fill extracts the class-specific fields.
	Fill func(ev types.BaseEvent, e *audit.Event)
}

type scope int

const (
	scopeVCenter scope = iota
	scopeHost
)

// Table is the mapping of every covered class and id, like the syslog
// rule tables in internal/rules. The esx.audit.* ids are appended from
// rules.AuditIDs (see init).
var Table = []Mapping{
	// Sessions.
	{Type: "UserLoginSessionEvent", Kind: audit.KindLogin, Method: audit.MethodVCenter, Fill: func(ev types.BaseEvent, e *audit.Event) {
		e.ClientIP = ev.(*types.UserLoginSessionEvent).IpAddress
	}},
	{Type: "UserLogoutSessionEvent", Kind: audit.KindLogout, Method: audit.MethodVCenter, Fill: func(ev types.BaseEvent, e *audit.Event) {
		e.ClientIP = ev.(*types.UserLogoutSessionEvent).IpAddress
	}},
	{Type: "BadUsernameSessionEvent", Kind: audit.KindLoginFailed, Method: audit.MethodVCenter, Fill: func(ev types.BaseEvent, e *audit.Event) {
		e.ClientIP = ev.(*types.BadUsernameSessionEvent).IpAddress
	}},
	{Type: "SessionTerminatedEvent", Kind: audit.KindLogout, Method: audit.MethodVCenter, Fill: func(ev types.BaseEvent, e *audit.Event) {
		if u := ev.(*types.SessionTerminatedEvent).TerminatedUsername; u != "" {
			e.User = u // UserName is the administrator who ended it
		}
	}},
	// Consoles.
	{Type: "VmAcquiredTicketEvent", Kind: audit.KindConsoleOpened, Method: audit.MethodVCenter, Fill: func(ev types.BaseEvent, e *audit.Event) {
		e.TicketType = strings.ToLower(ev.(*types.VmAcquiredTicketEvent).TicketType)
		vmAndHost(ev, e)
	}},
	{Type: "VmAcquiredMksTicketEvent", Kind: audit.KindConsoleOpened, Method: audit.MethodVCenter, Fill: func(ev types.BaseEvent, e *audit.Event) {
		e.TicketType = "mks"
		vmAndHost(ev, e)
	}},
	{Type: "VmRemoteConsoleConnectedEvent", Kind: audit.KindConsoleOpened, Method: audit.MethodVCenter, Fill: func(ev types.BaseEvent, e *audit.Event) {
		e.TicketType = "remote_console"
		vmAndHost(ev, e)
	}},
	// Migrations: Event.Host is the destination, SourceHost the origin.
	{Type: "VmMigratedEvent", Kind: audit.KindVMMigrated, Fill: func(ev types.BaseEvent, e *audit.Event) {
		migrated(ev, ev.(*types.VmMigratedEvent).SourceHost, e)
	}},
	{Type: "DrsVmMigratedEvent", Kind: audit.KindVMMigrated, User: "DRS", Fill: func(ev types.BaseEvent, e *audit.Event) {
		migrated(ev, ev.(*types.DrsVmMigratedEvent).SourceHost, e)
	}},
	{Type: "VmRelocatedEvent", Kind: audit.KindVMMigrated, Fill: func(ev types.BaseEvent, e *audit.Event) {
		migrated(ev, ev.(*types.VmRelocatedEvent).SourceHost, e)
	}},
	{Type: "com.vmware.vc.vm.SrcVmMigratedEvent", Kind: audit.KindVMMigrated, Fill: crossVCMigrated},
	{Type: "com.vmware.vc.vm.DstVmMigratedEvent", Kind: audit.KindVMMigrated, Fill: crossVCMigrated},
	// Permissions, roles, accounts.
	{Type: "PermissionAddedEvent", Kind: audit.KindPermissionChanged},
	{Type: "PermissionUpdatedEvent", Kind: audit.KindPermissionChanged},
	{Type: "PermissionRemovedEvent", Kind: audit.KindPermissionChanged},
	{Type: "RoleAddedEvent", Kind: audit.KindRoleChanged},
	{Type: "RoleUpdatedEvent", Kind: audit.KindRoleChanged},
	{Type: "RoleRemovedEvent", Kind: audit.KindRoleChanged},
	{Type: "AccountCreatedEvent", Kind: audit.KindAccountChanged, Scope: scopeHost},
	{Type: "AccountUpdatedEvent", Kind: audit.KindAccountChanged, Scope: scopeHost},
	{Type: "AccountRemovedEvent", Kind: audit.KindAccountChanged, Scope: scopeHost},
	{Type: "UserPasswordChanged", Kind: audit.KindAccountChanged, Scope: scopeHost},
	{Type: "UserAssignedToGroup", Kind: audit.KindAccountChanged, Scope: scopeHost},
	{Type: "UserUnassignedFromGroup", Kind: audit.KindAccountChanged, Scope: scopeHost},
	{Type: "com.vmware.cis.CreateGlobalPermission", Kind: audit.KindPermissionChanged},
	{Type: "com.vmware.cis.CreatePermission", Kind: audit.KindPermissionChanged},
	{Type: "com.vmware.cis.RemovePermission", Kind: audit.KindPermissionChanged},
	{Type: "com.vmware.cis.RemoveGlobalPermission", Kind: audit.KindPermissionChanged},
	// Host services and lockdown.
	{Type: "LocalTSMEnabledEvent", Kind: audit.KindServiceEnabled, Service: audit.ServiceESXiShell, Scope: scopeHost},
	{Type: "RemoteTSMEnabledEvent", Kind: audit.KindServiceEnabled, Service: audit.ServiceSSH, Scope: scopeHost},
	{Type: "HostAdminDisableEvent", Kind: audit.KindLockdownEnabled, Scope: scopeHost},
	{Type: "HostAdminEnableEvent", Kind: audit.KindLockdownDisabled, Scope: scopeHost},
	// SSO (EventEx, vCenter 7.0+): the real client address.
	{Type: "com.vmware.sso.LoginSuccess", Kind: audit.KindLogin, Method: audit.MethodSSO, Fill: ssoFill},
	{Type: "com.vmware.sso.LoginFailure", Kind: audit.KindLoginFailed, Method: audit.MethodSSO, Fill: ssoFill},
	{Type: "com.vmware.sso.Logout", Kind: audit.KindLogout, Method: audit.MethodSSO, Fill: ssoFill},
	{Type: "com.vmware.sso.PrincipalManagement", Kind: audit.KindAccountChanged, Method: audit.MethodSSO},
	{Type: "com.vmware.sso.RoleManagement", Kind: audit.KindRoleChanged, Method: audit.MethodSSO},
}

// TypeOther is the events_read type label of events outside the table.
const TypeOther = "other"

var byType map[string]*Mapping

func init() {
	// The esx.audit.* / esx.problem.* ids, shared with the syslog path.
	for _, a := range rules.AuditIDs {
		if !strings.HasPrefix(a.ID, "esx.") {
			continue // vob.* ids are vobd's, never vCenter events
		}
		a := a
		m := Mapping{Type: a.ID, Kind: a.Kind, Method: a.Method, Service: a.Service, Setting: a.Setting, Scope: scopeHost}
		switch a.Kind {
		case audit.KindLogin, audit.KindLogout, audit.KindLoginFailed, audit.KindAccountLocked:
			m.Fill = userFromText
		}
		Table = append(Table, m)
	}
	// account.loginfailures is not in the syslog table (vobd logs it as a
	// plain message): it is a failed login burst for a local account.
	if rules.LookupAuditID("esx.audit.account.loginfailures") == nil {
		Table = append(Table, Mapping{Type: "esx.audit.account.loginfailures", Kind: audit.KindLoginFailed, Scope: scopeHost, Fill: userFromText})
	}
	byType = make(map[string]*Mapping, len(Table))
	for i := range Table {
		if _, dup := byType[Table[i].Type]; dup {
			panic("vcenter: duplicate mapping " + Table[i].Type)
		}
		byType[Table[i].Type] = &Table[i]
	}
}

// TypeID returns the class name of ev, or its eventTypeId for EventEx and
// ExtendedEvent.
func TypeID(ev types.BaseEvent) string {
	switch x := ev.(type) {
	case *types.EventEx:
		return x.EventTypeId
	case *types.ExtendedEvent:
		return x.EventTypeId
	}
	t := fmt.Sprintf("%T", ev)
	return t[strings.LastIndexByte(t, '.')+1:]
}

// Lookup returns the mapping for ev, or nil.
func Lookup(ev types.BaseEvent) *Mapping { return byType[TypeID(ev)] }

// TypeLabel is ev's bounded events_read label: the table's type or "other".
func TypeLabel(ev types.BaseEvent) string {
	if m := Lookup(ev); m != nil {
		return m.Type
	}
	return TypeOther
}

// FilterTypes is the EventTypeId filter of the history collector: every
// class and id of the table, plus ExtendedEvent, which vcsim (unlike
// vCenter) matches by class only.
func FilterTypes() []string {
	out := make([]string, 0, len(Table)+1)
	for i := range Table {
		out = append(out, Table[i].Type)
	}
	return append(out, "ExtendedEvent")
}

// ToAudit maps ev, read from the vCenter named vc, to an audit event.
func ToAudit(vc string, ev types.BaseEvent) (audit.Event, bool) {
	m := Lookup(ev)
	if m == nil {
		return audit.Event{}, false
	}
	b := ev.GetEvent()
	e := audit.Event{
		Time:    b.CreatedTime,
		Source:  audit.SourceVCenter,
		Host:    vc,
		Kind:    m.Kind,
		User:    b.UserName,
		Method:  m.Method,
		Service: m.Service,
		Setting: m.Setting,
		Message: b.FullFormattedMessage,
		Rule:    "vcenter/" + m.Type,
		// A key is unique per vCenter only until it resets (restart,
		// database reset), so the creation time is part of the id.
		EventID: fmt.Sprintf("vcenter:%d:%d", b.Key, b.CreatedTime.UnixNano()),
	}
	if m.User != "" {
		e.User = m.User
	}
	if m.Scope == scopeHost {
		if h := hostName(ev); h != "" {
			e.Host = h
		}
	}
	if e.Message == "" {
		e.Message = text(ev)
	}
	if m.Fill != nil {
		m.Fill(ev, &e)
	}
	rules.Finish(&e, nil)
	return e, true
}

// hostName is the ESXi host an event names.
func hostName(ev types.BaseEvent) string {
	b := ev.GetEvent()
	if b.Host != nil && b.Host.Name != "" {
		return b.Host.Name
	}
	if x, ok := ev.(*types.EventEx); ok && x.ObjectType == "HostSystem" && x.ObjectName != "" {
		return x.ObjectName
	}
	return ""
}

func vmAndHost(ev types.BaseEvent, e *audit.Event) {
	b := ev.GetEvent()
	if b.Vm != nil {
		e.VM = b.Vm.Name
	}
	if b.Host != nil {
		e.TargetHost = b.Host.Name
	}
}

func migrated(ev types.BaseEvent, src types.HostEventArgument, e *audit.Event) {
	b := ev.GetEvent()
	if b.Vm != nil {
		e.VM = b.Vm.Name
	}
	e.SourceHost = src.Name
	if b.Host != nil {
		e.TargetHost = b.Host.Name
	}
}

func crossVCMigrated(ev types.BaseEvent, e *audit.Event) {
	b := ev.GetEvent()
	if b.Vm != nil {
		e.VM = b.Vm.Name
	}
	if x, ok := ev.(*types.EventEx); ok && e.VM == "" && x.ObjectType == "VirtualMachine" {
		e.VM = x.ObjectName
	}
	e.SourceHost = arg(ev, "srcHost", "sourceHost")
	e.TargetHost = arg(ev, "dstHost", "destHost", "targetHost")
	if b.Host != nil && e.TargetHost == "" {
		e.TargetHost = b.Host.Name
	}
}

// ssoFill takes the user and the real client address from an SSO event:
// its arguments when present, else its message ("User u@ip logged in ...",
// "Successful login u from ip at ...").
func ssoFill(ev types.BaseEvent, e *audit.Event) {
	if u := arg(ev, "user", "userName", "username", "principal"); u != "" {
		e.User = u
	}
	if ip := arg(ev, "client", "clientIp", "clientIP", "ipAddress", "ip"); ip != "" {
		e.ClientIP = ip
	}
	if e.ClientIP != "" && e.User != "" {
		return
	}
	t := text(ev)
	for _, p := range []string{"Successful login ", "Failed login "} {
		if rest, ok := strings.CutPrefix(t, p); ok {
			u, rest, _ := strings.Cut(rest, " from ")
			ip, _, _ := strings.Cut(rest, " ")
			if e.User == "" || e.User == ev.GetEvent().UserName {
				e.User = u
			}
			if e.ClientIP == "" {
				e.ClientIP = ip
			}
			return
		}
	}
	if rest, ok := strings.CutPrefix(t, "User "); ok {
		if i := strings.Index(rest, " logged "); i > 0 {
			rest = rest[:i]
		}
		if at := strings.LastIndexByte(rest, '@'); at > 0 {
			e.User, e.ClientIP = rest[:at], rest[at+1:]
		}
	}
}

// userFromText: "SSH session was opened for 'root@1.2.3.4'." and the like;
// arguments first.
func userFromText(ev types.BaseEvent, e *audit.Event) {
	u := arg(ev, "user", "userName", "username", "1")
	ip := arg(ev, "ip", "ipAddress", "client", "2")
	if u == "" {
		t := text(ev)
		s := ""
		if i := strings.IndexByte(t, '\''); i >= 0 {
			s = t[i+1:]
			if j := strings.IndexByte(s, '\''); j >= 0 {
				s = s[:j]
			}
		} else if i := strings.LastIndex(t, " for "); i >= 0 {
			s = strings.TrimRight(t[i+5:], ".")
		}
		if at := strings.LastIndexByte(s, '@'); at > 0 {
			u, ip = s[:at], s[at+1:]
		} else if s != "" && !strings.ContainsAny(s, " \t") {
			u = s
		}
	}
	if u != "" {
		e.User = u
	}
	if ip != "" {
		e.ClientIP = ip
	}
}

// text is the event's message (EventEx.Message, else the formatted one).
func text(ev types.BaseEvent) string {
	if x, ok := ev.(*types.EventEx); ok && x.Message != "" {
		return x.Message
	}
	return ev.GetEvent().FullFormattedMessage
}

// arg returns the first named argument of an EventEx or ExtendedEvent.
func arg(ev types.BaseEvent, names ...string) string {
	switch x := ev.(type) {
	case *types.EventEx:
		for _, n := range names {
			for _, a := range x.Arguments {
				if a.Key == n {
					if s, ok := a.Value.(string); ok && s != "" {
						return s
					}
				}
			}
		}
	case *types.ExtendedEvent:
		for _, n := range names {
			for _, a := range x.Data {
				if a.Key == n && a.Value != "" {
					return a.Value
				}
			}
		}
	}
	return ""
}

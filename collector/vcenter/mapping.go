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

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vsphere"
)

// fills take the class-specific fields out of the typed events; the
// kinds and constant fields come from the vSphere table (internal/vsphere),
// which the syslog path reads too. A class listed here must be in the
// table (checked at init).
var fills = map[string]func(ev types.BaseEvent, e *audit.Event){
	"UserLoginSessionEvent": func(ev types.BaseEvent, e *audit.Event) {
		e.ClientIP = ev.(*types.UserLoginSessionEvent).IpAddress
	},
	"UserLogoutSessionEvent": func(ev types.BaseEvent, e *audit.Event) {
		e.ClientIP = ev.(*types.UserLogoutSessionEvent).IpAddress
	},
	"BadUsernameSessionEvent": func(ev types.BaseEvent, e *audit.Event) {
		e.ClientIP = ev.(*types.BadUsernameSessionEvent).IpAddress
	},
	"SessionTerminatedEvent": func(ev types.BaseEvent, e *audit.Event) {
		if u := ev.(*types.SessionTerminatedEvent).TerminatedUsername; u != "" {
			e.User = u // UserName is the administrator who ended it
		}
	},
	"VmAcquiredTicketEvent": func(ev types.BaseEvent, e *audit.Event) {
		e.TicketType = ev.(*types.VmAcquiredTicketEvent).TicketType
		vmAndHost(ev, e)
	},
	"VmAcquiredMksTicketEvent":      vmAndHost,
	"VmRemoteConsoleConnectedEvent": vmAndHost,
	// Migrations: Event.Host is the destination, SourceHost the origin.
	"VmMigratedEvent": func(ev types.BaseEvent, e *audit.Event) {
		migrated(ev, ev.(*types.VmMigratedEvent).SourceHost, e)
	},
	"DrsVmMigratedEvent": func(ev types.BaseEvent, e *audit.Event) {
		migrated(ev, ev.(*types.DrsVmMigratedEvent).SourceHost, e)
	},
	"VmRelocatedEvent": func(ev types.BaseEvent, e *audit.Event) {
		migrated(ev, ev.(*types.VmRelocatedEvent).SourceHost, e)
	},
	"com.vmware.vc.vm.SrcVmMigratedEvent": crossVCMigrated,
	"com.vmware.vc.vm.DstVmMigratedEvent": crossVCMigrated,
}

// TypeOther is the events_read type label of events outside the table.
const TypeOther = "other"

func init() {
	for id := range fills {
		if vt := vsphere.Lookup(id); vt == nil || vt.Origin&vsphere.VCenter == 0 {
			panic("vcenter: fill for " + id + ", which the vSphere table does not list as a vCenter event")
		}
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

// Lookup returns the vSphere table's entry for ev, or nil.
func Lookup(ev types.BaseEvent) *vsphere.EventType {
	if vt := vsphere.Lookup(TypeID(ev)); vt != nil && vt.Origin&vsphere.VCenter != 0 {
		return vt
	}
	return nil
}

// TypeLabel is ev's bounded events_read label: the table's id or "other".
func TypeLabel(ev types.BaseEvent) string {
	if vt := Lookup(ev); vt != nil {
		return vt.ID
	}
	return TypeOther
}

// FilterTypes is the EventTypeId filter of the history collector: every
// vCenter class and id of the table, plus ExtendedEvent, which vcsim
// (unlike vCenter) matches by class only.
func FilterTypes() []string {
	var out []string
	for _, vt := range vsphere.Of(vsphere.VCenter) {
		out = append(out, vt.ID)
	}
	return append(out, "ExtendedEvent")
}

// ToAudit maps ev, read from the vCenter named vc, to an audit event.
func ToAudit(vc string, ev types.BaseEvent) (audit.Event, bool) {
	vt := Lookup(ev)
	if vt == nil {
		return audit.Event{}, false
	}
	b := ev.GetEvent()
	e := audit.Event{
		Time:    b.CreatedTime,
		Source:  audit.SourceVCenter,
		Host:    vc,
		User:    b.UserName,
		Message: b.FullFormattedMessage,
		Rule:    "vcenter/" + vt.ID,
		// A key is unique per vCenter only until it resets (restart,
		// database reset), so the creation time is part of the id.
		EventID: fmt.Sprintf("vcenter:%d:%d", b.Key, b.CreatedTime.UnixNano()),
	}
	vt.Apply(&e)
	if vt.Scope == vsphere.ScopeHost {
		if h := hostName(ev); h != "" {
			e.Host = h
		}
	}
	if e.Message == "" {
		e.Message = text(ev)
	}
	if fill := fills[vt.ID]; fill != nil {
		fill(ev, &e)
	} else if vt.Extended() {
		// The message template, then the event's arguments, which win.
		host := e.Host
		if !vt.Fill(text(ev), &e) && vt.Require != "" {
			return audit.Event{}, false
		}
		e.Host = host
		if u := arg(ev, "user", "userName", "username", "principal", "1"); u != "" {
			e.User = u
		}
		if ip := arg(ev, "client", "clientIp", "clientIP", "ipAddress", "ip", "2"); ip != "" {
			e.ClientIP = ip
		}
	} else if vt.Require != "" && !strings.Contains(text(ev), vt.Require) {
		return audit.Event{}, false
	}
	audit.Normalize(&e)
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

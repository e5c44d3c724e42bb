// Package vcenter reads vCenter's event history over the vSphere API
// (govmomi): a loss-free tailer with a checkpoint per vCenter, re-login and
// backoff, the mapping of event classes and ids to audit events, and a
// poller of each host's SSH / ESXi Shell / DCUI service state and lockdown
// mode.
package vcenter

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vsphere"
)

// fills take the class-specific fields out of the typed events (and of
// the EventEx/ExtendedEvent ids, after their text and arguments); the
// kinds and constant fields come from the vSphere table
// (internal/vsphere), which the syslog path reads too. A class listed
// here must be in the table (checked at init).
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
	"VmAcquiredMksTicketEvent":         vmAndHost,
	"VmRemoteConsoleConnectedEvent":    vmAndHost,
	"VmRemoteConsoleDisconnectedEvent": vmAndHost,
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
	// VM power and lifecycle: the VM and the host it is on.
	"VmPoweredOnEvent":  vmAndHost,
	"VmPoweredOffEvent": vmAndHost,
	"VmResettingEvent":  vmAndHost,
	"VmSuspendedEvent":  vmAndHost,
	"VmCreatedEvent":    vmAndHost,
	"VmRemovedEvent":    vmAndHost,
	"VmRegisteredEvent": vmAndHost,
	// A clone: vm is the source, value the copy's name (VmBeingCloned*),
	// or vm the copy and value the source (VmCloned).
	"VmBeingClonedEvent": func(ev types.BaseEvent, e *audit.Event) {
		x := ev.(*types.VmBeingClonedEvent)
		cloning(ev, x.DestName, x.DestHost, e)
	},
	"VmBeingClonedNoFolderEvent": func(ev types.BaseEvent, e *audit.Event) {
		x := ev.(*types.VmBeingClonedNoFolderEvent)
		cloning(ev, x.DestName, x.DestHost, e)
	},
	"VmClonedEvent": func(ev types.BaseEvent, e *audit.Event) {
		e.VM = vmName(ev)
		if n := ev.(*types.VmClonedEvent).SourceVm.Name; n != "" {
			e.Value = n
		}
	},
	"com.vmware.vc.vm.SrcVmClonedEvent":      vmOnly,
	"com.vmware.vc.vm.DstVmClonedEvent":      vmOnly,
	"com.vmware.ovfs.ExportEvent":            vmOnly,
	"com.vmware.vmtx.LibraryItemCreateEvent": vmOnly,
	"com.vmware.vc.VmInstantClonedEvent":     instantCloned,
	"com.vmware.vc.vm.VmStateRevertedToSnapshot": func(ev types.BaseEvent, e *audit.Event) {
		vmOnly(ev, e)
		if b := ev.GetEvent(); b.Host != nil && b.Host.Name != "" {
			e.TargetHost = b.Host.Name
		}
	},
	"com.vmware.vc.guestOperations.GuestOperation":            guestOperation,
	"com.vmware.vc.guestOperations.GuestOperationAuthFailure": guestOperation,
	"HostShutdownEvent": func(ev types.BaseEvent, e *audit.Event) {
		if r := ev.(*types.HostShutdownEvent).Reason; r != "" {
			e.Reason = r
		}
	},
}

// expands turn one event into its audit events: none, one or several.
// They run last, on the event the table and fills made.
var expands = map[string]func(ev types.BaseEvent, e audit.Event) []audit.Event{
	"TaskEvent":           snapshotTask,
	"VmReconfiguredEvent": diskChanges,
}

// TypeOther is the events_read type label of events outside the table.
const TypeOther = "other"

func init() {
	for id := range fills {
		if vt := vsphere.Lookup(id); vt == nil || vt.Origin&apiOrigins == 0 {
			panic("vcenter: fill for " + id + ", which the vSphere table does not list as a vCenter event")
		}
	}
	for id := range expands {
		if vt := vsphere.Lookup(id); vt == nil || vt.Origin&apiOrigins == 0 {
			panic("vcenter: expansion of " + id + ", which the vSphere table does not list as a vCenter event")
		}
	}
}

// apiOrigins are the table's origins the vSphere API delivers: vCenter
// events, and those the API alone can tell.
const apiOrigins = vsphere.VCenter | vsphere.API

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
// An EventEx or ExtendedEvent whose id names a typed class (no dot:
// UserLoginSessionEvent) is not one: its fields are not that class's, so
// it has no entry (the class's field readers would fail on it).
func Lookup(ev types.BaseEvent) *vsphere.EventType {
	vt := vsphere.Lookup(TypeID(ev))
	if vt == nil || vt.Origin&apiOrigins == 0 {
		return nil
	}
	if !vt.Extended() {
		switch ev.(type) {
		case *types.EventEx, *types.ExtendedEvent:
			return nil
		}
	}
	return vt
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
	for _, vt := range vsphere.Of(apiOrigins) {
		out = append(out, vt.ID)
	}
	return append(out, "ExtendedEvent")
}

// ToAudit maps ev, read from the vCenter named vc, to its audit events:
// none for an event outside the table (or a task that is not a snapshot
// task, a reconfiguration without a disk change), one for most, one per
// disk change of a VmReconfiguredEvent.
func ToAudit(vc string, ev types.BaseEvent) []audit.Event {
	vt := Lookup(ev)
	if vt == nil {
		return nil
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
	if vt.Extended() {
		// The message template, then the event's arguments, which win.
		host := e.Host
		if !vt.Fill(text(ev), &e) && vt.Require != "" {
			return nil
		}
		e.Host = host
		arguments(vt, ev, &e)
	} else if vt.Require != "" && !strings.Contains(text(ev), vt.Require) {
		return nil
	}
	if fill := fills[vt.ID]; fill != nil {
		fill(ev, &e)
	}
	out := []audit.Event{e}
	if x := expands[vt.ID]; x != nil {
		out = x(ev, e)
	}
	for i := range out {
		audit.Normalize(&out[i])
	}
	return out
}

// arguments sets the fields an EventEx or ExtendedEvent names: its
// positional arguments ("1", "2", ...) as the table's Args say, and the
// user and client address of the named ones.
func arguments(vt *vsphere.EventType, ev types.BaseEvent, e *audit.Event) {
	if u := arg(ev, "user", "userName", "username", "principal"); u != "" {
		e.User = u
	}
	if ip := arg(ev, "client", "clientIp", "clientIP", "ipAddress", "ip"); ip != "" {
		e.ClientIP = ip
	}
	for i, f := range vt.Args {
		if f == "" {
			continue
		}
		if v := arg(ev, strconv.Itoa(i+1)); v != "" {
			audit.SetField(e, f, v)
		}
	}
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

// vmName is the VM an event is about: its VM argument, or the object of
// an EventEx about a VM.
func vmName(ev types.BaseEvent) string {
	if b := ev.GetEvent(); b.Vm != nil && b.Vm.Name != "" {
		return b.Vm.Name
	}
	if x, ok := ev.(*types.EventEx); ok && x.ObjectType == "VirtualMachine" {
		return x.ObjectName
	}
	return ""
}

// vmOnly sets the event's VM, when it names one.
func vmOnly(ev types.BaseEvent, e *audit.Event) {
	if n := vmName(ev); n != "" {
		e.VM = n
	}
}

func cloning(ev types.BaseEvent, dest string, destHost types.HostEventArgument, e *audit.Event) {
	b := ev.GetEvent()
	e.VM = vmName(ev)
	e.Value = dest
	if b.Host != nil {
		e.SourceHost = b.Host.Name
	}
	e.TargetHost = destHost.Name
}

// instantCloned: the event is the new VM's; its first argument names the
// source, which is the event's vm when given (value is then the copy).
func instantCloned(ev types.BaseEvent, e *audit.Event) {
	child := vmName(ev)
	src := ""
	switch x := ev.(type) {
	case *types.EventEx:
		if len(x.Arguments) > 0 {
			src, _ = x.Arguments[0].Value.(string)
		}
	case *types.ExtendedEvent:
		if len(x.Data) > 0 {
			src = x.Data[0].Value
		}
	}
	if src != "" && src != child {
		e.VM, e.Value = src, child
		return
	}
	if child != "" {
		e.VM = child
	}
}

// guestOperation: the VM of the event; the operation as the text names it,
// else the operationName argument.
func guestOperation(ev types.BaseEvent, e *audit.Event) {
	vmOnly(ev, e)
	if e.Operation == "" {
		e.Operation = arg(ev, "operationName")
	}
}

// snapshotActions are the snapshot tasks by TaskInfo.DescriptionId.
var snapshotActions = map[string]string{
	"VirtualMachine.createSnapshot":          audit.ActionCreate,
	"VirtualMachine.createSnapshotEx":        audit.ActionCreate,
	"VirtualMachineSnapshot.remove":          audit.ActionRemove,
	"VirtualMachine.removeAllSnapshots":      audit.ActionRemoveAll,
	"VirtualMachineSnapshot.revert":          audit.ActionRevert,
	"VirtualMachine.revertToCurrentSnapshot": audit.ActionRevert,
	"VirtualMachineSnapshot.rename":          audit.ActionRename,
}

// snapshotTask: a snapshot task is a vm_snapshot event; every other task
// is none. The VM is the event's, else the task's entity; the user the
// event's, else the one who queued the task.
func snapshotTask(ev types.BaseEvent, e audit.Event) []audit.Event {
	x := ev.(*types.TaskEvent)
	action, ok := snapshotActions[x.Info.DescriptionId]
	if !ok {
		return nil
	}
	e.Action = action
	e.VM = vmName(ev)
	if e.VM == "" && x.Info.Entity != nil && x.Info.Entity.Type == "VirtualMachine" {
		e.VM = x.Info.EntityName
	}
	if r, ok := x.Info.Reason.(*types.TaskReasonUser); ok && e.User == "" {
		e.User = r.UserName
	}
	if x.Info.State == types.TaskInfoStateError {
		e.Outcome = audit.OutcomeFailure
	}
	return []audit.Event{e}
}

// diskActions are the device change operations on a virtual disk.
var diskActions = map[types.VirtualDeviceConfigSpecOperation]string{
	types.VirtualDeviceConfigSpecOperationAdd:    audit.ActionAdd,
	types.VirtualDeviceConfigSpecOperationEdit:   audit.ActionEdit,
	types.VirtualDeviceConfigSpecOperationRemove: audit.ActionRemove,
}

// diskChanges: one vm_disk_changed event per virtual disk the
// reconfiguration adds, edits or removes, with the disk's backing file as
// its path and cross_vm set when that file lies in another VM's folder.
// The VM's own folder is its configuration file's (ConfigSpec.Files when
// the reconfiguration sets it), else the folder named after the VM
// (audit.IsCrossVM).
func diskChanges(ev types.BaseEvent, e audit.Event) []audit.Event {
	x := ev.(*types.VmReconfiguredEvent)
	vm := vmName(ev)
	vmx := ""
	if x.ConfigSpec.Files != nil {
		vmx = x.ConfigSpec.Files.VmPathName
	}
	var out []audit.Event
	for _, bc := range x.ConfigSpec.DeviceChange {
		c := bc.GetVirtualDeviceConfigSpec()
		action, ok := diskActions[c.Operation]
		if !ok {
			continue
		}
		disk, ok := c.Device.(*types.VirtualDisk)
		if !ok {
			continue
		}
		d := e
		d.VM, d.Action = vm, action
		if fb, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
			d.Path = fb.GetVirtualDeviceFileBackingInfo().FileName
		}
		// A removal detaches; the attachment is what cross_vm marks (as
		// the audit record path does, internal/detect/records.go).
		d.CrossVM = action != audit.ActionRemove && audit.IsCrossVM(vm, vmx, d.Path)
		out = append(out, d)
	}
	return out
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

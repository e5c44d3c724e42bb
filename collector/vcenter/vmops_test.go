package vcenter

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/metrics"
)

// TestVMOperations: the VM operations, host power, execInstalledOnly and
// lost-log events of the vSphere table, through the real API path (the
// tailer reading the simulator's event history). Where vcsim emits the
// event itself the test performs the operation (power, clone,
// reconfigure, destroy); the others are posted to its EventManager. Each
// becomes exactly the audit event below, and the metric series count them.
func TestVMOperations(t *testing.T) {
	s := newSim(t, "")
	ctx := context.Background()
	u := *s.url
	u.User = url.UserPassword(simUser, simPass)
	c, err := govmomi.NewClient(ctx, &u, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Logout(context.Background()) }()
	wait := func(task *object.Task, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		_ = task.Wait(ctx) // the event is posted before vcsim applies the change
	}
	sv0, sv1 := s.vms[0], s.vms[1]
	vm0 := object.NewVirtualMachine(c.Client, sv0.Self)
	vm1 := object.NewVirtualMachine(c.Client, sv1.Self)
	// The Tier-0 VM: vm1 renamed dc01 (its folder keeps the old name).
	wait(vm1.Rename(ctx, "dc01"))
	hostOf := func(vm *simulator.VirtualMachine) string {
		return s.model.Map().Get(*vm.Runtime.Host).(*simulator.HostSystem).Name
	}
	h0, h1 := hostOf(sv0), hostOf(sv1)
	devices0, err := vm0.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	devices1, err := vm1.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ownDisk := devices0.SelectByType((*types.VirtualDisk)(nil))[0].(*types.VirtualDisk)
	ownPath := ownDisk.Backing.(types.BaseVirtualDeviceFileBackingInfo).GetVirtualDeviceFileBackingInfo().FileName
	dcDisk := devices1.SelectByType((*types.VirtualDisk)(nil))[0].(*types.VirtualDisk)
	dcPath := dcDisk.Backing.(types.BaseVirtualDeviceFileBackingInfo).GetVirtualDeviceFileBackingInfo().FileName
	newPath := audit.DatastoreFolder(ownPath) + "/extra.vmdk"
	if audit.DatastoreFolder(dcPath) == audit.DatastoreFolder(ownPath) || audit.DatastoreFolder(ownPath) == "" {
		t.Fatalf("test premise: %s and %s in different VM folders", ownPath, dcPath)
	}

	rec := &recorder{}
	vc := DefaultName(s.url)
	tl, cancel, done := startTailer(t, s.config(t), rec)
	waitFor(t, 10*time.Second, "collector", func() bool { return tl.Client() != nil })
	time.Sleep(50 * time.Millisecond) // the collector's begin time is before what follows

	const op = "auditor@vsphere.local" // the session the operations run in
	var want []audit.Event
	expect := func(evs ...audit.Event) { want = append(want, evs...) }

	// Power: vcsim emits VmPoweredOffEvent, VmPoweredOnEvent, VmSuspendedEvent.
	wait(vm0.PowerOff(ctx))
	wait(vm0.PowerOn(ctx))
	wait(vm0.Suspend(ctx))
	power := audit.Event{Kind: audit.KindVMPower, Host: vc, User: op, VM: sv0.Name, TargetHost: h0}
	for _, a := range []string{audit.ActionOff, audit.ActionOn, audit.ActionSuspend} {
		e := power
		e.Action = a
		expect(e)
	}

	// A clone of the Tier-0 VM: the clone of dc01 (vm is the source), and
	// the creation of the copy (VmClonedEvent). vcsim makes the copy
	// through CreateVM and so reports a VmCreatedEvent for it too (vCenter
	// may not): the copy's creation counts twice here.
	folder := object.NewFolder(c.Client, *sv1.Parent)
	wait(vm1.Clone(ctx, folder, "dc01-copy", types.VirtualMachineCloneSpec{}))
	var clone *simulator.VirtualMachine
	for _, r := range s.model.Map().All("VirtualMachine") {
		if vm := r.(*simulator.VirtualMachine); vm.Name == "dc01-copy" {
			clone = vm
		}
	}
	if clone == nil {
		t.Fatal("vcsim made no clone")
	}
	hc := hostOf(clone)
	expect(
		audit.Event{Kind: audit.KindVMLifecycle, Action: audit.ActionClone, Host: vc, User: op, VM: "dc01", Value: "dc01-copy", SourceHost: h1, TargetHost: h1},
		audit.Event{Kind: audit.KindVMLifecycle, Action: audit.ActionCreate, Host: vc, User: op, VM: "dc01-copy", TargetHost: hc},
		audit.Event{Kind: audit.KindVMLifecycle, Action: audit.ActionCreate, Host: vc, User: op, VM: "dc01-copy", Value: "dc01"},
	)

	// Disks: dc01's disk attached to vm0 (cross-VM) and a new disk in vm0's
	// own folder, in one reconfiguration (one event each); a change without
	// a disk (none); vm0's disk grown (edit); the new disk removed.
	ctrl, err := devices0.FindDiskController("")
	if err != nil {
		t.Fatal(err)
	}
	stolen := &types.VirtualDisk{CapacityInKB: dcDisk.CapacityInKB, VirtualDevice: types.VirtualDevice{Key: -1,
		Backing: &types.VirtualDiskFlatVer2BackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: dcPath}, DiskMode: "persistent"}}}
	devices0.AssignController(stolen, ctrl)
	extra := devices0.CreateDisk(ctrl, types.ManagedObjectReference{}, newPath)
	extra.Key = -2
	extra.CapacityInKB = 1024
	wait(vm0.Reconfigure(ctx, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: stolen},
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, FileOperation: types.VirtualDeviceConfigSpecFileOperationCreate, Device: extra},
	}}))
	wait(vm0.Reconfigure(ctx, types.VirtualMachineConfigSpec{Annotation: "patched"}))
	grown := *ownDisk
	grown.CapacityInKB *= 2
	wait(vm0.Reconfigure(ctx, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: &grown},
	}}))
	wait(vm0.Reconfigure(ctx, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationRemove, FileOperation: types.VirtualDeviceConfigSpecFileOperationDestroy, Device: extra},
	}}))
	disk := audit.Event{Kind: audit.KindVMDiskChanged, Host: vc, User: op, VM: sv0.Name}
	for _, d := range []struct {
		action, path string
		cross        bool
	}{{audit.ActionAdd, dcPath, true}, {audit.ActionAdd, newPath, false}, {audit.ActionEdit, ownPath, false}, {audit.ActionRemove, newPath, false}} {
		e := disk
		e.Action, e.Path, e.CrossVM = d.action, d.path, d.cross
		expect(e)
	}

	// Destroy: VmRemovedEvent.
	wait(object.NewVirtualMachine(c.Client, clone.Self).Destroy(ctx))
	expect(audit.Event{Kind: audit.KindVMLifecycle, Action: audit.ActionDelete, Host: vc, User: op, VM: "dc01-copy", TargetHost: hc})

	// Posted: what vcsim does not emit.
	h := s.hosts[2]
	hostArg := &types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: h.Name}, Host: h.Self}
	vmArg := func(vm *simulator.VirtualMachine, name string) *types.VmEventArgument {
		return &types.VmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: name}, Vm: vm.Self}
	}
	h0Arg := &types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: h0}, Host: *sv0.Runtime.Host}
	vm0Ev := types.VmEvent{Event: types.Event{Vm: vmArg(sv0, sv0.Name), Host: h0Arg}}
	dcEv := types.Event{Vm: vmArg(sv1, "dc01")}
	vmEx := func(id, msg string, args ...types.KeyAnyValue) *types.EventEx {
		return &types.EventEx{EventTypeId: id, ObjectType: "VirtualMachine", ObjectId: sv1.Self.Value, ObjectName: "dc01", Message: msg, Arguments: args, Event: dcEv}
	}
	hostEx := func(id, msg string, args ...types.KeyAnyValue) *types.EventEx {
		return &types.EventEx{EventTypeId: id, ObjectType: "HostSystem", ObjectId: h.Self.Value, ObjectName: h.Name, Message: msg, Arguments: args,
			Event: types.Event{Host: hostArg}}
	}
	hostExt := func(id string) *types.ExtendedEvent {
		return &types.ExtendedEvent{EventTypeId: id, ManagedObject: h.Self, GeneralEvent: types.GeneralEvent{Event: types.Event{Host: hostArg}}}
	}
	task := func(id string, state types.TaskInfoState, reason types.BaseTaskReason) *types.TaskEvent {
		return &types.TaskEvent{Event: dcEv, Info: types.TaskInfo{DescriptionId: id, State: state, Reason: reason,
			Entity: &sv1.Self, EntityName: "dc01", Task: types.ManagedObjectReference{Type: "Task", Value: "task-" + id}}}
	}
	posted := []struct {
		user string
		ev   types.BaseEvent
		want []audit.Event
	}{
		{"alice", &types.VmResettingEvent{VmEvent: vm0Ev},
			[]audit.Event{{Kind: audit.KindVMPower, Action: audit.ActionReset, Host: vc, User: "alice", VM: sv0.Name, TargetHost: h0}}},
		{"alice", &types.VmRegisteredEvent{VmEvent: vm0Ev},
			[]audit.Event{{Kind: audit.KindVMLifecycle, Action: audit.ActionRegister, Host: vc, User: "alice", VM: sv0.Name, TargetHost: h0}}},
		// Snapshot tasks; the user who queued a task when the event names none.
		{"alice", task("VirtualMachine.createSnapshot", types.TaskInfoStateRunning, &types.TaskReasonUser{UserName: "alice"}),
			[]audit.Event{{Kind: audit.KindVMSnapshot, Action: audit.ActionCreate, Host: vc, User: "alice", VM: "dc01"}}},
		{"", task("VirtualMachine.removeAllSnapshots", types.TaskInfoStateQueued, &types.TaskReasonUser{UserName: `CORP\bob`}),
			[]audit.Event{{Kind: audit.KindVMSnapshot, Action: audit.ActionRemoveAll, Host: vc, User: "bob@corp", VM: "dc01"}}},
		{"alice", task("VirtualMachineSnapshot.revert", types.TaskInfoStateError, &types.TaskReasonUser{UserName: "alice"}),
			[]audit.Event{{Kind: audit.KindVMSnapshot, Action: audit.ActionRevert, Host: vc, User: "alice", VM: "dc01", Outcome: audit.OutcomeFailure}}},
		{"alice", task("VirtualMachine.powerOff", types.TaskInfoStateRunning, &types.TaskReasonUser{UserName: "alice"}), nil}, // not a snapshot task
		{"alice", vmEx("com.vmware.vc.vm.VmStateRevertedToSnapshot", ""),
			[]audit.Event{{Kind: audit.KindVMSnapshot, Action: audit.ActionRevert, Host: vc, User: "alice", VM: "dc01"}}},
		// Guest operations: the operation as the text names it, else the argument.
		{"svc-backup", vmEx("com.vmware.vc.guestOperations.GuestOperation", "Guest operation Start Program performed on Virtual machine dc01."),
			[]audit.Event{{Kind: audit.KindGuestOperation, Host: vc, User: "svc-backup", VM: "dc01", Operation: "Start Program"}}},
		{"svc-backup", vmEx("com.vmware.vc.guestOperations.GuestOperationAuthFailure", "", types.KeyAnyValue{Key: "operationName", Value: "startProgram"}),
			[]audit.Event{{Kind: audit.KindGuestOperation, Host: vc, User: "svc-backup", VM: "dc01", Operation: "startProgram", Outcome: audit.OutcomeFailure}}},
		// Clones and exports the EventEx ids report.
		{"alice", vmEx("com.vmware.vc.vm.SrcVmClonedEvent", ""),
			[]audit.Event{{Kind: audit.KindVMLifecycle, Action: audit.ActionClone, Host: vc, User: "alice", VM: "dc01"}}},
		{"alice", vmEx("com.vmware.vc.vm.DstVmClonedEvent", ""),
			[]audit.Event{{Kind: audit.KindVMLifecycle, Action: audit.ActionCreate, Host: vc, User: "alice", VM: "dc01"}}},
		{"alice", &types.EventEx{EventTypeId: "com.vmware.vc.VmInstantClonedEvent", ObjectType: "VirtualMachine", ObjectId: sv0.Self.Value, ObjectName: sv0.Name,
			Arguments: []types.KeyAnyValue{{Key: "sourceVm", Value: "dc01"}}, Event: types.Event{Vm: vmArg(sv0, sv0.Name)}},
			[]audit.Event{{Kind: audit.KindVMLifecycle, Action: audit.ActionClone, Host: vc, User: "alice", VM: "dc01", Value: sv0.Name}}},
		{"alice", vmEx("com.vmware.ovfs.ExportEvent", ""),
			[]audit.Event{{Kind: audit.KindVMLifecycle, Action: audit.ActionExport, Host: vc, User: "alice", VM: "dc01"}}},
		// Host power.
		{"alice", &types.HostShutdownEvent{HostEvent: types.HostEvent{Event: types.Event{Host: hostArg}}, Reason: "hardware maintenance"},
			[]audit.Event{{Kind: audit.KindHostPower, Action: audit.ActionShutdown, Host: h.Name, User: "alice", Reason: "hardware maintenance"}}},
		{"", hostEx("esx.audit.esxcli.host.reboot.reason", "", types.KeyAnyValue{Key: "1", Value: "kernel patch"}, types.KeyAnyValue{Key: "2", Value: "root"}),
			[]audit.Event{{Kind: audit.KindHostPower, Action: audit.ActionReboot, Host: h.Name, User: "root", Reason: "kernel patch"}}},
		{"", hostExt("esx.audit.dcui.host.reboot"),
			[]audit.Event{{Kind: audit.KindHostPower, Action: audit.ActionReboot, Host: h.Name, Reason: "DCUI"}}},
		// execInstalledOnly and lost logs.
		{"root", hostExt("esx.audit.uw.security.User.ExecInstalledOnly.disabled"),
			[]audit.Event{{Kind: audit.KindConfigChanged, Host: h.Name, User: "root", Setting: audit.SettingExecInstalledOnly, Action: audit.ActionDisabled}}},
		{"", hostEx("esx.audit.uw.security.execInstalledOnly.violation", "", types.KeyAnyValue{Key: "1", Value: "/tmp/encrypt"}),
			[]audit.Event{{Kind: audit.KindAccessDenied, Host: h.Name, Object: "/tmp/encrypt", Reason: "execInstalledOnly: execution prevented", Outcome: audit.OutcomeFailure}}},
		{"", hostEx("esx.problem.vmsyslogd.remote.logmessages.dropped", `The host "udp://10.0.0.9:514" has lost 12 log messages.`),
			[]audit.Event{{Kind: audit.KindLoggingFailed, Host: h.Name, Reason: "lost 12 log messages"}}},
	}
	for _, p := range posted {
		s.post(p.user, p.ev)
		expect(p.want...)
	}

	waitFor(t, 10*time.Second, "events", func() bool { return len(rec.snapshot()) >= len(want) })
	time.Sleep(100 * time.Millisecond) // nothing more comes
	cancel()
	<-done
	got := rec.snapshot()
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w audit.Event
		if i < len(got) {
			g = got[i]
			g.Time, g.Message, g.Rule, g.EventID = time.Time{}, "", "", ""
		}
		if i < len(want) {
			w = want[i]
			w.Source = audit.SourceVCenter
			if w.Outcome == "" {
				w.Outcome = audit.OutcomeSuccess
			}
		}
		if g != w {
			t.Errorf("event %d\n got %+v\nwant %+v", i, g, w)
		}
	}

	// The metric series of the new kinds, with all their labels.
	r := prometheus.NewRegistry()
	sink := metrics.NewSink(r, metrics.Options{MaxSeries: 1000})
	reg := metrics.Merge(r, sink)
	for _, e := range got {
		sink.Record(e)
	}
	series := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"vsphere_audit_vm_power_total", map[string]string{"host": vc, "vm": sv0.Name, "user": op, "action": "off"}, 1},
		{"vsphere_audit_vm_power_total", map[string]string{"host": vc, "vm": sv0.Name, "user": "alice", "action": "reset"}, 1},
		{"vsphere_audit_vm_lifecycle_total", map[string]string{"host": vc, "vm": "dc01", "user": op, "action": "clone"}, 1},
		{"vsphere_audit_vm_lifecycle_total", map[string]string{"host": vc, "vm": "dc01-copy", "user": op, "action": "create"}, 2}, // VmCreated, VmCloned
		{"vsphere_audit_vm_lifecycle_total", map[string]string{"host": vc, "vm": "dc01", "user": "alice", "action": "clone"}, 2},
		{"vsphere_audit_vm_lifecycle_total", map[string]string{"host": vc, "vm": "dc01", "user": "alice", "action": "export"}, 1},
		{"vsphere_audit_vm_disk_changes_total", map[string]string{"host": vc, "vm": sv0.Name, "user": op, "action": "add", "cross_vm": "true"}, 1},
		{"vsphere_audit_vm_disk_changes_total", map[string]string{"host": vc, "vm": sv0.Name, "user": op, "action": "add", "cross_vm": "false"}, 1},
		{"vsphere_audit_vm_disk_changes_total", map[string]string{"host": vc, "vm": sv0.Name, "user": op, "action": "edit", "cross_vm": "false"}, 1},
		{"vsphere_audit_vm_disk_changes_total", map[string]string{"host": vc, "vm": sv0.Name, "user": op, "action": "remove", "cross_vm": "false"}, 1},
		{"vsphere_audit_vm_snapshots_total", map[string]string{"host": vc, "vm": "dc01", "user": "bob@corp", "action": "remove_all"}, 1},
		// The failed revert task is an event, not a revert counted.
		{"vsphere_audit_vm_snapshots_total", map[string]string{"host": vc, "vm": "dc01", "user": "alice", "action": "revert"}, 1},
		{"vsphere_audit_guest_operations_total", map[string]string{"host": vc, "vm": "dc01", "user": "svc-backup", "operation": "Start Program", "outcome": "success"}, 1},
		{"vsphere_audit_guest_operations_total", map[string]string{"host": vc, "vm": "dc01", "user": "svc-backup", "operation": "startProgram", "outcome": "failure"}, 1},
		{"vsphere_audit_host_power_total", map[string]string{"host": h.Name, "action": "reboot"}, 2},
		{"vsphere_audit_host_power_total", map[string]string{"host": h.Name, "action": "shutdown"}, 1},
		{"vsphere_audit_config_changes_total", map[string]string{"host": h.Name, "user": "root", "setting": "exec_installed_only", "action": "disabled"}, 1},
		{"vsphere_audit_access_denied_total", map[string]string{"host": h.Name, "user": "", "client_ip": ""}, 1},
		{"vsphere_audit_logging_failures_total", map[string]string{"host": h.Name}, 1},
	}
	for _, sr := range series {
		if v := counterValue(t, reg, sr.name, sr.labels); v != sr.want {
			t.Errorf("%s%v = %v, want %v", sr.name, sr.labels, v, sr.want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "vsphere_audit_vm_disk_changes_total"); n != 4 || err != nil {
		t.Errorf("%d vm_disk_changes series, want 4", n)
	}
}

// counterValue is the value of the counter name whose labels are exactly
// want (every label named, no other), or -1.
func counterValue(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			if len(m.Label) == len(want) && labelsMatch(m, want) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

package vcenter

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/labels"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/metrics"
)

// fuzzEvent builds the event of shape class (an EventEx or ExtendedEvent
// of a table id or of any id, or one of the typed classes the mapping
// reads fields of) from fuzzed strings.
func fuzzEvent(class uint8, idx uint16, typeID, user, host, vm, msg, key, a1, a2 string, created int64) types.BaseEvent {
	base := types.Event{Key: int32(idx), CreatedTime: time.Unix(created%(1<<34), 0).UTC(), UserName: user, FullFormattedMessage: msg}
	if host != "" {
		base.Host = &types.HostEventArgument{Host: types.ManagedObjectReference{Type: "HostSystem", Value: "host-1"},
			EntityEventArgument: types.EntityEventArgument{Name: host}}
	}
	if vm != "" {
		base.Vm = &types.VmEventArgument{Vm: types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-1"},
			EntityEventArgument: types.EntityEventArgument{Name: vm}}
	}
	ids := FilterTypes()
	id := ids[int(idx)%len(ids)]
	ex := func(id string) *types.EventEx {
		objType := "HostSystem"
		if idx&1 == 1 {
			objType = "VirtualMachine"
		}
		return &types.EventEx{Event: base, EventTypeId: id, Message: msg, ObjectType: objType, ObjectName: a2,
			Arguments: []types.KeyAnyValue{{Key: key, Value: a1}, {Key: "1", Value: a2}, {Key: "2", Value: a1},
				{Key: "user", Value: user}, {Key: "operationName", Value: a2}, {Key: "srcHost", Value: a1}}}
	}
	switch class % 4 {
	case 0:
		return ex(id)
	case 1:
		return &types.ExtendedEvent{GeneralEvent: types.GeneralEvent{Event: base, Message: msg}, EventTypeId: id,
			Data: []types.ExtendedEventPair{{Key: key, Value: a1}, {Key: "1", Value: a2}, {Key: "2", Value: a1}, {Key: "ipAddress", Value: a2}}}
	case 2:
		return ex(typeID)
	}
	hostArg := types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: a1}}
	typed := []types.BaseEvent{
		&types.UserLoginSessionEvent{SessionEvent: types.SessionEvent{Event: base}, IpAddress: a1, UserAgent: a2},
		&types.UserLogoutSessionEvent{SessionEvent: types.SessionEvent{Event: base}, IpAddress: a1},
		&types.BadUsernameSessionEvent{SessionEvent: types.SessionEvent{Event: base}, IpAddress: a1},
		&types.SessionTerminatedEvent{SessionEvent: types.SessionEvent{Event: base}, TerminatedUsername: a1},
		&types.VmAcquiredTicketEvent{VmEvent: types.VmEvent{Event: base}, TicketType: a1},
		&types.VmAcquiredMksTicketEvent{VmEvent: types.VmEvent{Event: base}},
		&types.VmMigratedEvent{VmEvent: types.VmEvent{Event: base}, SourceHost: hostArg},
		&types.DrsVmMigratedEvent{VmMigratedEvent: types.VmMigratedEvent{VmEvent: types.VmEvent{Event: base}, SourceHost: hostArg}},
		&types.VmRelocatedEvent{VmRelocateSpecEvent: types.VmRelocateSpecEvent{VmEvent: types.VmEvent{Event: base}}, SourceHost: hostArg},
		&types.VmPoweredOffEvent{VmEvent: types.VmEvent{Event: base}},
		&types.VmBeingClonedEvent{VmCloneEvent: types.VmCloneEvent{VmEvent: types.VmEvent{Event: base}}, DestName: a2, DestHost: hostArg},
		&types.VmClonedEvent{VmCloneEvent: types.VmCloneEvent{VmEvent: types.VmEvent{Event: base}},
			SourceVm: types.VmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: a2}}},
		&types.HostShutdownEvent{HostEvent: types.HostEvent{Event: base}, Reason: a1},
		&types.TaskEvent{Event: base, Info: types.TaskInfo{DescriptionId: typeID, EntityName: a2, State: types.TaskInfoState(a1),
			Entity: &types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-2"}, Reason: &types.TaskReasonUser{UserName: a1}}},
		&types.VmReconfiguredEvent{VmEvent: types.VmEvent{Event: base}, ConfigSpec: types.VirtualMachineConfigSpec{
			Files: &types.VirtualMachineFileInfo{VmPathName: a2},
			DeviceChange: []types.BaseVirtualDeviceConfigSpec{
				&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperation(typeID), Device: &types.VirtualDisk{
					VirtualDevice: types.VirtualDevice{Backing: &types.VirtualDiskFlatVer2BackingInfo{
						VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: a1}}}}},
				&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: &types.VirtualDisk{}},
				&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationRemove, Device: &types.VirtualCdrom{}},
			}}},
	}
	return typed[int(idx)%len(typed)]
}

// FuzzToAudit maps events whose every string is fuzzed, of every table id
// and of the typed classes the mapping reads: no panic, every audit event
// of a known kind, from the vCenter source, direct only for a login, and
// once recorded every label value of the metrics valid UTF-8 without
// control bytes, within the label length bound.
func FuzzToAudit(f *testing.F) {
	for i := range len(FilterTypes()) + 15 {
		for class := range uint8(4) {
			f.Add(class, uint16(i), "VirtualMachine.createSnapshot", "VSPHERE.LOCAL\\Administrator", "esx01.lab", "dc01",
				"User root@10.0.0.1 logged in as VMware vim-java 1.0", "user", "10.0.0.1", "root", int64(1700000000))
		}
	}
	f.Add(uint8(2), uint16(0), "esx.audit.ssh.enabled", "root\x00", "h\xff", "vm\n", "SSH access has been enabled", "userName", "\x7f", "", int64(-1))
	f.Add(uint8(3), uint16(14), "add", "u", "", "vm1", "", "", "[ds] other/other.vmdk", "[ds] vm1/vm1.vmx", int64(0))
	f.Fuzz(func(t *testing.T, class uint8, idx uint16, typeID, user, host, vm, msg, key, a1, a2 string, created int64) {
		ev := fuzzEvent(class, idx, typeID, user, host, vm, msg, key, a1, a2, created)
		out := ToAudit("vc01.lab", ev)
		reg := prometheus.NewRegistry()
		ms := metrics.NewSink(reg, metrics.Options{MaxSeries: 50})
		for _, e := range out {
			if !slices.Contains(audit.Kinds, e.Kind) {
				t.Fatalf("%s: audit event of unknown kind %q", TypeID(ev), e.Kind)
			}
			if e.Source != audit.SourceVCenter {
				t.Fatalf("%s: source %q", TypeID(ev), e.Source)
			}
			if e.Direct && e.Kind != audit.KindLogin {
				t.Fatalf("%s: direct %s event", TypeID(ev), e.Kind)
			}
			ms.Record(e)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatalf("%s: gather: %v", TypeID(ev), err)
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					v := lp.GetValue()
					if !utf8.ValidString(v) || len(v) > labels.DefaultMaxLabelLen || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
						t.Fatalf("%s: %s{%s=%q}: not a clean label value", TypeID(ev), mf.GetName(), lp.GetName(), v)
					}
				}
			}
		}
	})
}

// FuzzLoadCheckpoint: whatever bytes the checkpoint file holds, loading
// it never panics and either gives a checkpoint, which saves and loads
// back the same, or an error that names the file.
func FuzzLoadCheckpoint(f *testing.F) {
	f.Add([]byte(`{"vcenter":"vc01.lab","created_time":"2024-03-12T09:00:00.123456789Z","keys":[41,42]}` + "\n"))
	f.Add([]byte(`{"vcenter":"","created_time":"0001-01-01T00:00:00Z","keys":null}`))
	f.Add([]byte(`{"created_time":"2024-03-12T09:00:00+23:59","keys":[2147483647,-2147483648]}`))
	f.Add([]byte(`{"keys":[1e3]}`))
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "vcenter-fuzz.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadCheckpoint(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file %s", err, path)
			}
			if !c.IsZero() || c.VCenter != "" || c.Keys != nil {
				t.Fatalf("error %v with a checkpoint %+v", err, c)
			}
			return
		}
		if err := c.Save(path); err != nil {
			t.Fatalf("a loaded checkpoint %+v does not save: %v", c, err)
		}
		back, err := LoadCheckpoint(path)
		if err != nil {
			t.Fatalf("a saved checkpoint does not load: %v", err)
		}
		if back.VCenter != c.VCenter || !back.CreatedTime.Equal(c.CreatedTime) || !slices.Equal(back.Keys, c.Keys) {
			t.Fatalf("saved %+v, loaded back %+v", c, back)
		}
	})
}

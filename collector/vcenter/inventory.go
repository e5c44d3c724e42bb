package vcenter

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/console"
)

// HostServices maps the ESXi service keys to the audit service names.
var HostServices = map[string]string{
	"TSM-SSH": audit.ServiceSSH,
	"TSM":     audit.ServiceESXiShell,
	"DCUI":    audit.ServiceDCUI,
}

// HostProperties are the HostSystem properties the poller reads.
var HostProperties = []string{"name", "config.service", "config.lockdownMode"}

// PollHosts reads every host's SSH, ESXi Shell and DCUI state and its
// lockdown mode through a container view of the whole inventory.
func PollHosts(ctx context.Context, c *vim25.Client) ([]HostState, error) {
	m := view.NewManager(c)
	v, err := m.CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"HostSystem"}, true)
	if err != nil {
		return nil, err
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	var hosts []mo.HostSystem
	if err := v.Retrieve(ctx, []string{"HostSystem"}, HostProperties, &hosts); err != nil {
		return nil, err
	}
	out := make([]HostState, 0, len(hosts))
	for _, h := range hosts {
		hs := HostState{Host: h.Name}
		if h.Config != nil {
			if h.Config.Service != nil {
				for _, s := range h.Config.Service.Service {
					if name, ok := HostServices[s.Key]; ok {
						hs.Services = append(hs.Services, ServiceState{Service: name, Running: s.Running, Policy: strings.ToLower(s.Policy)})
					}
				}
			}
			hs.Lockdown = string(h.Config.LockdownMode)
		}
		slices.SortFunc(hs.Services, func(a, b ServiceState) int { return strings.Compare(a.Service, b.Service) })
		out = append(out, hs)
	}
	slices.SortFunc(out, func(a, b HostState) int { return strings.Compare(a.Host, b.Host) })
	return out, nil
}

// VMProperties are the VirtualMachine properties the VM poller reads: what
// VMware Tools reports of the guest's name and addresses, and the console
// settings of the configuration (extraConfig).
var VMProperties = []string{"name", "guest.hostName", "guest.ipAddress", "guest.net", "config.extraConfig"}

// The console settings of a VM's extraConfig (Broadcom's vSphere security
// configuration guide): lock the guest when its console is disconnected, and
// how many console connections may be open at once.
const (
	AutolockKey       = "tools.guest.desktop.autolock"
	MaxConnectionsKey = "RemoteDisplay.maxConnections"
)

// VMState is what the inventory says of one VM: its guest (for the
// console ledger) and its console settings.
type VMState struct {
	Guest console.Guest
	// Autolock: tools.guest.desktop.autolock is TRUE.
	Autolock bool
	// MaxConnections is RemoteDisplay.maxConnections, -1 when not set.
	MaxConnections int
}

// PollVMs reads every VM's guest host name and IP addresses (VMware
// Tools) and its console settings.
func PollVMs(ctx context.Context, c *vim25.Client) ([]VMState, error) {
	m := view.NewManager(c)
	v, err := m.CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return nil, err
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	var vms []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, VMProperties, &vms); err != nil {
		return nil, err
	}
	out := make([]VMState, 0, len(vms))
	for _, vm := range vms {
		st := VMState{Guest: console.Guest{VM: vm.Name}, MaxConnections: -1}
		if g := vm.Guest; g != nil {
			st.Guest.HostName = g.HostName
			if g.IpAddress != "" {
				st.Guest.IPs = append(st.Guest.IPs, g.IpAddress)
			}
			for _, n := range g.Net {
				for _, ip := range n.IpAddress {
					if !slices.Contains(st.Guest.IPs, ip) {
						st.Guest.IPs = append(st.Guest.IPs, ip)
					}
				}
			}
		}
		if vm.Config != nil {
			for _, bo := range vm.Config.ExtraConfig {
				o := bo.GetOptionValue()
				if o == nil {
					continue
				}
				val := strings.TrimSpace(fmt.Sprint(o.Value))
				switch {
				case strings.EqualFold(o.Key, AutolockKey):
					st.Autolock = strings.EqualFold(val, "true")
				case strings.EqualFold(o.Key, MaxConnectionsKey):
					if n, err := strconv.Atoi(val); err == nil && n >= 0 {
						st.MaxConnections = n
					}
				}
			}
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b VMState) int { return strings.Compare(a.Guest.VM, b.Guest.VM) })
	return out, nil
}

// Guests returns the guests of vms that VMware Tools reports a name or an
// address of.
func Guests(vms []VMState) []console.Guest {
	var out []console.Guest
	for _, v := range vms {
		if v.Guest.HostName != "" || len(v.Guest.IPs) > 0 {
			out = append(out, v.Guest)
		}
	}
	return out
}

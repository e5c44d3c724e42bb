package vcenter

import (
	"context"
	"slices"
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

// GuestProperties are the VirtualMachine properties the guest poller reads:
// what VMware Tools reports of the guest's name and addresses.
var GuestProperties = []string{"name", "guest.hostName", "guest.ipAddress", "guest.net"}

// PollGuests reads every VM's guest host name and IP addresses (VMware
// Tools), for the console ledger to map a guest's log lines to its VM. A
// VM whose Tools report nothing is left out.
func PollGuests(ctx context.Context, c *vim25.Client) ([]console.Guest, error) {
	m := view.NewManager(c)
	v, err := m.CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return nil, err
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	var vms []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, GuestProperties, &vms); err != nil {
		return nil, err
	}
	out := make([]console.Guest, 0, len(vms))
	for _, vm := range vms {
		if vm.Guest == nil {
			continue
		}
		g := console.Guest{VM: vm.Name, HostName: vm.Guest.HostName}
		if vm.Guest.IpAddress != "" {
			g.IPs = append(g.IPs, vm.Guest.IpAddress)
		}
		for _, n := range vm.Guest.Net {
			for _, ip := range n.IpAddress {
				if !slices.Contains(g.IPs, ip) {
					g.IPs = append(g.IPs, ip)
				}
			}
		}
		if g.HostName == "" && len(g.IPs) == 0 {
			continue
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b console.Guest) int { return strings.Compare(a.VM, b.VM) })
	return out, nil
}

// Package console keeps the console ledger's state: which VM a guest's log
// lines belong to (Mapper), and, per VM, whose console session the guest
// shows, so that a console opened through vCenter on a session another
// person left logged on is an event (Correlator, kind
// console_session_reused).
package console

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync"
)

// Guest is what the vCenter inventory says of a VM's guest (VMware Tools):
// its host name and addresses.
type Guest struct {
	VM       string
	HostName string
	IPs      []string
}

// Mapper maps a guest log line's host (a host name or an address) to the
// VM it runs in: first the --guest.map file, then the vCenter inventory,
// then the guest's name itself (its first DNS label, which the ledger
// compares with VM names case-insensitively). It is safe for concurrent
// use.
type Mapper struct {
	static map[string]string // from the map file: lower-case name or address -> VM
	mu     sync.RWMutex
	inv    map[string]map[string]string // per inventory source (a vCenter): lower-case name, first label, address -> VM
}

// NewMapper returns a Mapper with the static entries of static (host -> VM).
func NewMapper(static map[string]string) *Mapper {
	m := &Mapper{static: map[string]string{}, inv: map[string]map[string]string{}}
	for h, vm := range static {
		addNames(m.static, h, vm)
	}
	return m
}

// addNames maps the host name (and its first DNS label) or address h to vm.
func addNames(dst map[string]string, h, vm string) {
	h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
	if h == "" || vm == "" {
		return
	}
	dst[h] = vm
	if _, err := netip.ParseAddr(h); err == nil {
		return
	}
	if l := FirstLabel(h); l != h {
		if _, taken := dst[l]; !taken {
			dst[l] = vm
		}
	}
}

// SetInventory replaces what inventory source (a vCenter's name) says of
// its VMs' guests.
func (m *Mapper) SetInventory(source string, guests []Guest) {
	names := map[string]string{}
	for _, g := range guests {
		addNames(names, g.HostName, g.VM)
		for _, ip := range g.IPs {
			addNames(names, ip, g.VM)
		}
	}
	m.mu.Lock()
	m.inv[source] = names
	m.mu.Unlock()
}

// Known reports whether host is a guest by the map file or the inventory
// (not by the fallback of its name).
func (m *Mapper) Known(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "" {
		return false
	}
	if lookup(m.static, h) != "" {
		return true
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, names := range m.inv {
		if lookup(names, h) != "" {
			return true
		}
	}
	return false
}

// VM returns the VM of the guest that logs as host.
func (m *Mapper) VM(host string) string {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "" {
		return ""
	}
	if vm := lookup(m.static, h); vm != "" {
		return vm
	}
	m.mu.RLock()
	for _, names := range m.inv {
		if vm := lookup(names, h); vm != "" {
			m.mu.RUnlock()
			return vm
		}
	}
	m.mu.RUnlock()
	if _, err := netip.ParseAddr(h); err == nil {
		return "" // an address names no VM by itself
	}
	return FirstLabel(host)
}

func lookup(names map[string]string, h string) string {
	if vm, ok := names[h]; ok {
		return vm
	}
	if vm, ok := names[FirstLabel(h)]; ok {
		return vm
	}
	return ""
}

// FirstLabel returns the first DNS label of a host name ("DC01" of
// "DC01.corp.example.com").
func FirstLabel(h string) string {
	if i := strings.IndexByte(h, '.'); i > 0 {
		return h[:i]
	}
	return h
}

// ReadMap reads a --guest.map file: one "vm=hostname" a line (the host
// name or address the guest logs with), "#" comments and blank lines
// ignored. A VM may have several lines (names and addresses).
func ReadMap(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--guest.map: %w", err)
	}
	defer f.Close()
	m, err := parseMap(f)
	if err != nil {
		return nil, fmt.Errorf("--guest.map %s: %w", path, err)
	}
	return m, nil
}

func parseMap(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		vm, host, ok := strings.Cut(line, "=")
		vm, host = strings.TrimSpace(vm), strings.TrimSpace(host)
		if !ok || vm == "" || host == "" || strings.ContainsAny(host, " \t") {
			return nil, fmt.Errorf("line %d: %q is not vm=hostname", n, line)
		}
		if prev, dup := out[strings.ToLower(host)]; dup && prev != vm {
			return nil, fmt.Errorf("line %d: %s is mapped to both %s and %s", n, host, prev, vm)
		}
		out[strings.ToLower(host)] = vm
	}
	return out, sc.Err()
}

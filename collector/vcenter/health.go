package vcenter

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/labels"
)

const namespace = labels.Namespace

// ErrorReasons are the reasons of vsphere_audit_vcenter_errors_total: a
// fixed vocabulary.
var ErrorReasons = []string{"login", "tls", "network", "not_authenticated", "collector_lost", "checkpoint", "checkpoint_ahead", "inventory", "other"}

// Health holds the metrics of the vCenter API path: the tailers'
// health and the hosts' live service and lockdown state. Methods are safe
// on a nil receiver (no metrics).
type Health struct {
	Up             *prometheus.GaugeVec
	EventsRead     *prometheus.CounterVec
	Errors         *prometheus.CounterVec
	LastEvent      *prometheus.GaugeVec
	Checkpoint     *prometheus.GaugeVec
	ServiceRunning *prometheus.GaugeVec
	ServicePolicy  *prometheus.GaugeVec
	LockdownMode   *prometheus.GaugeVec
	Guests         *prometheus.GaugeVec
	Autolock       *prometheus.GaugeVec
	MaxConnections *prometheus.GaugeVec

	mu    sync.Mutex
	hosts map[string][]prometheus.Labels // per vCenter: the host series set last time
	vms   map[string][]string            // per vCenter: the VMs of the console setting series
}

// NewHealth registers the vCenter metrics on reg.
func NewHealth(reg prometheus.Registerer) *Health {
	h := &Health{
		Up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "vcenter", Name: "up",
			Help: "1 if the exporter is logged in to the vCenter and its last event read succeeded."}, []string{"vcenter"}),
		EventsRead: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "vcenter", Name: "events_read_total",
			Help: "Events read from the vCenter's event history, by event class or id (\"other\" for classes the exporter does not map)."}, []string{"vcenter", "type"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "vcenter", Name: "errors_total",
			Help: "Errors talking to the vCenter, by reason (login, tls, network, not_authenticated, collector_lost, checkpoint, checkpoint_ahead, inventory, other; checkpoint_ahead: the checkpoint was ahead of the vCenter's clock and the tailer resumed from the vCenter's time minus 10m)."}, []string{"vcenter", "reason"}),
		LastEvent: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "vcenter", Name: "last_event_timestamp_seconds",
			Help: "Creation time (vCenter clock) of the newest event read from the vCenter."}, []string{"vcenter"}),
		Checkpoint: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "vcenter", Name: "checkpoint_timestamp_seconds",
			Help: "Creation time of the newest event recorded in the vCenter's checkpoint file."}, []string{"vcenter"}),
		ServiceRunning: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "host", Name: "service_running",
			Help: "1 if the host's service (ssh, esxi_shell, dcui) is running, from the vCenter inventory."}, []string{"vcenter", "host", "service"}),
		ServicePolicy: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "host", Name: "service_policy",
			Help: "The startup policy of the host's service (on, off, automatic); always 1."}, []string{"vcenter", "host", "service", "policy"}),
		LockdownMode: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "host", Name: "lockdown_mode",
			Help: "1 for the host's current lockdown mode (lockdownDisabled, lockdownNormal, lockdownStrict)."}, []string{"vcenter", "host", "mode"}),
		Guests: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "vcenter", Name: "guests",
			Help: "VMs of the vCenter whose guest host name or addresses VMware Tools reports, from the last inventory read (the console ledger maps guest log lines to VMs by them)."}, []string{"vcenter"}),
		Autolock: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "vm_console_autolock",
			Help: "1 if the VM's guest is locked when its console disconnects (extraConfig tools.guest.desktop.autolock = TRUE), 0 if not, from the vCenter inventory."}, []string{"vcenter", "vm"}),
		MaxConnections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "vm_console_max_connections",
			Help: "The VM's RemoteDisplay.maxConnections (console connections open at once), from the vCenter inventory; no series when it is not set."}, []string{"vcenter", "vm"}),
		hosts: map[string][]prometheus.Labels{},
		vms:   map[string][]string{},
	}
	reg.MustRegister(h.Up, h.EventsRead, h.Errors, h.LastEvent, h.Checkpoint, h.ServiceRunning, h.ServicePolicy, h.LockdownMode, h.Guests, h.Autolock, h.MaxConnections)
	return h
}

// Init creates the series of vCenter vc (down, no errors yet).
func (h *Health) Init(vc string) {
	if h == nil {
		return
	}
	h.Up.WithLabelValues(vc).Set(0)
	for _, r := range ErrorReasons {
		h.Errors.WithLabelValues(vc, r)
	}
}

// SetUp sets the up gauge.
func (h *Health) SetUp(vc string, up bool) {
	if h == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	h.Up.WithLabelValues(vc).Set(v)
}

// Error counts an error; reason must be one of ErrorReasons.
func (h *Health) Error(vc, reason string) {
	if h == nil {
		return
	}
	h.Errors.WithLabelValues(vc, reason).Inc()
}

// Read counts an event read, typ from a bounded set.
func (h *Health) Read(vc, typ string, ts float64) {
	if h == nil {
		return
	}
	h.EventsRead.WithLabelValues(vc, typ).Inc()
	g := h.LastEvent.WithLabelValues(vc)
	if ts > currentValue(g) {
		g.Set(ts)
	}
}

// SetCheckpoint sets the checkpoint gauge.
func (h *Health) SetCheckpoint(vc string, ts float64) {
	if h == nil {
		return
	}
	h.Checkpoint.WithLabelValues(vc).Set(ts)
}

// HostState is one host's live state from the inventory.
type HostState struct {
	Host     string
	Services []ServiceState
	Lockdown string // lockdownDisabled, lockdownNormal, lockdownStrict; "" when unknown
}

// ServiceState is one service's state.
type ServiceState struct {
	Service string // ssh, esxi_shell, dcui
	Running bool
	Policy  string // on, off, automatic
}

// SetGuests records how many VMs of vCenter vc have a guest name or address.
func (h *Health) SetGuests(vc string, n int) {
	if h == nil {
		return
	}
	h.Guests.WithLabelValues(vc).Set(float64(n))
}

// SetVMs replaces the console setting series of vCenter vc with vms'.
func (h *Health) SetVMs(vc string, vms []VMState) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := make([]string, 0, len(vms))
	seen := map[string]bool{}
	for _, v := range vms {
		name := v.Guest.VM
		if seen[name] {
			continue // two VMs of one name in different folders: the first
		}
		seen[name] = true
		now = append(now, name)
		lock := 0.0
		if v.Autolock {
			lock = 1
		}
		h.Autolock.WithLabelValues(vc, name).Set(lock)
		if v.MaxConnections >= 0 {
			h.MaxConnections.WithLabelValues(vc, name).Set(float64(v.MaxConnections))
		} else {
			h.MaxConnections.DeleteLabelValues(vc, name)
		}
	}
	for _, name := range h.vms[vc] {
		if !seen[name] {
			h.Autolock.DeleteLabelValues(vc, name)
			h.MaxConnections.DeleteLabelValues(vc, name)
		}
	}
	h.vms[vc] = now
}

// SetHosts replaces the host series of vCenter vc with hosts.
func (h *Health) SetHosts(vc string, hosts []HostState) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var now []prometheus.Labels
	keep := map[string]bool{}
	key := func(l prometheus.Labels, m string) string {
		return m + "\x00" + l["host"] + "\x00" + l["service"] + "\x00" + l["policy"] + "\x00" + l["mode"]
	}
	for _, hs := range hosts {
		for _, s := range hs.Services {
			v := 0.0
			if s.Running {
				v = 1
			}
			l := prometheus.Labels{"vcenter": vc, "host": hs.Host, "service": s.Service}
			h.ServiceRunning.With(l).Set(v)
			now = append(now, l)
			keep[key(l, "r")] = true
			if s.Policy != "" {
				lp := prometheus.Labels{"vcenter": vc, "host": hs.Host, "service": s.Service, "policy": s.Policy}
				h.ServicePolicy.With(lp).Set(1)
				now = append(now, lp)
				keep[key(lp, "p")] = true
			}
		}
		if hs.Lockdown != "" {
			l := prometheus.Labels{"vcenter": vc, "host": hs.Host, "mode": hs.Lockdown}
			h.LockdownMode.With(l).Set(1)
			now = append(now, l)
			keep[key(l, "l")] = true
		}
	}
	for _, l := range h.hosts[vc] {
		switch {
		case l["mode"] != "":
			if !keep[key(l, "l")] {
				h.LockdownMode.Delete(l)
			}
		case l["policy"] != "":
			if !keep[key(l, "p")] {
				h.ServicePolicy.Delete(l)
			}
		default:
			if !keep[key(l, "r")] {
				h.ServiceRunning.Delete(l)
			}
		}
	}
	h.hosts[vc] = now
}

func currentValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil || m.Gauge == nil {
		return 0
	}
	return m.Gauge.GetValue()
}

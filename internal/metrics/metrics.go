// Package metrics is the Prometheus sink: it turns audit events into
// counters and last-seen gauges with bounded label cardinality (package
// labels). The sources keep their own health metrics.
package metrics

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/labels"
)

// Namespace prefixes every metric.
const Namespace = labels.Namespace

// Options configure the sink.
type Options struct {
	// MaxSeries caps the label sets of each audit metric (default 10000).
	MaxSeries int
	// MaxLabelLen caps one label value in bytes (default 128).
	MaxLabelLen int
}

// family is a counter with its last-seen gauge over the same labels. It
// keeps its series (children) itself, so that counting an event is a map
// lookup, and caps their number: beyond MaxSeries new label sets go to one
// overflow series and are counted in vsphere_audit_label_overflow_total.
type family struct {
	total    *prometheus.CounterVec
	lastSeen *prometheus.GaugeVec
	name     string
	max      int
	maxLen   int
	overflow prometheus.Counter

	mu     sync.Mutex
	buf    []byte
	series map[string]*series
	ov     *series
}

type series struct {
	total  prometheus.Counter
	last   prometheus.Gauge
	lastTS float64
}

func (f *family) get(vals []string) *series {
	for i, v := range vals {
		vals[i] = labels.Clean(v, f.maxLen) // no allocation for a clean value
	}
	f.buf = f.buf[:0]
	for _, v := range vals {
		f.buf = append(f.buf, v...)
		f.buf = append(f.buf, 0xff)
	}
	if s := f.series[string(f.buf)]; s != nil {
		return s
	}
	if len(f.series) >= f.max {
		f.overflow.Inc()
		if f.ov == nil {
			ov := make([]string, len(vals))
			for i := range ov {
				ov[i] = labels.Overflow
			}
			f.ov = f.newSeries(ov)
		}
		return f.ov
	}
	key := string(f.buf)
	s := f.newSeries(append([]string(nil), vals...))
	f.series[key] = s
	return s
}

func (f *family) newSeries(vals []string) *series {
	s := &series{total: f.total.WithLabelValues(vals...)}
	if f.lastSeen != nil {
		s.last = f.lastSeen.WithLabelValues(vals...)
	}
	return s
}

func (f *family) observe(ts float64, vals ...string) {
	f.mu.Lock()
	s := f.get(vals)
	s.total.Inc()
	// Last seen means the newest event, even when events arrive out of order.
	if s.last != nil && ts > s.lastTS {
		s.lastTS = ts
		s.last.Set(ts)
	}
	f.mu.Unlock()
}

// stateGauge is a state (1 or 0) per label set with the event time of the
// change that set it. The newest change by event time wins, not the last
// to arrive: a late "enabled" stamped 10:30 does not undo a "disabled"
// stamped 11:00 (syslog over UDP, relays and the vCenter replay deliver
// out of order). At equal times the later arrival wins.
type stateGauge struct {
	state *prometheus.GaugeVec
	time  *prometheus.GaugeVec
	lim   *labels.Limiter

	mu  sync.Mutex
	buf []byte
	ts  map[string]float64 // event time of the current state, by label set
}

func newStateGauge(reg prometheus.Registerer, o Options, overflow *prometheus.CounterVec, name, tsName, help string, lbls ...string) *stateGauge {
	g := &stateGauge{
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, lbls),
		time: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: tsName,
			Help: "Event time of the change that set " + Namespace + "_" + name + "."}, lbls),
		lim: labels.NewLimiter(Namespace+"_"+name, len(lbls), o.MaxSeries, o.MaxLabelLen, overflow),
		ts:  map[string]float64{},
	}
	reg.MustRegister(g.state, g.time)
	return g
}

// set records state v stamped ts unless a newer state is held.
func (g *stateGauge) set(ts, v float64, vals ...string) {
	vals = g.lim.Admit(vals)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.buf = g.buf[:0]
	for _, v := range vals {
		g.buf = append(g.buf, v...)
		g.buf = append(g.buf, 0xff)
	}
	if prev, ok := g.ts[string(g.buf)]; ok && ts < prev {
		return
	}
	g.ts[string(g.buf)] = ts
	g.state.WithLabelValues(vals...).Set(v)
	g.time.WithLabelValues(vals...).Set(ts)
}

// WithLabelValues returns the state gauge of a label set (for tests).
func (g *stateGauge) WithLabelValues(vals ...string) prometheus.Gauge {
	return g.state.WithLabelValues(vals...)
}

// Sink records audit events as metrics. It implements audit.Sink and
// is safe for concurrent use.
type Sink struct {
	o        Options
	overflow *prometheus.CounterVec

	events        *family
	logins        *family
	failures      *family
	logouts       *family
	locks         *family
	services      *family
	serviceState  *stateGauge
	lockdown      *family
	lockdownState *stateGauge
	consoles      *family
	migrations    *family
	commands      *family
	permissions   *family
	configs       *family
	logging       *family
	power         *family
	snapshots     *family
	disks         *family
	lifecycle     *family
	guestOps      *family
	datastore     *family
	denied        *family
	hostPower     *family
}

// Bounds are the sink's label caps and overflow counter, for the other
// metrics of the process (the sources' health) to share.
func (s *Sink) Bounds() labels.Bounds {
	return labels.Bounds{MaxSeries: s.o.MaxSeries, MaxLabelLen: s.o.MaxLabelLen, Overflow: s.overflow}
}

// NewSink registers the audit metrics on reg.
func NewSink(reg prometheus.Registerer, o Options) *Sink {
	if o.MaxSeries <= 0 {
		o.MaxSeries = 10000
	}
	if o.MaxLabelLen <= 0 {
		o.MaxLabelLen = labels.DefaultMaxLabelLen
	}
	s := &Sink{o: o}
	s.overflow = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "label_overflow_total",
		Help: "Samples that went to a metric's overflow series (all labels \"" + labels.Overflow + "\") because the metric reached its series cap.",
	}, []string{"metric"})
	reg.MustRegister(s.overflow)

	fam := func(name, help, seenHelp string, labels ...string) *family {
		full := Namespace + "_" + name + "_total"
		f := &family{
			total:    prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name + "_total", Help: help}, labels),
			name:     full,
			max:      o.MaxSeries,
			maxLen:   o.MaxLabelLen,
			overflow: s.overflow.WithLabelValues(full),
			series:   map[string]*series{},
		}
		reg.MustRegister(f.total)
		if seenHelp != "" {
			f.lastSeen = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name + "_last_seen_timestamp_seconds", Help: seenHelp}, labels)
			reg.MustRegister(f.lastSeen)
		}
		return f
	}
	s.events = fam("events", "Audit events by source, host and kind.", "", "source", "host", "kind")
	s.logins = fam("logins", "Successful logins. direct=\"true\" marks a login to an ESXi host that bypassed vCenter.",
		"Time of the newest successful login with these labels.", "host", "user", "client_ip", "method", "direct")
	s.failures = fam("login_failures", "Failed login attempts.",
		"Time of the newest failed login with these labels.", "host", "user", "client_ip", "method")
	s.logouts = fam("logouts", "Sessions ended.", "", "host", "user", "client_ip", "method")
	s.locks = fam("account_locks", "Accounts locked after repeated login failures.",
		"Time of the newest account lock.", "host", "user")
	s.services = fam("service_changes", "SSH, ESXi Shell and DCUI enabled or disabled (state).",
		"Time of the newest change to this state.", "host", "service", "state")
	s.serviceState = newStateGauge(reg, o, s.overflow, "service_enabled", "service_state_timestamp_seconds",
		"1 if the newest change seen for the service (by event time) enabled it, 0 if it disabled it.", "host", "service")
	s.lockdown = fam("lockdown_changes", "Lockdown mode entered (state=\"enabled\") or left (state=\"disabled\").",
		"Time of the newest lockdown change to this state.", "host", "state")
	s.lockdownState = newStateGauge(reg, o, s.overflow, "lockdown_enabled", "lockdown_state_timestamp_seconds",
		"1 if the newest lockdown change seen (by event time) entered lockdown mode, 0 if it left it.", "host")
	s.consoles = fam("console_opened", "VM console sessions opened (console tickets issued).",
		"Time of the newest console opening with these labels.", "host", "vm", "user", "ticket_type")
	s.migrations = fam("vm_migrations", "VM migrations; user=\"DRS\" for DRS-initiated ones.",
		"Time of the newest migration with these labels.", "vm", "user", "source_host", "target_host")
	s.commands = fam("shell_commands", "Commands run in the ESXi Shell or over SSH; technique is the MITRE ATT&CK id of a known ESXi attack pattern the command matches (\"\" for none).",
		"Time of the newest command with these labels.", "host", "user", "technique")
	s.permissions = fam("permission_changes", "Permission, role and account changes (type).",
		"Time of the newest change with these labels.", "host", "user", "type")
	s.configs = fam("config_changes", "Security-relevant configuration changes (setting: syslog, firewall, acceptance_level, ...; action: enabled, disabled, lowered, or set when the direction is unknown).",
		"Time of the newest change with these labels.", "host", "user", "setting", "action")
	s.logging = fam("logging_failures", "Hosts reporting that remote logging or audit record storage failed or lost messages.",
		"Time of the newest logging failure.", "host")
	s.power = fam("vm_power", "VM power operations (action: on, off, reset, suspend, kill).",
		"Time of the newest power operation with these labels.", "host", "vm", "user", "action")
	s.snapshots = fam("vm_snapshots", "VM snapshot operations (action: create, remove, remove_all, revert, rename).",
		"Time of the newest snapshot operation with these labels.", "host", "vm", "user", "action")
	s.disks = fam("vm_disk_changes", "Virtual disks added, edited or removed (action); cross_vm=\"true\" when the disk's file lies in another VM's folder.",
		"Time of the newest disk change with these labels.", "host", "vm", "user", "action", "cross_vm")
	s.lifecycle = fam("vm_lifecycle", "VMs created, deleted, registered, unregistered, cloned or exported (action).",
		"Time of the newest lifecycle operation with these labels.", "host", "vm", "user", "action")
	s.guestOps = fam("guest_operations", "Guest operations (VMware Tools: programs started, files transferred) run in a VM, by operation and outcome.",
		"Time of the newest guest operation with these labels.", "host", "vm", "user", "operation", "outcome")
	s.datastore = fam("datastore_access", "Datastore files browsed or downloaded over HTTP (the path is in the event, not a label).",
		"Time of the newest datastore access with these labels.", "host", "user", "client_ip")
	s.denied = fam("access_denied", "Operations denied by an authorization check (the object is in the event, not a label).",
		"Time of the newest denial with these labels.", "host", "user", "client_ip")
	s.hostPower = fam("host_power", "ESXi hosts shut down or rebooted (action).",
		"Time of the newest shutdown or reboot.", "host", "action")
	return s
}

// Record implements audit.Sink.
func (s *Sink) Record(e audit.Event) {
	ts := float64(e.Time.UnixNano()) / 1e9
	s.events.observe(ts, e.Source, e.Host, string(e.Kind))
	if e.Outcome == audit.OutcomeFailure && !countsFailures(e.Kind) {
		// An attempt that failed changed nothing: it is an event (replay,
		// events_total) but not counted as the change it tried.
		return
	}
	switch e.Kind {
	case audit.KindLogin:
		s.logins.observe(ts, e.Host, e.User, e.ClientIP, e.Method, strconv.FormatBool(e.Direct))
	case audit.KindLoginFailed:
		s.failures.observe(ts, e.Host, e.User, e.ClientIP, e.Method)
	case audit.KindLogout:
		s.logouts.observe(ts, e.Host, e.User, e.ClientIP, e.Method)
	case audit.KindAccountLocked:
		s.locks.observe(ts, e.Host, e.User)
	case audit.KindServiceEnabled, audit.KindServiceDisabled:
		state, v := "enabled", 1.0
		if e.Kind == audit.KindServiceDisabled {
			state, v = "disabled", 0
		}
		s.services.observe(ts, e.Host, e.Service, state)
		s.serviceState.set(ts, v, e.Host, e.Service)
	case audit.KindLockdownEnabled, audit.KindLockdownDisabled:
		state, v := "enabled", 1.0
		if e.Kind == audit.KindLockdownDisabled {
			state, v = "disabled", 0
		}
		s.lockdown.observe(ts, e.Host, state)
		s.lockdownState.set(ts, v, e.Host)
	case audit.KindConsoleOpened:
		s.consoles.observe(ts, e.Host, e.VM, e.User, e.TicketType)
	case audit.KindVMMigrated:
		s.migrations.observe(ts, e.VM, e.User, e.SourceHost, e.TargetHost)
	case audit.KindShellCommand:
		s.commands.observe(ts, e.Host, e.User, e.Technique)
	case audit.KindPermissionChanged:
		s.permissions.observe(ts, e.Host, e.User, "permission")
	case audit.KindRoleChanged:
		s.permissions.observe(ts, e.Host, e.User, "role")
	case audit.KindAccountChanged:
		s.permissions.observe(ts, e.Host, e.User, "account")
	case audit.KindConfigChanged:
		s.configs.observe(ts, e.Host, e.User, e.Setting, e.Action)
	case audit.KindLoggingFailed:
		s.logging.observe(ts, e.Host)
	case audit.KindVMPower:
		s.power.observe(ts, e.Host, e.VM, e.User, e.Action)
	case audit.KindVMSnapshot:
		s.snapshots.observe(ts, e.Host, e.VM, e.User, e.Action)
	case audit.KindVMDiskChanged:
		s.disks.observe(ts, e.Host, e.VM, e.User, e.Action, strconv.FormatBool(e.CrossVM))
	case audit.KindVMLifecycle:
		s.lifecycle.observe(ts, e.Host, e.VM, e.User, e.Action)
	case audit.KindGuestOperation:
		s.guestOps.observe(ts, e.Host, e.VM, e.User, e.Operation, e.Outcome)
	case audit.KindDatastoreAccess:
		s.datastore.observe(ts, e.Host, e.User, e.ClientIP)
	case audit.KindAccessDenied:
		s.denied.observe(ts, e.Host, e.User, e.ClientIP)
	case audit.KindHostPower:
		s.hostPower.observe(ts, e.Host, e.Action)
	}
}

// countsFailures reports whether the metric of kind k counts failed
// attempts too: failures are what login_failed and access_denied count,
// guest_operations has an outcome label, and a shell command that exited
// non-zero still ran.
func countsFailures(k audit.Kind) bool {
	switch k {
	case audit.KindLoginFailed, audit.KindAccessDenied, audit.KindGuestOperation, audit.KindShellCommand,
		audit.KindAccountLocked, audit.KindLoggingFailed:
		return true
	}
	return false
}

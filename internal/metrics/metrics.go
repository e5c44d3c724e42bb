// Package metrics is the Prometheus sink: it turns audit events into
// counters and last-seen gauges with bounded label cardinality (package
// labels). The sources keep their own health metrics.
package metrics

import (
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/labels"
)

// Namespace prefixes every metric.
const Namespace = labels.Namespace

// Options configure the sink.
type Options struct {
	// MaxSeries caps the label sets of each audit metric (default 10000).
	MaxSeries int
	// MaxTotalSeries caps the series of all audit metrics together, and
	// of the sources' per-host metrics that share the sink's Bounds
	// (default 50000; a counter and its last-seen gauge are two series).
	MaxTotalSeries int
	// PagingReserve is the part of MaxTotalSeries that only label sets
	// that page may take (default a tenth of it).
	PagingReserve int
	// SeriesTTL drops a label set not observed for this long (default
	// 35 days: the 30-day review and some margin); negative: never.
	SeriesTTL time.Duration
	// MaxLabelLen caps one label value in bytes (default 128).
	MaxLabelLen int
	// Now is the wall clock the TTL reads (default time.Now).
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultMaxSeries      = 10000
	DefaultMaxTotalSeries = 50000
	DefaultSeriesTTL      = 35 * 24 * time.Hour
)

// Sink records audit events as metrics. It implements audit.Sink and
// prometheus.Gatherer (its audit metrics are not in the registry passed to
// NewSink: serve them with Merge) and is safe for concurrent use.
type Sink struct {
	o        Options
	budget   *labels.Budget
	overflow *prometheus.CounterVec
	paging   *prometheus.CounterVec
	expired  prometheus.Counter
	families []*family

	sweepMu   sync.Mutex
	lastSweep time.Time

	events        *family
	logins        *family
	failures      *family
	logouts       *family
	locks         *family
	services      *family
	serviceState  *family
	lockdown      *family
	lockdownState *family
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
	guestLogons   *family
	guestLogoffs  *family
	reused        *family
}

// Bounds are the sink's label caps, series budget and overflow counter,
// for the other metrics of the process (the sources' health) to share.
func (s *Sink) Bounds() labels.Bounds {
	return labels.Bounds{MaxSeries: s.o.MaxSeries, MaxLabelLen: s.o.MaxLabelLen, Overflow: s.overflow, Budget: s.budget}
}

// The settings whose change pages (alerts/vsphere-audit.rules.yml).
var pagingSettings = []string{"syslog", "firewall", "acceptance_level", "audit_records", "exec_installed_only"}

// NewSink registers the sink's own health metrics on reg and returns it.
func NewSink(reg prometheus.Registerer, o Options) *Sink {
	if o.MaxSeries <= 0 {
		o.MaxSeries = DefaultMaxSeries
	}
	if o.MaxTotalSeries == 0 {
		o.MaxTotalSeries = DefaultMaxTotalSeries
	}
	if o.PagingReserve <= 0 {
		o.PagingReserve = o.MaxTotalSeries / 10
	}
	if o.SeriesTTL == 0 {
		o.SeriesTTL = DefaultSeriesTTL
	}
	if o.MaxLabelLen <= 0 {
		o.MaxLabelLen = labels.DefaultMaxLabelLen
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Sink{o: o, budget: labels.NewBudget(o.MaxTotalSeries, o.PagingReserve), lastSweep: o.Now()}
	s.overflow = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "label_overflow_total",
		Help: "Samples that went to a metric's overflow series (labels \"" + labels.Overflow + "\" but those of bounded vocabularies such as kind, action, direct) because the metric reached its series cap or the process its series budget.",
	}, []string{"metric"})
	s.paging = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "paging_overflow_total",
		Help: "Samples of label sets that page (a direct login, an attack technique, ...) that went to an overflow series: the budget's reserve for them is full. Their kind and bounded labels are kept, so the alert still fires, without the user or host.",
	}, []string{"metric"})
	s.expired = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "series_expired_total",
		Help: "Audit label sets dropped because they were not observed for --metrics.series-ttl.",
	})
	reg.MustRegister(s.overflow, s.paging, s.expired,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "series",
			Help: "Series charged to the series budget (audit metrics and the sources' per-host metrics; a counter and its last-seen gauge are two)."},
			func() float64 { return float64(s.budget.Used()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "series_limit",
			Help: "The series budget (--metrics.max-total-series); 0 for none."},
			func() float64 { return float64(s.budget.Limit()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "series_paging_reserve",
			Help: "The part of the series budget only label sets that page may take."},
			func() float64 { return float64(s.budget.Reserve()) }),
	)

	add := func(sp spec) *family {
		f := newFamily(sp, o, s.budget)
		ov := s.overflow.WithLabelValues(sp.name)
		f.overflow = ov.Inc
		f.pagingOverflow = func() {}
		if f.paging() {
			f.pagingOverflow = s.paging.WithLabelValues(sp.name).Inc
		}
		s.families = append(s.families, f)
		return f
	}
	fam := func(name, help, seenHelp string, lbls ...string) spec {
		sp := spec{kind: counterFamily, name: Namespace + "_" + name + "_total", help: help, labels: lbls}
		if seenHelp != "" {
			sp.seenName, sp.seenHelp = Namespace+"_"+name+"_last_seen_timestamp_seconds", seenHelp
		}
		return sp
	}
	state := func(name, tsName, help string, lbls ...string) spec {
		return spec{kind: stateFamily, name: Namespace + "_" + name, help: help, labels: lbls,
			seenName: Namespace + "_" + tsName, seenHelp: "Event time of the change that set " + Namespace + "_" + name + "."}
	}
	keep := func(sp spec, l ...string) spec { sp.keep = l; return sp }
	pageIf := func(sp spec, label string, values ...string) spec {
		sp.page = append(sp.page, pageRule{label: label, values: values})
		return sp
	}
	pageAll := func(sp spec) spec { sp.pageAll = true; return sp }

	s.events = add(keep(fam("events", "Audit events by source, host and kind.", "", "source", "host", "kind"), "source", "kind"))
	s.logins = add(pageIf(keep(fam("logins", "Successful logins. direct=\"true\" marks a login to an ESXi host that bypassed vCenter.",
		"Time of the newest successful login with these labels.", "host", "user", "client_ip", "method", "direct"), "method", "direct"), "direct", "true"))
	s.failures = add(keep(fam("login_failures", "Failed login attempts.",
		"Time of the newest failed login with these labels.", "host", "user", "client_ip", "method"), "method"))
	s.logouts = add(keep(fam("logouts", "Sessions ended.", "", "host", "user", "client_ip", "method"), "method"))
	s.locks = add(fam("account_locks", "Accounts locked after repeated login failures.",
		"Time of the newest account lock.", "host", "user"))
	s.services = add(keep(fam("service_changes", "SSH, ESXi Shell and DCUI enabled or disabled (state).",
		"Time of the newest change to this state.", "host", "service", "state"), "service", "state"))
	s.serviceState = add(keep(state("service_enabled", "service_state_timestamp_seconds",
		"1 if the newest change seen for the service (by event time) enabled it, 0 if it disabled it.", "host", "service"), "service"))
	s.lockdown = add(pageIf(keep(fam("lockdown_changes", "Lockdown mode entered (state=\"enabled\") or left (state=\"disabled\").",
		"Time of the newest lockdown change to this state.", "host", "state"), "state"), "state", "disabled"))
	s.lockdownState = add(state("lockdown_enabled", "lockdown_state_timestamp_seconds",
		"1 if the newest lockdown change seen (by event time) entered lockdown mode, 0 if it left it.", "host"))
	s.consoles = add(pageAll(keep(fam("console_opened", "VM console sessions opened (console tickets issued).",
		"Time of the newest console opening with these labels.", "host", "vm", "user", "ticket_type"), "ticket_type")))
	s.migrations = add(fam("vm_migrations", "VM migrations by VM and initiator; user=\"DRS\" for DRS-initiated ones (the source and target hosts are in the event and the journal).",
		"Time of the newest migration with these labels.", "vm", "user"))
	s.commands = add(pageIf(keep(fam("shell_commands", "Commands run in the ESXi Shell or over SSH; technique is the MITRE ATT&CK id of a known ESXi attack pattern the command matches (\"\" for none).",
		"Time of the newest command with these labels.", "host", "user", "technique"), "technique"), "technique"))
	s.permissions = add(keep(fam("permission_changes", "Permission, role and account changes (type).",
		"Time of the newest change with these labels.", "host", "user", "type"), "type"))
	s.configs = add(pageIf(keep(fam("config_changes", "Security-relevant configuration changes (setting: syslog, firewall, acceptance_level, ...; action: enabled, disabled, lowered, or set when the direction is unknown).",
		"Time of the newest change with these labels.", "host", "user", "setting", "action"), "setting", "action"), "setting", pagingSettings...))
	s.logging = add(pageAll(fam("logging_failures", "Hosts reporting that remote logging or audit record storage failed or lost messages.",
		"Time of the newest logging failure.", "host")))
	s.power = add(pageIf(keep(fam("vm_power", "VM power operations (action: on, off, reset, suspend, kill).",
		"Time of the newest power operation with these labels.", "host", "vm", "user", "action"), "action"), "action", "off", "kill"))
	s.snapshots = add(pageAll(keep(fam("vm_snapshots", "VM snapshot operations (action: create, remove, remove_all, revert, rename).",
		"Time of the newest snapshot operation with these labels.", "host", "vm", "user", "action"), "action")))
	s.disks = add(pageAll(keep(fam("vm_disk_changes", "Virtual disks added, edited or removed (action); cross_vm=\"true\" when the disk's file lies in another VM's folder.",
		"Time of the newest disk change with these labels.", "host", "vm", "user", "action", "cross_vm"), "action", "cross_vm")))
	s.lifecycle = add(pageIf(keep(fam("vm_lifecycle", "VMs created, deleted, registered, unregistered, cloned or exported (action).",
		"Time of the newest lifecycle operation with these labels.", "host", "vm", "user", "action"), "action"), "action", "clone", "export"))
	s.guestOps = add(pageAll(keep(fam("guest_operations", "Guest operations (VMware Tools: programs started, files transferred) run in a VM, by operation and outcome.",
		"Time of the newest guest operation with these labels.", "host", "vm", "user", "operation", "outcome"), "operation", "outcome")))
	s.datastore = add(fam("datastore_access", "Datastore files browsed or downloaded over HTTP (the path is in the event, not a label).",
		"Time of the newest datastore access with these labels.", "host", "user", "client_ip"))
	s.denied = add(fam("access_denied", "Operations denied by an authorization check (the object is in the event, not a label).",
		"Time of the newest denial with these labels.", "host", "user", "client_ip"))
	s.hostPower = add(keep(fam("host_power", "ESXi hosts shut down or rebooted (action).",
		"Time of the newest shutdown or reboot.", "host", "action"), "action"))
	s.guestLogons = add(keep(fam("guest_logons", "Logons to a VM's guest, from the guest's syslog (action: logon, unlock; method: console, remote); host is the guest's name, vm the VM it runs in when known.",
		"Time of the newest guest logon with these labels.", "host", "vm", "user", "action", "method"), "action", "method"))
	s.guestLogoffs = add(keep(fam("guest_logoffs", "Logoffs from a VM's guest and locked guest desktops (action: logoff, lock; method: console, remote, or \"\" when the event names none).",
		"Time of the newest guest logoff with these labels.", "host", "vm", "user", "action", "method"), "action", "method"))
	s.reused = add(pageAll(fam("console_sessions_reused", "VM consoles opened by user while the guest's console session of another person was still open (no logoff or lock since) and no console logon followed within --console.login-window.",
		"Time of the newest reused console session with these labels.", "vm", "user")))
	return s
}

// Gather implements prometheus.Gatherer for the audit metrics (sorted by
// name). It first drops expired label sets, at most once a minute.
func (s *Sink) Gather() ([]*dto.MetricFamily, error) {
	s.maybeExpire()
	var out []*dto.MetricFamily
	for _, f := range s.families {
		out = f.gather(out)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

func (s *Sink) maybeExpire() {
	if s.o.SeriesTTL < 0 {
		return
	}
	now := s.o.Now()
	s.sweepMu.Lock()
	due := now.Sub(s.lastSweep) >= time.Minute
	if due {
		s.lastSweep = now
	}
	s.sweepMu.Unlock()
	if due {
		s.Expire(now)
	}
}

// Expire drops the label sets not observed since now minus the TTL,
// returning their series to the budget, and returns how many it dropped.
func (s *Sink) Expire(now time.Time) int {
	if s.o.SeriesTTL < 0 {
		return 0
	}
	cutoff := now.Add(-s.o.SeriesTTL).UnixNano()
	n := 0
	for _, f := range s.families {
		n += f.expire(cutoff)
	}
	s.expired.Add(float64(n))
	return n
}

// Merge returns a Gatherer of the metric families of gs together, sorted
// by name. Unlike prometheus.Gatherers it checks nothing per sample: the
// names of the gatherers must be distinct (the sink's are not registered
// anywhere else).
func Merge(gs ...prometheus.Gatherer) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		var out []*dto.MetricFamily
		var errs prometheus.MultiError
		for _, g := range gs {
			mfs, err := g.Gather()
			if err != nil {
				errs = append(errs, err)
			}
			out = append(out, mfs...)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
		return out, errs.MaybeUnwrap()
	})
}

// Record implements audit.Sink.
func (s *Sink) Record(e audit.Event) {
	ts := float64(e.Time.UnixNano()) / 1e9
	now := s.o.Now().UnixNano() // one reading of the wall clock per event, for the TTL
	s.events.observe(ts, now, e.Source, e.Host, string(e.Kind))
	if e.Outcome == audit.OutcomeFailure && !countsFailures(e.Kind) {
		// An attempt that failed changed nothing: it is an event (replay,
		// events_total) but not counted as the change it tried.
		return
	}
	switch e.Kind {
	case audit.KindLogin:
		s.logins.observe(ts, now, e.Host, e.User, e.ClientIP, e.Method, strconv.FormatBool(e.Direct))
	case audit.KindLoginFailed:
		s.failures.observe(ts, now, e.Host, e.User, e.ClientIP, e.Method)
	case audit.KindLogout:
		s.logouts.observe(ts, now, e.Host, e.User, e.ClientIP, e.Method)
	case audit.KindAccountLocked:
		s.locks.observe(ts, now, e.Host, e.User)
	case audit.KindServiceEnabled, audit.KindServiceDisabled:
		state, v := "enabled", 1.0
		if e.Kind == audit.KindServiceDisabled {
			state, v = "disabled", 0
		}
		s.services.observe(ts, now, e.Host, e.Service, state)
		s.serviceState.set(ts, v, now, e.Host, e.Service)
	case audit.KindLockdownEnabled, audit.KindLockdownDisabled:
		state, v := "enabled", 1.0
		if e.Kind == audit.KindLockdownDisabled {
			state, v = "disabled", 0
		}
		s.lockdown.observe(ts, now, e.Host, state)
		s.lockdownState.set(ts, v, now, e.Host)
	case audit.KindConsoleOpened:
		s.consoles.observe(ts, now, e.Host, e.VM, e.User, e.TicketType)
	case audit.KindVMMigrated:
		s.migrations.observe(ts, now, e.VM, e.User)
	case audit.KindShellCommand:
		s.commands.observe(ts, now, e.Host, e.User, e.Technique)
	case audit.KindPermissionChanged:
		s.permissions.observe(ts, now, e.Host, e.User, "permission")
	case audit.KindRoleChanged:
		s.permissions.observe(ts, now, e.Host, e.User, "role")
	case audit.KindAccountChanged:
		s.permissions.observe(ts, now, e.Host, e.User, "account")
	case audit.KindConfigChanged:
		s.configs.observe(ts, now, e.Host, e.User, e.Setting, e.Action)
	case audit.KindLoggingFailed:
		s.logging.observe(ts, now, e.Host)
	case audit.KindVMPower:
		s.power.observe(ts, now, e.Host, e.VM, e.User, e.Action)
	case audit.KindVMSnapshot:
		s.snapshots.observe(ts, now, e.Host, e.VM, e.User, e.Action)
	case audit.KindVMDiskChanged:
		s.disks.observe(ts, now, e.Host, e.VM, e.User, e.Action, strconv.FormatBool(e.CrossVM))
	case audit.KindVMLifecycle:
		s.lifecycle.observe(ts, now, e.Host, e.VM, e.User, e.Action)
	case audit.KindGuestOperation:
		s.guestOps.observe(ts, now, e.Host, e.VM, e.User, e.Operation, e.Outcome)
	case audit.KindDatastoreAccess:
		s.datastore.observe(ts, now, e.Host, e.User, e.ClientIP)
	case audit.KindAccessDenied:
		s.denied.observe(ts, now, e.Host, e.User, e.ClientIP)
	case audit.KindHostPower:
		s.hostPower.observe(ts, now, e.Host, e.Action)
	case audit.KindGuestLogon:
		s.guestLogons.observe(ts, now, e.Host, e.VM, e.User, e.Action, e.Method)
	case audit.KindGuestLogoff:
		s.guestLogoffs.observe(ts, now, e.Host, e.VM, e.User, e.Action, e.Method)
	case audit.KindConsoleSessionReused:
		s.reused.observe(ts, now, e.VM, e.User)
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

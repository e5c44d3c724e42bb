package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
)

// TestDashboardsFollowConventions checks every shipped dashboard
// (dashboards/*.json) for what makes it import and provision cleanly into
// any Grafana with any Prometheus datasource.
func TestDashboardsFollowConventions(t *testing.T) {
	dashes := loadDashboards(t)
	alerts := map[string]bool{}
	for _, a := range loadAlerts(t) {
		alerts[a.Name] = true
	}
	runbooks, err := os.ReadFile("../docs/runbooks.md")
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]string{}
	for _, d := range dashes {
		t.Run(d.File, func(t *testing.T) { checkDashboard(t, d, alerts, string(runbooks)) })
		if prev, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %q", prev, d.File, d.UID)
		}
		uids[d.UID] = d.File
	}
	// The shipped set: a weekly review and an overview; their uids are
	// stable (links, bookmarks and provisioning refer to them).
	for _, uid := range []string{"vsphere-audit-overview", "vsphere-audit-weekly-review"} {
		if uids[uid] == "" {
			t.Errorf("no dashboard with uid %q", uid)
		}
	}
}

func checkDashboard(t *testing.T, d dashboard, alerts map[string]bool, runbooks string) {
	raw := d.Raw
	if !regexp.MustCompile(`^[a-z0-9][a-z0-9-]{2,39}$`).MatchString(d.UID) {
		t.Errorf("uid %q: want a stable, readable uid (lowercase, digits, dashes, at most 40 characters)", d.UID)
	}
	if d.Title == "" {
		t.Error("no title")
	}
	if !contains(d.Tags, "vsphere-audit") {
		t.Errorf("tags %v lack vsphere-audit", d.Tags)
	}
	if d.Time.From != "now-7d" || d.Time.To != "now" {
		t.Errorf("time %s to %s, want now-7d to now", d.Time.From, d.Time.To)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d, want a current one (>= 36)", d.SchemaVersion)
	}
	if _, ok := raw["__inputs"]; ok {
		t.Error("has __inputs: file provisioning does not substitute them; use the datasource variable")
	}
	b, _ := json.Marshal(raw)
	if strings.Contains(string(b), "${DS_") {
		t.Error("refers to a ${DS_...} import input")
	}

	// No hard-coded datasource anywhere: every datasource reference is the
	// variable, except Grafana's own built-in annotation source.
	walk(raw, "", func(path string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		ds, ok := m["datasource"]
		if !ok {
			return
		}
		switch ds := ds.(type) {
		case string:
			t.Errorf("%s.datasource is the string %q, want {type: prometheus, uid: ${datasource}}", path, ds)
		case map[string]any:
			if ds["type"] == "grafana" && ds["uid"] == "-- Grafana --" {
				return
			}
			if ds["type"] != "prometheus" || ds["uid"] != "${datasource}" {
				t.Errorf("%s.datasource = %v, want {type: prometheus, uid: ${datasource}}", path, ds)
			}
		default:
			t.Errorf("%s.datasource = %v", path, ds)
		}
	})

	// Variables: the datasource (type prometheus), vcenter, host, user.
	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if ds, ok := vars["datasource"]; !ok || ds.Type != "datasource" || ds.Query != "prometheus" {
		t.Errorf("no datasource variable of type prometheus: %+v", ds)
	}
	for _, name := range []string{"vcenter", "host", "user"} {
		v, ok := vars[name]
		if !ok {
			t.Errorf("no %s variable", name)
			continue
		}
		if v.Type != "query" || !v.IncludeAll || v.AllValue != ".*" || v.Definition == "" {
			t.Errorf("variable %s: want a query variable with All (allValue \".*\") and a definition: %+v", name, v)
		}
		used := false
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				used = used || strings.Contains(tg.Expr, "$"+name)
			}
		}
		if !used {
			t.Errorf("variable %s is used by no panel", name)
		}
	}

	// job and instance: several exporters told apart. Their All is the
	// values found (no allValue), so that Exporter up shows no other job.
	for _, name := range []string{"job", "instance"} {
		v, ok := vars[name]
		if !ok {
			t.Errorf("no %s variable", name)
			continue
		}
		if v.Type != "query" || !v.IncludeAll || v.AllValue != "" || !strings.Contains(v.Definition, "vsphere_audit_exporter_build_info") {
			t.Errorf("variable %s: want a query variable of vsphere_audit_exporter_build_info with All and no allValue: %+v", name, v)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && v.Name != "job" && v.Name != "instance" && !strings.Contains(v.Definition, `job=~"$job",instance=~"$instance"`) {
			t.Errorf("variable %s: %s is not filtered by job and instance", v.Name, v.Definition)
		}
	}
	recorded := recordedNames(t)
	sel := regexp.MustCompile(`(?:^|[^A-Za-z0-9_:])(vsphere_audit_[a-z0-9_]+|ALERTS|up)(\{[^}]*\})?(?:[^A-Za-z0-9_(]|$)`)
	// Event counters; the exporter's own health counters are per exporter.
	counter := regexp.MustCompile(`vsphere_audit_[a-z0-9_]+_total\{`)
	health := regexp.MustCompile(`^vsphere_audit_(syslog_|vcenter_errors_|label_overflow_|paging_overflow_)`)
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range sel.FindAllStringSubmatchIndex(tg.Expr, -1) {
				name, labels := tg.Expr[m[2]:m[3]], ""
				if m[4] >= 0 {
					labels = tg.Expr[m[4]:m[5]]
				}
				if recorded[name] {
					continue // recorded without job and instance
				}
				if !strings.Contains(labels, `job=~"$job`) || !strings.Contains(labels, `instance=~"$instance`) {
					t.Errorf("panel %q target %s: %s%s is not filtered by job and instance", p.Title, tg.RefID, name, labels)
				}
			}
			// Two replicas fed the same events hold the same counts: every
			// event counter is taken once across instances (max without
			// (instance)) before it is differenced or summed. The max of
			// the counters, then the difference: two replicas scrape a
			// moment apart, and per-instance differences of a short step
			// would count an event once on each side of a step boundary.
			for _, m := range counter.FindAllStringIndex(tg.Expr, -1) {
				if health.MatchString(tg.Expr[m[0]:]) {
					continue
				}
				before := tg.Expr[:m[0]]
				if !strings.HasSuffix(before, "max without (instance) (") && !strings.HasSuffix(before, "max without (instance) (last_over_time(") &&
					!strings.HasSuffix(before, "max without (instance) (increase(") {
					t.Errorf("panel %q target %s: %q is not taken once across replicas (max without (instance))", p.Title, tg.RefID, tg.Expr[m[0]:min(len(tg.Expr), m[0]+50)])
				}
			}
		}
	}

	// Links: the runbooks, and the 30-day view one click away.
	var runbookLink, thirtyDays bool
	for _, l := range d.Links {
		runbookLink = runbookLink || strings.HasPrefix(l.URL, strings.TrimSuffix(runbookBase, "#"))
		thirtyDays = thirtyDays || strings.Contains(l.URL, "from=now-30d")
	}
	if !runbookLink {
		t.Error("no dashboard link to docs/runbooks.md")
	}
	if !thirtyDays {
		t.Error("no link to the last 30 days")
	}
	// Every runbook anchor names a shipped alert with a runbook section.
	for _, u := range regexp.MustCompile(`docs/runbooks\.md#([A-Za-z0-9$_{}.]+)`).FindAllStringSubmatch(string(b), -1) {
		name := u[1]
		if strings.HasPrefix(name, "${") {
			continue // the alert name of a table cell
		}
		if !alerts[name] {
			t.Errorf("runbook link #%s names no shipped alert", name)
		}
		if !strings.Contains(runbooks, "\n## "+name+"\n") {
			t.Errorf("runbook link #%s: docs/runbooks.md has no section %q", name, name)
		}
	}

	// Panels.
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Title == "" || p.Description == "" {
			t.Errorf("panel %d: want a title and a description", p.ID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no targets", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.Expr == "" || tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: target %q: want an expr and a unique refId", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if p.Type == "table" && (!tg.Instant || tg.Format != "table") {
				t.Errorf("panel %q target %s: a table wants instant queries with format table", p.Title, tg.RefID)
			}
			if strings.Contains(tg.Expr, "[$__range]") && !tg.Instant {
				t.Errorf("panel %q target %s: [$__range] in a range query", p.Title, tg.RefID)
			}
		}
	}
}

// TestDashboardQueriesParse hands every panel query, with its template
// variables substituted, to promtool as a recording rule: a query that
// does not parse fails here, without Prometheus running.
func TestDashboardQueriesParse(t *testing.T) {
	promtool := testenv.RequireBinary(t, "promtool", "prometheus")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboards\n    rules:\n")
	n := 0
	for _, q := range dashboardQueries(t) {
		expr := substitute(t, q.Expr, 300*time.Second, time.Now().Add(-300*time.Second))
		fmt.Fprintf(&rules, "      - record: dashboard:query_%d\n        expr: %s\n", n, quoteYAML(expr))
		n++
	}
	f := filepath.Join(t.TempDir(), "dashboards.rules.yml")
	writeFile(t, f, rules.String())
	out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules on the dashboard queries: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("%d rules found", n)) {
		t.Errorf("promtool: want %d rules found:\n%s", n, out)
	}
}

// TestDashboardProvisioningAndPrometheusExample checks the shipped
// provisioning file and example Prometheus configuration.
func TestDashboardProvisioningAndPrometheusExample(t *testing.T) {
	b, err := os.ReadFile("../dashboards/provisioning.yml")
	if err != nil {
		t.Fatal(err)
	}
	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Type string
			Options    struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(b, &prov); err != nil {
		t.Fatal(err)
	}
	if prov.APIVersion != 1 || len(prov.Providers) != 1 || prov.Providers[0].Type != "file" || prov.Providers[0].Options.Path == "" {
		t.Errorf("dashboards/provisioning.yml: want apiVersion 1 and one file provider with a path: %+v", prov)
	}

	b, err = os.ReadFile("../dashboards/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "--storage.tsdb.retention.time=31d") {
		t.Error("dashboards/prometheus.yml does not document --storage.tsdb.retention.time=31d")
	}
	var pc struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &pc); err != nil {
		t.Fatal(err)
	}
	if len(pc.RuleFiles) == 0 || !strings.HasSuffix(pc.RuleFiles[0], "*.rules.yml") {
		t.Errorf("dashboards/prometheus.yml: rule_files %v do not load the shipped *.rules.yml", pc.RuleFiles)
	}
	if len(pc.ScrapeConfigs) == 0 || pc.ScrapeConfigs[0].JobName != "vsphere_audit" {
		t.Errorf("dashboards/prometheus.yml: want the scrape job vsphere_audit (VSphereAuditExporterDown selects it)")
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(promtool, "check", "config", "../dashboards/prometheus.yml").CombinedOutput(); err != nil {
			t.Errorf("promtool check config dashboards/prometheus.yml: %v\n%s", err, out)
		}
	}
}

// demoMissing holds the audit events the --demo stream and simulator do
// not produce, as real log lines (testdata/corpus) sent to the exporter's
// syslog listener by TestDashboardsEndToEnd, so that every branch of the
// changes table is evaluated on real data. {ts} is the current time.
var demoMissing = []string{
	`<14>1 {ts} vcsa.lab.local vpxd 7213 - -  Event [990001] [1-1] [{ts}] [vim.event.PermissionAddedEvent] [info] [VSPHERE.LOCAL\Administrator] [DC1] [990001] [Permission created for VSPHERE.LOCAL\bob on web01, role is Administrator, propagation is Propagating]`,
	`<14>1 {ts} vcsa.lab.local vpxd 7213 - -  Event [990002] [1-1] [{ts}] [vim.event.RoleAddedEvent] [info] [VSPHERE.LOCAL\Administrator] [] [990002] [New role AuditOps created]`,
	`<14>1 {ts} vcsa.lab.local vpxd 7213 - -  Event [990003] [1-1] [{ts}] [vim.event.AccountCreatedEvent] [info] [root] [DC1] [990003] [An account was created on host esx01.lab.local]`,
	`<166>{ts} esx01.lab.local Hostd[1050738]: [Originator@6876 sub=Hostsvc.AppConfigOptionsProvider(Config.HostAgent.) opID=esxui-a003-5e51 sid=5295925c user=root] Set called with key 'Config.HostAgent.plugins.hostsvc.esxAdminsGroup' value '"ESX Admins new"'`,
	`<14>{ts} esx01.lab.local vobd[2097521]:  [UserLevelCorrelator] 1012726884193us: [esx.audit.lockdownmode.disabled] Administrator access to the host has been enabled.`,
	`<14>{ts} esx01.lab.local vobd[2097521]:  [UserLevelCorrelator] 1014714500512us: [esx.audit.lockdownmode.enabled] Administrator access to the host has been disabled.`,
	`<14>{ts} esx02.lab.local vobd:  [UserLevelCorrelator] 410535867us: [esx.audit.account.locked] Remote access for ESXi local user account 'root' has been locked for 900 seconds after 6 failed login attempts.`,
	// SSH switched on for every demo host (the simulator starts one of them
	// with SSH running, without an event), and off on another: the "running
	// now, since when" join and the ssh rows of the changes table do not
	// wait for the demo's random switching.
	`<13>{ts} esx01.lab.local SSH[1053644]: SSH login enabled`,
	`<13>{ts} esx02.lab.local SSH[1053645]: SSH login enabled`,
	`<13>{ts} esx03.lab.local SSH[1053646]: SSH login enabled`,
	`<13>{ts} esx04.lab.local SSH[1053647]: SSH login enabled`,
	`<13>{ts} esx09.lab.local SSH[1053648]: SSH login disabled`,
}

// reviewLines are the VM operations and hardening changes of the weekly
// review's "VM operations" and "Hardening drift" rows, which the demo does
// not produce: ESXi audit records (the wire shape of the ESX audit log
// event reference, [<id>@6876 param="value" ...], facility 13) from
// esx09.lab.local and vCenter events relayed by vpxd from vcsa09.lab.local,
// hosts and VMs (rev-*) the demo does not use, so that reviewRows can say
// exactly what each panel shows for them. {ts} is the current time.
var reviewLines = []string{
	`<110>{ts} esx09.lab.local Hostd[2101]: [vm.power.off@6876 subject="root" object="rev-web01" result="success" ip="10.0.0.9" opID="rev-1"]`,
	`<110>{ts} esx09.lab.local Hostd[2101]: [vm.kill@6876 subject="root" object="rev-app01" result="success" ip="10.0.0.9" opID="rev-2"]`,
	`<110>{ts} esx09.lab.local Hostd[2101]: [vm.power.on@6876 subject="root" object="rev-web01" result="success" ip="10.0.0.9" opID="rev-3"]`,
	`<110>{ts} esx09.lab.local Hostd[2101]: [vm.snapshot.create@6876 subject="root" object="rev-web01" result="success" ip="10.0.0.9" name="before-patch" uniqueID="7" parent="" opID="rev-4"]`,
	`<110>{ts} esx09.lab.local Hostd[2101]: [vm.snapshot.removeAll@6876 subject="root" object="rev-app01" result="success" ip="10.0.0.9" opID="rev-5"]`,
	// A disk from rev-dc01's folder attached to rev-web01 (cross_vm), and
	// one of rev-app01's own.
	`<110>{ts} esx09.lab.local Hostd[2101]: [vm.storage.add@6876 subject="root" object="rev-web01" result="success" ip="10.0.0.9" path="[ds1] rev-dc01/rev-dc01.vmdk" opID="rev-6"]`,
	`<110>{ts} esx09.lab.local Hostd[2101]: [vm.storage.add@6876 subject="root" object="rev-app01" result="success" ip="10.0.0.9" path="[ds1] rev-app01/rev-app01_1.vmdk" opID="rev-7"]`,
	`<110>{ts} esx09.lab.local Hostd[2101]: [vm.unregister@6876 subject="root" object="rev-app01" result="success" ip="10.0.0.9" opID="rev-8"]`,
	// vCenter: rev-dc01 (Tier-0 by the default regex) cloned, and a guest
	// operation run in it. vpxd writes an extended event as the class
	// vim.event.EventEx with its message (the template of
	// com.vmware.vc.guestOperations.GuestOperation).
	`<14>1 {ts} vcsa09.lab.local vpxd 7213 - -  Event [990101] [1-1] [{ts}] [vim.event.VmBeingClonedEvent] [info] [VSPHERE.LOCAL\Administrator] [DC1] [990101] [Cloning rev-dc01 on host esx09.lab.local in DC1 to rev-dc01-copy on host esx09.lab.local]`,
	`<14>1 {ts} vcsa09.lab.local vpxd 7213 - -  Event [990102] [1-1] [{ts}] [vim.event.EventEx] [info] [VSPHERE.LOCAL\Administrator] [DC1] [990102] [Guest operation Start Program performed on Virtual machine rev-dc01.]`,
	`<110>{ts} esx09.lab.local Hostd[2101]: [settings.kernel.set@6876 subject="root" object="execInstalledOnly" result="success" ip="10.0.0.9" value="FALSE" opID="rev-9"]`,
	`<110>{ts} esx09.lab.local Hostd[2101]: [network.fw.disable@6876 subject="root" object="firewall" result="success" ip="10.0.0.9" opID="rev-10"]`,
	// The acceptance level lowered (a config change and a T1562.001
	// command), discovery (T1082), an ordinary command (no technique).
	`<110>{ts} esx09.lab.local shell[2102]: [shell.cmd@6876 subject="root" object="shell" command="esxcli software acceptance set --level=CommunitySupported" result="success" status="0"]`,
	`<110>{ts} esx09.lab.local shell[2102]: [shell.cmd@6876 subject="root" object="shell" command="vim-cmd vmsvc/getallvms" result="success" status="0"]`,
	`<110>{ts} esx09.lab.local shell[2102]: [shell.cmd@6876 subject="root" object="shell" command="esxcli system version get" result="success" status="0"]`,
	`<110>{ts} esx09.lab.local vmsyslogd[2103]: [audit.net.failure@6876 subject="vmsyslogd" object="audit" result="failure" reason="remote host unreachable"]`,
}

// reviewHosts is the Host variable the exact checks select: the hosts of
// reviewLines.
const reviewHosts = "esx09.lab.local|vcsa09.lab.local"

// reviewRows is what each panel of the "VM operations" and "Hardening
// drift" rows shows for reviewLines, exactly: for a table, the rows of
// target A (label=value pairs, sorted by name) with their counts, and, when
// the table has a target B, the same rows with the time the lines carry
// (last seen); for a time series, each series' sum over the range (the
// bars are exact counts per interval, so they add up to the events).
var reviewRows = map[string]map[string]float64{
	"VM power operations": {
		"action=kill,host=esx09.lab.local,user=root,vm=rev-app01": 1,
		"action=off,host=esx09.lab.local,user=root,vm=rev-web01":  1,
		"action=on,host=esx09.lab.local,user=root,vm=rev-web01":   1,
	},
	"VM power-offs and kills over time, by host": {
		"host=esx09.lab.local": 2,
	},
	"Snapshots": {
		"action=create,host=esx09.lab.local,user=root,vm=rev-web01":     1,
		"action=remove_all,host=esx09.lab.local,user=root,vm=rev-app01": 1,
	},
	"Disk changes": {
		"action=add,cross_vm=true,host=esx09.lab.local,user=root,vm=rev-web01":  1,
		"action=add,cross_vm=false,host=esx09.lab.local,user=root,vm=rev-app01": 1,
	},
	"Clones, exports and other VM lifecycle operations": {
		"action=unregister,host=esx09.lab.local,user=root,vm=rev-app01":                   1,
		"action=clone,host=vcsa09.lab.local,user=administrator@vsphere.local,vm=rev-dc01": 1,
	},
	"Guest operations": {
		"host=vcsa09.lab.local,operation=Start Program,outcome=success,user=administrator@vsphere.local,vm=rev-dc01": 1,
	},
	"Operations on Tier-0 VMs": {
		"event=clone,host=vcsa09.lab.local,user=administrator@vsphere.local,vm=rev-dc01":                         1,
		"event=guest operation Start Program,host=vcsa09.lab.local,user=administrator@vsphere.local,vm=rev-dc01": 1,
	},
	"VM operations over time": {
		"kind=power off or kill":                       2,
		"kind=snapshot":                                2,
		"kind=disk change":                             2,
		"kind=clone, export, create, delete, register": 2,
		"kind=guest operation":                         1,
	},
	"Configuration changes by setting and action": {
		"action=disabled,host=esx09.lab.local,setting=exec_installed_only,user=root": 1,
		"action=disabled,host=esx09.lab.local,setting=firewall,user=root":            1,
		"action=lowered,host=esx09.lab.local,setting=acceptance_level,user=root":     1,
	},
	"Protections switched off or lowered": {
		"action=disabled,host=esx09.lab.local,setting=exec_installed_only,user=root": 1,
		"action=disabled,host=esx09.lab.local,setting=firewall,user=root":            1,
		"action=lowered,host=esx09.lab.local,setting=acceptance_level,user=root":     1,
	},
	"execInstalledOnly, firewall and acceptance level weakened": {
		"setting=exec_installed_only": 1,
		"setting=firewall":            1,
		"setting=acceptance_level":    1,
	},
	"Shell commands by technique": {
		"host=esx09.lab.local,technique=T1082,user=root":     1,
		"host=esx09.lab.local,technique=T1562.001,user=root": 1,
	},
	"Shell commands over time, by technique": {
		"technique=none":      1,
		"technique=T1082":     1,
		"technique=T1562.001": 1,
	},
	"Logging and audit record failures": {
		"host=esx09.lab.local": 1,
	},
}

// changeKinds are the rows the changes table must show once demoMissing
// was sent (its "change" column).
var changeKinds = []string{"permission", "role", "account", "config: admins_group", "lockdown enabled", "lockdown disabled", "ssh enabled", "ssh disabled"}

// noDemoData names the panel targets that may stay empty in the demo, and
// why. Empty: every panel shows data from the demo.
var noDemoData = map[string]string{}

// TestDashboardsEndToEnd evaluates every panel query of every shipped
// dashboard in a real Prometheus that scrapes the exporter in demo mode and
// loads the shipped rules; each must parse and return data.
func TestDashboardsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; not in -short mode")
	}
	promBin := testenv.RequireBinary(t, "prometheus", "prometheus")
	queries := dashboardQueries(t)
	begin := time.Now()
	dir := t.TempDir()

	exe := buildExporter(t, dir)
	syslogAddr, exporterAddr := freeAddr(t), freeAddr(t)
	// The inventory read every 2 s, not every minute: the "running now"
	// panel joins it with the enable events, and a minute-long wait for the
	// next read outlasted the deadline now and then.
	exporter := startProcess(t, dir, "exporter", exe, "--demo", "--demo.rate=100",
		"--syslog.tcp.listen-address="+syslogAddr,
		"--web.listen-address="+exporterAddr,
		"--vcenter.state-dir="+filepath.Join(dir, "state"),
		"--vcenter.inventory-interval=2s")
	waitHTTP(t, exporter, "http://"+exporterAddr+"/metrics")

	// Prometheus scrapes the exporter twice, as two targets (instances) with
	// the same series: two HA replicas fed the same events. Every exact
	// count below (checkReviewRows) would double if a panel summed across
	// instances.
	_, port, err := net.SplitHostPort(exporterAddr)
	if err != nil {
		t.Fatal(err)
	}
	prom, promURL := startPrometheus(t, dir, promBin, []string{exporterAddr, net.JoinHostPort("localhost", port)}, "")
	promStart := time.Now()
	t.Logf("exporter and Prometheus up after %s", time.Since(begin).Round(time.Millisecond))

	sendLines(t, syslogAddr, demoMissing)
	reviewTS := sendLines(t, syslogAddr, reviewLines)

	// Poll until every query returned data (or the deadline).
	pending := map[int]bool{}
	for i := range queries {
		pending[i] = true
	}
	// ... and until the exporter exposes every metric the dashboards name
	// (or Prometheus makes: ALERTS, up, the shipped recording rules),
	// variable queries included.
	names := dashboardMetricNames(t)
	recorded := recordedNames(t)
	unexposed := func() []string {
		exposed := exposedMetrics(t, "http://"+exporterAddr+"/metrics")
		var out []string
		for _, name := range names {
			if !exposed[name] && name != "ALERTS" && name != "up" && !recorded[name] {
				out = append(out, name)
			}
		}
		return out
	}
	missing := unexposed()
	// ... and until the changes table shows every kind of change, not only
	// the demo's (the demo switches SSH on and off at random moments).
	changeRows := func() map[string]bool {
		got := map[string]bool{}
		for _, q := range queries {
			if q.Panel != "Permission, role and configuration changes" || q.RefID != "A" {
				continue
			}
			for _, m := range promQuery(t, promURL, substitute(t, q.Expr, time.Since(promStart), promStart)) {
				got[m["change"]] = true
			}
		}
		return got
	}
	missingKinds := func() []string {
		got := changeRows()
		var out []string
		for _, k := range changeKinds {
			if !got[k] {
				out = append(out, k)
			}
		}
		return out
	}
	kinds := missingKinds()
	// Tables that merge a count (A) with a last-seen or since-when time
	// (B): both instant queries at one evaluation time.
	var joinPanels [][2]dashboardQuery
	for _, a := range queries {
		if a.RefID != "A" || !a.Instant {
			continue
		}
		for _, b := range queries {
			if b.File == a.File && b.Panel == a.Panel && b.RefID == "B" && b.Instant {
				joinPanels = append(joinPanels, [2]dashboardQuery{a, b})
			}
		}
	}
	unjoined := func() []dashboardQuery {
		var out []dashboardQuery
		for _, ab := range joinPanels {
			at := time.Now()
			eval := func(q dashboardQuery) []map[string]string {
				return promQueryAt(t, promURL, substitute(t, q.Expr, at.Sub(promStart), promStart), at)
			}
			rowsA := map[string]bool{}
			for _, m := range eval(ab[0]) {
				rowsA[fmt.Sprint(m)] = true
			}
			joined := false
			for _, m := range eval(ab[1]) {
				joined = joined || rowsA[fmt.Sprint(m)]
			}
			if !joined {
				out = append(out, ab[0])
			}
		}
		return out
	}
	apart := unjoined()
	var last string
	deadline := time.Now().Add(60 * time.Second)
	for (len(pending) > 0 || len(missing) > 0 || len(kinds) > 0 || len(apart) > 0) && time.Now().Before(deadline) {
		select {
		case <-exporter.done:
			t.Fatalf("exporter exited:\n%s", exporter.tail())
		case <-prom.done:
			t.Fatalf("Prometheus exited:\n%s", prom.tail())
		case <-time.After(time.Second):
		}
		rng := time.Since(promStart)
		for i := range pending {
			q := queries[i]
			n, err := evalQuery(t, promURL, q, rng, promStart)
			if err != nil {
				t.Fatalf("%s: %v", q, err) // a parse error: no point waiting
			}
			if n > 0 {
				delete(pending, i)
				last = fmt.Sprintf("%s after %s", q, time.Since(promStart).Round(time.Millisecond))
			}
		}
		missing = unexposed()
		kinds = missingKinds()
		apart = unjoined()
	}
	t.Logf("the last query to return data: %s", last)
	var empty []string
	for i := range pending {
		q := queries[i]
		if why, ok := noDemoData[q.Panel]; ok {
			t.Logf("%s: no data in the demo, as expected: %s", q, why)
			continue
		}
		empty = append(empty, q.String())
	}
	sort.Strings(empty)
	for _, e := range empty {
		t.Errorf("%s: no data after %s", e, time.Since(promStart).Round(time.Second))
	}
	t.Logf("%d panel queries returned data %s after Prometheus started", len(queries)-len(pending), time.Since(promStart).Round(time.Millisecond))

	// The changes table shows every kind of change, not only the demo's.
	for _, k := range kinds {
		t.Errorf("changes table: no %q row (rows: %v)", k, changeRows())
	}

	// Tables that merge a count (A) with a last-seen or since-when time
	// (B) join on their labels: some row must be in both. The demo
	// switches SSH at random, so this too is polled until the deadline.
	for _, a := range unjoined() {
		t.Errorf("%s: targets A and B share no label set, the merged table has no complete row", a)
	}

	// The VM operations and hardening drift rows show exactly the events of
	// reviewLines.
	checkReviewRows(t, promURL, queries, promStart, reviewTS)

	// Every metric a dashboard names is exposed by the exporter.
	t.Logf("the dashboards use %d metrics: %s", len(names), strings.Join(names, " "))
	for _, name := range missing {
		t.Errorf("dashboards use %s, which the exporter does not expose", name)
	}
	t.Logf("dashboards end to end in %s", time.Since(begin).Round(time.Millisecond))
}

// --- dashboards ---

type dashboard struct {
	File          string
	Raw           map[string]any
	UID           string   `json:"uid"`
	Title         string   `json:"title"`
	Tags          []string `json:"tags"`
	SchemaVersion int      `json:"schemaVersion"`
	Time          struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"time"`
	Links []struct {
		Title string `json:"title"`
		URL   string `json:"url"`
	} `json:"links"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type variable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Query      any    `json:"query"`
	Definition string `json:"definition"`
	IncludeAll bool   `json:"includeAll"`
	AllValue   string `json:"allValue"`
}

type panel struct {
	ID          int    `json:"id"`
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Targets     []struct {
		RefID   string `json:"refId"`
		Expr    string `json:"expr"`
		Instant bool   `json:"instant"`
		Format  string `json:"format"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row
}

func loadDashboards(t *testing.T) []dashboard {
	t.Helper()
	files, err := filepath.Glob("../dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in ../dashboards: %v", err)
	}
	var out []dashboard
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: not valid dashboard JSON: %v", f, err)
		}
		if err := json.Unmarshal(b, &d.Raw); err != nil {
			t.Fatal(err)
		}
		d.File = filepath.Base(f)
		// Panels of collapsed rows count as panels.
		var flat []panel
		for _, p := range d.Panels {
			flat = append(flat, p)
			flat = append(flat, p.Panels...)
		}
		d.Panels = flat
		out = append(out, d)
	}
	return out
}

// dashboardQuery is one panel target.
type dashboardQuery struct {
	File, Panel, RefID, Expr string
	Instant                  bool
}

func (q dashboardQuery) String() string {
	return fmt.Sprintf("%s: panel %q target %s", q.File, q.Panel, q.RefID)
}

func dashboardQueries(t *testing.T) []dashboardQuery {
	var out []dashboardQuery
	for _, d := range loadDashboards(t) {
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				out = append(out, dashboardQuery{File: d.File, Panel: p.Title, RefID: tg.RefID, Expr: tg.Expr, Instant: tg.Instant})
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no panel queries")
	}
	return out
}

// dashboardMetricNames returns the metric names the dashboards' panel
// queries and variable queries select.
func dashboardMetricNames(t *testing.T) []string {
	var texts []string
	for _, q := range dashboardQueries(t) {
		texts = append(texts, q.Expr)
	}
	for _, d := range loadDashboards(t) {
		for _, v := range d.Templating.List {
			texts = append(texts, v.Definition)
		}
	}
	names := map[string]bool{}
	own := regexp.MustCompile(`\bvsphere_audit_[a-z0-9_]+`)
	sel := regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{`)
	for _, s := range texts {
		for _, m := range own.FindAllString(s, -1) {
			names[m] = true
		}
		for _, m := range sel.FindAllStringSubmatch(s, -1) {
			names[m[1]] = true
		}
		for _, m := range regexp.MustCompile(`__name__=~"([^"]+)"`).FindAllStringSubmatch(s, -1) {
			delete(names, m[1])
			// vsphere_audit_(a|b|c)_total
			if g := regexp.MustCompile(`^(.*)\(([^)]*)\)(.*)$`).FindStringSubmatch(m[1]); g != nil {
				for _, alt := range strings.Split(g[2], "|") {
					names[g[1]+alt+g[3]] = true
				}
			}
		}
	}
	for n := range names {
		if strings.HasSuffix(n, "_") { // a prefix inside a regex
			delete(names, n)
		}
	}
	var out []string
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// substitute replaces Grafana's variables the way Grafana would with "All"
// selected: $vcenter, $host, $user become ".*"; rng is the time range.
// $job and $instance have no allValue: Grafana writes the values it found
// ((vsphere_audit) and the one exporter here), which select what ".*"
// selects in the test's Prometheus, whose only job is the exporter's.
func substitute(t *testing.T, expr string, rng time.Duration, from time.Time) string {
	t.Helper()
	secs := int(rng.Seconds())
	if secs < 1 {
		secs = 1
	}
	r := strings.NewReplacer(
		"${__from:date:seconds}", fmt.Sprint(from.Unix()),
		"$__rate_interval", "10s",
		"$__interval", "2s",
		"$__range", fmt.Sprintf("%ds", secs),
		"$vcenter", ".*", "$host", ".*", "$user", ".*", "$job", ".*", "$instance", ".*",
		"${vcenter}", ".*", "${host}", ".*", "${user}", ".*", "${job}", ".*", "${instance}", ".*",
	)
	out := r.Replace(expr)
	if m := regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_:]*`).FindString(out); m != "" {
		t.Fatalf("query %q: variable %s not substituted", expr, m)
	}
	return out
}

func quoteYAML(s string) string {
	b, _ := json.Marshal(s) // a JSON string is a YAML double-quoted scalar
	return string(b)
}

// walk calls fn on every value of a decoded JSON document.
func walk(v any, path string, fn func(string, any)) {
	fn(path, v)
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			walk(c, path+"."+k, fn)
		}
	case []any:
		for i, c := range v {
			walk(c, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// --- Prometheus and exporter I/O ---

// evalQuery runs q through Prometheus' HTTP API (instant or range, as the
// panel does) and returns the number of series; an error is a query
// Prometheus rejected (bad_data: it does not parse).
func evalQuery(t *testing.T, base string, q dashboardQuery, rng time.Duration, start time.Time) (int, error) {
	t.Helper()
	expr := substitute(t, q.Expr, rng, start)
	var u string
	if q.Instant {
		u = base + "/api/v1/query?query=" + url.QueryEscape(expr)
	} else {
		now := time.Now()
		u = fmt.Sprintf("%s/api/v1/query_range?query=%s&start=%d&end=%d&step=2", base, url.QueryEscape(expr), start.Unix(), now.Unix())
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	if env.Status != "success" {
		return 0, fmt.Errorf("HTTP %d %s: %s (query %s)", resp.StatusCode, env.ErrorType, env.Error, expr)
	}
	return len(env.Data.Result), nil
}

// sendLines sends syslog lines over TCP with LF framing, {ts} replaced by
// the current time (to the millisecond), which it returns.
func sendLines(t *testing.T, addr string, lines []string) time.Time {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	ts := now.Format("2006-01-02T15:04:05.000Z")
	for _, l := range lines {
		if _, err := fmt.Fprintf(c, "%s\n", strings.ReplaceAll(l, "{ts}", ts)); err != nil {
			t.Fatal(err)
		}
	}
	return now
}

// exposedMetrics returns the metric family names of an exposition.
func exposedMetrics(t *testing.T, u string) map[string]bool {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			out[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// --- exact values of the VM operations and hardening drift rows ---

// checkReviewRows evaluates the panels named in reviewRows with Host set
// to reviewHosts and compares them with reviewRows, retrying for a while
// (the exporter may count the lines over more than one scrape); it fails
// on each panel that still differs, and on a panel of the two rows that
// reviewRows does not name.
func checkReviewRows(t *testing.T, promURL string, queries []dashboardQuery, promStart, ts time.Time) {
	t.Helper()
	byPanel := map[string][]dashboardQuery{}
	for _, q := range queries {
		if q.File == "vsphere-audit-weekly-review.json" {
			byPanel[q.Panel] = append(byPanel[q.Panel], q)
		}
	}
	for _, title := range reviewRowPanels(t) {
		if _, ok := reviewRows[title]; !ok {
			t.Errorf("panel %q of the VM operations or hardening drift row has no exact values in reviewRows", title)
		}
	}
	var diffs map[string]string
	deadline := time.Now().Add(30 * time.Second)
	for {
		diffs = map[string]string{}
		for title, want := range reviewRows {
			qs := byPanel[title]
			if len(qs) == 0 {
				diffs[title] = "no such panel in the weekly review"
				continue
			}
			for _, q := range qs {
				w := want
				if q.RefID == "B" { // last seen: the time the lines carry
					w = map[string]float64{}
					for k := range want {
						w[k] = float64(ts.UnixMilli()) / 1000
					}
				}
				got := evalRows(t, promURL, q, promStart)
				if d := diffRows(got, w); d != "" {
					diffs[fmt.Sprintf("%s (target %s)", title, q.RefID)] = d
				}
			}
		}
		if len(diffs) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	var keys []string
	for k := range diffs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Errorf("weekly review, panel %s, Host %s: %s", k, reviewHosts, diffs[k])
	}
	if len(diffs) == 0 {
		t.Logf("the VM operations and hardening drift rows show exactly the %d review lines (%d panels)", len(reviewLines), len(reviewRows))
	}
}

// reviewRowPanels returns the titles of the panels under the weekly
// review's "VM operations" and "Hardening drift" rows.
func reviewRowPanels(t *testing.T) []string {
	var out []string
	for _, d := range loadDashboards(t) {
		if d.File != "vsphere-audit-weekly-review.json" {
			continue
		}
		in := false
		for _, p := range d.Panels {
			if p.Type == "row" {
				in = p.Title == "VM operations" || p.Title == "Hardening drift"
				continue
			}
			if in {
				out = append(out, p.Title)
			}
		}
	}
	if len(out) == 0 {
		t.Error("the weekly review has no VM operations or hardening drift row")
	}
	return out
}

// evalRows evaluates a panel target with Host set to reviewHosts: an
// instant query gives each series' value, a range query (from promStart,
// step 2s, the $__interval of substitute) each series' sum over the range.
// Series are keyed by their labels, name=value sorted and comma-joined.
func evalRows(t *testing.T, base string, q dashboardQuery, promStart time.Time) map[string]float64 {
	t.Helper()
	expr := substitute(t, strings.ReplaceAll(q.Expr, "$host", reviewHosts), time.Since(promStart), promStart)
	var u string
	if q.Instant {
		u = base + "/api/v1/query?query=" + url.QueryEscape(expr)
	} else {
		u = fmt.Sprintf("%s/api/v1/query_range?query=%s&start=%d&end=%d&step=2", base, url.QueryEscape(expr), promStart.Unix(), time.Now().Unix())
	}
	var data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`
			Values [][]any           `json:"values"`
		} `json:"result"`
	}
	promGet(t, u, &data)
	out := map[string]float64{}
	for _, r := range data.Result {
		var keys []string
		for k, v := range r.Metric {
			keys = append(keys, k+"="+v)
		}
		sort.Strings(keys)
		points := r.Values
		if q.Instant {
			points = [][]any{r.Value}
		}
		sum := 0.0
		for _, p := range points {
			var v float64
			if len(p) == 2 {
				fmt.Sscan(fmt.Sprint(p[1]), &v)
			}
			sum += v
		}
		out[strings.Join(keys, ",")] = sum
	}
	return out
}

// diffRows describes how got differs from want ("" when they agree; values
// to the millisecond).
func diffRows(got, want map[string]float64) string {
	var d []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			d = append(d, fmt.Sprintf("missing {%s} %v", k, w))
		case math.Abs(g-w) > 0.0005:
			d = append(d, fmt.Sprintf("{%s} = %v, want %v", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("unexpected {%s} %v", k, g))
		}
	}
	sort.Strings(d)
	return strings.Join(d, "; ")
}

// recordedNames returns the series the shipped rule files record.
func recordedNames(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, rf := range loadRuleFiles(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					out[r.Record] = true
				}
			}
		}
	}
	return out
}

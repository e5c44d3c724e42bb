package e2e

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
)

const (
	pagerReceiver  = "security-pager"
	ticketReceiver = "security-ticket"
)

func loadAlertmanagerConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.LoadFile(filepath.Join(alertsDir, "alertmanager.yml"))
	if err != nil {
		t.Fatalf("alerts/alertmanager.yml: %v", err)
	}
	return cfg
}

func receivers(route *dispatch.Route, ls model.LabelSet) []string {
	var out []string
	for _, r := range route.Match(ls) {
		out = append(out, r.RouteOpts.Receiver)
	}
	return out
}

// TestAlertmanagerRoutesEveryShippedAlert sends each shipped alert, with
// the labels it carries, through the routing tree of alerts/alertmanager.yml:
// critical ones reach only the pager, all others only the ticket receiver.
func TestAlertmanagerRoutesEveryShippedAlert(t *testing.T) {
	cfg := loadAlertmanagerConfig(t)
	route := dispatch.NewRoute(cfg.Route, nil)
	alerts := loadAlerts(t)
	if len(alerts) < 20 {
		t.Fatalf("only %d alerts shipped", len(alerts))
	}
	for _, a := range alerts {
		ls := model.LabelSet{
			"alertname": model.LabelValue(a.Name),
			"severity":  model.LabelValue(a.Severity),
			"host":      "esx01.lab.local",
			"job":       "vsphere_audit",
			"instance":  "exporter:10055",
		}
		want := ticketReceiver
		if a.Severity == "critical" {
			want = pagerReceiver
		}
		if got := receivers(route, ls); !slices.Equal(got, []string{want}) {
			t.Errorf("%s (severity %s) reaches %v, want [%s]", a.Name, a.Severity, got, want)
		}
	}
	// The critical ones the issue names page.
	for _, n := range []string{"VSphereAuditDirectHostLogin", "VSphereAuditLockdownModeDisabled", "VSphereAuditExporterDown",
		// Detection breadth (issue 9): each of these pages.
		"VSphereAuditMassVMPowerOff", "VSphereAuditSnapshotsRemovedAll", "VSphereAuditCrossVMDiskAttached",
		"VSphereAuditTier0VMOperation", "VSphereAuditShellCommandAttackTechnique", "VSphereAuditExecInstalledOnlyDisabled",
		"VSphereAuditFirewallDisabled", "VSphereAuditHostLoggingFailed", "VSphereAuditVpxuserLoginFromUnknownAddress"} {
		i := slices.IndexFunc(alerts, func(a shippedAlert) bool { return a.Name == n })
		if i < 0 || alerts[i].Severity != "critical" {
			t.Errorf("%s: missing or not critical", n)
		}
	}
	// An alert without severity (another mixin's, a typo) is not lost.
	if got := receivers(route, model.LabelSet{"alertname": "Other"}); !slices.Equal(got, []string{ticketReceiver}) {
		t.Errorf("alert without severity reaches %v, want [%s]", got, ticketReceiver)
	}
}

// TestAlertmanagerGrouping: one notification per alert name and host.
func TestAlertmanagerGrouping(t *testing.T) {
	cfg := loadAlertmanagerConfig(t)
	route := dispatch.NewRoute(cfg.Route, nil)
	for _, sev := range []string{"critical", "warning", "info"} {
		m := route.Match(model.LabelSet{"alertname": "VSphereAuditDirectHostLogin", "severity": model.LabelValue(sev), "host": "esx01"})
		if len(m) != 1 {
			t.Fatalf("severity %s: %d routes", sev, len(m))
		}
		gb := m[0].RouteOpts.GroupBy
		_, a := gb["alertname"]
		_, h := gb["host"]
		if !a || !h || len(gb) != 2 || m[0].RouteOpts.GroupByAll {
			t.Errorf("severity %s: group_by %v, want [alertname host]", sev, gb)
		}
	}
}

// TestAlertmanagerInhibition: VSphereAuditExporterDown mutes the other
// health alerts of the same exporter (vsphere-audit-exporter.rules.yml),
// never a security alert (vsphere-audit.rules.yml) and never another
// exporter's alerts.
func TestAlertmanagerInhibition(t *testing.T) {
	cfg := loadAlertmanagerConfig(t)
	src := model.LabelSet{"alertname": "VSphereAuditExporterDown", "severity": "critical", "job": "vsphere_audit", "instance": "exporter:10055"}
	mutes := func(tgt model.LabelSet) bool {
		for _, r := range cfg.InhibitRules {
			if !amlabels.Matchers(r.SourceMatchers).Matches(src) || !amlabels.Matchers(r.TargetMatchers).Matches(tgt) {
				continue
			}
			eq := true
			for _, l := range r.Equal {
				if src[model.LabelName(l)] != tgt[model.LabelName(l)] {
					eq = false
				}
			}
			if eq {
				return true
			}
		}
		return false
	}
	same := func(name, sev string) model.LabelSet {
		return model.LabelSet{"alertname": model.LabelValue(name), "severity": model.LabelValue(sev), "job": "vsphere_audit", "instance": "exporter:10055", "host": "esx01"}
	}
	for _, a := range loadAlerts(t) {
		switch {
		case a.Name == "VSphereAuditExporterDown":
			if mutes(same(a.Name, a.Severity)) {
				t.Error("VSphereAuditExporterDown inhibits itself")
			}
		case a.Name == "VSphereAuditExporterAbsent":
			// absent(up{job=...}) has the job label only: there is no
			// target, so no ExporterDown either. Nothing inhibits it.
			if mutes(model.LabelSet{"alertname": model.LabelValue(a.Name), "severity": model.LabelValue(a.Severity), "job": "vsphere_audit"}) {
				t.Error("VSphereAuditExporterAbsent is inhibited")
			}
		case a.File == "vsphere-audit-exporter.rules.yml":
			if !mutes(same(a.Name, a.Severity)) {
				t.Errorf("%s of the down exporter is not inhibited", a.Name)
			}
			other := same(a.Name, a.Severity)
			other["instance"] = "exporter2:10055"
			if mutes(other) {
				t.Errorf("%s of another exporter is inhibited", a.Name)
			}
		case a.File == "vsphere-audit.rules.yml":
			if mutes(same(a.Name, a.Severity)) {
				t.Errorf("security alert %s is inhibited by VSphereAuditExporterDown", a.Name)
			}
		default:
			t.Errorf("%s: in %s, which this test does not know", a.Name, a.File)
		}
	}
}

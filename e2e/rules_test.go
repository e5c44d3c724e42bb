package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
)

// alertsDir is the shipped alerts/ directory, relative to this package.
const alertsDir = "../alerts"

// runbookBase is the prefix of every runbook_url annotation.
const runbookBase = "https://github.com/vsphere-audit-exporter/vsphere-audit-exporter/blob/main/docs/runbooks.md#"

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// shippedAlert is one alerting rule of alerts/*.rules.yml.
type shippedAlert struct {
	Name, Severity, File string
	Annotations          map[string]string
}

// shippedRuleFile is one parsed alerts/*.rules.yml.
type shippedRuleFile struct {
	path string
	ruleFile
}

// loadRuleFiles parses every rule file shipped in alerts/, in name order.
func loadRuleFiles(t testing.TB) []shippedRuleFile {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(alertsDir, "*.rules.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in %s: %v", alertsDir, err)
	}
	var out []shippedRuleFile
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rf := shippedRuleFile{path: f}
		if err := yaml.Unmarshal(b, &rf.ruleFile); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, rf)
	}
	return out
}

// loadAlerts returns every alerting rule shipped in alerts/*.rules.yml.
func loadAlerts(t testing.TB) []shippedAlert {
	t.Helper()
	var out []shippedAlert
	for _, rf := range loadRuleFiles(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				out = append(out, shippedAlert{Name: r.Alert, Severity: r.Labels["severity"], File: filepath.Base(rf.path), Annotations: r.Annotations})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// TestShippedAlertsFollowConventions checks the monitoring-mixin conventions
// the alerts promise: CamelCase names with the VSphereAudit prefix, a
// severity of critical/warning/info, summary and description, and a
// runbook_url whose anchor exists in docs/runbooks.md.
func TestShippedAlertsFollowConventions(t *testing.T) {
	runbooks, err := os.ReadFile("../docs/runbooks.md")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`^VSphereAudit([A-Z][a-z0-9]*|[A-Z]+)+$`)
	seen := map[string]bool{}
	for _, a := range loadAlerts(t) {
		if seen[a.Name] {
			t.Errorf("%s: alert defined twice", a.Name)
		}
		seen[a.Name] = true
		if !name.MatchString(a.Name) {
			t.Errorf("%s (%s): not a CamelCase name with the VSphereAudit prefix", a.Name, a.File)
		}
		switch a.Severity {
		case "critical", "warning", "info":
		default:
			t.Errorf("%s: severity %q, want critical, warning or info", a.Name, a.Severity)
		}
		for _, k := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(a.Annotations[k]) == "" {
				t.Errorf("%s: no %s annotation", a.Name, k)
			}
		}
		if s := a.Annotations["summary"]; !strings.HasSuffix(s, ".") {
			t.Errorf("%s: summary %q does not end in a period", a.Name, s)
		}
		if got, want := a.Annotations["runbook_url"], runbookBase+a.Name; got != want {
			t.Errorf("%s: runbook_url %q, want %q", a.Name, got, want)
		}
		if !strings.Contains(string(runbooks), `<a id="`+a.Name+`"></a>`) {
			t.Errorf("%s: docs/runbooks.md has no anchor <a id=%q></a>", a.Name, a.Name)
		}
	}
}

type ruleTestFile struct {
	Tests []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			AlertName string `yaml:"alertname"`
			EvalTime  string `yaml:"eval_time"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// TestEveryAlertHasFiringAndSilentTests checks that alerts/tests/*.yml has,
// for every shipped alert, a promtool case where it fires and one where it
// must not fire. (promtool itself runs them: make rules.)
func TestEveryAlertHasFiringAndSilentTests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(alertsDir, "tests", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no promtool test files: %v", err)
	}
	fires, silent := map[string]int{}, map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tf ruleTestFile
		if err := yaml.Unmarshal(b, &tf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range tf.Tests {
			for _, at := range tc.AlertRuleTest {
				if len(at.ExpAlerts) > 0 {
					fires[at.AlertName]++
				} else {
					silent[at.AlertName]++
				}
			}
		}
	}
	known := map[string]bool{}
	for _, a := range loadAlerts(t) {
		known[a.Name] = true
		if fires[a.Name] == 0 {
			t.Errorf("%s: no promtool test where it fires", a.Name)
		}
		if silent[a.Name] == 0 {
			t.Errorf("%s: no promtool test where it must not fire", a.Name)
		}
		t.Logf("%-40s fires in %d case(s), silent in %d", a.Name, fires[a.Name], silent[a.Name])
	}
	for n := range fires {
		if !known[n] {
			t.Errorf("tests name alert %s, which is not shipped", n)
		}
	}
	for n := range silent {
		if !known[n] {
			t.Errorf("tests name alert %s, which is not shipped", n)
		}
	}
}

// TestRulesPromtool runs what `make rules` runs: promtool check rules on
// every shipped rule file and promtool test rules on every case in
// alerts/tests/ (each alert fires and stays silent; the Tier-0 regex; the
// thresholds and allow-lists), so that `go test ./e2e -run Rules` proves
// the alerts without make.
func TestRulesPromtool(t *testing.T) {
	promtool := testenv.RequireBinary(t, "promtool", "prometheus")
	rules, err := filepath.Glob(filepath.Join(alertsDir, "*.rules.yml"))
	if err != nil || len(rules) == 0 {
		t.Fatalf("no rule files: %v", err)
	}
	if out, err := exec.Command(promtool, append([]string{"check", "rules"}, rules...)...).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	tests, err := filepath.Glob(filepath.Join(alertsDir, "tests", "*.yml"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("no promtool test files: %v", err)
	}
	for _, f := range tests {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := exec.Command(promtool, "test", "rules", f).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool test rules %s: %v\n%s", f, err, out)
			}
		})
	}
}

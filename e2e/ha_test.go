package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
)

// The two direct logins of TestHAOnePagePerLogin, in the RFC 3164 shape
// ESXi sends over TCP (LF framing); {ts} is the current time.
const (
	// log-samples.md §4a, ESXi 8.0 auth.log (artefacts.help), as the
	// host esx01.lab.local sends it: a root SSH login from 192.168.127.10.
	haLogin1 = `<38>{ts} esx01.lab.local sshd[1053654]: Accepted keyboard-interactive/pam for root from 192.168.127.10 port 58470 ssh2`
	// log-samples.md §2b, ESXi 8 hostd (SEKOIA-IO intake-formats), as the
	// host esx02.lab.local sends it, with the source address 127.0.0.1 of
	// the sample (a local session, not direct) replaced by 192.168.127.13:
	// testUser logging in to hostd directly. Another host than the first
	// login, so that Alertmanager (group_by alertname, host) puts it in a
	// group of its own and the first login's group must stay silent.
	haLogin2 = `<166>{ts} esx02.lab.local Hostd[1050748]: [Originator@6876 sub=Vimsvc.HaSessionManager opID=ef773308 sid=52f14cc5] Accepted password for user testUser from 192.168.127.13 - session=sessionUUID`
)

// haExporterDownFor is the `for` of VSphereAuditExporterDown in the rules
// copy of TestHAOnePagePerLogin (5m shipped), so that the killed replica's
// down page comes within the test.
const haExporterDownFor = "3s"

// TestHAOnePagePerLogin runs the high-availability layout of README.md: two
// exporters (the binary built from this tree) fed the same syslog, as a
// relay that fans out or an ESXi host with two loghosts does, both
// scraped by one Prometheus in the job vsphere_audit, one Alertmanager with
// the shipped routing, a webhook receiver. One direct login sent to both
// replicas pages exactly once, with its host, user and client_ip and no
// instance label (the rules' max without (instance)). Then one replica is
// killed (SIGKILL) and a second direct login, sent to the survivor only,
// pages too; the dead replica raises VSphereAuditExporterDown for its
// instance and nothing else: no second page for the first login.
func TestHAOnePagePerLogin(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; not in -short mode")
	}
	promBin := testenv.RequireBinary(t, "prometheus", "prometheus")
	amBin := testenv.RequireBinary(t, "prometheus-alertmanager", "prometheus-alertmanager")
	begin := time.Now()
	dir := t.TempDir()
	hook := newWebhook(t)
	exe := buildExporter(t, dir)

	type replica struct {
		name, syslogAddr, webAddr string
		p                         *process
	}
	var replicas []*replica
	for _, name := range []string{"exporter-a", "exporter-b"} {
		r := &replica{name: name, syslogAddr: freeAddr(t), webAddr: freeAddr(t)}
		// Each replica keeps its own journal.
		r.p = startProcess(t, dir, name, exe,
			"--syslog.tcp.listen-address="+r.syslogAddr,
			"--syslog.udp.listen-address=",
			"--web.listen-address="+r.webAddr,
			"--journal.path="+filepath.Join(dir, name+"-journal"))
		replicas = append(replicas, r)
	}
	for _, r := range replicas {
		waitHTTP(t, r.p, "http://"+r.webAddr+"/metrics")
	}
	a, b := replicas[0], replicas[1]

	amAddr := freeAddr(t)
	amURL := "http://" + amAddr
	amConfig := filepath.Join(dir, "alertmanager.yml")
	writeAlertmanagerCopy(t, filepath.Join(alertsDir, "alertmanager.yml"), amConfig, map[string]string{
		pagerReceiver:  hook.URL + "/" + pagerReceiver,
		ticketReceiver: hook.URL + "/" + ticketReceiver,
	})
	am := startProcess(t, dir, "alertmanager", amBin,
		"--config.file="+amConfig,
		"--storage.path="+filepath.Join(dir, "alertmanager-data"),
		"--web.listen-address="+amAddr,
		"--cluster.listen-address=")
	waitHTTP(t, am, amURL+"/-/ready")

	rules := copyRulesWithFor(t, filepath.Join(dir, "rules"), "VSphereAuditExporterDown", haExporterDownFor)
	prom, promURL := startPrometheusWith(t, dir, promBin, rules, amAddr, a.webAddr, b.webAddr)
	waitUntil(t, 30*time.Second, "Prometheus scrapes both replicas and has loaded the shipped rules", prom, func() bool {
		return len(promQuery(t, promURL, `up{job="vsphere_audit"} == 1`)) == 2 && ruleLoaded(t, promURL, "VSphereAuditDirectHostLogin")
	})
	t.Logf("two exporters, Alertmanager and Prometheus up after %s", time.Since(begin).Round(time.Millisecond))

	// One login, fanned out to both replicas over their own TCP sockets.
	for _, r := range replicas {
		sendLines(t, r.syslogAddr, []string{haLogin1})
	}
	login1 := `vsphere_audit_logins_total{direct="true",host="esx01.lab.local",user="root",client_ip="192.168.127.10"}`
	waitUntil(t, 30*time.Second, "Prometheus has the login from both replicas", prom, func() bool {
		return len(promQuery(t, promURL, login1)) == 2
	})
	scraped := time.Now()
	instances := map[string]bool{}
	for _, s := range promQuery(t, promURL, login1) {
		instances[s["instance"]] = true
	}
	if !instances[a.webAddr] || !instances[b.webAddr] {
		t.Fatalf("the login's series are from instances %v, want %s and %s", instances, a.webAddr, b.webAddr)
	}

	isLogin := func(user string) func(notification, webhookAlert) bool {
		return func(n notification, al webhookAlert) bool {
			return n.path == "/"+pagerReceiver && al.Status == "firing" &&
				al.Labels["alertname"] == "VSphereAuditDirectHostLogin" && al.Labels["user"] == user
		}
	}
	page1 := hook.waitFor(t, 60*time.Second, prom, isLogin("root"))
	wantLogin1 := map[string]string{
		"alertname": "VSphereAuditDirectHostLogin", "host": "esx01.lab.local", "user": "root",
		"client_ip": "192.168.127.10", "method": "ssh", "direct": "true", "severity": "critical", "job": "vsphere_audit",
	}
	checkLabels(t, "first login's page", page1.Labels, wantLogin1)

	// Once the rules have been evaluated on both replicas' series, Prometheus
	// and Alertmanager each hold one alert for the login, not one per
	// instance.
	waitUntil(t, 30*time.Second, "the rules are evaluated after both replicas were scraped", prom, func() bool {
		return lastEvaluation(t, promURL, "VSphereAuditDirectHostLogin").After(scraped)
	})
	if got := promQuery(t, promURL, `ALERTS{alertname="VSphereAuditDirectHostLogin",alertstate="firing"}`); len(got) != 1 {
		t.Errorf("Prometheus has %d firing VSphereAuditDirectHostLogin alerts for one login sent to two replicas, want 1: %v", len(got), got)
	}
	waitUntil(t, 30*time.Second, "Alertmanager holds the first login's alert", am, func() bool {
		return len(amAlerts(t, amURL, "VSphereAuditDirectHostLogin")) > 0
	})
	if got := amAlerts(t, amURL, "VSphereAuditDirectHostLogin"); len(got) != 1 {
		t.Errorf("Alertmanager holds %d VSphereAuditDirectHostLogin alerts, want 1: %v", len(got), got)
	}

	// Replica A dies; the second login reaches the survivor only.
	if err := a.p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill %s: %v", a.name, err)
	}
	<-a.p.done
	killed := len(hook.all())
	t.Logf("%s killed (SIGKILL) after %s", a.name, time.Since(begin).Round(time.Millisecond))
	waitUntil(t, 30*time.Second, "Prometheus sees "+a.name+" down", prom, func() bool {
		return len(promQuery(t, promURL, `up{job="vsphere_audit",instance="`+a.webAddr+`"} == 0`)) == 1
	})
	sendLines(t, b.syslogAddr, []string{haLogin2})
	page2 := hook.waitFor(t, 60*time.Second, prom, isLogin("testUser"))
	checkLabels(t, "second login's page", page2.Labels, map[string]string{
		"alertname": "VSphereAuditDirectHostLogin", "host": "esx02.lab.local", "user": "testUser",
		"client_ip": "192.168.127.13", "method": "hostd", "direct": "true", "severity": "critical", "job": "vsphere_audit",
	})
	down := hook.waitFor(t, 60*time.Second, prom, func(n notification, al webhookAlert) bool {
		return n.path == "/"+pagerReceiver && al.Status == "firing" && al.Labels["alertname"] == "VSphereAuditExporterDown"
	})
	checkLabels(t, "exporter-down page", down.Labels, map[string]string{
		"alertname": "VSphereAuditExporterDown", "job": "vsphere_audit", "instance": a.webAddr, "severity": "critical",
	})
	// Evaluations after the down page: still the same two login alerts.
	downAt := time.Now()
	waitUntil(t, 30*time.Second, "the rules are evaluated after the down page", prom, func() bool {
		return lastEvaluation(t, promURL, "VSphereAuditDirectHostLogin").After(downAt)
	})

	// Prometheus: two login alerts (root, testUser) without an instance
	// label, and the one replica down.
	var users []string
	for _, al := range promQuery(t, promURL, `ALERTS{alertname="VSphereAuditDirectHostLogin",alertstate="firing"}`) {
		if inst, ok := al["instance"]; ok {
			t.Errorf("VSphereAuditDirectHostLogin alert in Prometheus has instance=%q: %v", inst, al)
		}
		users = append(users, al["user"])
	}
	sort.Strings(users)
	if strings.Join(users, ",") != "root,testUser" {
		t.Errorf("Prometheus' firing VSphereAuditDirectHostLogin alerts are for users %v, want [root testUser]", users)
	}
	if got := promQuery(t, promURL, `ALERTS{alertname="VSphereAuditExporterDown",alertstate="firing"}`); len(got) != 1 || got[0]["instance"] != a.webAddr {
		t.Errorf("firing VSphereAuditExporterDown alerts: %v, want one, for instance %s", got, a.webAddr)
	}

	// The webhook: each login paged exactly once, in one notification;
	// after the kill only the second login and the down replica paged.
	all := hook.all()
	count := map[string]int{}
	for i, n := range all {
		for _, al := range n.Alerts {
			name := al.Labels["alertname"]
			if name == "VSphereAuditDirectHostLogin" {
				if inst, ok := al.Labels["instance"]; ok {
					t.Errorf("notification %d: VSphereAuditDirectHostLogin with instance=%q: %v", i, inst, al.Labels)
				}
				if n.path != "/"+pagerReceiver {
					t.Errorf("notification %d: VSphereAuditDirectHostLogin sent to %s, want /%s", i, n.path, pagerReceiver)
				}
			}
			if n.path != "/"+pagerReceiver {
				continue
			}
			key := name + " " + al.Status + " user=" + al.Labels["user"] + " instance=" + al.Labels["instance"]
			count[key]++
			if i < killed {
				continue
			}
			switch {
			case name == "VSphereAuditDirectHostLogin" && al.Labels["user"] == "testUser":
			case name == "VSphereAuditExporterDown" && al.Labels["instance"] == a.webAddr:
			default:
				t.Errorf("page %d after %s was killed: %s %s %v (want only the second login and %s down)", i, a.name, name, al.Status, al.Labels, a.name)
			}
		}
	}
	for key, want := range map[string]int{
		"VSphereAuditDirectHostLogin firing user=root instance=":      1,
		"VSphereAuditDirectHostLogin firing user=testUser instance=":  1,
		"VSphereAuditExporterDown firing user= instance=" + a.webAddr: 1,
	} {
		if count[key] != want {
			t.Errorf("%d pages with %s, want %d (all pages: %v)", count[key], key, want, count)
		}
	}
	if len(count) != 3 {
		t.Errorf("pages: %v, want exactly the two logins and %s down, once each", count, a.name)
	}
	// No alert anywhere split by instance: two alerts that differ only in
	// their instance label are one event counted by two replicas.
	seen := map[string]string{}
	for _, n := range all {
		for _, al := range n.Alerts {
			k := labelsWithout(al.Labels, "instance")
			if inst, ok := seen[k]; ok && inst != al.Labels["instance"] {
				t.Errorf("alert %s was sent for instance %q and %q", k, inst, al.Labels["instance"])
			}
			seen[k] = al.Labels["instance"]
		}
	}
	for _, r := range promRules(t, promURL) {
		if r.Health == "err" {
			t.Errorf("rule %s: %s", r.Name, r.LastError)
		}
	}
	t.Logf("HA end to end in %s; %d notifications", time.Since(begin).Round(time.Millisecond), len(all))
}

// checkLabels reports every label of want that got lacks or has another
// value, and an instance label got has when want has none.
func checkLabels(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: label %s=%q, want %q (labels %v)", what, k, got[k], v, got)
		}
	}
	if _, ok := want["instance"]; !ok {
		if inst, ok := got["instance"]; ok {
			t.Errorf("%s: has instance=%q, want no instance label (labels %v)", what, inst, got)
		}
	}
}

// labelsWithout renders a label set without the label drop, sorted.
func labelsWithout(l map[string]string, drop string) string {
	var parts []string
	for k, v := range l {
		if k != drop {
			parts = append(parts, k+"="+v)
		}
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

// lastEvaluation returns when Prometheus last evaluated the rule group
// holding the rule name (zero when it has none).
func lastEvaluation(t *testing.T, base, name string) time.Time {
	t.Helper()
	var data struct {
		Groups []struct {
			LastEvaluation time.Time `json:"lastEvaluation"`
			Rules          []struct {
				Name string `json:"name"`
			} `json:"rules"`
		} `json:"groups"`
	}
	promGet(t, base+"/api/v1/rules", &data)
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			if r.Name == name {
				return g.LastEvaluation
			}
		}
	}
	return time.Time{}
}

// amAlerts returns the label sets of the alerts named alertname that
// Alertmanager holds (API v2).
func amAlerts(t *testing.T, base, alertname string) []map[string]string {
	t.Helper()
	u := base + "/api/v2/alerts?filter=" + url.QueryEscape(`alertname="`+alertname+`"`)
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	var alerts []struct {
		Labels map[string]string `json:"labels"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	var out []map[string]string
	for _, a := range alerts {
		out = append(out, a.Labels)
	}
	return out
}

// copyRulesWithFor copies the shipped alerts/*.rules.yml into dir, the
// alert alertname's `for` set to forDur and everything else unchanged, and
// returns the glob of the copies. It fails when no rule file has that alert.
func copyRulesWithFor(t *testing.T, dir, alertname, forDur string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(alertsDir, "*.rules.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in %s: %v", alertsDir, err)
	}
	found := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Groups []map[string]any `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		changed := false
		for _, g := range doc.Groups {
			rules, _ := g["rules"].([]any)
			for _, r := range rules {
				if rm, ok := r.(map[string]any); ok && rm["alert"] == alertname {
					rm["for"] = forDur
					changed = true
					found++
				}
			}
		}
		if changed {
			if b, err = yaml.Marshal(doc); err != nil {
				t.Fatal(err)
			}
		}
		writeFile(t, filepath.Join(dir, filepath.Base(f)), string(b))
	}
	if found != 1 {
		t.Fatalf("%d rules named %s in %s/*.rules.yml, want 1", found, alertname, alertsDir)
	}
	glob, err := filepath.Abs(filepath.Join(dir, "*.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return glob
}

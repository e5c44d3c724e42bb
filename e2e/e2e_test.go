package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
)

// TestEndToEndDirectLoginPages runs the pipeline as a site runs it: the
// exporter built from this tree, a real Prometheus loading the shipped
// rules, a real Alertmanager loaded with the shipped routing (receivers
// pointed at a webhook inside the test), and ESXi syslog lines sent by
// logger(1) over TCP. A direct root login must page; vCenter's vpxuser
// logging in to the host from its vCenter (--vcenter.address) must not;
// vpxuser from another address pages once, as
// VSphereAuditVpxuserLoginFromUnknownAddress and not also as a direct login.
func TestEndToEndDirectLoginPages(t *testing.T) {
	st := startAlertingPipeline(t, "--vcenter.address=10.0.0.5")
	loggerBin, syslogAddr, prom, promURL, hook := st.loggerBin, st.syslogAddr, st.prom, st.promURL, st.hook
	begin := st.begin

	// A direct root login over SSH, as ESXi's sshd logs it.
	sent := time.Now()
	sendSyslog(t, loggerBin, syslogAddr, "sshd", "auth.info",
		"Accepted keyboard-interactive/pam for root from 172.16.5.5 port 58470 ssh2")
	page := hook.waitFor(t, 60*time.Second, prom, func(n notification, a webhookAlert) bool {
		return n.path == "/"+pagerReceiver && a.Status == "firing" && a.Labels["alertname"] == "VSphereAuditDirectHostLogin"
	})
	t.Logf("page received %s after the syslog line", time.Since(sent).Round(time.Millisecond))
	series := promQuery(t, promURL, `vsphere_audit_logins_total{direct="true",user="root"}`)
	if len(series) != 1 {
		t.Fatalf("Prometheus has %d direct root login series, want 1: %v", len(series), series)
	}
	for k, want := range map[string]string{
		"host": series[0]["host"], "user": "root", "client_ip": "172.16.5.5",
		"method": "ssh", "direct": "true", "severity": "critical", "job": "vsphere_audit",
	} {
		if got := page.Labels[k]; got != want || got == "" {
			t.Errorf("page label %s=%q, want %q (labels %v)", k, got, want, page.Labels)
		}
	}
	if d := page.Annotations["description"]; !strings.Contains(d, "172.16.5.5") || !strings.Contains(d, series[0]["host"]) {
		t.Errorf("page description %q names neither the source address nor the host", d)
	}

	// vCenter's own vpxuser logging in to the host: counted, never paged.
	sendSyslog(t, loggerBin, syslogAddr, "Hostd", "daemon.info",
		"[Originator@6876 sub=Vimsvc.ha-eventmgr opID=a1 user=vpxuser] Event 5 : User vpxuser@10.0.0.5 logged in as VMware-client/6.5.0")
	waitUntil(t, 20*time.Second, "Prometheus has scraped the vpxuser login", prom, func() bool {
		return len(promQuery(t, promURL, `vsphere_audit_logins_total{user="vpxuser",direct="false"}`)) == 1
	})
	time.Sleep(15 * time.Second)
	if a := promQuery(t, promURL, `ALERTS{user="vpxuser"}`); len(a) > 0 {
		t.Errorf("Prometheus has alerts about vpxuser: %v", a)
	}
	for _, n := range hook.all() {
		for _, a := range n.Alerts {
			if a.Labels["user"] == "vpxuser" {
				t.Errorf("%s received an alert about vpxuser: %v", n.path, a.Labels)
			}
		}
	}

	// vpxuser from an address that is not the vCenter: stolen credentials.
	sent = time.Now()
	sendSyslog(t, loggerBin, syslogAddr, "Hostd", "daemon.info",
		"[Originator@6876 sub=Vimsvc.ha-eventmgr opID=a2 user=vpxuser] Event 6 : User vpxuser@203.0.113.50 logged in as VMware-client/6.5.0")
	vpx := hook.waitFor(t, 60*time.Second, prom, func(n notification, a webhookAlert) bool {
		return n.path == "/"+pagerReceiver && a.Status == "firing" && a.Labels["alertname"] == "VSphereAuditVpxuserLoginFromUnknownAddress"
	})
	t.Logf("vpxuser page received %s after the syslog line", time.Since(sent).Round(time.Millisecond))
	for k, want := range map[string]string{"user": "vpxuser", "client_ip": "203.0.113.50", "direct": "true", "method": "hostd", "severity": "critical"} {
		if got := vpx.Labels[k]; got != want {
			t.Errorf("vpxuser page label %s=%q, want %q (labels %v)", k, got, want, vpx.Labels)
		}
	}
	time.Sleep(3 * time.Second) // evaluations after the page: still no direct-login alert
	if a := promQuery(t, promURL, `ALERTS{alertname="VSphereAuditDirectHostLogin",user="vpxuser"}`); len(a) > 0 {
		t.Errorf("vpxuser from an unknown address is also a VSphereAuditDirectHostLogin: %v", a)
	}
	for _, n := range hook.all() {
		for _, a := range n.Alerts {
			if a.Labels["user"] == "vpxuser" && a.Labels["alertname"] != "VSphereAuditVpxuserLoginFromUnknownAddress" {
				t.Errorf("%s received another alert about vpxuser: %v", n.path, a.Labels)
			}
		}
	}

	// Every shipped rule evaluated without error on this Prometheus.
	for _, r := range promRules(t, promURL) {
		if r.Health == "err" {
			t.Errorf("rule %s: %s", r.Name, r.LastError)
		}
	}
	t.Logf("end to end in %s", time.Since(begin).Round(time.Millisecond))
}

// TestEndToEndVMOperationsPage runs the alerts of issue 9 (detection
// breadth) through the same pipeline: (a) a disk from another VM's folder
// attached to web01, sent as an ESXi audit record, pages
// VSphereAuditCrossVMDiskAttached; (b) a clone of the Tier-0 VM dc01, as
// vCenter's vpxd relays it, pages VSphereAuditTier0VMOperation; (c) a
// normal snapshot of web01, which is not Tier-0, is counted and pages
// nothing.
func TestEndToEndVMOperationsPage(t *testing.T) {
	st := startAlertingPipeline(t)

	sent := time.Now()
	// (a) ESXi audit record vm.storage.add: web01 gets dc01's disk.
	sendSyslog(t, st.loggerBin, st.syslogAddr, "Hostd", "daemon.info",
		`[vm.storage.add@6876 subject="root" object="web01" result="success" ip="10.0.0.9" path="[ds1] dc01/dc01.vmdk"]`)
	// (b) vCenter's event stream over syslog: dc01 cloned.
	sendSyslog(t, st.loggerBin, st.syslogAddr, "vpxd", "daemon.info",
		"Event [9001] [1-1] ["+sent.UTC().Format(time.RFC3339)+"] [vim.event.VmBeingClonedEvent] [info] [VSPHERE.LOCAL\\Administrator] [Datacenter] [9001] [Cloning dc01 on host esx01.lab.local in Datacenter to dc01-copy on host esx02.lab.local]")
	// (c) ESXi audit record vm.snapshot.create: a normal snapshot of web01.
	sendSyslog(t, st.loggerBin, st.syslogAddr, "Hostd", "daemon.info",
		`[vm.snapshot.create@6876 subject="root" object="web01" result="success" ip="10.0.0.9" name="before-patch" uniqueID="1" parent=""]`)

	// Each event counted, in Prometheus, with the labels the alerts read.
	want := []string{
		`vsphere_audit_vm_disk_changes_total{vm="web01",user="root",action="add",cross_vm="true"} == 1`,
		`vsphere_audit_vm_lifecycle_total{vm="dc01",user="administrator@vsphere.local",action="clone"} == 1`,
		`vsphere_audit_vm_snapshots_total{vm="web01",user="root",action="create"} == 1`,
	}
	missing := waitForSeries(t, st, 20*time.Second, want)
	for _, q := range missing {
		t.Errorf("no series %s in Prometheus 20s after the syslog lines", q)
	}
	if len(missing) > 0 {
		t.Logf("the exporter's VM metrics:\n%s", exposition(t, "http://"+st.exporterAddr+"/metrics", "vsphere_audit_vm_"))
	}
	seen := time.Now()

	// (a) and (b) page, each with the labels of its series.
	pages := map[string]func(webhookAlert) bool{
		"VSphereAuditCrossVMDiskAttached": func(a webhookAlert) bool { return a.Labels["vm"] == "web01" },
		"VSphereAuditTier0VMOperation":    func(a webhookAlert) bool { return a.Labels["vm"] == "dc01" },
	}
	got := map[string]webhookAlert{}
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < len(pages) && time.Now().Before(deadline) {
		for _, n := range st.hook.all() {
			for _, a := range n.Alerts {
				if match, ok := pages[a.Labels["alertname"]]; ok && n.path == "/"+pagerReceiver && a.Status == "firing" && match(a) {
					if _, dup := got[a.Labels["alertname"]]; !dup {
						got[a.Labels["alertname"]] = a
						t.Logf("page %s received %s after the syslog lines", a.Labels["alertname"], time.Since(sent).Round(time.Millisecond))
					}
				}
			}
		}
		select {
		case <-st.hook.notify:
		case <-st.prom.done:
			t.Fatalf("Prometheus exited:\n%s", st.prom.tail())
		case <-time.After(time.Second):
		}
	}
	hostOf := func(q string) string {
		if s := promQuery(t, st.promURL, q); len(s) == 1 {
			return s[0]["host"]
		}
		return ""
	}
	checks := map[string]map[string]string{
		"VSphereAuditCrossVMDiskAttached": {
			"host": hostOf(`vsphere_audit_vm_disk_changes_total{vm="web01",cross_vm="true"}`),
			"vm":   "web01", "user": "root", "action": "add", "cross_vm": "true",
			"severity": "critical", "job": "vsphere_audit",
		},
		"VSphereAuditTier0VMOperation": {
			"host": hostOf(`vsphere_audit_vm_lifecycle_total{vm="dc01",action="clone"}`),
			// A sum by (host, vm, user, event): no job or instance.
			"vm": "dc01", "user": "administrator@vsphere.local", "event": "clone",
			"severity": "critical",
		},
	}
	for name, labels := range checks {
		page, ok := got[name]
		if !ok {
			t.Errorf("no %s page to %s within 60s; received: %+v", name, pagerReceiver, st.hook.all())
			continue
		}
		for k, want := range labels {
			if v := page.Labels[k]; v != want || v == "" {
				t.Errorf("%s page label %s=%q, want %q (labels %v)", name, k, v, want, page.Labels)
			}
		}
	}

	// (c) pages nothing: no alert other than the cross-VM one names web01,
	// and no alert is about a snapshot, in Prometheus or at either
	// receiver. The Tier-0 alert needs one more evaluation for a VM seen
	// for the first time; wait several.
	if d := 10*time.Second - time.Since(seen); d > 0 {
		time.Sleep(d)
	}
	aboutSnapshot := func(l map[string]string) bool {
		return (l["vm"] == "web01" && l["alertname"] != "VSphereAuditCrossVMDiskAttached") ||
			strings.HasPrefix(l["event"], "snapshot") || l["alertname"] == "VSphereAuditSnapshotsRemovedAll"
	}
	for _, a := range promQuery(t, st.promURL, `ALERTS`) {
		if aboutSnapshot(a) {
			t.Errorf("Prometheus has an alert about web01 other than the cross-VM page (the snapshot must page nothing): %v", a)
		}
	}
	for _, n := range st.hook.all() {
		for _, a := range n.Alerts {
			if aboutSnapshot(a.Labels) {
				t.Errorf("%s received an alert about web01 other than the cross-VM page (the snapshot must page nothing): %v", n.path, a.Labels)
			}
		}
	}

	for _, r := range promRules(t, st.promURL) {
		if r.Health == "err" {
			t.Errorf("rule %s: %s", r.Name, r.LastError)
		}
	}
	t.Logf("end to end in %s", time.Since(st.begin).Round(time.Millisecond))
}

// waitForSeries polls Prometheus until every query returns one series or
// the timeout passes, and returns the queries that did not.
func waitForSeries(t *testing.T, st *alertingPipeline, timeout time.Duration, queries []string) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var missing []string
		for _, q := range queries {
			if len(promQuery(t, st.promURL, q)) != 1 {
				missing = append(missing, q)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			return missing
		}
		select {
		case <-st.exporter.done:
			t.Fatalf("exporter exited:\n%s", st.exporter.tail())
		case <-st.prom.done:
			t.Fatalf("Prometheus exited:\n%s", st.prom.tail())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// exposition returns the lines of an exposition that start with prefix.
func exposition(t *testing.T, u, prefix string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return "(none)"
	}
	return strings.Join(out, "\n")
}

// alertingPipeline is the exporter built from this tree, a real Alertmanager
// with the shipped routing (receivers pointed at a webhook inside the
// test) and a real Prometheus with the shipped rules, scraping the exporter
// and evaluating every second.
type alertingPipeline struct {
	loggerBin, syslogAddr, exporterAddr, promURL string
	exporter, prom                               *process
	hook                                         *webhook
	begin                                        time.Time
}

// startAlertingPipeline starts the pipeline (skipping in -short mode or
// without the binaries), the exporter with exporterArgs besides its
// listeners, and returns once Prometheus scrapes the exporter and has
// loaded the shipped rules.
func startAlertingPipeline(t *testing.T, exporterArgs ...string) *alertingPipeline {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test; not in -short mode")
	}
	promBin := testenv.RequireBinary(t, "prometheus", "prometheus")
	amBin := testenv.RequireBinary(t, "prometheus-alertmanager", "prometheus-alertmanager")
	st := &alertingPipeline{loggerBin: testenv.RequireBinary(t, "logger", "bsdutils"), begin: time.Now()}
	dir := t.TempDir()
	st.hook = newWebhook(t)

	exe := buildExporter(t, dir)
	st.syslogAddr, st.exporterAddr = freeAddr(t), freeAddr(t)
	st.exporter = startProcess(t, dir, "exporter", exe, append([]string{
		"--syslog.tcp.listen-address=" + st.syslogAddr,
		"--syslog.udp.listen-address=",
		"--web.listen-address=" + st.exporterAddr,
		"--journal.path=" + filepath.Join(dir, "journal")}, exporterArgs...)...)
	waitHTTP(t, st.exporter, "http://"+st.exporterAddr+"/metrics")

	// Alertmanager with a copy of the shipped config: receivers pointed at
	// the webhook, group_wait and group_interval lowered to 1s.
	amAddr := freeAddr(t)
	amConfig := filepath.Join(dir, "alertmanager.yml")
	writeAlertmanagerCopy(t, filepath.Join(alertsDir, "alertmanager.yml"), amConfig, map[string]string{
		pagerReceiver:  st.hook.URL + "/" + pagerReceiver,
		ticketReceiver: st.hook.URL + "/" + ticketReceiver,
	})
	am := startProcess(t, dir, "alertmanager", amBin,
		"--config.file="+amConfig,
		"--storage.path="+filepath.Join(dir, "alertmanager-data"),
		"--web.listen-address="+amAddr,
		"--cluster.listen-address=")
	waitHTTP(t, am, "http://"+amAddr+"/-/ready")

	// Prometheus scraping the exporter every second, evaluating the shipped
	// rules every second, sending to the Alertmanager.
	st.prom, st.promURL = startPrometheus(t, dir, promBin, []string{st.exporterAddr}, amAddr)
	waitUntil(t, 30*time.Second, "Prometheus scrapes the exporter and has loaded the shipped rules", st.prom, func() bool {
		return len(promQuery(t, st.promURL, `up{job="vsphere_audit"} == 1`)) == 1 && ruleLoaded(t, st.promURL, "VSphereAuditDirectHostLogin")
	})
	t.Logf("exporter, Alertmanager and Prometheus up after %s", time.Since(st.begin).Round(time.Millisecond))
	return st
}

// --- webhook receiver ---

type webhookAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type notification struct {
	path     string
	Receiver string         `json:"receiver"`
	Status   string         `json:"status"`
	Alerts   []webhookAlert `json:"alerts"`
}

type webhook struct {
	*httptest.Server
	mu     sync.Mutex
	got    []notification
	notify chan struct{}
}

func newWebhook(t *testing.T) *webhook {
	h := &webhook{notify: make(chan struct{}, 1)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("webhook %s: %v", r.URL.Path, err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n.path = r.URL.Path
		t.Logf("webhook %s: receiver=%s status=%s alerts=%d", n.path, n.Receiver, n.Status, len(n.Alerts))
		h.mu.Lock()
		h.got = append(h.got, n)
		h.mu.Unlock()
		select {
		case h.notify <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *webhook) all() []notification {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notification(nil), h.got...)
}

// waitFor returns the first alert received for which match is true.
func (h *webhook) waitFor(t *testing.T, timeout time.Duration, p *process, match func(notification, webhookAlert) bool) webhookAlert {
	t.Helper()
	deadline := time.After(timeout)
	for {
		for _, n := range h.all() {
			for _, a := range n.Alerts {
				if match(n, a) {
					return a
				}
			}
		}
		select {
		case <-h.notify:
		case <-p.done:
			t.Fatalf("%s exited while waiting for the alert:\n%s", p.name, p.tail())
		case <-deadline:
			t.Fatalf("no matching alert within %s; received: %+v", timeout, h.all())
		}
	}
}

// --- processes ---

type process struct {
	name, log string
	cmd       *exec.Cmd
	done      chan struct{}
}

func (p *process) tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// startProcess starts bin with args, its output in dir/name.log; it is
// stopped (SIGTERM, then SIGKILL) when the test ends, and its log is shown
// when the test failed.
func startProcess(t *testing.T, dir, name, bin string, args ...string) *process {
	t.Helper()
	p := launch(t, dir, name, bin, args...)
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- %s log (%s %s):\n%s", name, bin, strings.Join(args, " "), p.tail())
		}
	})
	return p
}

// launch starts bin with args, its output in dir/name.log; the caller
// decides how it ends.
func launch(t *testing.T, dir, name, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p
}

// waitUntil polls cond until it holds, failing after timeout or when p exits.
// buildExporter builds the exporter from this tree into dir.
func buildExporter(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not in PATH: %v", err)
	}
	exe := filepath.Join(dir, "vsphere_audit_exporter")
	if out, err := exec.Command(goBin, "build", "-o", exe, "../cmd/vsphere_audit_exporter").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

// startPrometheus runs a Prometheus that scrapes the exporter and evaluates
// the shipped rules every second, sending alerts to amAddr when it is set,
// and returns it with its base URL once it is ready. Each of exporterAddrs
// is a target of the job vsphere_audit.
func startPrometheus(t *testing.T, dir, promBin string, exporterAddrs []string, amAddr string) (*process, string) {
	t.Helper()
	rules, err := filepath.Abs(filepath.Join(alertsDir, "*.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return startPrometheusWith(t, dir, promBin, rules, amAddr, exporterAddrs...)
}

// startPrometheusWith runs a Prometheus that scrapes every target in the
// job vsphere_audit and evaluates the rule files matching rulesGlob every
// second, sending alerts to amAddr when it is set, and returns it with its
// base URL once it is ready.
func startPrometheusWith(t *testing.T, dir, promBin, rulesGlob, amAddr string, targets ...string) (*process, string) {
	t.Helper()
	alerting := ""
	if amAddr != "" {
		alerting = fmt.Sprintf("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [%q]\n", amAddr)
	}
	promAddr := freeAddr(t)
	promConfig := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promConfig, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
%sscrape_configs:
  - job_name: vsphere_audit
    static_configs:
      - targets: [%s]
`, rulesGlob, alerting, quoteTargets(targets)))
	prom := startProcess(t, dir, "prometheus", promBin,
		"--config.file="+promConfig,
		"--storage.tsdb.path="+filepath.Join(dir, "prometheus-data"),
		"--web.listen-address="+promAddr)
	promURL := "http://" + promAddr
	waitHTTP(t, prom, promURL+"/-/ready")
	return prom, promURL
}

func quoteTargets(addrs []string) string {
	q := make([]string, len(addrs))
	for i, a := range addrs {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, ", ")
}

func waitUntil(t *testing.T, timeout time.Duration, what string, p *process, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case <-p.done:
			t.Fatalf("%s exited while waiting until %s:\n%s", p.name, what, p.tail())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", timeout, what)
		}
	}
}

func waitHTTP(t *testing.T, p *process, u string) {
	t.Helper()
	waitUntil(t, 20*time.Second, u+" answers 200", p, func() bool {
		resp, err := http.Get(u)
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// freeAddr returns 127.0.0.1:port with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sendSyslog sends one RFC 3164 message over TCP with logger(1).
func sendSyslog(t *testing.T, loggerBin, addr, tag, prio, msg string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(loggerBin, "--tcp", "-n", host, "-P", port, "--rfc3164", "-t", tag, "-p", prio, "--", msg).CombinedOutput()
	if err != nil {
		t.Fatalf("logger: %v\n%s", err, out)
	}
}

// writeAlertmanagerCopy writes src with each receiver's webhook URL replaced
// by urls[receiver] and every group_wait and group_interval lowered to 1s
// (so that an alert joining an already notified group, such as a second
// login to the same host, is sent within seconds too). Every receiver in
// src must be in urls, so that no test alert can leave the machine.
func writeAlertmanagerCopy(t *testing.T, src, dst string, urls map[string]string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	recvs, _ := cfg["receivers"].([]any)
	if len(recvs) != len(urls) {
		t.Fatalf("%s has %d receivers, the test knows %d", src, len(recvs), len(urls))
	}
	for _, r := range recvs {
		rm := r.(map[string]any)
		name, _ := rm["name"].(string)
		u, ok := urls[name]
		if !ok {
			t.Fatalf("%s: receiver %q unknown to the test", src, name)
		}
		for k := range rm {
			if k != "name" && k != "webhook_configs" {
				t.Fatalf("%s: receiver %q has %s, the test only rewrites webhook_configs", src, name, k)
			}
		}
		rm["webhook_configs"] = []any{map[string]any{"url": u, "send_resolved": true}}
	}
	var lower func(route map[string]any)
	lower = func(route map[string]any) {
		route["group_wait"] = "1s"
		route["group_interval"] = "1s"
		subs, _ := route["routes"].([]any)
		for _, s := range subs {
			lower(s.(map[string]any))
		}
	}
	root, ok := cfg["route"].(map[string]any)
	if !ok {
		t.Fatalf("%s: no route", src)
	}
	lower(root)
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(out))
}

// --- Prometheus HTTP API ---

func promGet(t *testing.T, u string, data any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Status != "success" {
		t.Fatalf("GET %s: status %s, %v %s: %s", u, resp.Status, err, env.Error, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(env.Data, data); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// promQuery returns the label sets of an instant query's result.
func promQuery(t *testing.T, base, q string) []map[string]string {
	t.Helper()
	return promQueryAt(t, base, q, time.Time{})
}

// promQueryAt evaluates q at time at (now if zero).
func promQueryAt(t *testing.T, base, q string, at time.Time) []map[string]string {
	t.Helper()
	var data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
		} `json:"result"`
	}
	u := base + "/api/v1/query?query=" + url.QueryEscape(q)
	if !at.IsZero() {
		u += "&time=" + strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)
	}
	promGet(t, u, &data)
	var out []map[string]string
	for _, r := range data.Result {
		out = append(out, r.Metric)
	}
	return out
}

type promRule struct {
	Name      string `json:"name"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
}

func promRules(t *testing.T, base string) []promRule {
	t.Helper()
	var data struct {
		Groups []struct {
			Rules []promRule `json:"rules"`
		} `json:"groups"`
	}
	promGet(t, base+"/api/v1/rules", &data)
	var out []promRule
	for _, g := range data.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

func ruleLoaded(t *testing.T, base, name string) bool {
	for _, r := range promRules(t, base) {
		if r.Name == name {
			return true
		}
	}
	return false
}

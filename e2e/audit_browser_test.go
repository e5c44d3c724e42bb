package e2e

import (
	"crypto/tls"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vcsim"
)

// auditLayout is how the report prints a time.
const auditLayout = "2006-01-02 15:04:05 -07:00"

// TestAuditBrowser opens the exporter's /audit in a real browser. The
// exporter built from this tree, with a journal, is fed over syslog by
// logger(1) (TCP) a direct root login (sshd), a console opening and a
// migration (vCenter's vpxd event stream, with their own timestamps), and
// reads a vCenter simulator over the vSphere API, where a console is
// opened and DRS migrates a VM. Headless Chromium loads /audit?since=1h
// and the rendered DOM (--dump-dom) has the row of each, in its section,
// with its exact time (to the second, in UTC: --web.audit-timezone=UTC).
// A screenshot is written for the reviewer (e2e/testdata/out/audit.png).
func TestAuditBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; not in -short mode")
	}
	chromium := testenv.RequireBinary(t, "chromium", "chromium")
	loggerBin := testenv.RequireBinary(t, "logger", "bsdutils")
	dir := t.TempDir()

	// The vCenter simulator, with TLS, read as the exporter reads a vCenter.
	model := simulator.VPX()
	if err := model.Create(); err != nil {
		t.Fatal(err)
	}
	defer model.Remove()
	model.Service.Listen = &url.URL{User: url.UserPassword("auditor", "pw")}
	model.Service.TLS = new(tls.Config)
	model.Service.RegisterEndpoints = true
	sim := model.Service.NewServer()
	defer sim.Close()
	vcURL := *sim.URL
	vcURL.User = nil
	t.Setenv("VSPHERE_AUDIT_VCENTER_PASSWORD", "pw")

	exe := buildExporter(t, dir)
	syslogAddr, webAddr := freeAddr(t), freeAddr(t)
	exporter := startProcess(t, dir, "exporter", exe,
		"--syslog.tcp.listen-address="+syslogAddr, "--syslog.udp.listen-address=",
		"--web.listen-address="+webAddr, "--journal.path="+filepath.Join(dir, "journal"),
		"--web.audit-timezone=UTC",
		"--vcenter.url="+vcURL.String(), "--vcenter.user=auditor", "--vcenter.thumbprint="+sim.CertificateInfo().ThumbprintSHA256,
		"--vcenter.state-dir="+filepath.Join(dir, "vcenter"), "--vcenter.poll-interval=100ms")
	base := "http://" + webAddr
	waitHTTP(t, exporter, base+"/metrics")
	waitUntil(t, 30*time.Second, "the exporter reads the simulator", exporter, func() bool {
		return strings.Contains(exposition(t, base+"/metrics", "vsphere_audit_vcenter_up"), "} 1")
	})

	// Over syslog. logger stamps the sshd line with its own clock (to the
	// second, in UTC: the exporter reads BSD timestamps in UTC); the vpxd
	// lines carry vCenter's creation time.
	before := time.Now().UTC().Truncate(time.Second)
	cmd := exec.Command(loggerBin, "--tcp", "-n", hostOf(syslogAddr), "-P", portOf(syslogAddr), "--rfc3164", "-t", "sshd", "-p", "auth.info", "--",
		"Accepted keyboard-interactive/pam for root from 172.16.5.5 port 58470 ssh2")
	cmd.Env = append(os.Environ(), "TZ=UTC")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("logger: %v\n%s", err, out)
	}
	after := time.Now().UTC()
	console := before.Add(-20 * time.Minute).Truncate(time.Second).Add(631649 * time.Microsecond)
	migration := console.Add(2*time.Minute + 275082*time.Microsecond)
	sendSyslog(t, loggerBin, syslogAddr, "vpxd", "daemon.info", "Event [182269] [1-1] ["+console.Format("2006-01-02T15:04:05.000000Z")+
		"] [vim.event.VmAcquiredTicketEvent] [info] [VSPHERE.LOCAL\\Administrator] [Datacenter] [182269] [A ticket for web01 of type WebMKS on esx01.lab.local in Datacenter has been acquired]")
	sendSyslog(t, loggerBin, syslogAddr, "vpxd", "daemon.info", "Event [4410405] [1-1] ["+migration.Format("2006-01-02T15:04:05.000000Z")+
		"] [vim.event.VmMigratedEvent] [info] [VSPHERE.LOCAL\\admin] [DC1] [4410400] [Migration of virtual machine web01 from esx01.lab.local, ds1 to esx02.lab.local, ds1 completed]")

	// In the simulator: carol opens a console, DRS migrates a VM.
	var hosts []*simulator.HostSystem
	for _, r := range model.Map().All("HostSystem") {
		hosts = append(hosts, r.(*simulator.HostSystem))
	}
	vm := model.Map().All("VirtualMachine")[0].(*simulator.VirtualMachine)
	hostArg := func(h *simulator.HostSystem) *types.HostEventArgument {
		return &types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: h.Name}, Host: h.Self}
	}
	vmArg := &types.VmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: vm.Name}, Vm: vm.Self}
	simConsole := &types.VmAcquiredTicketEvent{VmEvent: types.VmEvent{Event: types.Event{Vm: vmArg, Host: hostArg(hosts[0])}}, TicketType: "webmks"}
	vcsim.PostAs(model, `VSPHERE.LOCAL\carol`, simConsole)
	cluster := &types.ComputeResourceEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "DC0_C0"}}
	simDRS := &types.DrsVmMigratedEvent{VmMigratedEvent: types.VmMigratedEvent{VmEvent: types.VmEvent{Event: types.Event{Vm: vmArg, Host: hostArg(hosts[1]), ComputeResource: cluster,
		Datacenter: &types.DatacenterEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "DC0"}}}},
		SourceHost: *hostArg(hosts[0])}}
	vcsim.PostAs(model, "", simDRS)
	simConsoleAt, simDRSAt := simConsole.CreatedTime.UTC(), simDRS.CreatedTime.UTC()

	// The journal has them once /audit's JSON has them: then the page.
	var doc auditDoc
	waitUntil(t, 30*time.Second, "/audit has the five rows", exporter, func() bool {
		doc = auditJSON(t, base+"/audit?since=1h&format=json")
		return len(doc.rows("logins")) >= 1 && len(doc.rows("consoles")) >= 2 && len(doc.rows("migrations")) >= 2
	})
	login := doc.rows("logins")[0]
	loginAt, err := time.Parse(time.RFC3339Nano, login["time"].(string))
	if err != nil || loginAt.Before(before) || loginAt.After(after) {
		t.Fatalf("the sshd login's time %v is not the second logger sent it (%v to %v)", login["time"], before, after)
	}

	// The reviewer's copies: the DOM and a screenshot, in e2e/testdata/out
	// (ignored by git).
	out, err := filepath.Abs(filepath.Join("testdata", "out"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(out, "audit.html")
	dom := dumpDOM(t, chromium, base+"/audit?since=1h", page)
	for _, c := range []struct {
		section string
		want    map[string]string
	}{
		{"logins", map[string]string{"time": loginAt.Format(auditLayout), "user": "root", "client_ip": "172.16.5.5", "method": "ssh", "host": login["host"].(string), "direct": "yes", "class": "direct"}},
		{"consoles", map[string]string{"time": console.Format(auditLayout), "user": "administrator@vsphere.local", "vm": "web01", "ticket_type": "webmks", "host": "esx01.lab.local"}},
		{"consoles", map[string]string{"time": simConsoleAt.Format(auditLayout), "user": "carol@vsphere.local", "vm": vm.Name, "ticket_type": "webmks", "host": hosts[0].Name}},
		{"migrations", map[string]string{"time": migration.Format(auditLayout), "vm": "web01", "user": "admin@vsphere.local", "from": "esx01.lab.local", "to": "esx02.lab.local"}},
		{"migrations", map[string]string{"time": simDRSAt.Format(auditLayout), "vm": vm.Name, "user": "DRS", "from": hosts[0].Name, "to": hosts[1].Name}},
	} {
		if !hasRow(domRows(t, dom, c.section), c.want) {
			t.Errorf("the rendered page has no %s row %v; its rows: %v", c.section, c.want, domRows(t, dom, c.section))
		}
	}
	for _, want := range []string{`<span id="zone">UTC (+00:00)</span>`, `<a id="csv" href="?format=csv&amp;since=1h">CSV</a>`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %s", want)
		}
	}

	shot := filepath.Join(out, "audit.png")
	os.Remove(shot)
	chrome(t, chromium, "--screenshot="+shot, "--window-size=1400,1000", base+"/audit?since=1h")
	if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	t.Logf("screenshot of /audit?since=1h: %s (its DOM: %s)", shot, page)
}

type auditDoc struct {
	Sections []struct {
		ID   string
		Rows []map[string]any
	}
}

func (d auditDoc) rows(id string) []map[string]any {
	for _, s := range d.Sections {
		if s.ID == id {
			return s.Rows
		}
	}
	return nil
}

func auditJSON(t *testing.T, u string) auditDoc {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var d auditDoc
	if resp.StatusCode != 200 || json.Unmarshal(b, &d) != nil {
		t.Fatalf("GET %s: %d\n%s", u, resp.StatusCode, b)
	}
	return d
}

// chrome runs headless Chromium with args and returns its standard output.
func chrome(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir()}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.Output(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("chromium %v: no answer in 90 s\n%s", args, stderr.String())
	}
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// dumpDOM is the DOM Chromium renders from u, also written to file.
func dumpDOM(t *testing.T, bin, u, file string) string {
	t.Helper()
	dom := chrome(t, bin, "--dump-dom", u)
	writeFile(t, file, string(dom))
	return string(dom)
}

var (
	domTR = regexp.MustCompile(`(?s)<tr( class="[^"]*")?>(.*?)</tr>`)
	domTD = regexp.MustCompile(`(?s)<td class="([^"]+)">(.*?)</td>`)
)

// domRows are the rows of a section's table: text by column key, and the
// row's class.
func domRows(t *testing.T, dom, id string) []map[string]string {
	t.Helper()
	i := strings.Index(dom, `<section id="`+id+`">`)
	if i < 0 {
		t.Fatalf("the page has no section %s", id)
	}
	sec := dom[i:]
	if j := strings.Index(sec, "</section>"); j >= 0 {
		sec = sec[:j]
	}
	var rows []map[string]string
	for _, tr := range domTR.FindAllStringSubmatch(sec, -1) {
		row := map[string]string{"class": strings.TrimSuffix(strings.TrimPrefix(tr[1], ` class="`), `"`)}
		for _, td := range domTD.FindAllStringSubmatch(tr[2], -1) {
			row[td[1]] = html.UnescapeString(td[2])
		}
		if len(row) > 1 {
			rows = append(rows, row)
		}
	}
	return rows
}

func hasRow(rows []map[string]string, want map[string]string) bool {
	for _, r := range rows {
		ok := true
		for k, v := range want {
			ok = ok && r[k] == v
		}
		if ok {
			return true
		}
	}
	return false
}

func hostOf(addr string) string { h, _, _ := strings.Cut(addr, ":"); return h }
func portOf(addr string) string {
	_, p, _ := strings.Cut(addr, ":")
	return p
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/journal"
)

// auditJournal is a journal with a direct login, a console and a
// migration on 2026-11-10 (UTC), and a login before them.
func auditJournal(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "journal")
	j, err := journal.Open(journal.Options{Path: dir, Retention: 100 * 365 * 24 * time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, e := range []audit.Event{
		{Time: at("2026-11-09T23:00:00Z"), Source: audit.SourceSyslog, Host: "esx02", Kind: audit.KindLogin, User: "vpxuser", ClientIP: "10.0.0.5", Method: audit.MethodHostd},
		{Time: at("2026-11-10T10:00:00Z"), Source: audit.SourceSyslog, Host: "esx01", Kind: audit.KindLogin, User: "root", ClientIP: "172.16.5.5", Method: audit.MethodSSH, Direct: true},
		{Time: at("2026-11-10T10:41:48.631649Z"), Source: audit.SourceSyslog, Host: "vcsa01", Kind: audit.KindConsoleOpened, User: "administrator@example.local", VM: "web01", TicketType: "mks", TargetHost: "esx01"},
		{Time: at("2026-11-10T11:02:58.906731Z"), Source: audit.SourceSyslog, Host: "vcsa01", Kind: audit.KindVMMigrated, User: "admin@vsphere.local", VM: "web01", SourceHost: "esx01", TargetHost: "esx02"},
	} {
		j.Record(e)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runCmd runs the program in-process and returns its exit code, standard
// output and standard error.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out bytes.Buffer
	var rc int
	errOut := stderrOf(t, func() { rc = run(context.Background(), args, nil, &out, nil) })
	return rc, out.String(), errOut
}

// The report command reads the journal read-only and prints each format;
// a bad flag value, a missing journal or a bad zone is an error that names
// its flag, and a missing journal is not created.
func TestAuditReportCommand(t *testing.T) {
	dir := auditJournal(t)
	period := []string{"report", "--journal.path=" + dir, "--since=2026-11-10", "--until=2026-11-11T00:00:00Z"}
	rc, out, errOut := runCmd(t, append(period, "--timezone=UTC")...)
	if rc != 0 {
		t.Fatalf("report: %d %s", rc, errOut)
	}
	for _, want := range []string{
		"Period:    2026-11-10 00:00:00 +00:00 to 2026-11-11 00:00:00 +00:00\n",
		"2026-11-10 10:00:00 +00:00  root  172.16.5.5  ssh     esx01        yes\n",
		"2026-11-10 10:41:48 +00:00  administrator@example.local  web01  mks          esx01  opened\n",
		"2026-11-10 11:02:58 +00:00  web01  admin@vsphere.local  esx01  esx02\n",
		"== Failed logins by source: 0 (most attempts first) ==\n(none)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "vpxuser") {
		t.Errorf("the login before --since is in the report:\n%s", out)
	}
	// Another zone: the same instants with its offset.
	// Another zone: the same instants with its offset (--since without
	// one is read in it).
	if _, out, errOut := runCmd(t, append(period, "--timezone=Asia/Kolkata", "--kind=login")...); !strings.Contains(out, "2026-11-10 15:30:00 +05:30  root") ||
		!strings.Contains(out, "Period:    2026-11-10 00:00:00 +05:30 to 2026-11-11 05:30:00 +05:30") || strings.Contains(out, "Consoles") {
		t.Errorf("--timezone=Asia/Kolkata --kind=login: %s\n%s", errOut, out)
	}
	period = append(period, "--timezone=UTC")
	if _, out, _ := runCmd(t, append(period, "--format=csv")...); !strings.HasPrefix(out, "section,time,user,client_ip,") || !strings.Contains(out, "\nlogins,2026-11-10 10:00:00 +00:00,root,172.16.5.5,ssh,esx01,yes,") {
		t.Errorf("--format=csv:\n%s", out)
	}
	var doc struct {
		Sections []struct {
			ID   string
			Rows []map[string]any
		}
	}
	if _, out, _ := runCmd(t, append(period, "--format=json")...); json.Unmarshal([]byte(out), &doc) != nil || doc.Sections[2].ID != "consoles" || doc.Sections[2].Rows[0]["time"] != "2026-11-10T10:41:48.631649Z" {
		t.Errorf("--format=json: %+v\n%s", doc, out)
	}
	if _, out, _ := runCmd(t, append(period, "--format=html")...); !strings.Contains(out, `<td class="vm">web01</td>`) || strings.Contains(out, "<form") {
		t.Errorf("--format=html:\n%s", out)
	}

	missing := filepath.Join(t.TempDir(), "nothing")
	for _, c := range []struct {
		args []string
		rc   int
		want string
	}{
		{[]string{"report", "--journal.path=" + missing}, 2, "--journal.path=" + missing + ": no journal there"},
		{[]string{"report", "--journal.path="}, 2, "--journal.path is empty"},
		{[]string{"report", "--journal.path=" + dir, "--since=last week"}, 2, `--since: "last week" is neither a duration`},
		{[]string{"report", "--journal.path=" + dir, "--until=1d", "--since=1h"}, 2, "--until: "},
		{[]string{"report", "--journal.path=" + dir, "--kind=vm_power"}, 2, `--kind: "vm_power" is in no section of the report`},
		{[]string{"report", "--journal.path=" + dir, "--timezone=Mars/Olympus"}, 2, "--timezone=Mars/Olympus: "},
		{[]string{"report", "--journal.path=" + dir, "--format=pdf"}, 2, "--format=pdf: "},
	} {
		rc, _, errOut := runCmd(t, c.args...)
		if rc != c.rc || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want %d naming %q", c.args, rc, errOut, c.rc, c.want)
		}
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the report created %s: %v", missing, err)
	}
	help, _ := exec.Command(buildBinary(t), "report", "--help").CombinedOutput()
	for _, want := range []string{"report --since=2026-11-01 --until=2026-12-01 --format=csv", "--journal.path=", "--since=\"30d\"", "--kind=KIND", "--format=text", "--timezone=\"Local\""} {
		if !bytes.Contains(help, []byte(want)) {
			t.Errorf("report --help lacks %q:\n%s", want, help)
		}
	}
}

// /audit is on the same mux as the metrics: the report of the journal, or
// a 404 that says why when the journal is disabled; the landing page
// links to it.
func TestAuditWebHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.DiscardHandler)
	get := func(h http.Handler, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	h := webHandler(metricsHandler(reg, expositionOptions{}, logger), "/metrics", logger, nil, time.UTC)
	if code, body := get(h, "/audit"); code != http.StatusNotFound || !strings.Contains(body, "--journal.path is empty") {
		t.Errorf("/audit without a journal: %d %q", code, body)
	}
	if code, body := get(h, "/"); code != 200 || !strings.Contains(body, `href="/audit"`) || !strings.Contains(body, "Audit report") {
		t.Errorf("landing page: %d\n%s", code, body)
	}
	j, err := journal.OpenReadOnly(auditJournal(t))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	h = webHandler(metricsHandler(reg, expositionOptions{}, logger), "/metrics", logger, j, time.FixedZone("CET", 3600))
	code, body := get(h, "/audit?since=2026-11-10&until=2026-11-11")
	if code != 200 || !strings.Contains(body, `<td class="time">2026-11-10 11:00:00 &#43;01:00</td><td class="user">root</td>`) {
		t.Errorf("/audit: %d\n%s", code, body)
	}
}

// /audit is behind --web.config.file, as /metrics.
func TestAuditBehindWebConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "web.yml")
	// bcrypt of "audit-secret".
	if err := os.WriteFile(cfg, []byte("basic_auth_users:\n  auditor: $2a$04$aClfVCUF3DLYiW0WMV7z/.N9KHbFguZzaAvbufxwgEwgl3JN9Z79G\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, jpath := range []string{auditJournal(t), ""} {
		e := startExporter(t, "--web.config.file="+cfg, "--journal.path="+jpath, "--web.audit-timezone=UTC")
		for _, auth := range []bool{false, true} {
			req, _ := http.NewRequest(http.MethodGet, e.base+"/audit?since=2026-11-10&until=2026-11-11", nil)
			if auth {
				req.SetBasicAuth("auditor", "audit-secret")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := http.StatusUnauthorized
			switch {
			case auth && jpath != "":
				want = http.StatusOK
				if !strings.Contains(string(body), `<td class="time">2026-11-10 10:00:00 &#43;00:00</td>`) {
					t.Errorf("/audit behind basic auth:\n%s", body)
				}
			case auth:
				want = http.StatusNotFound
			}
			if resp.StatusCode != want {
				t.Errorf("journal %q, auth %v: %d, want %d: %s", jpath, auth, resp.StatusCode, want, body)
			}
		}
	}
}

package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestEndToEndConsoleReusePages: the console ledger's scenario over real
// sockets with the shipped rules and routing. alice opens Tier-0 VM dc01's
// console through vCenter and logs on at the guest's console; mallory opens
// the same console and logs on to nothing within --console.login-window:
// VSphereAuditTier0ConsoleSessionReused pages, naming dc01 and mallory. The
// lines are testdata/console/dc01-reuse.log's, with current times: vCenter's
// event stream over syslog (vpxd) and the guest's Security event 4624 as
// NXLog's to_json() writes it.
func TestEndToEndConsoleReusePages(t *testing.T) {
	st := startAlertingPipeline(t, "--console.login-window=2s")
	now := time.Now().UTC()
	at := func(d time.Duration) time.Time { return now.Add(d) }
	ticket := func(key int, ts time.Time, user, class, text string) string {
		return fmt.Sprintf("Event [%d] [1-1] [%s] [vim.event.%s] [info] [VSPHERE.LOCAL\\%s] [DC1] [%d] [%s]",
			key, ts.Format("2006-01-02T15:04:05.000Z"), class, user, key, text)
	}
	logon := fmt.Sprintf(`{"EventTime":"%s","Hostname":"DC01.corp.example.com","EventType":"AUDIT_SUCCESS","SeverityValue":2,"Severity":"INFO","EventID":4624,"SourceName":"Microsoft-Windows-Security-Auditing","RecordNumber":88211,"Channel":"Security","Category":"Logon","TargetUserName":"alice","TargetDomainName":"CORP","TargetLogonId":"0x5c1e2a","LogonType":"2","IpAddress":"127.0.0.1","SourceModuleName":"eventlog","SourceModuleType":"im_msvistalog"}`,
		at(-40*time.Second).Format("2006-01-02 15:04:05"))

	sendSyslog(t, st.loggerBin, st.syslogAddr, "vpxd", "daemon.info",
		ticket(5100100, at(-50*time.Second), "alice", "VmAcquiredTicketEvent", "A ticket for dc01 of type webmks on esx01.lab.local in DC1 has been acquired"))
	// The guest's line comes over another connection: its order against
	// vCenter's is what the exporter reads it in. alice's console is
	// counted before her guest logon is sent, as the scenario has it.
	counted := func(what, metric, sample string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(exposition(t, "http://"+st.exporterAddr+"/metrics", metric), sample); {
			if time.Now().After(deadline) {
				t.Fatalf("%s not counted within 30s:\n%s", what, exposition(t, "http://"+st.exporterAddr+"/metrics", "vsphere_audit_"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	counted("alice's console opening", "vsphere_audit_console_opened_total", `user="alice@vsphere.local",vm="dc01"} 1`)
	sendRaw(t, st.syslogAddr, logon+"\n")
	counted("alice's guest logon", "vsphere_audit_guest_logons_total", `user="alice@corp"`)
	sendSyslog(t, st.loggerBin, st.syslogAddr, "vpxd", "daemon.info",
		ticket(5100180, at(-20*time.Second), "mallory", "VmAcquiredMksTicketEvent", "Remote console to dc01 on esx01.lab.local in DC1 has been opened"))

	missing := waitForSeries(t, st, 60*time.Second, []string{
		`vsphere_audit_guest_logons_total{vm="dc01",user="alice@corp",action="logon",method="console"} == 1`,
		`vsphere_audit_console_sessions_reused_total{vm="dc01",user="mallory@vsphere.local"} == 1`,
	})
	if len(missing) > 0 {
		t.Fatalf("not in Prometheus: %v\nthe exporter's console metrics:\n%s", missing,
			exposition(t, "http://"+st.exporterAddr+"/metrics", "vsphere_audit_"))
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range st.hook.all() {
			for _, a := range n.Alerts {
				if a.Labels["alertname"] != "VSphereAuditTier0ConsoleSessionReused" || a.Status != "firing" {
					continue
				}
				if n.path != "/"+pagerReceiver {
					t.Fatalf("the reuse went to %s, not the pager", n.path)
				}
				if a.Labels["vm"] != "dc01" || a.Labels["user"] != "mallory@vsphere.local" || a.Labels["severity"] != "critical" {
					t.Fatalf("page labels %v, want vm=dc01 user=mallory@vsphere.local severity=critical", a.Labels)
				}
				if !strings.Contains(a.Annotations["description"], "Tier-0 VM dc01") {
					t.Errorf("description %q", a.Annotations["description"])
				}
				return
			}
		}
		select {
		case <-st.hook.notify:
		case <-st.prom.done:
			t.Fatalf("Prometheus exited:\n%s", st.prom.tail())
		case <-time.After(time.Second):
		}
	}
	t.Fatalf("no VSphereAuditTier0ConsoleSessionReused page within 60s; notifications: %+v", st.hook.all())
}

// sendRaw writes data to a syslog TCP listener as it is (LF framing): a
// forwarder that sends a bare JSON line, as NXLog's om_tcp does.
func sendRaw(t *testing.T, addr, data string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
}

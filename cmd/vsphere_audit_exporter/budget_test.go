package main

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// Finding 1 of issue 11, over a real socket: a flood of forged host names
// fills the series budget (here 5,000 series) with label sets that do not
// page; the direct login that follows still gets its own series, with its
// host, user and address, so the direct-login alert fires on it. Before the
// budget the flood made one series per forged host in every metric.
func TestFloodThenDirectLoginOverSocket(t *testing.T) {
	e := startExporter(t, "--metrics.max-total-series=5000", "--journal.path=")
	conn, err := net.Dial("tcp", e.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w := bufio.NewWriter(conn)
	forged := []string{
		"sshd[1]: error: PAM: Authentication failure for root from 203.0.113.7",
		"SSH[1]: SSH login enabled",
		"shell[1]: [root]: ls -l /tmp",
		"ESXShell[1]: ESXi Shell unavailable",
	}
	const hosts = 3000
	for h := 0; h < hosts; h++ {
		for _, m := range forged {
			fmt.Fprintf(w, "<38>Dec  3 10:00:00 forged-%05d %s\n", h, m)
		}
	}
	fmt.Fprintf(w, "<38>Dec  3 10:05:00 esx-victim sshd[7]: Accepted keyboard-interactive/pam for root from 203.0.113.50 port 50000 ssh2\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	direct := `vsphere_audit_logins_total{client_ip="203.0.113.50", direct="true", host="esx-victim", method="ssh", user="root"}`
	parsed := `vsphere_audit_syslog_messages_total{result="parsed", transport="tcp"}`
	var got map[string]float64
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got = scrape(t, e.url)
		if got[parsed] == 4*hosts+1 && got[direct] == 1 || time.Now().After(deadline) {
			break
		}
	}
	if got[parsed] != 4*hosts+1 {
		t.Fatalf("%s = %v, want %d", parsed, got[parsed], 4*hosts+1)
	}
	if got[direct] != 1 {
		t.Errorf("%s = %v, want 1: the direct login after the flood lost its series", direct, got[direct])
	}
	if v := got["vsphere_audit_series{}"]; v > 5000 || v < 4000 {
		t.Errorf("vsphere_audit_series = %v, want the budget filled to at most 5000", v)
	}
	audit := 0
	for k := range got {
		if strings.HasPrefix(k, "vsphere_audit_") && strings.Contains(k, "forged-") {
			audit++
		}
	}
	if audit > 5000 {
		t.Errorf("%d series name a forged host, want at most the budget of 5000", audit)
	}
	if v := got[`vsphere_audit_label_overflow_total{metric="vsphere_audit_events_total"}`]; v == 0 {
		t.Error("events_total did not overflow: the flood did not reach the budget")
	}
	if v := got[`vsphere_audit_paging_overflow_total{metric="vsphere_audit_logins_total"}`]; v != 0 {
		t.Errorf("paging_overflow_total{logins} = %v, want 0", v)
	}
	t.Logf("%d series name a forged host; vsphere_audit_series = %v", audit, got["vsphere_audit_series{}"])
}

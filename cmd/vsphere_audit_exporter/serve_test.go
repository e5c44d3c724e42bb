package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/syslog"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
)

type exporter struct {
	udp, tcp string
	url      string
	base     string
}

// startExporter runs the exporter in-process, as a user starts it, on
// free loopback ports; extra flags are appended.
func startExporter(t *testing.T, extra ...string) exporter {
	t.Helper()
	return startExporterArgs(t, append([]string{"--log.level=error", "--web.listen-address=127.0.0.1:0",
		"--syslog.udp.listen-address=127.0.0.1:0", "--syslog.tcp.listen-address=127.0.0.1:0",
		"--syslog.reassembly-timeout=200ms"}, extra...))
}

// startExporterArgs runs the exporter with exactly args.
func startExporterArgs(t *testing.T, args []string) exporter {
	t.Helper()
	if !flagGiven(args, "journal.path") {
		args = append(args, "--journal.path="+t.TempDir())
	}
	ctx, cancel := context.WithCancel(context.Background())
	type addrs struct {
		web net.Addr
		s   *syslog.Server
	}
	readyc := make(chan addrs, 1)
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, args, nil, io.Discard, func(web net.Addr, s *syslog.Server) { readyc <- addrs{web, s} })
	}()
	var a addrs
	select {
	case a = <-readyc:
	case rc := <-done:
		cancel()
		t.Fatalf("exporter exited with %d", rc)
	}
	t.Cleanup(func() {
		cancel()
		if rc := <-done; rc != 0 {
			t.Errorf("exporter exited with %d", rc)
		}
	})
	e := exporter{base: "http://" + a.web.String()}
	e.url = e.base + "/metrics"
	if a.s != nil {
		if u := a.s.UDPAddr(); u != nil {
			e.udp = u.String()
		}
		if tc := a.s.TCPAddr(); tc != nil {
			e.tcp = tc.String()
		}
	}
	return e
}

// scrape fetches /metrics and returns every sample as "name{labels}" -> value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.NewFormat(expfmt.TypeTextPlain))
	out := map[string]float64{}
	for {
		mf := new(dto.MetricFamily)
		if err := dec.Decode(mf); err != nil {
			if err == io.EOF {
				break
			}
			t.Fatal(err)
		}
		for _, m := range mf.GetMetric() {
			lbls := model.LabelSet{}
			for _, lp := range m.GetLabel() {
				lbls[model.LabelName(lp.GetName())] = model.LabelValue(lp.GetValue())
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			out[mf.GetName()+lbls.String()] = v
		}
	}
	return out
}

// logger sends one message with util-linux logger(1) to the exporter.
func sendLogger(t *testing.T, bin string, args ...string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("logger %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func hostPort(addr string) (string, string) {
	h, p, _ := net.SplitHostPort(addr)
	return h, p
}

// Real syslog clients over real sockets: logger(1) sends RFC 5424 and RFC
// 3164 over UDP and TCP, with LF and octet-counting framing; the test
// asserts exact values on /metrics.
func TestLoggerToMetrics(t *testing.T) {
	bin := testenv.RequireBinary(t, "logger", "bsdutils")
	e := startExporter(t)
	uh, up := hostPort(e.udp)
	th, tp := hostPort(e.tcp)
	udp := func(format string) []string { return []string{"--udp", "-n", uh, "-P", up, format} }
	tcp := func(format string, extra ...string) []string {
		return append([]string{"--tcp", "-n", th, "-P", tp, format}, extra...)
	}
	send := func(transport []string, tag, prio, msg string) {
		sendLogger(t, bin, append(transport, "-t", tag, "-p", prio, "--", msg)...)
	}

	// A direct SSH login to the host (ESXi auth.log line), RFC 5424 over UDP.
	send(udp("--rfc5424"), "sshd", "auth.info", "Accepted keyboard-interactive/pam for root from 172.16.5.5 port 58470 ssh2")
	// A direct Host Client login, ESXi 8 hostd line, RFC 3164 over TCP (LF framing):
	// two lines of one session (same opID) are one login.
	send(tcp("--rfc3164"), "Hostd", "local4.info", "[Originator@6876 sub=Vimsvc.HaSessionManager opID=esxui-8c02-9b39 sid=52f0e556] Accepted password for user root from 192.168.127.10 - session=52f0e556-5be4-83d4-8d71-8f9d8a43791c")
	send(tcp("--rfc3164"), "Hostd", "local4.info", "[Originator@6876 sub=Vimsvc.ha-eventmgr opID=esxui-8c02-9b39 sid=52f0e556] Event 99 : User root@192.168.127.10 logged in as Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
	// vCenter's own account: a login, never a direct one. RFC 5424, octet counting.
	send(tcp("--rfc5424", "--octet-count"), "Hostd", "local4.info", "[Originator@6876 sub=Vimsvc.ha-eventmgr opID=233816e0 user=vpxuser] Event 974625 : User vpxuser@10.79.50.22 logged in as VMware-client/6.5.0")
	// Three SSH password failures from one address, RFC 5424 over TCP with octet counting.
	for i := 0; i < 3; i++ {
		send(tcp("--rfc5424", "--octet-count"), "sshd", "auth.err", "error: PAM: Authentication failure for root from 203.0.113.7")
	}
	// SSH switched on (ESXi 8 init script), RFC 3164 over UDP.
	send(udp("--rfc3164"), "SSH", "user.notice", "SSH login enabled")
	// A shell command, RFC 3164 over UDP.
	send(udp("--rfc3164"), "shell", "user.info", "[root]: esxcli network firewall set --enabled false")
	// A continuation line on its own never makes an event.
	send(tcp("--rfc3164"), "Hostd", "local4.info", `-->    eventTypeId = "esx.audit.ssh.session.opened",`)

	hostname, _ := os.Hostname()
	short, _, _ := strings.Cut(hostname, ".")
	want := map[string]float64{
		fmt.Sprintf(`vsphere_audit_logins_total{client_ip="172.16.5.5", direct="true", host="%s", method="ssh", user="root"}`, hostname):        1,
		fmt.Sprintf(`vsphere_audit_logins_total{client_ip="192.168.127.10", direct="true", host="%s", method="hostd", user="root"}`, short):     1,
		fmt.Sprintf(`vsphere_audit_logins_total{client_ip="10.79.50.22", direct="false", host="%s", method="hostd", user="vpxuser"}`, hostname): 1,
		fmt.Sprintf(`vsphere_audit_login_failures_total{client_ip="203.0.113.7", host="%s", method="ssh", user="root"}`, hostname):              3,
		fmt.Sprintf(`vsphere_audit_service_changes_total{host="%s", service="ssh", state="enabled"}`, short):                                    1,
		fmt.Sprintf(`vsphere_audit_service_enabled{host="%s", service="ssh"}`, short):                                                           1,
		fmt.Sprintf(`vsphere_audit_shell_commands_total{host="%s", technique="T1562.001", user="root"}`, short):                                 1,
		fmt.Sprintf(`vsphere_audit_config_changes_total{action="disabled", host="%s", setting="firewall", user="root"}`, short):                 1,
		`vsphere_audit_syslog_messages_total{result="parsed", transport="udp"}`:                                                                 3,
		`vsphere_audit_syslog_messages_total{result="parsed", transport="tcp"}`:                                                                 7,
		`vsphere_audit_syslog_messages_total{result="unparsed", transport="tcp"}`:                                                               0,
	}
	var got map[string]float64
	deadline := time.Now().Add(15 * time.Second)
	for {
		got = scrape(t, e.url)
		ok := true
		for k, v := range want {
			if got[k] != v {
				ok = false
			}
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for k, v := range want {
		if g, found := got[k]; !found || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, found, v)
		}
	}
	// Exactly these logins and no others (the continuation line made none).
	n := 0
	for k, v := range got {
		if strings.HasPrefix(k, "vsphere_audit_logins_total{") {
			n += int(v)
		}
	}
	if n != 3 {
		t.Errorf("logins in total = %d, want 3", n)
	}
	if t.Failed() {
		for k, v := range got {
			if strings.HasPrefix(k, "vsphere_audit_") && !strings.Contains(k, "overflow") {
				t.Logf("have %s %v", k, v)
			}
		}
	}
}

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
)

// victoriaLogsModule is what scripts/ensure-deps.sh installs.
const victoriaLogsModule = "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.1"

// TestVictoriaLogsOutageExactlyOnce ships audit events to a real
// VictoriaLogs over OTLP/HTTP and takes VictoriaLogs away for 30 s in the
// middle of the stream: the exporter built from this tree (with a journal,
// --otlp.endpoint at VictoriaLogs' /insert/opentelemetry/v1/logs) receives
// N direct SSH logins of distinct users from logger(1) over TCP; after the
// first ones are queryable, VictoriaLogs is stopped (its data directory
// kept) while logger goes on sending, and restarted on the same port and
// data directory 30 s later. Every event must then be in VictoriaLogs
// exactly once: LogsQL counts N records, one per user, N distinct
// event.id, with the fields the shipper sets; the exporter's ship metrics
// show the outage (errors, lag) and its end (lag 0).
func TestVictoriaLogsOutageExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; not in -short mode")
	}
	vlBin := testenv.RequireGoTool(t, "victoria-logs", victoriaLogsModule)
	loggerBin := testenv.RequireBinary(t, "logger", "bsdutils")
	const (
		n      = 300 // events, one login of a distinct user each
		before = 100 // sent before the outage
		outage = 30 * time.Second
	)
	begin := time.Now()
	dir := t.TempDir()
	vlAddr, vlData := freeAddr(t), filepath.Join(dir, "victoria-logs-data")
	vlURL := "http://" + vlAddr
	startVL := func(name string) *process {
		p := startProcess(t, dir, name, vlBin, "-httpListenAddr="+vlAddr, "-storageDataPath="+vlData, "-retentionPeriod=30d")
		waitHTTP(t, p, vlURL+"/health")
		return p
	}
	vl := startVL("victoria-logs")

	exe := buildExporter(t, dir)
	syslogAddr, webAddr := freeAddr(t), freeAddr(t)
	exporter := startProcess(t, dir, "exporter", exe,
		"--syslog.tcp.listen-address="+syslogAddr, "--syslog.udp.listen-address=", "--web.listen-address="+webAddr,
		"--journal.path="+filepath.Join(dir, "journal"),
		"--otlp.endpoint="+vlURL+"/insert/opentelemetry/v1/logs")
	metricsURL := "http://" + webAddr + "/metrics"
	waitHTTP(t, exporter, metricsURL)
	t.Logf("VictoriaLogs and the exporter up after %s", time.Since(begin).Round(time.Millisecond))

	user := func(i int) string { return fmt.Sprintf("vl-user-%03d", i) }
	send := func(from, to int) {
		var lines strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&lines, "Accepted keyboard-interactive/pam for %s from 172.16.5.%d port %d ssh2\n", user(i), 1+i%200, 40000+i)
		}
		sendSyslogLines(t, loggerBin, syslogAddr, "sshd", "auth.info", lines.String())
	}
	count := func() int { return vlCount(t, vlURL, `kind:=login`) }

	// Before the outage: the first events arrive while VictoriaLogs runs.
	for i := 0; i < before; i += 10 {
		send(i, i+10)
	}
	waitUntil(t, 30*time.Second, fmt.Sprintf("VictoriaLogs has the first %d events", before), exporter, func() bool { return count() >= before })
	t.Logf("%d events in VictoriaLogs after %s", count(), time.Since(begin).Round(time.Millisecond))

	// The rest, 10 every 1.75 s: the stream goes on through the outage and
	// past the restart.
	var wg sync.WaitGroup
	wg.Add(1)
	streamDone := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(streamDone)
		for i := before; i < n; i += 10 {
			send(i, i+10)
			time.Sleep(1750 * time.Millisecond)
		}
	}()
	t.Cleanup(wg.Wait)

	// Mid-stream, VictoriaLogs stops (SIGTERM: it finishes the requests it
	// is serving and writes out what it acknowledged; SIGKILL would lose
	// acknowledged rows, which no client can make up for). Its data
	// directory stays.
	time.Sleep(2 * time.Second)
	down := time.Now()
	vl.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-vl.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("VictoriaLogs did not stop within 20s:\n%s", vl.tail())
	}
	atStop := shipStats(t, metricsURL)
	t.Logf("VictoriaLogs stopped after %s; the exporter had shipped %v events", time.Since(begin).Round(time.Millisecond), atStop.events)
	waitUntil(t, outage, "the exporter counts failed exports and a lag during the outage", exporter, func() bool {
		m := shipStats(t, metricsURL)
		return m.errors > atStop.errors && m.lag > 0
	})
	if d := outage - time.Since(down); d > 0 {
		time.Sleep(d) // the outage lasts 30 s, whatever the checks took
	}
	during := shipStats(t, metricsURL)
	t.Logf("after %s of outage: %v failed exports, lag %v events", time.Since(down).Round(time.Millisecond), during.errors-atStop.errors, during.lag)
	if during.lag <= 0 {
		t.Errorf("lag %v during the outage, want the events sent meanwhile", during.lag)
	}

	// Back on the same port and data directory.
	up := time.Now()
	startVL("victoria-logs-restarted")
	t.Logf("VictoriaLogs back after %s down", up.Sub(down).Round(time.Millisecond))
	<-streamDone
	waitUntil(t, 60*time.Second, fmt.Sprintf("VictoriaLogs has %d events and the exporter's lag is 0", n), exporter, func() bool {
		return count() >= n && shipStats(t, metricsURL).lag == 0
	})
	caughtUp := time.Since(up)
	// A moment more: nothing arrives twice late.
	time.Sleep(2 * time.Second)

	recs := vlQuery(t, vlURL, `kind:=login | fields user, event.id, kind, method, direct, client_ip, severity_text, service.name, _msg`)
	perUser := map[string]int{}
	ids := map[string]bool{}
	for _, r := range recs {
		perUser[r["user"]]++
		ids[r["event.id"]] = true
	}
	if len(recs) != n {
		t.Errorf("VictoriaLogs holds %d records, want %d (exactly once)", len(recs), n)
	}
	if len(ids) != n {
		t.Errorf("%d distinct event.id, want %d", len(ids), n)
	}
	for i := 0; i < n; i++ {
		if c := perUser[user(i)]; c != 1 {
			t.Errorf("user %s: %d records, want 1", user(i), c)
		}
	}
	if stats := vlStatsCount(t, vlURL, `kind:=login`); stats != n {
		t.Errorf("LogsQL stats count() = %d, want %d", stats, n)
	}
	for _, r := range recs {
		if r["user"] != user(7) {
			continue
		}
		for k, want := range map[string]string{"kind": "login", "method": "ssh", "direct": "true", "client_ip": "172.16.5.8",
			"severity_text": "WARN", "service.name": "vsphere_audit_exporter",
			"_msg": "Accepted keyboard-interactive/pam for vl-user-007 from 172.16.5.8 port 40007 ssh2"} {
			if r[k] != want {
				t.Errorf("%s: %s=%q, want %q (record %v)", user(7), k, r[k], want, r)
			}
		}
	}
	final := shipStats(t, metricsURL)
	if final.events != n {
		t.Errorf("vsphere_audit_ship_events_total %v, want %d", final.events, n)
	}
	t.Logf("outage test: %d events sent by logger, %d before the outage; VictoriaLogs down %s; %v failed exports meanwhile, lag up to %v; caught up %s after the restart; %d records in VictoriaLogs, %d users once each, %d distinct event.id; whole test %s",
		n, before, up.Sub(down).Round(time.Millisecond), final.errors-atStop.errors, during.lag, caughtUp.Round(time.Millisecond), len(recs), len(perUser), len(ids), time.Since(begin).Round(time.Millisecond))
}

// sendSyslogLines sends each line of lines as one RFC 3164 message over TCP
// with logger(1) (one connection).
func sendSyslogLines(t *testing.T, loggerBin, addr, tag, prio, lines string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Error(err)
		return
	}
	cmd := exec.Command(loggerBin, "--tcp", "-n", host, "-P", port, "--rfc3164", "-t", tag, "-p", prio)
	cmd.Stdin = strings.NewReader(lines)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("logger: %v\n%s", err, out) // Errorf: also called from the sending goroutine
	}
}

// shipMetrics are the exporter's ship counters and gauges (one sink).
type shipMetrics struct{ events, errors, lag float64 }

func shipStats(t *testing.T, metricsURL string) shipMetrics {
	t.Helper()
	var m shipMetrics
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, "{")
		if !ok {
			continue
		}
		i := strings.LastIndexByte(rest, ' ')
		v, err := strconv.ParseFloat(rest[i+1:], 64)
		if err != nil {
			continue
		}
		switch name {
		case "vsphere_audit_ship_events_total":
			m.events = v
		case "vsphere_audit_ship_errors_total":
			m.errors = v
		case "vsphere_audit_ship_lag_events":
			m.lag = v
		}
	}
	return m
}

// vlQuery runs a LogsQL query and returns its rows (every field as text).
func vlQuery(t *testing.T, base, q string) []map[string]string {
	t.Helper()
	resp, err := http.PostForm(base+"/select/logsql/query", url.Values{"query": {q}})
	if err != nil {
		t.Fatalf("LogsQL %s: %v", q, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("LogsQL %s: %s: %s", q, resp.Status, b)
	}
	var out []map[string]string
	dec := json.NewDecoder(resp.Body)
	for {
		var r map[string]string
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("LogsQL %s: %v", q, err)
		}
		out = append(out, r)
	}
	return out
}

// vlCount is how many records q selects (0 while VictoriaLogs is down).
func vlCount(t *testing.T, base, q string) int {
	t.Helper()
	resp, err := http.PostForm(base+"/select/logsql/query", url.Values{"query": {q + " | stats count() as n"}})
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var r struct {
		N string `json:"n"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&r) != nil {
		return 0
	}
	c, _ := strconv.Atoi(r.N)
	return c
}

// vlStatsCount counts with the stats endpoint, /select/logsql/stats_query.
func vlStatsCount(t *testing.T, base, q string) int {
	t.Helper()
	resp, err := http.PostForm(base+"/select/logsql/stats_query", url.Values{"query": {q + " | stats count() as n"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &r); err != nil || r.Status != "success" || len(r.Data.Result) != 1 || len(r.Data.Result[0].Value) != 2 {
		t.Fatalf("stats_query %s: %s %v: %s", q, resp.Status, err, b)
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	c, _ := strconv.Atoi(s)
	return c
}

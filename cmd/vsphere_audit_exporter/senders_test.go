package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/syslog"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
)

// The sender flags are checked before anything starts, and each error
// names its flag.
func TestSenderFlags(t *testing.T) {
	dir := t.TempDir()
	tlsFile := filepath.Join(dir, "tls.yml")
	os.WriteFile(tlsFile, []byte("tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n"), 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--syslog.allowed-sources=10.0.0.0/33"}, `--syslog.allowed-sources: "10.0.0.0/33": not a CIDR`},
		{[]string{"--syslog.allowed-sources=10.0.0.0/8", "--syslog.allowed-sources=relp=10.1.0.0/16"}, `--syslog.allowed-sources: "relp=10.1.0.0/16": unknown transport "relp"`},
		{[]string{"--syslog.allowed-sources=esx01.lab"}, `--syslog.allowed-sources: "esx01.lab": not an address or CIDR`},
		{[]string{"--syslog.host-binding=strict"}, `--syslog.host-binding: "strict": want off, flag or enforce`},
		{[]string{"--syslog.max-connections-per-source=-1"}, "--syslog.max-connections-per-source must be 0 (no cap) or positive, got -1"},
		{[]string{"--syslog.new-source-reserve=lots"}, `--syslog.new-source-reserve: "lots": want auto or a number of connections`},
		{[]string{"--syslog.new-source-reserve=-2"}, "--syslog.new-source-reserve must be auto, 0 (no reserve) or positive, got -2"},
		{[]string{"--syslog.new-source-reserve=1024"}, "--syslog.new-source-reserve (1024) must be smaller than --syslog.max-connections (1024)"},
		{[]string{"--syslog.max-connections=0"}, "--syslog.max-connections must be positive, got 0"},
		{[]string{"--syslog.tls.listen-address=127.0.0.1:0", "--syslog.tls.config.file=" + tlsFile, "--syslog.tls.cert-file=c.pem"},
			"--syslog.tls.config.file and --syslog.tls.cert-file/--syslog.tls.key-file are exclusive"},
		{[]string{"--syslog.tls.config.file=" + tlsFile}, "--syslog.tls.config.file is set but the TLS listener is disabled: set --syslog.tls.listen-address"},
	} {
		var rc int
		args := append([]string{"--web.listen-address=127.0.0.1:0", "--syslog.udp.listen-address=127.0.0.1:0", "--syslog.tcp.listen-address=127.0.0.1:0",
			"--journal.path=" + t.TempDir()}, c.args...)
		msg := stderrOf(t, func() { rc = run(context.Background(), args, nil, io.Discard, nil) })
		if rc != 2 || !strings.Contains(msg, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, rc, msg, c.want)
		}
	}
}

// sendUDPFrom sends one datagram to addr from the loopback address src.
func sendUDPFrom(t *testing.T, src, addr, msg string) {
	t.Helper()
	ra, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)}, ra)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// The forged datagram of issue 11, finding 2: "SSH login disabled" for
// esx-victim, from an address that is not esx-victim's. On /metrics:
// without host binding, and with flag, it flips service_enabled to 0 and
// silences "SSH left on"; with enforce the gauge stays 1 and the forgery
// is counted; with an allow-list that leaves the forger out it is
// rejected before parsing.
func TestForgedServiceStateOnMetrics(t *testing.T) {
	const (
		victimAddr = "127.0.0.6"
		forgerAddr = "127.0.0.5"
	)
	enabled := `vsphere_audit_service_enabled{host="esx-victim", service="ssh"}`
	for _, c := range []struct {
		name         string
		flags        []string
		wantEnabled  float64
		wantMismatch float64
		wantRejected float64
	}{
		{"off", nil, 0, 0, 0},
		{"flag", []string{"--syslog.host-binding=flag"}, 0, 1, 0},
		{"enforce", []string{"--syslog.host-binding=enforce"}, 1, 1, 0},
		{"allow-list", []string{"--syslog.allowed-sources=" + victimAddr}, 1, 0, 2}, // both of the forger's datagrams
	} {
		t.Run(c.name, func(t *testing.T) {
			// One UDP reader: the datagrams are read in the order sent.
			e := startExporter(t, append([]string{"--syslog.udp.readers=1"}, c.flags...)...)
			// The forger's address first sends as the host it is, and so is
			// bound to it.
			sendUDPFrom(t, forgerAddr, e.udp, "<13>2023-12-05T17:30:00.000Z esx01 SSH[1]: SSH login enabled")
			sendUDPFrom(t, victimAddr, e.udp, "<13>2023-12-05T17:35:29.040Z esx-victim SSH[1053644]: SSH login enabled")
			waitUntil(t, func() bool { return scrape(t, e.url)[enabled] == 1 })
			sendUDPFrom(t, forgerAddr, e.udp, "<13>2023-12-05T17:40:00.000Z esx-victim SSH[1053644]: SSH login disabled")
			if c.wantEnabled == 0 {
				waitUntil(t, func() bool { return scrape(t, e.url)[enabled] == 0 })
			} else {
				// Counted as a mismatch or rejected, the forgery was dropped
				// by the receiver: it never reaches the pipeline.
				waitUntil(t, func() bool {
					m := scrape(t, e.url)
					return m[`vsphere_audit_syslog_host_mismatch_total{transport="udp"}`] == c.wantMismatch &&
						m[`vsphere_audit_syslog_rejected_total{reason="not_allowed", transport="udp"}`] == c.wantRejected
				})
			}
			m := scrape(t, e.url)
			if got := m[enabled]; got != c.wantEnabled {
				t.Errorf("%s = %v, want %v", enabled, got, c.wantEnabled)
			}
			if got := m[`vsphere_audit_syslog_host_mismatch_total{transport="udp"}`]; got != c.wantMismatch {
				t.Errorf("host_mismatch_total{udp} = %v, want %v", got, c.wantMismatch)
			}
			if got := m[`vsphere_audit_syslog_rejected_total{reason="not_allowed", transport="udp"}`]; got != c.wantRejected {
				t.Errorf("rejected_total{udp,not_allowed} = %v, want %v", got, c.wantRejected)
			}
		})
	}
}

// helperEnv makes the test binary run the exporter (TestMain-less: the
// helper test below) with the arguments in it, one per line.
const helperEnv = "VSPHERE_AUDIT_EXPORTER_HELPER_ARGS"

// TestOpenFilesHelper is not a test: run by TestOpenFileLimit in a child
// process, it runs the exporter; once it is ready, it prints the soft
// open-file limit and stops.
func TestOpenFilesHelper(t *testing.T) {
	argv := os.Getenv(helperEnv)
	if argv == "" {
		t.Skip("run by TestOpenFileLimit")
	}
	ctx, cancel := context.WithCancel(context.Background())
	rc := run(ctx, strings.Split(argv, "\n"), nil, io.Discard, func(net.Addr, *syslog.Server) {
		var lim syscall.Rlimit
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		fmt.Printf("ready: soft open-file limit %d\n", lim.Cur)
		cancel()
	})
	os.Exit(rc)
}

// The open-file limit must cover --syslog.max-connections, --web.max-requests
// and a margin: under a hard limit below that the exporter refuses to
// start, naming the flags; with room under the hard limit it raises the
// soft one. Before, it started and, at the limit, /metrics stopped
// answering. The child runs under prlimit(1).
func TestOpenFileLimit(t *testing.T) {
	prlimit := testenv.RequireBinary(t, "prlimit", "util-linux")
	base := []string{"--log.level=info", "--web.listen-address=127.0.0.1:0", "--syslog.udp.listen-address=127.0.0.1:0",
		"--journal.path=" + t.TempDir()}
	tcp := "--syslog.tcp.listen-address=127.0.0.1:0"
	for _, c := range []struct {
		name    string
		nofile  string
		args    []string
		wantRC  int
		want    []string
		minSoft int
	}{
		{"hard limit below the default need", "256:256", []string{tcp}, 1, []string{
			"cannot start: the open-file limit (RLIMIT_NOFILE: soft 256, hard 256) is below the 1128 descriptors",
			"--syslog.max-connections (1024) + --web.max-requests (40) + 64", "LimitNOFILE="}, 0},
		{"flags lowered to fit", "256:256", []string{tcp, "--syslog.max-connections=100", "--web.max-requests=20"}, 0, []string{"ready: soft open-file limit 256"}, 0},
		{"no TCP or TLS listener", "256:256", []string{"--syslog.tcp.listen-address="}, 0, []string{"ready: soft open-file limit 256"}, 0},
		// Go raises the soft limit towards the hard one at start; the
		// check raises it when that did not.
		{"a soft limit below the need, the hard one above", "200:4096", []string{tcp}, 0, []string{"ready: soft open-file limit "}, 1128},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(prlimit, "--nofile="+c.nofile, "--", os.Args[0], "-test.run=^TestOpenFilesHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperEnv+"="+strings.Join(append(append([]string{}, base...), c.args...), "\n"))
			done := make(chan struct{})
			timer := time.AfterFunc(60*time.Second, func() {
				select {
				case <-done:
				default:
					cmd.Process.Kill()
				}
			})
			out, err := cmd.CombinedOutput()
			close(done)
			timer.Stop()
			rc := 0
			if ee, ok := err.(*exec.ExitError); ok {
				rc = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if rc != c.wantRC {
				t.Fatalf("exit %d, want %d:\n%s", rc, c.wantRC, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if c.minSoft > 0 {
				var soft int
				if i := strings.Index(string(out), "ready: soft open-file limit "); i >= 0 {
					fmt.Sscanf(string(out[i:]), "ready: soft open-file limit %d", &soft)
				}
				if soft < c.minSoft || soft > 4096 {
					t.Errorf("soft limit %d, want %d to 4096 (the hard limit):\n%s", soft, c.minSoft, out)
				}
			}
		})
	}
}

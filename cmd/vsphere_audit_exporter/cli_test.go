package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
)

// buildBinary builds the exporter with `make build`, as a user does.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vsphere_audit_exporter")
	cmd := exec.Command("make", "-s", "-C", "../..", "build", "BINARY="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	return bin
}

// Top-level --help lists every flag of every command (before: only the
// log flags); a bad flag value is named; --version is stamped by make build.
func TestCommandLine(t *testing.T) {
	bin := buildBinary(t)

	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	app := kingpin.New(name, "")
	serveCmd := app.Command("serve", "")
	vcenterFlags(serveCmd)
	replayFlags(app.Command("replay", ""))
	var names []string
	for _, c := range app.Model().Commands {
		for _, f := range c.Flags {
			names = append(names, f.Name)
		}
	}
	names = append(names, "vcenter.address", "web.listen-address", "web.config.file", "syslog.udp.listen-address", "syslog.max-message-size",
		"metrics.max-series", "metrics.max-total-series", "metrics.paging-reserve", "metrics.series-ttl", "demo", "log.level", "web.telemetry-path",
		"syslog.allowed-sources", "syslog.tls.config.file", "syslog.max-connections-per-source", "syslog.new-source-reserve", "syslog.host-binding")
	for _, n := range names {
		if !bytes.Contains(out, []byte("--"+n)) && !bytes.Contains(out, []byte("--[no-]"+n)) {
			t.Errorf("--help does not list --%s", n)
		}
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--syslog.max-message-size=abc"}, "--syslog.max-message-size=abc: "},
		{[]string{"serve", "--vcenter.lookback", "xx"}, "--vcenter.lookback=xx: "},
		{[]string{"--demo.rate=fast"}, "--demo.rate=fast: "},
		{[]string{"--vcenter.address=vcenter.example.com"}, "--vcenter.address: "},
		{[]string{"replay", "--vcenter.address=10.0.0.0/33", "/dev/null"}, "--vcenter.address: "},
		{[]string{"--metrics.max-total-series=-1"}, "--metrics.max-total-series must be 0 (no budget) or positive, got -1"},
		{[]string{"--metrics.paging-reserve=60000"}, "--metrics.paging-reserve (60000) must be smaller than --metrics.max-total-series (50000)"},
		{[]string{"--metrics.max-series=0"}, "--metrics.max-series must be positive, got 0"},
		{[]string{"--metrics.series-ttl=soon"}, "--metrics.series-ttl"},
	} {
		out, err := exec.Command(bin, c.args...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !bytes.Contains(out, []byte(c.want)) {
			t.Errorf("%v: %v, %q; want exit 2 naming %q", c.args, err, out, c.want)
		}
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out, err = exec.Command(bin, "--web.listen-address="+l.Addr().String(), "--syslog.udp.listen-address=127.0.0.1:0", "--syslog.tcp.listen-address=127.0.0.1:0").CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("--web.listen-address")) || !bytes.Contains(out, []byte("address already in use")) {
		t.Errorf("busy web port: %v, %q; want an error naming --web.listen-address", err, out)
	}

	out, err = exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`version (\S+) \(branch: \S*, revision: (\S+)\)`).FindSubmatch(out); m == nil || len(m[1]) == 0 || string(m[2]) != strings.TrimSpace(string(rev)) {
		t.Errorf("--version = %q, want a version and revision %s", out, rev)
	}
}

// The landing page's links answer: /-/healthy and /-/ready (as
// Prometheus' servers), the metrics and the profiler.
func TestWebEndpoints(t *testing.T) {
	e := startExporter(t)
	for _, p := range []string{"/", "/-/healthy", "/-/ready", "/metrics", "/debug/pprof/", "/debug/pprof/cmdline"} {
		resp, err := http.Get(e.base + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
		if p == "/" {
			for _, link := range []string{`href="/metrics"`, `href="/-/healthy"`, `href="/debug/pprof/"`} {
				if !bytes.Contains(body, []byte(link)) {
					t.Errorf("landing page lacks %s", link)
				}
			}
		}
	}
}

// `zcat x.gz | vsphere_audit_exporter replay -` reads the pipe (before:
// "open : no such file or directory").
func TestReplayStdin(t *testing.T) {
	in, err := os.ReadFile("../../testdata/corpus/esxi80-wire.log")
	if err != nil {
		t.Fatal(err)
	}
	var fromFile, fromPipe bytes.Buffer
	if rc := run(context.Background(), append(append([]string{}, goldenArgs...), "../../testdata/corpus/esxi80-wire.log"), nil, &fromFile, nil); rc != 0 {
		t.Fatalf("replay file: %d", rc)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { w.Write(in); w.Close() }()
	if rc := run(context.Background(), append(append([]string{}, goldenArgs...), "-"), r, &fromPipe, nil); rc != 0 {
		t.Fatalf("replay -: %d", rc)
	}
	if fromPipe.Len() == 0 || fromPipe.String() != fromFile.String() {
		t.Errorf("replay - gave %d bytes, the file %d", fromPipe.Len(), fromFile.Len())
	}
}

// Replay output is the same on every run of an input with several hosts'
// messages pending at its end (before: 3 orders in 60 runs).
func TestReplayDeterministic(t *testing.T) {
	input := strings.Join([]string{
		"<166>2023-12-05T14:31:48.557Z esx01 Hostd[1]: [Originator@6876 sub=Vimsvc.ha-eventmgr] VmkVprobSource::Post event: (vim.event.EventEx) {",
		"<166>2023-12-05T14:31:48.557Z esx02 Hostd[1]: [Originator@6876 sub=Vimsvc.ha-eventmgr] VmkVprobSource::Post event: (vim.event.EventEx) {",
		"<166>2023-12-05T14:31:48.557Z esx03 Hostd[1]: [Originator@6876 sub=Vimsvc.ha-eventmgr] VmkVprobSource::Post event: (vim.event.EventEx) {",
		`<166>2023-12-05T14:31:48.558Z esx02 Hostd[1]: -->    eventTypeId = "esx.audit.ssh.session.opened",`,
		`<166>2023-12-05T14:31:48.558Z esx03 Hostd[1]: -->    eventTypeId = "esx.audit.shell.enabled",`,
		`<166>2023-12-05T14:31:48.558Z esx01 Hostd[1]: -->    eventTypeId = "esx.audit.ssh.enabled",`,
		`<14>1 2023-12-05T14:31:49Z vc01 vpxd 7213 - -  Event [9] [1-2] [2023-12-05T14:31:49Z] [vim.event.UserLoginSessionEvent] [info] [VSPHERE.LOCAL\a] [] [9] [User VSPHERE.LOCAL\a@10.0.0.1 logged`,
		`<14>1 2023-12-05T14:31:49Z vc02 vpxd 7213 - -  Event [9] [1-2] [2023-12-05T14:31:49Z] [vim.event.UserLoginSessionEvent] [info] [VSPHERE.LOCAL\b] [] [9] [User VSPHERE.LOCAL\b@10.0.0.2 logged`,
	}, "\n") + "\n"
	var first string
	for i := 0; i < 20; i++ {
		var out bytes.Buffer
		if rc := run(context.Background(), append(append([]string{}, goldenArgs...), "-"), strings.NewReader(input), &out, nil); rc != 0 {
			t.Fatalf("replay: %d", rc)
		}
		if i == 0 {
			first = out.String()
			if strings.Count(first, "\n") < 3 {
				t.Fatalf("only %q from the pending messages", first)
			}
			continue
		}
		if out.String() != first {
			t.Fatalf("run %d differs:\n%s\nfirst:\n%s", i, out.String(), first)
		}
	}
}

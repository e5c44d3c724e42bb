package bench

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/syslog"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
)

// rsyslog is a real rsyslogd (Debian package rsyslog), run unprivileged
// in the foreground with a private work directory and pid file: one
// input (imudp or imtcp on 127.0.0.1) writing every message to one file
// (omfile), everything else at rsyslog's defaults but for imudp's socket
// buffer, the exporter's.
type rsyslog struct {
	cmd  *exec.Cmd
	dir  string
	out  string
	port int
	// counted is how far the output file has been counted: its lines up
	// to offset.
	offset int64
	lines  int
}

// startRsyslog starts rsyslogd with an input of type input ("imudp" or
// "imtcp") on a free 127.0.0.1 port and waits until the port is bound.
func startRsyslog(b *testing.B, input string) *rsyslog {
	b.Helper()
	bin := testenv.RequireBinary(b, "rsyslogd", "rsyslog")
	dir, err := os.MkdirTemp("", "vsphere-audit-bench-rsyslog-")
	if err != nil {
		b.Fatal(err)
	}
	network := "udp"
	if input == "imtcp" {
		network = "tcp"
	}
	port := freePort(b, network)
	r := &rsyslog{dir: dir, out: filepath.Join(dir, "out.log"), port: port}
	extra := ""
	if input == "imudp" {
		// The exporter's socket buffer (--syslog.udp.receive-buffer), so
		// that the two compare at the same slack; rsyslog's default is
		// the system's (net.core.rmem_default, 208 KiB here).
		extra = fmt.Sprintf(` rcvbufSize="%d"`, syslog.DefaultUDPReceiveBuffer)
	}
	conf := fmt.Sprintf(`global(workDirectory=%q)
module(load=%q)
input(type=%q address="127.0.0.1" port="%d"%s ruleset="bench")
ruleset(name="bench") {
  action(type="omfile" file=%q)
}
`, dir, input, input, port, extra, r.out)
	cf := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	r.cmd = exec.Command(bin, "-n", "-f", cf, "-i", filepath.Join(dir, "rsyslogd.pid"))
	var stderr bytes.Buffer
	r.cmd.Stdout, r.cmd.Stderr = &stderr, &stderr
	if err := r.cmd.Start(); err != nil {
		b.Fatalf("starting rsyslogd: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !portBound(network, port) {
		if time.Now().After(deadline) {
			r.stop()
			b.Fatalf("rsyslogd did not bind %s port %d in 10s:\n%s", network, port, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r
}

func (r *rsyslog) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// count returns the lines in the output file so far, reading only what
// was appended since the last call.
func (r *rsyslog) count() int {
	f, err := os.Open(r.out)
	if err != nil {
		return r.lines
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		n, err := f.ReadAt(buf, r.offset)
		// Only whole lines: a line being written is counted once complete.
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			r.lines += bytes.Count(buf[:i+1], []byte{'\n'})
			r.offset += int64(i + 1)
		}
		if err != nil || n < len(buf) {
			return r.lines
		}
	}
}

func (r *rsyslog) stop() {
	if r.cmd.Process != nil {
		r.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { r.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			r.cmd.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(r.dir)
}

// freePort returns a port that nothing listens on now.
func freePort(b *testing.B, network string) int {
	b.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// procNetSocket returns the fields of the /proc/net/udp or /proc/net/tcp
// line of the socket bound to 127.0.0.1:port (nil when there is none).
func procNetSocket(network string, port int) []string {
	b, err := os.ReadFile("/proc/net/" + network)
	if err != nil {
		return nil
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		// A TCP listener is in state 0A; a connected socket on the
		// port is not the one bound.
		if len(f) > 12 && f[1] == want && (network == "udp" || f[3] == "0A") {
			return f
		}
	}
	return nil
}

func portBound(network string, port int) bool { return procNetSocket(network, port) != nil }

// kernelUDPDrops is the count of datagrams the kernel dropped on the UDP
// socket bound to 127.0.0.1:port (the drops column of /proc/net/udp), -1
// when there is no such socket.
func kernelUDPDrops(port int) int {
	f := procNetSocket("udp", port)
	if f == nil {
		return -1
	}
	n, err := strconv.Atoi(f[len(f)-1])
	if err != nil {
		return -1
	}
	return n
}

package main

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/syslog"
)

// stderrOf runs f with os.Stderr captured.
func stderrOf(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	out := make(chan string)
	go func() { b, _ := io.ReadAll(r); out <- string(b) }()
	f()
	os.Stderr = old
	w.Close()
	return <-out
}

// The --otlp.* flags are checked before anything starts: the journal is
// required, the URL must be http(s) without credentials, headers are
// name=value, and a header's value is never echoed.
func TestOTLPFlags(t *testing.T) {
	headers := filepath.Join(t.TempDir(), "headers")
	os.WriteFile(headers, []byte("Authorization Bearer s3cret\n"), 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--otlp.endpoint=http://127.0.0.1:4318", "--journal.path="}, "--journal.path is empty"},
		{[]string{"--otlp.endpoint=127.0.0.1:4318"}, "--otlp.endpoint"},
		{[]string{"--otlp.endpoint=https://user:s3cret@collector:4318"}, "--otlp.headers-file"},
		{[]string{"--otlp.endpoint=http://127.0.0.1:4318", "--otlp.header=Authorization"}, "--otlp.header"},
		{[]string{"--otlp.endpoint=http://127.0.0.1:4318", "--otlp.headers-file=" + headers}, headers + ":1"},
		{[]string{"--otlp.header=A=b"}, "need --otlp.endpoint"},
		{[]string{"--otlp.endpoint=http://127.0.0.1:4318", "--otlp.compression=zstd"}, "--otlp.compression"},
	} {
		var rc int
		args := c.args
		if !flagGiven(args, "journal.path") {
			args = append(args, "--journal.path="+t.TempDir())
		}
		msg := stderrOf(t, func() { rc = run(context.Background(), args, nil, io.Discard, nil) })
		if rc != 2 || !strings.Contains(msg, c.want) || strings.Contains(msg, "s3cret") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q, never the secret", c.args, rc, msg, c.want)
		}
	}
}

// otlpReceiver counts the log records posted to /v1/logs; while failing is
// set it answers 503.
type otlpReceiver struct {
	*httptest.Server
	failing atomic.Bool
	mu      sync.Mutex
	users   []string
	auth    string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = gz
		}
		b, _ := io.ReadAll(body)
		var msg collogs.ExportLogsServiceRequest
		if err := proto.Unmarshal(b, &msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.auth = req.Header.Get("Authorization")
		for _, rl := range msg.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					for _, kv := range lr.Attributes {
						if kv.Key == "user" {
							r.users = append(r.users, kv.Value.GetStringValue())
						}
					}
				}
			}
		}
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collogs.ExportLogsServiceResponse{})
		w.Write(out)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *otlpReceiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.users...)
}

// The exporter ships what it journals, with the headers of the headers
// file; events journaled while the receiver fails are shipped at shutdown,
// before the process exits (the drain), once the receiver answers again.
func TestOTLPShipsAndDrainsAtStop(t *testing.T) {
	rcv := newOTLPReceiver(t)
	headers := filepath.Join(t.TempDir(), "headers")
	os.WriteFile(headers, []byte("# the store's token\nAuthorization: Bearer t0ken\n"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	readyc := make(chan *syslog.Server, 1)
	done := make(chan int, 1)
	args := []string{"--log.level=error", "--web.listen-address=127.0.0.1:0", "--syslog.udp.listen-address=", "--syslog.tcp.listen-address=127.0.0.1:0",
		"--journal.path=" + t.TempDir(), "--otlp.endpoint=" + rcv.URL, "--otlp.headers-file=" + headers}
	go func() {
		done <- run(ctx, args, nil, io.Discard, func(_ net.Addr, s *syslog.Server) { readyc <- s })
	}()
	var s *syslog.Server
	select {
	case s = <-readyc:
	case rc := <-done:
		t.Fatalf("exporter exited with %d", rc)
	}
	conn, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(user string) {
		fmt.Fprintf(conn, "<38>%s esx01 sshd[1]: Accepted keyboard-interactive/pam for %s from 172.16.5.5 port 58470 ssh2\n", time.Now().UTC().Format(time.Stamp), user)
	}
	send("alice")
	deadline := time.Now().Add(10 * time.Second)
	for len(rcv.got()) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the first event was not shipped within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rcv.mu.Lock()
	auth := rcv.auth
	rcv.mu.Unlock()
	if auth != "Bearer t0ken" {
		t.Errorf("Authorization %q, want the headers file's", auth)
	}
	rcv.failing.Store(true)
	for _, u := range []string{"bob", "carol", "dave"} {
		send(u)
	}
	time.Sleep(500 * time.Millisecond) // journaled, not shipped: the receiver fails
	if n := len(rcv.got()); n != 1 {
		t.Fatalf("%d records while the receiver fails", n)
	}
	rcv.failing.Store(false)
	cancel()
	select {
	case rc := <-done:
		if rc != 0 {
			t.Fatalf("exporter exited with %d", rc)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the exporter did not stop within 20s")
	}
	if got := strings.Join(rcv.got(), " "); got != "alice bob carol dave" {
		t.Errorf("shipped %q by the time the exporter exited, want alice bob carol dave", got)
	}
}

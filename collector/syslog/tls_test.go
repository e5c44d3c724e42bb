package syslog

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "vsphere-audit-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// RFC 5425 (ESXi's ssl://): both framings over TLS, and a plain-TCP client
// on the TLS port is closed and counted.
func TestTLS(t *testing.T) {
	certFile, keyFile, pool := writeCert(t)
	s, h, rec := startServer(t, Config{TLSAddress: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile})
	msg := "<38>2023-12-05T17:35:43.320Z esx01 sshd[1]: Accepted keyboard-interactive/pam for root from 192.168.127.10 port 58470 ssh2"
	for _, framing := range []string{"octet", "lf"} {
		c, err := tls.Dial("tcp", s.TLSAddr().String(), &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if framing == "octet" {
				fmt.Fprintf(c, "%d %s", len(msg), msg)
			} else {
				fmt.Fprintf(c, "%s\n", msg)
			}
		}
		c.Close()
	}
	waitFor(t, "6 messages over TLS", func() bool { return rec.count() == 6 })
	for _, r := range rec.recs {
		if r.Host != "esx01" || r.Program != "sshd" || !strings.HasPrefix(r.Body, "Accepted") {
			t.Errorf("record %+v", r)
		}
	}
	plain, err := net.Dial("tcp", s.TLSAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(plain, "%s\n", msg)
	plain.SetReadDeadline(time.Now().Add(5 * time.Second))
	plain.Read(make([]byte, 64))
	plain.Close()
	waitFor(t, "the failed handshake to be counted", func() bool {
		return testutil.ToFloat64(h.ConnectionsClosed.WithLabelValues(TransportTLS, "tls_handshake")) == 1
	})
	if got := testutil.ToFloat64(h.Messages.WithLabelValues(TransportTLS, ResultParsed)); got != 6 {
		t.Errorf("parsed over TLS = %v, want 6", got)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no certificate", Config{TLSAddress: "127.0.0.1:0"}, "--syslog.tls.cert-file and --syslog.tls.key-file (or --syslog.tls.config.file) are required"},
		{"unreadable certificate", Config{TLSAddress: "127.0.0.1:0", TLSCertFile: "/nonexistent.pem", TLSKeyFile: "/nonexistent.key"}, "syslog TLS certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(tc.cfg, nil, nil, nil)
			err := s.Listen()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Listen() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// A TLS 1.3 sender that writes and closes at once (python3's ssl, over a
// real socket) loses nothing. With session tickets enabled the server's
// tickets sat unread in the client's socket when it closed, the kernel
// reset the connection, and the server discarded every message.
func TestTLS13WriteAndClose(t *testing.T) {
	python := testenv.RequireBinary(t, "python3", "python3")
	certFile, keyFile, _ := writeCert(t)
	s, _, rec := startServer(t, Config{TLSAddress: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile})
	const n = 20
	script := `
import socket, ssl, sys
host, port, ca, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(cafile=ca)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.maximum_version = ssl.TLSVersion.TLSv1_3
for i in range(n):
    raw = socket.create_connection((host, port))
    c = ctx.wrap_socket(raw, server_hostname=host)
    assert c.version() == "TLSv1.3", c.version()
    c.sendall(b"<38>2023-12-05T17:35:43.320Z esx01 sshd[1]: Accepted password for root from 192.168.127.10 port %d ssh2\n" % i)
    c.close()
`
	host, port, _ := net.SplitHostPort(s.TLSAddr().String())
	out, err := exec.Command(python, "-c", script, host, port, certFile, strconv.Itoa(n)).CombinedOutput()
	if err != nil {
		t.Fatalf("python3 TLS client: %v\n%s", err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for rec.count() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := rec.count(); got != n {
		t.Fatalf("TLS 1.3 write-and-close: %d of %d messages arrived", got, n)
	}
}

// Stalled TLS handshakes (TCP connect, then nothing) are closed within the
// handshake timeout, not the idle timeout, counted as tls_handshake, and
// their slots freed for real senders. Before, the 1 h idle timeout covered
// the handshake: 60 stalled connections held every slot for an hour.
func TestTLSHandshakeTimeout(t *testing.T) {
	certFile, keyFile, pool := writeCert(t)
	const n = 60
	const timeout = 500 * time.Millisecond
	s, h, rec := startServer(t, Config{TLSAddress: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile,
		MaxConnections: n, IdleTimeout: time.Hour, TLSHandshakeTimeout: timeout,
		// Every stalled connection comes from 127.0.0.1: no per-source cap
		// or reserve for new sources here.
		MaxConnectionsPerSource: -1, NewSourceReserve: -1})
	start := time.Now()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", s.TLSAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	waitFor(t, "the stalled connections to take every slot", func() bool {
		return testutil.ToFloat64(h.Connections.WithLabelValues(TransportTLS)) == n
	})
	waitFor(t, "the stalled handshakes to be closed", func() bool {
		return testutil.ToFloat64(h.ConnectionsClosed.WithLabelValues(TransportTLS, "tls_handshake")) == n
	})
	if elapsed := time.Since(start); elapsed > timeout+2*time.Second {
		t.Errorf("stalled handshakes closed after %v, handshake timeout %v", elapsed, timeout)
	}
	waitFor(t, "the slots to be freed", func() bool {
		return testutil.ToFloat64(h.Connections.WithLabelValues(TransportTLS)) == 0
	})
	if got := testutil.ToFloat64(h.Rejected.WithLabelValues(TransportTLS, RejectTLSHandshake)); got != n {
		t.Errorf("rejected for tls_handshake = %v, want %d", got, n)
	}
	if got := testutil.ToFloat64(h.ConnectionsClosed.WithLabelValues(TransportTLS, "limit")); got != 0 {
		t.Errorf("closed for limit = %v, want 0", got)
	}
	c, err := tls.Dial("tcp", s.TLSAddr().String(), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "<38>2023-12-05T17:35:43.320Z esx01 sshd[1]: Accepted password for root from 192.168.127.10 port 58470 ssh2\n")
	c.Close()
	waitFor(t, "a real sender's message", func() bool { return rec.count() == 1 })
}

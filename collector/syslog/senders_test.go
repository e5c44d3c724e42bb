package syslog

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
)

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// lines returns the logged lines that contain every one of subs.
func (b *syncBuffer) lines(subs ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.b.String(), "\n") {
		ok := l != ""
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// startLogged starts a server on cfg whose log goes to the returned
// buffer; prepare, when set, runs between New and Listen.
func startLogged(t *testing.T, cfg Config, prepare func(*Server)) (*Server, *Health, *recorder, *syncBuffer) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h := NewHealth(reg, testBounds(), []string{TransportUDP, TransportTCP, TransportTLS})
	logs := &syncBuffer{}
	rec := &recorder{}
	s := New(cfg, slog.New(slog.NewTextHandler(logs, nil)), h, rec)
	if prepare != nil {
		prepare(s)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, h, rec, logs
}

// dialFrom connects to addr from the loopback address src (127.0.0.0/8 is
// every host's own: each test sender has its own source address).
func dialFrom(t *testing.T, network, src string, addr net.Addr) net.Conn {
	t.Helper()
	var local net.Addr
	switch network {
	case "udp":
		local = &net.UDPAddr{IP: net.ParseIP(src)}
	default:
		local = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := (&net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}).Dial(network, addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the server closed c (a read ends in EOF
// or a reset) rather than keeping it open.
func closedByServer(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("%s: neither closed nor answered in 5 s", c.LocalAddr())
	}
	return err != nil
}

const sshMsg = "<38>2023-12-05T17:35:43.320Z esx01 sshd[1]: Accepted password for root from 192.168.127.10 port 58470 ssh2"

// A sender outside --syslog.allowed-sources changes nothing and is counted
// by transport, with one log line for many rejections. A transport no rule
// names accepts no sender (fail closed).
func TestAllowedSources(t *testing.T) {
	allowed, err := ParseAllowedSources([]string{"udp=127.0.0.2", "tcp=127.0.0.2,127.0.0.4"})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, pool := writeCert(t)
	s, h, rec, logs := startLogged(t, Config{UDPAddress: "127.0.0.1:0", TCPAddress: "127.0.0.1:0", TLSAddress: "127.0.0.1:0",
		TLSCertFile: certFile, TLSKeyFile: keyFile, AllowedSources: allowed}, nil)

	const n = 50
	forged := dialFrom(t, "udp", "127.0.0.4", s.UDPAddr()) // allowed on TCP, not on UDP
	for i := 0; i < n; i++ {
		fmt.Fprintf(forged, "<13>2023-12-05T17:35:29.040Z esx-victim SSH[1]: SSH login disabled %d", i)
	}
	for i := 0; i < 5; i++ {
		c := dialFrom(t, "tcp", "127.0.0.3", s.TCPAddr())
		fmt.Fprintf(c, "%s\n", sshMsg)
		if !closedByServer(t, c) {
			t.Fatalf("TCP sender outside the allowed sources: connection %d kept open", i)
		}
	}
	// TLS has no rule: nobody, not even 127.0.0.2.
	tc := dialFrom(t, "tcp", "127.0.0.2", s.TLSAddr())
	if !closedByServer(t, tc) {
		t.Fatal("TLS sender with no TLS rule: connection kept open")
	}
	waitFor(t, "the rejections to be counted", func() bool {
		return testutil.ToFloat64(h.Rejected.WithLabelValues(TransportUDP, RejectNotAllowed)) == n &&
			testutil.ToFloat64(h.Rejected.WithLabelValues(TransportTCP, RejectNotAllowed)) == 5 &&
			testutil.ToFloat64(h.Rejected.WithLabelValues(TransportTLS, RejectNotAllowed)) == 1
	})

	// The allowed senders are heard.
	fmt.Fprintf(dialFrom(t, "udp", "127.0.0.2", s.UDPAddr()), "%s", sshMsg)
	c := dialFrom(t, "tcp", "127.0.0.4", s.TCPAddr())
	fmt.Fprintf(c, "%s\n", sshMsg)
	c.Close()
	waitFor(t, "2 allowed messages", func() bool { return rec.count() == 2 })
	for _, r := range rec.recs {
		if r.Host != "esx01" {
			t.Errorf("a record from host %q arrived; only esx01's are allowed", r.Host)
		}
	}
	if got := testutil.ToFloat64(h.Messages.WithLabelValues(TransportUDP, ResultParsed)); got != 1 {
		t.Errorf("UDP messages parsed = %v, want 1 (the rejected ones are not parsed)", got)
	}
	if _, err := tls.Dial("tcp", s.TLSAddr().String(), &tls.Config{RootCAs: pool}); err == nil {
		t.Error("TLS from 127.0.0.1 handshook; TLS has no allowed source")
	}
	for _, src := range []string{"127.0.0.4", "127.0.0.3", "127.0.0.2"} {
		if got := logs.lines("syslog sender rejected", "remote="+src+" "); len(got) != 1 {
			t.Errorf("log lines about rejected sender %s: %d, want 1:\n%s", src, len(got), strings.Join(got, "\n"))
		}
	}
	if got := logs.lines("syslog sender rejected", "remote=127.0.0.4 ", "transport=udp", "reason=not_allowed"); len(got) != 1 {
		t.Errorf("the rejection line does not name transport and reason: %q", logs.lines("remote=127.0.0.4"))
	}
}

// testCA is a certificate authority for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string
	dir  string
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1000), Subject: pkix.Name{CommonName: "vsphere-audit-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	dir := t.TempDir()
	ca := &testCA{cert: cert, key: key, file: filepath.Join(dir, "ca.pem"), dir: dir}
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue writes a certificate signed by ca (or self-signed when ca is nil)
// and its key to dir/name.pem and dir/name.key: a server certificate for
// 127.0.0.1, or a client one.
func (ca *testCA) issue(t *testing.T, dir, name string, serial int64, notAfter time.Time, client bool) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	if client {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil
	}
	parent, signer := tmpl, any(key)
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

// replaceFile writes data to path as a rotation does: a new file renamed
// over the old one.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// opensslSend runs openssl s_client against addr, writes msg, and returns
// its output; the client closes when its input ends.
func opensslSend(t *testing.T, openssl, addr, caFile, certFile, keyFile string, msg string, extra ...string) (string, error) {
	t.Helper()
	args := []string{"s_client", "-connect", addr, "-CAfile", caFile, "-verify_return_error", "-no_ign_eof"}
	if certFile != "" {
		args = append(args, "-cert", certFile, "-key", keyFile)
	}
	args = append(args, extra...)
	cmd := exec.Command(openssl, args...)
	cmd.Stdin = strings.NewReader(msg)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mTLS (--syslog.tls.config.file, client_auth_type
// RequireAndVerifyClientCert): a sender with a certificate signed by
// client_ca_file is heard; one without a certificate, or with one the CA
// did not sign, is turned away before any message and counted as
// client_cert. Clients: openssl s_client and Go's crypto/tls.
func TestMutualTLS(t *testing.T) {
	openssl := testenv.RequireBinary(t, "openssl", "openssl")
	ca := newTestCA(t)
	dir := t.TempDir()
	ca.issue(t, dir, "server", 1, time.Now().Add(time.Hour), false)
	clientCert, clientKey := ca.issue(t, dir, "esx01", 2, time.Now().Add(time.Hour), true)
	rogueCert, rogueKey := (*testCA)(nil).issue(t, dir, "rogue", 3, time.Now().Add(time.Hour), true)
	cfgFile := filepath.Join(dir, "syslog-tls.yml")
	os.WriteFile(cfgFile, []byte(`tls_server_config:
  cert_file: server.pem
  key_file: server.key
  client_ca_file: `+ca.file+`
  client_auth_type: RequireAndVerifyClientCert
  min_version: TLS12
`), 0o600)
	s, h, rec, _ := startLogged(t, Config{TLSAddress: "127.0.0.1:0", TLSConfigFile: cfgFile}, nil)
	addr := s.TLSAddr().String()
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)

	// openssl, with the client certificate: heard.
	if out, err := opensslSend(t, openssl, addr, ca.file, clientCert, clientKey, sshMsg+" openssl\n"); err != nil {
		t.Fatalf("openssl s_client with a client certificate: %v\n%s", err, out)
	}
	waitFor(t, "the openssl client's message", func() bool { return rec.count() == 1 })
	// openssl without a certificate, and with one the CA did not sign.
	opensslSend(t, openssl, addr, ca.file, "", "", sshMsg+" openssl without\n")
	opensslSend(t, openssl, addr, ca.file, rogueCert, rogueKey, sshMsg+" openssl rogue\n")
	waitFor(t, "openssl's 2 rejections", func() bool {
		return testutil.ToFloat64(h.Rejected.WithLabelValues(TransportTLS, RejectClientCert)) == 2
	})

	// Go's client, with the certificate: heard.
	good, err := tls.LoadX509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{good}})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "%s go\n", sshMsg)
	c.Close()
	waitFor(t, "the Go client's message", func() bool { return rec.count() == 2 })
	// Go without a certificate, and with the rogue one: TLS 1.3 lets the
	// client write before the server has judged its certificate; the
	// server reads nothing of it and answers with an alert.
	rogue, err := tls.LoadX509KeyPair(rogueCert, rogueKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, certs := range [][]tls.Certificate{nil, {rogue}} {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, Certificates: certs})
		if err != nil {
			continue // TLS 1.2 would fail here
		}
		fmt.Fprintf(c, "%s go refused\n", sshMsg)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("a client without a valid certificate read data from the server")
		}
		c.Close()
	}
	waitFor(t, "Go's 2 rejections", func() bool {
		return testutil.ToFloat64(h.Rejected.WithLabelValues(TransportTLS, RejectClientCert)) == 4
	})
	if got := rec.count(); got != 2 {
		t.Errorf("%d messages arrived, want the 2 of the clients with a certificate", got)
	}
	for _, r := range rec.recs {
		if strings.Contains(r.Body, "without") || strings.Contains(r.Body, "rogue") || strings.Contains(r.Body, "refused") {
			t.Errorf("a message of a client without a valid certificate arrived: %q", r.Body)
		}
	}
	if got := testutil.ToFloat64(h.Rejected.WithLabelValues(TransportTLS, RejectTLSHandshake)); got != 0 {
		t.Errorf("rejected for tls_handshake = %v, want 0 (the 4 are client_cert)", got)
	}
}

// TestTLSConfigFileErrors: each mistake in --syslog.tls.config.file is
// reported at start, naming the flag and file.
func TestTLSConfigFileErrors(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	ca.issue(t, dir, "server", 1, time.Now().Add(time.Hour), false)
	os.WriteFile(filepath.Join(dir, "notpem.txt"), []byte("hello"), 0o600)
	for _, tc := range []struct {
		name, yaml, want string
		cfg              Config
	}{
		{"empty", "", "the file is empty", Config{}},
		{"unknown key", "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth: RequireAndVerifyClientCert\n", "field client_auth not found", Config{}},
		{"no key", "tls_server_config:\n  cert_file: server.pem\n", "key_file is required", Config{}},
		{"missing certificate", "tls_server_config:\n  cert_file: nope.pem\n  key_file: server.key\n", "nope.pem", Config{}},
		{"bad client auth type", "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: Always\n  client_ca_file: " + ca.file + "\n", "invalid ClientAuth: Always", Config{}},
		{"verification without a CA", "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n", "client_auth_type RequireAndVerifyClientCert needs client_ca_file", Config{}},
		{"a CA without a client auth type", "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_ca_file: " + ca.file + "\n", "without a Client Auth Policy", Config{}},
		{"a CA file with no certificate", "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: notpem.txt\n", "holds no PEM certificate", Config{}},
		{"bad min_version", "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS9\n", "unknown TLS version: TLS9", Config{}},
		{"with --syslog.tls.cert-file", "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n", "--syslog.tls.config.file and --syslog.tls.cert-file/--syslog.tls.key-file are exclusive", Config{TLSCertFile: filepath.Join(dir, "server.pem")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yml")
			os.WriteFile(f, []byte(tc.yaml), 0o600)
			cfg := tc.cfg
			cfg.TLSAddress, cfg.TLSConfigFile = "127.0.0.1:0", f
			err := New(cfg, nil, nil, nil).Listen()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Listen() = %v, want an error containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "--syslog.tls.config.file") || tc.cfg.TLSCertFile == "" && !strings.Contains(err.Error(), f) {
				t.Errorf("error %q does not name the flag and the file", err)
			}
		})
	}
	// A whole web configuration file (one file for both listeners) loads.
	f := filepath.Join(dir, "web.yml")
	os.WriteFile(f, []byte("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\nhttp_server_config:\n  http2: false\nbasic_auth_users:\n  alice: $2y$10$abc\n"), 0o600)
	s := New(Config{TLSAddress: "127.0.0.1:0", TLSConfigFile: f}, nil, nil, nil)
	if err := s.Listen(); err != nil {
		t.Fatalf("a web configuration file: %v", err)
	}
	s.Close()
}

// servedSerial handshakes with the server and returns its certificate's
// serial number.
func servedSerial(t *testing.T, addr string, pool *x509.CertPool) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// A certificate replaced on disk is served from the next handshake on,
// and the expiry gauge follows; a pair that does not load keeps the
// previous certificate in service and is counted. Before, the certificate
// was read once at start.
func TestTLSCertificateReload(t *testing.T) {
	for _, viaFile := range []bool{false, true} {
		t.Run(fmt.Sprintf("config file %v", viaFile), func(t *testing.T) {
			ca := newTestCA(t)
			dir := t.TempDir()
			first := time.Now().Add(time.Hour).Truncate(time.Second)
			certFile, keyFile := ca.issue(t, dir, "server", 1, first, false)
			cfg := Config{TLSAddress: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile}
			if viaFile {
				f := filepath.Join(dir, "tls.yml")
				os.WriteFile(f, []byte("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"), 0o600)
				cfg = Config{TLSAddress: "127.0.0.1:0", TLSConfigFile: f}
			}
			// Every handshake looks at the files (the server's own interval
			// is a second).
			s, h, _, logs := startLogged(t, cfg, func(s *Server) { s.certCheck = 0 })
			pool := x509.NewCertPool()
			pool.AddCert(ca.cert)
			addr := s.TLSAddr().String()
			if got := servedSerial(t, addr, pool); got != 1 {
				t.Fatalf("serial served = %d, want 1", got)
			}
			if got := testutil.ToFloat64(h.CertNotAfter); got != float64(first.Unix()) {
				t.Fatalf("cert_not_after = %v, want %d", got, first.Unix())
			}

			// Rotation: a new certificate and key renamed over the old ones.
			second := time.Now().Add(48 * time.Hour).Truncate(time.Second)
			nc, nk := ca.issue(t, t.TempDir(), "server", 2, second, false)
			certPEM, _ := os.ReadFile(nc)
			keyPEM, _ := os.ReadFile(nk)
			replaceFile(t, keyFile, keyPEM)
			replaceFile(t, certFile, certPEM)
			if got := servedSerial(t, addr, pool); got != 2 {
				t.Fatalf("serial served after the rotation = %d, want 2", got)
			}
			if got := testutil.ToFloat64(h.CertNotAfter); got != float64(second.Unix()) {
				t.Errorf("cert_not_after after the rotation = %v, want %d", got, second.Unix())
			}
			if got := testutil.ToFloat64(h.CertReloadErrors); got != 0 {
				t.Errorf("reload errors = %v, want 0", got)
			}

			// Half a rotation: a new certificate, the old key. Serial 2 stays
			// in service, the failure is counted once, however many
			// handshakes see it.
			third := time.Now().Add(72 * time.Hour).Truncate(time.Second)
			bc, bk := ca.issue(t, t.TempDir(), "server", 3, third, false)
			badPEM, _ := os.ReadFile(bc)
			replaceFile(t, certFile, badPEM)
			for i := 0; i < 3; i++ {
				if got := servedSerial(t, addr, pool); got != 2 {
					t.Fatalf("serial served with a mismatched pair = %d, want 2 (the previous one)", got)
				}
			}
			if got := testutil.ToFloat64(h.CertReloadErrors); got != 1 {
				t.Errorf("reload errors = %v, want 1", got)
			}
			if got := testutil.ToFloat64(h.CertNotAfter); got != float64(second.Unix()) {
				t.Errorf("cert_not_after with a mismatched pair = %v, want %d (the certificate in service)", got, second.Unix())
			}
			if got := logs.lines("cannot reload the syslog TLS certificate"); len(got) != 1 {
				t.Errorf("%d log lines about the failed reload, want 1", len(got))
			}
			// The rotation completes: its key arrives, and is loaded.
			thirdKey, _ := os.ReadFile(bk)
			replaceFile(t, keyFile, thirdKey)
			if got := servedSerial(t, addr, pool); got != 3 {
				t.Errorf("serial served once the key matches = %d, want 3", got)
			}
			if got := testutil.ToFloat64(h.CertNotAfter); got != float64(third.Unix()) {
				t.Errorf("cert_not_after = %v, want %d", got, third.Unix())
			}
		})
	}
}

// A TLS 1.3 sender that writes 20 messages on one connection and closes
// (openssl s_client -tls1_3 at the end of its input) delivers 20 of 20.
// openssl reads the server's session tickets before it closes, so it did
// not lose messages even with tickets enabled; TestTLS13WriteAndClose's
// Python client, which never reads, is the one that lost 20 of 20.
func TestTLS13WriteAndCloseOpenSSL(t *testing.T) {
	openssl := testenv.RequireBinary(t, "openssl", "openssl")
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.issue(t, dir, "server", 1, time.Now().Add(time.Hour), false)
	s, _, rec, _ := startLogged(t, Config{TLSAddress: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile}, nil)
	const n = 20
	var in strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&in, "<38>2023-12-05T17:35:43.320Z esx01 sshd[1]: Accepted password for root from 192.168.127.10 port %d ssh2\n", i)
	}
	out, err := opensslSend(t, openssl, s.TLSAddr().String(), ca.file, "", "", in.String(), "-tls1_3")
	if err != nil {
		t.Fatalf("openssl s_client -tls1_3: %v\n%s", err, out)
	}
	if !strings.Contains(out, "TLSv1.3") {
		t.Fatalf("openssl did not negotiate TLS 1.3:\n%s", out)
	}
	waitFor(t, fmt.Sprintf("%d messages", n), func() bool { return rec.count() == n })
}

// Host binding: an address is bound to the first host name it sends. A
// forged "SSH login disabled" from that address naming another host is
// counted as host_mismatch; flag still processes it, enforce drops it.
func TestHostBinding(t *testing.T) {
	for _, mode := range []string{HostBindingOff, HostBindingFlag, HostBindingEnforce} {
		t.Run(mode, func(t *testing.T) {
			s, h, rec, logs := startLogged(t, Config{UDPAddress: "127.0.0.1:0", TCPAddress: "127.0.0.1:0", HostBinding: mode}, nil)
			u := dialFrom(t, "udp", "127.0.0.5", s.UDPAddr())
			fmt.Fprintf(u, "<13>2023-12-05T17:35:29.040Z esx01.lab.local SSH[1]: SSH login enabled")
			waitFor(t, "the first message", func() bool { return rec.count() == 1 })
			fmt.Fprintf(u, "<13>2023-12-05T17:35:30.040Z esx01 SSH[1]: SSH login enabled") // its short name: the same host
			for i := 0; i < 3; i++ {
				fmt.Fprintf(u, "<13>2023-12-05T17:36:29.040Z esx-victim SSH[1]: SSH login disabled")
			}
			// Over TCP from another address, esx-victim itself: bound there.
			c := dialFrom(t, "tcp", "127.0.0.6", s.TCPAddr())
			fmt.Fprintf(c, "<13>2023-12-05T17:37:29.040Z esx-victim SSH[1]: SSH login enabled\n")
			c.Close()
			want := map[string]int{HostBindingOff: 6, HostBindingFlag: 6, HostBindingEnforce: 3}[mode]
			waitFor(t, fmt.Sprintf("%d records", want), func() bool {
				return testutil.ToFloat64(h.Messages.WithLabelValues(TransportUDP, ResultParsed)) == 5 && rec.count() == want
			})
			wantMismatch := map[string]float64{HostBindingOff: 0, HostBindingFlag: 3, HostBindingEnforce: 3}[mode]
			if got := testutil.ToFloat64(h.HostMismatch.WithLabelValues(TransportUDP)); got != wantMismatch {
				t.Errorf("host_mismatch{udp} = %v, want %v", got, wantMismatch)
			}
			if got := testutil.ToFloat64(h.HostMismatch.WithLabelValues(TransportTCP)); got != 0 {
				t.Errorf("host_mismatch{tcp} = %v, want 0", got)
			}
			var disabled int
			for _, r := range rec.recs {
				if r.Host == "esx-victim" && strings.Contains(r.Body, "disabled") {
					disabled++
				}
			}
			if wantDisabled := map[string]int{HostBindingOff: 3, HostBindingFlag: 3, HostBindingEnforce: 0}[mode]; disabled != wantDisabled {
				t.Errorf("forged records processed = %d, want %d", disabled, wantDisabled)
			}
			wantLines := map[string]int{HostBindingOff: 0, HostBindingFlag: 1, HostBindingEnforce: 1}[mode]
			if got := logs.lines("syslog host name differs", "remote=127.0.0.5", "bound_host=esx01.lab.local", "host=esx-victim"); len(got) != wantLines {
				t.Errorf("%d log lines about the mismatch, want %d: %q", len(got), wantLines, logs.lines("differs"))
			}
		})
	}
}

// One source holding its cap of connections cannot lock another out: the
// per-source cap stops it, and the reserve keeps slots for sources that
// have none.
func TestConnectionsPerSourceAndReserve(t *testing.T) {
	s, h, rec, logs := startLogged(t, Config{TCPAddress: "127.0.0.1:0", MaxConnections: 8, MaxConnectionsPerSource: 4, NewSourceReserve: 2}, nil)
	open := func(src string) net.Conn {
		c := dialFrom(t, "tcp", src, s.TCPAddr())
		// A message, so that an accepted connection is seen served.
		fmt.Fprintf(c, "%s\n", sshMsg)
		return c
	}
	accepted := func(n int) {
		t.Helper()
		waitFor(t, fmt.Sprintf("%d open connections", n), func() bool {
			return testutil.ToFloat64(h.Connections.WithLabelValues(TransportTCP)) == float64(n) && rec.count() == n
		})
	}
	for i := 0; i < 4; i++ {
		open("127.0.0.2")
	}
	accepted(4)
	for i := 0; i < 3; i++ { // over its cap
		if !closedByServer(t, open("127.0.0.2")) {
			t.Fatal("a fifth connection of 127.0.0.2 was kept")
		}
	}
	open("127.0.0.3")
	open("127.0.0.3")
	accepted(6)
	// 6 of 8 open: the last 2 are for sources without a connection.
	if !closedByServer(t, open("127.0.0.3")) {
		t.Fatal("127.0.0.3 took a slot of the reserve")
	}
	open("127.0.0.4")
	open("127.0.0.5")
	accepted(8)
	if !closedByServer(t, open("127.0.0.6")) {
		t.Fatal("a ninth connection was kept")
	}
	waitFor(t, "3 rejections for the source cap, 2 for the reserve and total", func() bool {
		return testutil.ToFloat64(h.Rejected.WithLabelValues(TransportTCP, RejectSourceConnLimit)) == 3 &&
			testutil.ToFloat64(h.Rejected.WithLabelValues(TransportTCP, RejectConnLimit)) == 2 &&
			testutil.ToFloat64(h.ConnectionsClosed.WithLabelValues(TransportTCP, "limit")) == 5
	})
	if got := logs.lines("syslog sender rejected", "remote=127.0.0.2 "); len(got) != 1 {
		t.Errorf("%d log lines about 127.0.0.2's 3 rejections, want 1", len(got))
	}
}

// Truncated frames and framing errors are counted in messages_total, and an
// endless LF line as oversize as soon as it passes the limit, while its
// connection is still open. Before, none reached messages_total and an
// endless line was invisible until it ended.
func TestTruncatedAndFramingErrorsCounted(t *testing.T) {
	const max = 1000
	s, h, rec, _ := startLogged(t, Config{TCPAddress: "127.0.0.1:0", MaxMessageSize: max, IdleTimeout: 300 * time.Millisecond}, nil)
	msg := func(result string) float64 {
		return testutil.ToFloat64(h.Messages.WithLabelValues(TransportTCP, result))
	}
	// A frame cut by the end of the stream.
	c := dialFrom(t, "tcp", "127.0.0.2", s.TCPAddr())
	fmt.Fprintf(c, "%d %s50 <14>cut short", len(sshMsg), sshMsg)
	c.Close()
	// A frame length that is not one.
	c = dialFrom(t, "tcp", "127.0.0.3", s.TCPAddr())
	fmt.Fprintf(c, "%d %sNOT-A-LENGTH ", len(sshMsg), sshMsg)
	c.Close()
	// A line cut by the idle timeout.
	c = dialFrom(t, "tcp", "127.0.0.4", s.TCPAddr())
	fmt.Fprintf(c, "%s\n<14>half a line", sshMsg)
	waitFor(t, "the counts", func() bool {
		return msg(ResultTruncated) == 2 && msg(ResultFramingError) == 1 && rec.count() == 3
	})
	if got := testutil.ToFloat64(h.ConnectionsClosed.WithLabelValues(TransportTCP, "idle_timeout")); got != 1 {
		t.Errorf("closed for idle_timeout = %v, want 1", got)
	}
	if got := testutil.ToFloat64(h.ConnectionsClosed.WithLabelValues(TransportTCP, "framing_error")); got != 2 {
		t.Errorf("closed for framing_error = %v, want 2", got)
	}

	// An endless line: counted while it goes on.
	s2, h2, rec2, _ := startLogged(t, Config{TCPAddress: "127.0.0.1:0", MaxMessageSize: max}, nil)
	c = dialFrom(t, "tcp", "127.0.0.2", s2.TCPAddr())
	fmt.Fprintf(c, "%s\n<14>1 2024-01-01T00:00:00Z h app - - - %s", sshMsg, strings.Repeat("x", 3*max))
	waitFor(t, "the endless line to be counted", func() bool {
		return testutil.ToFloat64(h2.Messages.WithLabelValues(TransportTCP, ResultOversize)) == 1
	})
	if got := testutil.ToFloat64(h2.Connections.WithLabelValues(TransportTCP)); got != 1 {
		t.Errorf("open connections = %v, want 1 (the endless line's)", got)
	}
	// It ends; the next line is heard, and the long one counted once.
	fmt.Fprintf(c, "%s\n%s\n", strings.Repeat("y", 5*max), sshMsg)
	waitFor(t, "the line after it", func() bool { return rec2.count() == 2 })
	if got := testutil.ToFloat64(h2.Messages.WithLabelValues(TransportTCP, ResultOversize)); got != 1 {
		t.Errorf("oversize = %v, want 1", got)
	}
}

// Handshakes concurrent with rotations: every handshake completes with a
// whole certificate, the old one or the new one, never a failure or a
// mix, while the files are renamed over each other (run with -race).
func TestTLSCertificateReloadConcurrent(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.issue(t, dir, "server", 1, time.Now().Add(time.Hour), false)
	var pems [2][2][]byte // serial 1 and 2: certificate, key
	pems[0][0], _ = os.ReadFile(certFile)
	pems[0][1], _ = os.ReadFile(keyFile)
	c2, k2 := ca.issue(t, t.TempDir(), "server", 2, time.Now().Add(2*time.Hour), false)
	pems[1][0], _ = os.ReadFile(c2)
	pems[1][1], _ = os.ReadFile(k2)
	s, h, _, _ := startLogged(t, Config{TLSAddress: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile}, func(s *Server) { s.certCheck = 0 })
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	addr := s.TLSAddr().String()

	stop := make(chan struct{})
	type result struct {
		n   int
		err error
	}
	rotated := make(chan result)
	go func() {
		replace := func(path string, data []byte) error {
			if err := os.WriteFile(path+".new", data, 0o600); err != nil {
				return err
			}
			return os.Rename(path+".new", path)
		}
		n := 0
		for i := 1; ; i++ {
			select {
			case <-stop:
				rotated <- result{n, nil}
				return
			default:
			}
			p := pems[i%2]
			// Key first, then certificate: between the two the pair does
			// not match and the previous certificate stays in service.
			if err := replace(keyFile, p[1]); err != nil {
				<-stop
				rotated <- result{n, err}
				return
			}
			if err := replace(certFile, p[0]); err != nil {
				<-stop
				rotated <- result{n, err}
				return
			}
			n++
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	serials := map[int64]int{}
	var failures []error
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
				mu.Lock()
				if err != nil {
					failures = append(failures, err)
				} else {
					serials[c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()]++
					c.Close()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	r := <-rotated
	if r.err != nil {
		t.Fatal(r.err)
	}
	n := r.n
	if len(failures) > 0 {
		t.Fatalf("%d of 200 handshakes failed during %d rotations, first: %v", len(failures), n, failures[0])
	}
	if serials[1]+serials[2] != 200 || len(serials) > 2 {
		t.Errorf("serials served %v, want only 1 and 2, 200 in all", serials)
	}
	// The files end as one whole pair: the next handshake serves it.
	last := int64(1)
	if n%2 == 1 {
		last = 2
	}
	if got := servedSerial(t, addr, pool); got != last {
		t.Errorf("after %d rotations serial %d is served, want %d", n, got, last)
	}
	t.Logf("%d rotations, serials %v, reload errors %v", n, serials, testutil.ToFloat64(h.CertReloadErrors))
}

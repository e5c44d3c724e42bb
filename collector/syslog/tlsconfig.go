package syslog

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"gopkg.in/yaml.v3"
)

// tlsFile is the --syslog.tls.config.file format: the tls_server_config
// section of the exporter-toolkit's web configuration file
// (https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md).
type tlsFile struct {
	TLS web.TLSConfig `yaml:"tls_server_config"`
	// The other sections of a web configuration file are allowed (one
	// file may serve both) and ignored.
	HTTP  yaml.Node `yaml:"http_server_config"`
	Users yaml.Node `yaml:"basic_auth_users"`
	Rate  yaml.Node `yaml:"rate_limit"`
}

// loadTLSFile reads and checks a TLS configuration file. Relative paths in
// it are relative to the file's directory.
func loadTLSFile(path string) (*web.TLSConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f := tlsFile{TLS: web.TLSConfig{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty; it needs a tls_server_config section with cert_file and key_file")
		}
		return nil, err
	}
	c := &f.TLS
	if c.TLSCertPath == "" && c.TLSCert == "" {
		return nil, errors.New("tls_server_config: cert_file is required")
	}
	if c.TLSKeyPath == "" && c.TLSKey == "" {
		return nil, errors.New("tls_server_config: key_file is required")
	}
	c.SetDirectory(filepath.Dir(path))
	return c, nil
}

// certReloader serves the listener's certificate and re-reads its files
// when their content changes (looked at, at a handshake, at most once per
// interval), so that a rotated certificate takes effect without a
// restart. Comparing content, not modification times, sees a copy that
// keeps its time (cp -p, a Kubernetes secret's symlink swap) and ignores a
// touch. A pair that does not load (a certificate replaced before its key)
// keeps the previous one in service; the failure is counted and logged
// once per change of the files, and the pair is tried again when they
// change again. Concurrent handshakes share one lock: each gets a whole,
// immutable certificate, the old or the new.
type certReloader struct {
	certFile, keyFile string
	interval          time.Duration
	log               *slog.Logger
	onError           func()
	onLoad            func(*tls.Certificate)

	mu      sync.Mutex
	cert    *tls.Certificate
	tried   []byte // the files' content (certificate, then key) when last loaded or tried; nil after a read error
	checked time.Time
}

// newCertReloader loads the pair once: an error names the files.
func newCertReloader(certFile, keyFile string, interval time.Duration, logger *slog.Logger, onError func(), onLoad func(*tls.Certificate)) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, interval: interval, log: logger, onError: onError, onLoad: onLoad}
	certPEM, keyPEM, err := r.read()
	if err != nil {
		return nil, err
	}
	cert, err := r.parse(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	r.cert, r.tried, r.checked = cert, joinPEM(certPEM, keyPEM), time.Now()
	r.onLoad(cert)
	return r, nil
}

func (r *certReloader) read() (certPEM, keyPEM []byte, err error) {
	if certPEM, err = os.ReadFile(r.certFile); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = os.ReadFile(r.keyFile); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

func joinPEM(certPEM, keyPEM []byte) []byte {
	return append(append(append([]byte{}, certPEM...), 0), keyPEM...)
}

func (r *certReloader) parse(certPEM, keyPEM []byte) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate %s, key %s: %w", r.certFile, r.keyFile, err)
	}
	if cert.Leaf == nil && len(cert.Certificate) > 0 {
		cert.Leaf, _ = x509.ParseCertificate(cert.Certificate[0])
	}
	return &cert, nil
}

// GetCertificate is the tls.Config hook.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.checked) < r.interval {
		return r.cert, nil
	}
	r.checked = now
	certPEM, keyPEM, err := r.read()
	if err != nil {
		// A file missing for a moment (being replaced): keep serving the
		// old pair, try again at the next check.
		if r.tried != nil {
			r.tried = nil
			r.onError()
			r.log.Warn("cannot reload the syslog TLS certificate; keeping the previous one", "err", err)
		}
		return r.cert, nil
	}
	both := joinPEM(certPEM, keyPEM)
	if bytes.Equal(both, r.tried) {
		return r.cert, nil
	}
	r.tried = both
	cert, err := r.parse(certPEM, keyPEM)
	if err != nil {
		r.onError()
		r.log.Warn("cannot reload the syslog TLS certificate; keeping the previous one", "err", err)
		return r.cert, nil
	}
	r.cert = cert
	r.onLoad(cert)
	r.log.Info("reloaded the syslog TLS certificate", "cert_file", r.certFile, "not_after", notAfter(cert))
	return r.cert, nil
}

func notAfter(c *tls.Certificate) time.Time {
	if c.Leaf == nil {
		return time.Time{}
	}
	return c.Leaf.NotAfter
}

// errClientCert marks a handshake that failed on the client's
// certificate (mTLS).
var errClientCert = errors.New("client certificate rejected")

// isClientCertError reports whether a server handshake error is about the
// client's certificate: none given when one is required, or one that does
// not verify (chain, or client_allowed_sans).
func isClientCertError(err error) bool {
	var ve *tls.CertificateVerificationError
	return errors.As(err, &ve) || errors.Is(err, errClientCert) ||
		strings.Contains(err.Error(), "client didn't provide a certificate")
}

// serverTLSConfig builds the TLS listener's configuration from cfg: the
// TLS configuration file, or the certificate and key files.
func (s *Server) serverTLSConfig() (*tls.Config, error) {
	cfg := s.cfg
	if cfg.TLSConfigFile != "" && (cfg.TLSCertFile != "" || cfg.TLSKeyFile != "") {
		return nil, errors.New("--syslog.tls.config.file and --syslog.tls.cert-file/--syslog.tls.key-file are exclusive: give the certificate in the file (tls_server_config: cert_file, key_file)")
	}
	var tc *tls.Config
	var reloader *certReloader
	newReloader := func(certFile, keyFile string) error {
		r, err := newCertReloader(certFile, keyFile, s.certCheck, s.log, s.health.certReloadError, s.health.certLoaded)
		if err != nil {
			return fmt.Errorf("syslog TLS certificate: %w", err)
		}
		reloader = r
		return nil
	}
	if cfg.TLSConfigFile != "" {
		wc, err := loadTLSFile(cfg.TLSConfigFile)
		if err != nil {
			return nil, fmt.Errorf("--syslog.tls.config.file %s: %w", cfg.TLSConfigFile, err)
		}
		if wc.TLSCertPath != "" && wc.TLSKeyPath != "" {
			// First, so that a bad certificate or key is named.
			if err := newReloader(wc.TLSCertPath, wc.TLSKeyPath); err != nil {
				return nil, fmt.Errorf("--syslog.tls.config.file %s: %w", cfg.TLSConfigFile, err)
			}
		}
		switch wc.ClientAuth {
		case "VerifyClientCertIfGiven", "RequireAndVerifyClientCert":
			// Without a CA the system roots would verify client
			// certificates: any publicly issued certificate would pass.
			if wc.ClientCAs == "" && wc.ClientCAsText == "" {
				return nil, fmt.Errorf("--syslog.tls.config.file %s: client_auth_type %s needs client_ca_file (the CA that signs the senders' certificates)", cfg.TLSConfigFile, wc.ClientAuth)
			}
		}
		if wc.ClientCAs != "" {
			pem, err := os.ReadFile(wc.ClientCAs)
			if err != nil {
				return nil, fmt.Errorf("--syslog.tls.config.file %s: client_ca_file: %w", cfg.TLSConfigFile, err)
			}
			if !x509.NewCertPool().AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--syslog.tls.config.file %s: client_ca_file %s holds no PEM certificate", cfg.TLSConfigFile, wc.ClientCAs)
			}
		} else if wc.ClientCAsText != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(wc.ClientCAsText)) {
			return nil, fmt.Errorf("--syslog.tls.config.file %s: client_ca holds no PEM certificate", cfg.TLSConfigFile)
		}
		// The toolkit's own checks (client_auth_type, a CA without a client
		// auth policy, ...) and settings (versions, ciphers, curves, CAs).
		tc, err = web.ConfigToTLSConfig(wc)
		if err != nil {
			return nil, fmt.Errorf("--syslog.tls.config.file %s: %w", cfg.TLSConfigFile, err)
		}
		if v := tc.VerifyPeerCertificate; v != nil {
			tc.VerifyPeerCertificate = func(raw [][]byte, chains [][]*x509.Certificate) error {
				if err := v(raw, chains); err != nil {
					return fmt.Errorf("%w: %w", errClientCert, err)
				}
				return nil
			}
		}
		if reloader == nil {
			// Inline cert and key: loaded once; nothing to reload.
			cert, err := tc.GetCertificate(nil)
			if err != nil {
				return nil, fmt.Errorf("--syslog.tls.config.file %s: %w", cfg.TLSConfigFile, err)
			}
			tc.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }
			s.health.certLoaded(cert)
		}
	} else {
		if cfg.TLSCertFile == "" || cfg.TLSKeyFile == "" {
			return nil, errors.New("syslog TLS listener: --syslog.tls.cert-file and --syslog.tls.key-file (or --syslog.tls.config.file) are required with --syslog.tls.listen-address")
		}
		if err := newReloader(cfg.TLSCertFile, cfg.TLSKeyFile); err != nil {
			return nil, err
		}
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if reloader != nil {
		tc.GetCertificate = reloader.GetCertificate
	}
	tc.Certificates = nil
	// No session tickets: a TLS 1.3 server sends them after the handshake,
	// and a sender that writes its messages and closes without reading
	// leaves them unread, so its kernel resets the connection and ours
	// discards the messages not yet read. Syslog senders reconnect rarely;
	// resumption buys nothing.
	tc.SessionTicketsDisabled = true
	return tc, nil
}

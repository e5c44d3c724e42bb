package ship

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// LogsPath is the OTLP/HTTP path of logs, appended to an endpoint that
// does not end in it.
const LogsPath = "/v1/logs"

// OTLPConfig configures the OTLP/HTTP exporter.
type OTLPConfig struct {
	// Endpoint is the receiver's base URL, http://collector:4318 (then
	// /v1/logs is appended) or the full logs URL (ending in /v1/logs), as
	// VictoriaLogs' http://victorialogs:9428/insert/opentelemetry/v1/logs.
	// http:// is plain HTTP, https:// TLS.
	Endpoint string
	// Headers are sent with every request (authorization, tenant ids).
	Headers map[string]string
	// Timeout bounds one export (default 10s).
	Timeout time.Duration
	// Gzip compresses requests.
	Gzip bool
	// CAFile, when set, is the PEM bundle that signed the receiver's
	// certificate (instead of the system roots).
	CAFile string
}

// LogsURL is the URL the exporter posts to: the endpoint, with /v1/logs
// appended unless it already ends in it. It refuses anything but an
// http(s) URL with a host, and credentials in the URL (use a header).
func LogsURL(endpoint string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: want an http:// or https:// URL", endpoint)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q: no host", endpoint)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%q: credentials in the URL would show in ps; send them as a header (--otlp.headers-file)", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q: no query or fragment", endpoint)
	}
	if !strings.HasSuffix(u.Path, LogsPath) {
		u.Path = strings.TrimSuffix(u.Path, "/") + LogsPath
	}
	return u, nil
}

// SinkName names an OTLP sink by its logs URL: its cursor in the journal
// and its metrics' sink label.
func SinkName(u *url.URL) string { return "otlp:" + u.String() }

// NewOTLPExporter returns an otlploghttp exporter with its own retries off:
// the shipper retries, with the cursor where it was, so that every failure
// is counted and a stop is not held up by the exporter's retry loop.
func NewOTLPExporter(ctx context.Context, c OTLPConfig) (sdklog.Exporter, error) {
	u, err := LogsURL(c.Endpoint)
	if err != nil {
		return nil, err
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	opts := []otlploghttp.Option{
		otlploghttp.WithEndpointURL(u.String()),
		otlploghttp.WithTimeout(c.Timeout),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}),
		otlploghttp.WithHeaders(c.Headers),
		otlploghttp.WithProxy(http.ProxyFromEnvironment),
	}
	if c.Gzip {
		opts = append(opts, otlploghttp.WithCompression(otlploghttp.GzipCompression))
	} else {
		opts = append(opts, otlploghttp.WithCompression(otlploghttp.NoCompression))
	}
	if c.CAFile != "" {
		if u.Scheme != "https" {
			return nil, fmt.Errorf("a CA file is given for the plain-HTTP endpoint %s", u)
		}
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate", c.CAFile)
		}
		opts = append(opts, otlploghttp.WithTLSClientConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	}
	return otlploghttp.New(ctx, opts...)
}

// ParseHeader parses one header, name=value or "Name: value" (the first
// '=' or ':' separates them).
func ParseHeader(s string) (name, value string, err error) {
	// The errors do not repeat the value: it may be a secret.
	i := strings.IndexAny(s, "=:")
	if i < 0 {
		return "", "", errors.New("want name=value or \"Name: value\"")
	}
	name, value = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
	if name == "" || strings.ContainsAny(name, " \t\"(),/;<>?@[\\]{}") {
		return "", "", fmt.Errorf("bad header name %q", name)
	}
	return name, value, nil
}

// ReadHeadersFile reads headers from a file, one a line (name=value or
// "Name: value"); blank lines and lines starting with '#' are skipped.
func ReadHeadersFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, err := ParseHeader(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out[k] = v
	}
	return out, sc.Err()
}

package vcenter

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/vmware/govmomi/vim25/soap"
)

// pinThumbprint makes a pinned thumbprint (--vcenter.thumbprint) part of
// the one TLS handshake: the certificate is accepted when its SHA-256 or
// SHA-1 thumbprint is the pinned one, or else when it verifies against the
// roots (--vcenter.ca-file, or the system's) for the vCenter's name.
//
// govmomi's own pin verifies against the roots first and, when that fails,
// dials again without verification to compare the thumbprint: two
// handshakes per connection, the first of which the vCenter logs as a
// client that rejected its certificate ("bad certificate").
func pinThumbprint(c *tls.Config, host, thumbprint string) {
	roots := c.RootCAs
	c.InsecureSkipVerify = true // the verification is VerifyConnection's
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("host %q presented no certificate", host)
		}
		leaf := cs.PeerCertificates[0]
		if thumbprintMatches(thumbprint, leaf) {
			return nil
		}
		inter := x509.NewCertPool()
		for _, ic := range cs.PeerCertificates[1:] {
			inter.AddCert(ic)
		}
		name := cs.ServerName
		if name == "" {
			name = host
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: name}); err == nil {
			return nil
		}
		return fmt.Errorf("host %q thumbprint does not match %q", host, thumbprint)
	}
}

// thumbprintMatches compares as vCenter and govc print thumbprints:
// colon-separated hex, either case.
func thumbprintMatches(thumbprint string, cert *x509.Certificate) bool {
	return strings.EqualFold(thumbprint, soap.ThumbprintSHA256(cert)) || strings.EqualFold(thumbprint, soap.ThumbprintSHA1(cert))
}

// drainTransport lets the client keep its connection: govmomi closes a
// response body once it has decoded the SOAP envelope, and the bytes after
// it (the chunked encoding's last chunk) are then unread, so net/http
// closes the connection and the next call opens a new one, with a TLS
// handshake: one per page of events. Closing drains what is left first
// (a bounded amount; beyond it the connection is given up as before).
type drainTransport struct{ next http.RoundTripper }

// maxDrain bounds what a close reads to keep a connection.
const maxDrain = 64 << 10

func (d drainTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := d.next.RoundTrip(req)
	if err == nil && res.Body != nil {
		res.Body = drainOnClose{res.Body}
	}
	return res, err
}

type drainOnClose struct{ io.ReadCloser }

func (b drainOnClose) Close() error {
	_, _ = io.CopyN(io.Discard, b.ReadCloser, maxDrain)
	return b.ReadCloser.Close()
}

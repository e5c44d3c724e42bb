package vcenter

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/vmware/govmomi/vim25/soap"
)

// A pinned thumbprint is checked in the one handshake: the pin (SHA-256 or
// SHA-1, either case) or a chain to the configured roots is accepted,
// anything else refused with the error the tailer classifies as tls.
func TestPinThumbprint(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	cert := srv.Certificate()
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	u, _ := url.Parse(srv.URL)
	other := "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"
	for _, tc := range []struct {
		name, thumb string
		roots       *x509.CertPool
		ok          bool
	}{
		{"sha256", soap.ThumbprintSHA256(cert), nil, true},
		{"sha256 lower case", strings.ToLower(soap.ThumbprintSHA256(cert)), nil, true},
		{"sha1", soap.ThumbprintSHA1(cert), nil, true},
		{"other pin, untrusted", other, nil, false},
		{"other pin, chain to the CA file", other, roots, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &tls.Config{RootCAs: tc.roots}
			pinThumbprint(c, u.Hostname(), tc.thumb)
			// The server's certificate is for example.com and 127.0.0.1.
			c.ServerName = "127.0.0.1"
			cl := &http.Client{Transport: &http.Transport{TLSClientConfig: c}}
			res, err := cl.Get(srv.URL)
			if res != nil {
				res.Body.Close()
			}
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.ok && err == nil:
				t.Fatal("accepted")
			case !tc.ok && (!strings.Contains(err.Error(), "thumbprint does not match") || Reason(err) != "tls"):
				t.Fatalf("error %q (reason %s), want a thumbprint mismatch classified tls", err, Reason(err))
			}
		})
	}
}

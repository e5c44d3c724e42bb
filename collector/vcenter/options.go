package vcenter

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// PasswordEnv is the environment variable that may hold the vCenter
// password (the alternative to a password file).
const PasswordEnv = "VSPHERE_AUDIT_VCENTER_PASSWORD"

// DefaultStateDir holds the checkpoint files unless --vcenter.state-dir says otherwise.
const DefaultStateDir = "/var/lib/vsphere_audit_exporter"

// Options are the command-line settings shared by every --vcenter.url.
type Options struct {
	URLs              []string
	User              string
	PasswordFile      string
	CAFile            string
	Thumbprint        string
	Insecure          bool
	StateDir          string
	Lookback          time.Duration
	PollInterval      time.Duration
	InventoryInterval time.Duration
}

// Warnings reports settings that work but should be fixed: a password
// file readable by its group or by others. The caller logs them.
func (o Options) Warnings() []string {
	var w []string
	if o.PasswordFile != "" {
		if fi, err := os.Stat(o.PasswordFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			w = append(w, fmt.Sprintf("--vcenter.password-file %s is readable by its group or others (mode %04o); chmod 600 it", o.PasswordFile, fi.Mode().Perm()))
		}
	}
	return w
}

// Configs validates o and returns one config per URL. getenv reads the
// environment (os.Getenv). Errors name the flag to fix and never a secret.
func (o Options) Configs(getenv func(string) string) ([]Config, error) {
	if len(o.URLs) == 0 {
		if o.User != "" || o.PasswordFile != "" || o.CAFile != "" || o.Thumbprint != "" {
			return nil, errors.New("--vcenter.user, --vcenter.password-file, --vcenter.ca-file and --vcenter.thumbprint need --vcenter.url")
		}
		return nil, nil
	}
	var pass string
	switch {
	case o.PasswordFile != "":
		b, err := os.ReadFile(o.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("--vcenter.password-file: %w", err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
		if pass == "" {
			return nil, fmt.Errorf("--vcenter.password-file %s is empty", o.PasswordFile)
		}
	default:
		pass = getenv(PasswordEnv)
	}
	if o.CAFile != "" {
		for _, f := range filepath.SplitList(o.CAFile) {
			if _, err := os.ReadFile(f); err != nil {
				return nil, fmt.Errorf("--vcenter.ca-file: %w", err)
			}
		}
	}
	if o.Insecure && (o.CAFile != "" || o.Thumbprint != "") {
		return nil, errors.New("--vcenter.insecure turns TLS verification off; it cannot be combined with --vcenter.ca-file or --vcenter.thumbprint")
	}
	if o.Lookback < 0 {
		return nil, errors.New("--vcenter.lookback must not be negative")
	}
	if o.StateDir == "" {
		return nil, errors.New("--vcenter.state-dir must not be empty")
	}
	if err := os.MkdirAll(o.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("--vcenter.state-dir: %w", err)
	}
	if f, err := os.CreateTemp(o.StateDir, ".write-test*"); err != nil {
		return nil, fmt.Errorf("--vcenter.state-dir %s is not writable: %w", o.StateDir, err)
	} else {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	seen := map[string]bool{}
	var out []Config
	for _, raw := range o.URLs {
		if !strings.Contains(raw, "://") {
			raw = "https://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil {
			// url.Error repeats the input, which may hold a password.
			return nil, errors.New("--vcenter.url: not a URL (want https://vcenter.example.com/sdk)")
		}
		if _, ok := u.User.Password(); ok {
			return nil, fmt.Errorf("--vcenter.url %s: a password in the URL would show in ps; use --vcenter.password-file or %s", u.Redacted(), PasswordEnv)
		}
		if u.Hostname() == "" {
			return nil, fmt.Errorf("--vcenter.url %s: no host (want https://vcenter.example.com/sdk)", u.Redacted())
		}
		if u.Scheme != "https" {
			return nil, fmt.Errorf("--vcenter.url %s: the scheme must be https", u.Redacted())
		}
		c := Config{URL: u, User: o.User, Password: pass, CAFile: o.CAFile, Thumbprint: o.Thumbprint, Insecure: o.Insecure,
			StateDir: o.StateDir, Lookback: o.Lookback, PollInterval: o.PollInterval}
		if c.User == "" && u.User != nil {
			c.User = u.User.Username()
		}
		if c.User == "" {
			return nil, fmt.Errorf("--vcenter.url %s: no user; set --vcenter.user or put user@ in the URL", u.Redacted())
		}
		if pass == "" {
			return nil, fmt.Errorf("no vCenter password: set --vcenter.password-file or the environment variable %s", PasswordEnv)
		}
		u2 := *u
		u2.User = nil
		c.URL = &u2
		if err := c.Validate(); err != nil {
			return nil, err
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("--vcenter.url %s given twice", u.Redacted())
		}
		seen[c.Name] = true
		out = append(out, c)
	}
	return out, nil
}

package vcenter

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/session/keepalive"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// Config is one vCenter to read.
type Config struct {
	// Name is the vcenter label and names the checkpoint file (default:
	// the URL's host).
	Name string
	// URL is https://host/sdk; any user in it is used when User is empty,
	// any password in it is ignored (see Password).
	URL      *url.URL
	User     string
	Password string
	// TLS: a CA bundle (PEM files, path-list separated), a SHA-256 (or
	// SHA-1) thumbprint pin, or no verification at all.
	CAFile     string
	Thumbprint string
	Insecure   bool
	// StateDir holds the checkpoint file. Empty keeps the checkpoint in
	// memory only.
	StateDir string
	// Store, when set, keeps the checkpoint instead of StateDir's file
	// (the journal, which commits it after the events it covers).
	Store CheckpointStore
	// Lookback: on a first start (no checkpoint) read this far back from
	// the vCenter's current time.
	Lookback time.Duration
	// PollInterval is the idle wait after an empty read; it doubles up to
	// 5x while idle (default 1s).
	PollInterval time.Duration
	// RetryMin and RetryMax bound the exponential backoff while the
	// vCenter is unreachable or failing (default 1s, 2m).
	RetryMin, RetryMax time.Duration
	// LoginRetryMin and LoginRetryMax bound the backoff after the vCenter
	// refused the login (InvalidLogin, NotAuthenticated or NoPermission
	// at login; default 1m, 15m): retrying a wrong password every few
	// seconds can lock the service account.
	LoginRetryMin, LoginRetryMax time.Duration
	// PageSize of ReadNextEvents (default and maximum 1000).
	PageSize int32
	// Keepalive is the session keepalive interval (default 5m).
	Keepalive time.Duration
}

// DefaultName is the label of a vCenter URL: its host, with the port
// when it is not 443.
func DefaultName(u *url.URL) string {
	if u.Port() == "" || u.Port() == "443" {
		return u.Hostname()
	}
	return u.Host
}

// The defaults of Config.LoginRetryMin and LoginRetryMax.
const (
	DefaultLoginRetryMin = time.Minute
	DefaultLoginRetryMax = 15 * time.Minute
)

// Validate checks c and fills its defaults.
func (c *Config) Validate() error {
	if c.URL == nil || c.URL.Host == "" || c.URL.Hostname() == "" {
		return errors.New("vCenter URL without a host (want https://vcenter.example.com/sdk)")
	}
	if c.URL.Scheme != "https" && c.URL.Scheme != "http" {
		return fmt.Errorf("vCenter URL %s: scheme must be https", c.URL.Redacted())
	}
	if _, ok := c.URL.User.Password(); ok {
		return fmt.Errorf("vCenter URL %s carries a password; use --vcenter.password-file or VSPHERE_AUDIT_VCENTER_PASSWORD", c.URL.Redacted())
	}
	if c.User == "" && c.URL.User != nil {
		c.User = c.URL.User.Username()
	}
	if c.User == "" {
		return fmt.Errorf("vCenter %s: no user (--vcenter.user or user@ in the URL)", c.URL.Redacted())
	}
	if c.Password == "" {
		return fmt.Errorf("vCenter %s: no password (--vcenter.password-file or VSPHERE_AUDIT_VCENTER_PASSWORD)", c.URL.Redacted())
	}
	if c.URL.Path == "" || c.URL.Path == "/" {
		u := *c.URL
		u.Path = "/sdk"
		c.URL = &u
	}
	if c.Name == "" {
		c.Name = DefaultName(c.URL)
	}
	if c.CAFile != "" {
		sc := soap.NewClient(c.URL, false)
		if err := sc.SetRootCAs(c.CAFile); err != nil {
			return fmt.Errorf("vCenter CA file: %w", err)
		}
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.RetryMin <= 0 {
		c.RetryMin = time.Second
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(2*time.Minute, c.RetryMin)
	}
	if c.LoginRetryMin <= 0 {
		c.LoginRetryMin = DefaultLoginRetryMin
	}
	if c.LoginRetryMax < c.LoginRetryMin {
		c.LoginRetryMax = max(DefaultLoginRetryMax, c.LoginRetryMin)
	}
	if c.PageSize <= 0 || c.PageSize > 1000 {
		c.PageSize = 1000
	}
	if c.Keepalive <= 0 {
		c.Keepalive = 5 * time.Minute
	}
	return nil
}

// Tailer reads one vCenter's event history, records every covered event
// once into the sink, and keeps a checkpoint to resume from.
type Tailer struct {
	cfg    Config
	sink   audit.Sink
	health *Health
	log    *slog.Logger
	cpPath string
	store  CheckpointStore

	cp    Checkpoint
	begin time.Time // start time when there is no checkpoint

	mu sync.Mutex
	vc *vim25.Client // the logged-in client, shared with the inventory poller
	ka *keepalive.HandlerSOAP
	hc *event.HistoryCollector

	// Attempts counts connection attempts (for tests and logs).
	Attempts atomic.Int64
	// afterPage, when set, is called after each page is recorded (tests).
	afterPage func()
}

// NewTailer returns a tailer for a validated config.
func NewTailer(cfg Config, sink audit.Sink, health *Health, logger *slog.Logger) *Tailer {
	t := &Tailer{cfg: cfg, sink: sink, health: health, log: logger.With("vcenter", cfg.Name)}
	if cfg.StateDir != "" {
		t.cpPath = CheckpointFile(cfg.StateDir, cfg.Name)
	}
	switch {
	case cfg.Store != nil:
		t.store = cfg.Store
	case t.cpPath != "":
		t.store = fileStore(t.cpPath)
	}
	health.Init(cfg.Name)
	return t
}

// Name is the vcenter label.
func (t *Tailer) Name() string { return t.cfg.Name }

// Client returns the current logged-in client, or nil.
func (t *Tailer) Client() *vim25.Client {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.vc
}

// Checkpoint returns a copy of the in-memory checkpoint.
func (t *Tailer) Checkpoint() Checkpoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.cp
	c.Keys = slices.Clone(c.Keys)
	return c
}

// Run reads until ctx is cancelled. Errors are logged, counted and retried
// with backoff; Run returns only ctx's error.
func (t *Tailer) Run(ctx context.Context) error {
	if t.store != nil {
		cp, err := t.store.Load(t.cfg.Name)
		if err != nil {
			t.health.Error(t.cfg.Name, "checkpoint")
			t.log.Error("unreadable vCenter checkpoint; starting from the vCenter's current time", "store", t.store, "err", err)
		}
		cp.VCenter = t.cfg.Name // the file names its vCenter
		t.cp = cp
		if !cp.IsZero() {
			t.health.SetCheckpoint(t.cfg.Name, float64(cp.CreatedTime.UnixNano())/1e9)
			t.log.Info("resuming vCenter events from checkpoint", "store", t.store, "created_time", cp.CreatedTime)
		}
	}
	defer t.disconnect(true)
	retry, readFails, loginFails, idle := 0, 0, 0, 0
	var wait time.Duration // before the next connection attempt
	for ctx.Err() == nil {
		if t.hc == nil {
			if !sleep(ctx, wait) {
				break
			}
			t.Attempts.Add(1)
			if err := t.connect(ctx); err != nil {
				if ctx.Err() != nil {
					break
				}
				reason := Reason(err)
				t.health.Error(t.cfg.Name, reason)
				t.health.SetUp(t.cfg.Name, false)
				if LoginRejected(err) {
					// Not a network error: the same password fails again,
					// and each try counts toward the account's lockout.
					loginFails++
					wait = t.loginBackoff(loginFails)
					t.log.Error("the vCenter refused the login; retrying in minutes so as not to lock the account",
						"url", t.cfg.URL.Redacted(), "user", t.cfg.User, "reason", reason, "hint", hints[reason], "err", err, "failures", loginFails, "retry_in", wait)
				} else {
					retry++
					wait = t.backoff(retry)
					t.log.Warn("cannot read vCenter events", "url", t.cfg.URL.Redacted(), "reason", reason, "hint", hints[reason], "err", err, "retry_in", wait)
				}
				t.disconnect(false)
				continue
			}
			loginFails, wait = 0, 0
			t.health.SetUp(t.cfg.Name, true)
			t.log.Info("reading vCenter events", "url", t.cfg.URL.Redacted())
		}
		evs, err := t.hc.ReadNextEvents(ctx, t.cfg.PageSize)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			reason := Reason(err)
			t.health.Error(t.cfg.Name, reason)
			t.health.SetUp(t.cfg.Name, false)
			t.log.Warn("vCenter event read failed; logging in again and re-reading from the checkpoint", "reason", reason, "err", err)
			t.disconnect(reason != "network" && reason != "tls")
			// The first reconnect is immediate; repeated failures back off.
			retry = readFails
			readFails++
			wait = t.backoff(retry)
			continue
		}
		retry, readFails = 0, 0
		if len(evs) == 0 {
			d := t.cfg.PollInterval << min(idle, 2)
			d = min(d, 5*t.cfg.PollInterval)
			idle++
			if !sleep(ctx, d) {
				break
			}
			continue
		}
		idle = 0
		t.handle(evs)
		if t.afterPage != nil {
			t.afterPage()
		}
	}
	return ctx.Err()
}

func (t *Tailer) backoff(retry int) time.Duration {
	if retry <= 0 {
		return 0
	}
	d := t.cfg.RetryMin << min(retry-1, 20)
	return min(d, t.cfg.RetryMax)
}

// loginBackoff is the wait after the n-th login refused in a row:
// LoginRetryMin doubling up to LoginRetryMax.
func (t *Tailer) loginBackoff(n int) time.Duration {
	lo, hi := t.cfg.LoginRetryMin, t.cfg.LoginRetryMax
	if lo <= 0 {
		lo = DefaultLoginRetryMin
	}
	if hi < lo {
		hi = max(DefaultLoginRetryMax, lo)
	}
	if n <= 1 {
		return lo
	}
	return min(lo<<min(n-1, 20), hi)
}

// connect logs in and creates the history collector from the checkpoint.
func (t *Tailer) connect(ctx context.Context) error {
	sc := soap.NewClient(t.cfg.URL, t.cfg.Insecure)
	sc.Timeout = 5 * time.Minute // no call is a long poll: a hung connection fails and is retried
	if t.cfg.CAFile != "" {
		if err := sc.SetRootCAs(t.cfg.CAFile); err != nil {
			return tlsConfigError{err}
		}
	}
	if t.cfg.Thumbprint != "" {
		sc.SetThumbprint(t.cfg.URL.Host, t.cfg.Thumbprint)
		pinThumbprint(sc.DefaultTransport().TLSClientConfig, t.cfg.URL.Hostname(), t.cfg.Thumbprint)
	}
	sc.Client.Transport = drainTransport{sc.Client.Transport}
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return err
	}
	ka := keepalive.NewHandlerSOAP(vc.RoundTripper, t.cfg.Keepalive, nil)
	vc.RoundTripper = ka
	if err := session.NewManager(vc).Login(ctx, url.UserPassword(t.cfg.User, t.cfg.Password)); err != nil {
		return loginError{err}
	}
	t.mu.Lock()
	t.vc, t.ka = vc, ka
	t.mu.Unlock()
	now, err := methods.GetCurrentTime(ctx, vc)
	if err != nil {
		return err
	}
	if !t.cp.IsZero() && t.cp.CreatedTime.After(*now) {
		t.checkpointAhead(*now)
	}
	begin := t.cp.CreatedTime // inclusive: Seen drops what was recorded
	if t.cp.IsZero() {
		if t.begin.IsZero() {
			t.begin = now.Add(-t.cfg.Lookback)
		}
		begin = t.begin
	}
	spec := types.EventFilterSpec{
		Time:        &types.EventFilterSpecByTime{BeginTime: &begin},
		EventTypeId: FilterTypes(),
	}
	// Not abandoned on cancellation: the collector belongs to the session,
	// and a Logout that overtakes its creation on the server can deadlock
	// (it does in the vCenter simulator). A cancelled Run waits for it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	hc, err := event.NewManager(vc).CreateCollectorForEvents(cctx, spec)
	cancel()
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.hc = hc
	t.mu.Unlock()
	return nil
}

// CheckpointAheadMargin is how far before the vCenter's current time the
// tailer resumes when its checkpoint is ahead of that time.
const CheckpointAheadMargin = 10 * time.Minute

// checkpointAhead handles a checkpoint newer than the vCenter's current
// time now: the vCenter's clock was set back (or the checkpoint belongs
// to another vCenter). Every new event would be older than the checkpoint
// and dropped as recorded, silently, with vcenter_up 1. So the tailer
// warns, counts it (reason checkpoint_ahead) and resumes from now minus
// CheckpointAheadMargin. Events read again are recorded again; the journal
// keeps each vCenter event once (journal.UID).
func (t *Tailer) checkpointAhead(now time.Time) {
	old := t.cp.CreatedTime
	cp := Checkpoint{VCenter: t.cp.VCenter, CreatedTime: now.Add(-CheckpointAheadMargin)}
	t.health.Error(t.cfg.Name, "checkpoint_ahead")
	t.log.Warn("the vCenter checkpoint is ahead of the vCenter's clock (was its clock set back?); resuming from the vCenter's time minus a margin",
		"checkpoint", old, "vcenter_time", now, "resume_from", cp.CreatedTime, "ahead", old.Sub(now).Round(time.Second))
	t.mu.Lock()
	t.cp = cp
	t.mu.Unlock()
	t.health.SetCheckpoint(t.cfg.Name, float64(cp.CreatedTime.UnixNano())/1e9)
	if t.store != nil {
		if err := t.store.Save(t.cfg.Name, cp); err != nil {
			t.health.Error(t.cfg.Name, "checkpoint")
			t.log.Error("cannot save the vCenter checkpoint", "store", t.store, "err", err)
		}
	}
}

// disconnect forgets the session; polite destroys the collector and logs
// out (when the server is reachable).
func (t *Tailer) disconnect(polite bool) {
	t.mu.Lock()
	vc, ka, hc := t.vc, t.ka, t.hc
	t.vc, t.ka, t.hc = nil, nil, nil
	t.mu.Unlock()
	if polite && vc != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if hc != nil {
			_ = hc.Destroy(ctx)
		}
		_ = session.NewManager(vc).Logout(ctx) // stops the keepalive too
		cancel()
	}
	if ka != nil {
		go ka.Stop() // may wait for a keepalive call in flight
	}
	if vc != nil {
		vc.CloseIdleConnections()
	}
}

// handle records one page: in (creation time, key) order, each event not
// recorded before. Then the checkpoint is saved. The two halves of a
// vSphere Client login (vCenter's 127.0.0.1 session and SSO's login with
// the real address) are joined downstream, whichever comes first.
func (t *Tailer) handle(evs []types.BaseEvent) {
	slices.SortStableFunc(evs, func(a, b types.BaseEvent) int {
		x, y := a.GetEvent(), b.GetEvent()
		if c := x.CreatedTime.Compare(y.CreatedTime); c != 0 {
			return c
		}
		return cmp.Compare(x.Key, y.Key)
	})
	changed := false
	t.mu.Lock()
	cp := t.cp
	cp.Keys = slices.Clone(cp.Keys)
	t.mu.Unlock()
	for _, ev := range evs {
		if cp.Seen(ev) {
			continue
		}
		b := ev.GetEvent()
		t.health.Read(t.cfg.Name, TypeLabel(ev), float64(b.CreatedTime.UnixNano())/1e9)
		for _, e := range ToAudit(t.cfg.Name, ev) {
			t.sink.Record(e)
		}
		cp.Advance(ev)
		changed = true
	}
	if !changed {
		return
	}
	t.mu.Lock()
	t.cp = cp
	t.mu.Unlock()
	t.health.SetCheckpoint(t.cfg.Name, float64(cp.CreatedTime.UnixNano())/1e9)
	if t.store != nil {
		if err := t.store.Save(t.cfg.Name, cp); err != nil {
			t.health.Error(t.cfg.Name, "checkpoint")
			t.log.Error("cannot save the vCenter checkpoint", "store", t.store, "err", err)
		}
	}
}

// hints tell the operator what to check, by error reason.
var hints = map[string]string{
	"login":   "the vCenter refused the user or password (--vcenter.user, --vcenter.password-file or " + PasswordEnv + ")",
	"tls":     "the vCenter's certificate is not trusted: check --vcenter.ca-file or --vcenter.thumbprint",
	"network": "the vCenter is unreachable: check --vcenter.url, DNS and firewalls",
}

type tlsConfigError struct{ error }

func (e tlsConfigError) Unwrap() error { return e.error }

// loginError is an error of the Login call.
type loginError struct{ error }

func (e loginError) Unwrap() error { return e.error }

// LoginRejected reports whether err is the vCenter refusing the login
// itself (a wrong user or password, an account locked or without
// permission), not a failure to reach it.
func LoginRejected(err error) bool {
	var le loginError
	if !errors.As(err, &le) {
		return false
	}
	return fault.Is(err, &types.InvalidLogin{}) || fault.Is(err, &types.NotAuthenticated{}) || fault.Is(err, &types.NoPermission{})
}

// Reason classifies an error for vsphere_audit_vcenter_errors_total.
func Reason(err error) string {
	var (
		tc  tlsConfigError
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		cve *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
		ue  *url.Error
		ne  net.Error
	)
	switch {
	case fault.Is(err, &types.InvalidLogin{}) || fault.Is(err, &types.NoPermission{}) || LoginRejected(err):
		return "login"
	case fault.Is(err, &types.NotAuthenticated{}):
		return "not_authenticated"
	case fault.Is(err, &types.ManagedObjectNotFound{}) || fault.Is(err, &types.InvalidState{}):
		return "collector_lost"
	case errors.As(err, &tc), errors.As(err, &ua), errors.As(err, &he), errors.As(err, &ci), errors.As(err, &cve), errors.As(err, &rhe),
		strings.Contains(err.Error(), "thumbprint does not match"), strings.Contains(err.Error(), "x509: "), strings.Contains(err.Error(), "tls: "):
		return "tls"
	case errors.As(err, &ue), errors.As(err, &ne):
		return "network"
	}
	return "other"
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

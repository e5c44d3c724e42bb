package vcenter

import (
	"context"
	"crypto/tls"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vcsim"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"
	_ "unsafe" // go:linkname

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// vcsim keeps only maxPageSize events and a collector that falls further
// behind stalls silently; the load tests raise it.
//
//go:linkname vcsimMaxPageSize github.com/vmware/govmomi/simulator.maxPageSize
var vcsimMaxPageSize int

func init() { vcsimMaxPageSize = 200000 }

const (
	simUser = "auditor@vsphere.local"
	simPass = "s3cret!"
)

// sim is an in-process vCenter simulator with credentials and TLS.
type sim struct {
	model  *simulator.Model
	server *simulator.Server
	url    *url.URL // without credentials
	thumb  string
	hosts  []*simulator.HostSystem
	vms    []*simulator.VirtualMachine
	mu     sync.Mutex
}

func newSim(t testing.TB, listen string, opts ...func(*simulator.Model)) *sim {
	t.Helper()
	model := simulator.VPX()
	model.Machine = 2
	if err := model.Create(); err != nil {
		t.Fatal(err)
	}
	model.Map().EventManager().MaxCollector = 100000
	u := &url.URL{User: url.UserPassword(simUser, simPass)}
	if listen != "" {
		u.Host = listen
	}
	model.Service.Listen = u
	model.Service.TLS = new(tls.Config)
	model.Service.RegisterEndpoints = true
	s := &sim{model: model}
	for _, r := range model.Map().All("HostSystem") {
		s.hosts = append(s.hosts, r.(*simulator.HostSystem))
	}
	for _, r := range model.Map().All("VirtualMachine") {
		s.vms = append(s.vms, r.(*simulator.VirtualMachine))
	}
	vcsim.SetSimHostState(model, map[string]vcsim.HostSimState{})
	for _, o := range opts {
		o(model)
	}
	s.server = model.Service.NewServer()
	su := *s.server.URL
	su.User = nil
	s.url = &su
	s.thumb = s.server.CertificateInfo().ThumbprintSHA256
	t.Cleanup(s.close)
	return s
}

func (s *sim) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.server != nil {
		s.server.Close()
		s.model.Remove()
		s.server = nil
	}
}

// post posts ev in-process as user (PostEvent overwrites UserName with the
// session's user, so the session is a copy with that user).
func (s *sim) post(user string, ev types.BaseEvent) {
	vcsim.PostAs(s.model, user, ev)
}

func (s *sim) config(t testing.TB) Config {
	c := Config{URL: s.url, User: simUser, Password: simPass, Thumbprint: s.thumb,
		PollInterval: 20 * time.Millisecond, RetryMin: 50 * time.Millisecond, RetryMax: 400 * time.Millisecond, StateDir: t.TempDir()}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// recorder is a sink that keeps every event.
type recorder struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (r *recorder) Record(e audit.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

func (r *recorder) snapshot() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]audit.Event(nil), r.evs...)
}

func waitFor(t testing.TB, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startTailer(t testing.TB, cfg Config, sink audit.Sink) (*Tailer, context.CancelFunc, <-chan error) {
	tl := NewTailer(cfg, sink, nil, quietLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	return tl, cancel, done
}

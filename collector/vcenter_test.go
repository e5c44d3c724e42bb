package collector

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/metrics"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/pipeline"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vcenter"
)

// TestVCenterCollector runs the collector against the simulator: events go
// through the pipeline (SSO join) into the audit metrics, the hosts' state
// into the host metrics, and the exposition passes promtool.
func TestVCenterCollector(t *testing.T) {
	model := simulator.VPX()
	if err := model.Create(); err != nil {
		t.Fatal(err)
	}
	defer model.Remove()
	model.Service.Listen = &url.URL{User: url.UserPassword("auditor", "pw")}
	model.Service.TLS = new(tls.Config)
	model.Service.RegisterEndpoints = true
	srv := model.Service.NewServer()
	defer srv.Close()
	var hosts []*simulator.HostSystem
	for _, r := range model.Map().All("HostSystem") {
		hosts = append(hosts, r.(*simulator.HostSystem))
	}
	vcenter.SetSimHostState(model, map[string]vcenter.HostSimState{hosts[0].Name: {SSH: true, DCUI: true, Lockdown: types.HostLockdownModeLockdownStrict}})

	u := *srv.URL
	u.User = nil
	cfg := vcenter.Config{Name: "vc1", URL: &u, User: "auditor", Password: "pw", Thumbprint: srv.CertificateInfo().ThumbprintSHA256,
		StateDir: t.TempDir(), PollInterval: 20 * time.Millisecond}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	sink := metrics.NewSink(reg, metrics.Options{MaxSeries: 100})
	health := metrics.NewVCenterHealth(reg)
	p := pipeline.New(pipeline.Options{}, sink)
	c := NewVCenter([]vcenter.Config{cfg}, VCenterOptions{InventoryInterval: 200 * time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)), health, p)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitUntil(t, func() bool { return testutil.ToFloat64(health.Up.WithLabelValues("vc1")) == 1 })

	h := hosts[0]
	vcenter.PostAs(model, "alice@vsphere.local", &types.EventEx{EventTypeId: "com.vmware.sso.LoginSuccess", ObjectType: "HostSystem", ObjectId: h.Self.Value,
		Arguments: []types.KeyAnyValue{{Key: "user", Value: "alice@vsphere.local"}, {Key: "client", Value: "10.1.2.3"}}})
	vcenter.PostAs(model, `VSPHERE.LOCAL\alice`, &types.UserLoginSessionEvent{IpAddress: "127.0.0.1", UserAgent: "vsphere-ui"})
	waitUntil(t, func() bool {
		return testutil.ToFloat64(health.EventsRead.WithLabelValues("vc1", "UserLoginSessionEvent")) == 1 &&
			testutil.ToFloat64(health.ServiceRunning.WithLabelValues("vc1", h.Name, "ssh")) == 1
	})
	var out bytes.Buffer
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	enc := expfmt.NewEncoder(&out, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	text := out.String()
	for _, want := range []string{
		`vsphere_audit_logins_total{client_ip="10.1.2.3",direct="false",host="vc1",method="vcenter",user="VSPHERE.LOCAL\\alice"} 1`,
		`vsphere_audit_events_total{host="vc1",kind="login",source="vcenter"} 2`,
		`vsphere_audit_host_lockdown_mode{host="` + h.Name + `",mode="lockdownStrict",vcenter="vc1"} 1`,
		`vsphere_audit_vcenter_up{vcenter="vc1"} 1`,
		`vsphere_audit_vcenter_errors_total{reason="login",vcenter="vc1"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
	promtool := testenv.RequireBinary(t, "promtool", "prometheus")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = &out
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, msg)
	}
}

func waitUntil(t *testing.T, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

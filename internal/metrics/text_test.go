package metrics

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// WriteText writes what expfmt writes for the merged families, byte for
// byte: every kind's families, overflow series, state gauges, label values
// and help texts that need escaping, sub-second and whole times, counts
// of 1 and more, and another registry's families sorted in between.
func TestWriteTextMatchesExpfmt(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := NewSink(reg, Options{MaxSeries: 3})
	other := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vsphere_audit_m_other_total", Help: "A help with \\ and\nnewline."}, []string{"l"})
	reg.MustRegister(other)
	other.WithLabelValues(`a"b\c`).Add(2.5)
	base := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	users := []string{"root", `dom\admin`, `q"uote`, "alice", "bob", "carol", "dave"} // beyond MaxSeries: overflow
	for i, u := range users {
		at := base.Add(time.Duration(i) * 1500 * time.Millisecond)
		for _, k := range allKinds {
			e := audit.Event{Time: at, Source: audit.SourceSyslog, Host: "esx01", Kind: k, User: u, ClientIP: "10.0.0.9",
				Method: audit.MethodSSH, Direct: i%2 == 0, VM: "dc01", Service: "ssh", Action: "add", Setting: "syslog"}
			s.Record(e)
			if i == 0 {
				s.Record(e) // a count of 2
			}
		}
	}
	var want bytes.Buffer
	mfs, err := Merge(reg, s).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&want, mf); err != nil {
			t.Fatal(err)
		}
	}
	others, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := s.WriteText(&got, others); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
		for i := range min(len(g), len(w)) {
			if g[i] != w[i] {
				t.Fatalf("line %d differs:\n got %s\nwant %s", i+1, g[i], w[i])
			}
		}
		t.Fatalf("got %d lines, want %d", len(g), len(w))
	}
	if !strings.Contains(got.String(), `__overflow__`) || !strings.Contains(got.String(), `user="dom\\admin"`) || !strings.Contains(got.String(), `user="q\"uote"`) {
		t.Errorf("the case lacks overflow series or escaped values:\n%s", got.String())
	}
}

func TestAppendFloatMatchesExpfmt(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 2, 0.5, 1e21, 1.7647236015e9, 1764723601.5, math.NaN(), math.Inf(1), math.Inf(-1), 123456789012} {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g", Help: "h"})
		g.Set(f)
		reg := prometheus.NewRegistry()
		reg.MustRegister(g)
		mfs, _ := reg.Gather()
		var b bytes.Buffer
		expfmt.MetricFamilyToText(&b, mfs[0])
		want := strings.TrimSuffix(strings.SplitN(b.String(), "g ", 2)[1], "\n")
		want = want[strings.LastIndexByte(want, ' ')+1:]
		if got := string(appendFloat(nil, f)); got != want {
			t.Errorf("appendFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

// allKinds: every kind, so that every family has series.
var allKinds = []audit.Kind{audit.KindLogin, audit.KindLoginFailed, audit.KindLogout, audit.KindAccountLocked, audit.KindServiceEnabled, audit.KindServiceDisabled, audit.KindLockdownEnabled, audit.KindLockdownDisabled, audit.KindConsoleOpened, audit.KindConsoleClosed, audit.KindVMMigrated, audit.KindShellCommand, audit.KindPermissionChanged, audit.KindRoleChanged, audit.KindAccountChanged, audit.KindConfigChanged, audit.KindLoggingFailed, audit.KindVMPower, audit.KindVMSnapshot, audit.KindVMDiskChanged, audit.KindVMLifecycle, audit.KindGuestOperation, audit.KindDatastoreAccess, audit.KindAccessDenied, audit.KindHostPower, audit.KindGuestLogon, audit.KindGuestLogoff, audit.KindConsoleSessionReused}

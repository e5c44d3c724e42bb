package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/corpus")

// goldenArgs are the replay flags the goldens are made with (README).
var goldenArgs = []string{"replay", "--log.level=warn", "--year=2024", "--output=jsonl"}

// Every corpus of testdata/corpus goes through the replay command exactly
// as a user runs it; the JSON events must match NAME.golden.jsonl.
// Regenerate with: go test ./cmd/vsphere_audit_exporter -run TestReplayGolden -update
func TestReplayGolden(t *testing.T) {
	files, err := filepath.Glob("../../testdata/corpus/*.log")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpora in testdata/corpus: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".log")
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if rc := run(context.Background(), append(goldenArgs, f), nil, &out, nil); rc != 0 {
				t.Fatalf("replay exited %d", rc)
			}
			golden := strings.TrimSuffix(f, ".log") + ".golden.jsonl"
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				gl, wl := strings.Split(out.String(), "\n"), strings.Split(string(want), "\n")
				for i := 0; i < len(gl) || i < len(wl); i++ {
					var g, w string
					if i < len(gl) {
						g = gl[i]
					}
					if i < len(wl) {
						w = wl[i]
					}
					if g != w {
						t.Fatalf("%s differs at event %d:\n got: %s\nwant: %s", golden, i+1, g, w)
					}
				}
			}
		})
	}
}

// The exposition of all corpora passes promtool check metrics (promlint).
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := testenv.RequireBinary(t, "promtool", "prometheus")
	files, _ := filepath.Glob("../../testdata/corpus/*.log")
	var out bytes.Buffer
	if rc := run(context.Background(), append([]string{"replay", "--log.level=warn", "--year=2024", "--output=metrics"}, files...), nil, &out, nil); rc != 0 {
		t.Fatalf("replay exited %d", rc)
	}
	if !strings.Contains(out.String(), "vsphere_audit_logins_total{") {
		t.Fatalf("exposition has no logins:\n%s", out.String())
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = &out
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, msg)
	}
}

// vpxuser from vCenter's address is vCenter; from any other address it is
// someone holding vCenter's credentials: a direct login.
func TestReplayVpxuserFromUnknownAddress(t *testing.T) {
	in := strings.Join([]string{
		`<110>2024-06-03T20:00:00.118Z esx01.lab.local Hostd[1]: [vim.connect@6876 subject="vpxuser" object="vim" result="success" ip="10.0.0.5" opID="a1"]`,
		`<110>2024-06-03T20:05:00.118Z esx01.lab.local Hostd[1]: [vim.connect@6876 subject="vpxuser" object="vim" result="success" ip="172.16.9.9" opID="a2"]`,
		`<166>2024-06-03T20:06:00.000Z esx01.lab.local Hostd[1]: [Originator@6876 sub=Vimsvc.ha-eventmgr opID=a3 user=vpxuser] Event 5 : User vpxuser@127.0.0.1 logged in as VMware-client/6.5.0`,
	}, "\n") + "\n"
	for _, c := range []struct {
		args   []string
		direct []bool
	}{
		{[]string{"--vcenter.address=10.0.0.5"}, []bool{false, true, false}},
		{[]string{"--vcenter.address=10.0.0.0/24", "--vcenter.address=172.16.9.0/28"}, []bool{false, false, false}},
		{nil, []bool{false, false, false}}, // no vCenter known: not judged
	} {
		var out bytes.Buffer
		args := append(append([]string{"replay", "--log.level=warn"}, c.args...), "-")
		if rc := run(context.Background(), args, strings.NewReader(in), &out, nil); rc != 0 {
			t.Fatalf("%v: exit %d", args, rc)
		}
		var got []bool
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var e audit.Event
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			got = append(got, e.Direct)
			if e.Direct && e.Reason != audit.ReasonUnknownVCenter {
				t.Errorf("%v: a direct vpxuser login with reason %q", c.args, e.Reason)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(c.direct) {
			t.Errorf("%v: direct %v, want %v", c.args, got, c.direct)
		}
	}
}

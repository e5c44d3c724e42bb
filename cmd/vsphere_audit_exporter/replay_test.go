package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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

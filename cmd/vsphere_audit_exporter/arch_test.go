package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/vsphere-audit-exporter/vsphere-audit-exporter/"

// layer is each package's place in the one-way flow: a package may import
// only packages of a lower layer.
var layer = map[string]int{
	"internal/audit": 0, "internal/labels": 0, "internal/logline": 0, "internal/vcsim": 0, "internal/testenv": 0,
	"internal/vsphere": 1, "internal/reassembly": 1, "internal/dedup": 1, "internal/console": 1,
	"internal/detect": 2, "internal/metrics": 2, "internal/journal": 2, "collector/syslog": 2, "collector/vcenter": 2,
	"internal/pipeline": 3, "internal/demo": 3, "internal/report": 3, "internal/ship": 3,
	"internal/replay":            4,
	"cmd/vsphere_audit_exporter": 5, "bench": 6, "e2e": 6, "tools/gencorpus": 6, "tools/genrules": 6,
}

// The import graph has no arrow that runs back up: the sources import
// neither the pipeline, the detections nor a sink; simulator helpers only
// reach production code through the demo. The README's architecture
// section names every package.
func TestArchitecture(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}:{{join .Imports \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	arch := string(readme)
	if i := strings.Index(arch, "## Architecture"); i >= 0 {
		arch = arch[i:]
		if j := strings.Index(arch[3:], "\n## "); j >= 0 {
			arch = arch[:j+3]
		}
	} else {
		t.Fatal("README.md has no Architecture section")
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imps, _ := strings.Cut(line, ":")
		pkg = strings.TrimPrefix(pkg, module)
		l, ok := layer[pkg]
		if !ok {
			t.Errorf("package %s has no layer in this test: place it", pkg)
			continue
		}
		if !strings.Contains(arch, "`"+pkg+"`") {
			t.Errorf("README's architecture section does not name %s", pkg)
		}
		for _, imp := range strings.Fields(imps) {
			dep, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			if dl, known := layer[dep]; known && dl >= l {
				t.Errorf("%s (layer %d) imports %s (layer %d): an arrow back up", pkg, l, dep, dl)
			}
			if dep == "internal/vcsim" && pkg != "internal/demo" {
				t.Errorf("%s imports the simulator helpers", pkg)
			}
		}
	}
}

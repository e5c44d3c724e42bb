package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommittedRulesAreRendered: alerts/*.rules.yml are the templates
// rendered with the defaults; an edit of a template that was not rendered
// (go run ./tools/genrules), or an edit of a rendered file, fails here.
func TestCommittedRulesAreRendered(t *testing.T) {
	files, err := Render("../../alerts/templates", Defaults)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Errorf("rendered %d files, want 2 (vsphere-audit and vsphere-audit-exporter)", len(files))
	}
	for _, name := range sortedKeys(files) {
		got, err := os.ReadFile(filepath.Join("../../alerts", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, files[name]) {
			t.Errorf("alerts/%s differs from its template rendered with the defaults: run go run ./tools/genrules", name)
		}
	}
}

// TestRecentCountsNewLabelSetsOnKnownTargets: the third term of recent,
// with the job and window of the call.
func TestRecentCountsNewLabelSetsOnKnownTargets(t *testing.T) {
	lines, err := expand("recent", `vsphere_audit_logins_total{direct="true"}`, "5m", "audit")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		`time() - vsphere_audit_logins_last_seen_timestamp_seconds{direct="true"} < 300`,
		`    unless
        last_over_time(vsphere_audit_logins_total{direct="true"}[1h] offset 5m)
      and on (job, instance)
        max_over_time(up{job="audit"}[1h] offset 5m) == 1`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("recent does not contain\n%s\nin\n%s", want, got)
		}
	}
	if lines[0] != "max without (instance) (" || lines[len(lines)-1] != ")" {
		t.Errorf("recent is not wrapped in max without (instance): %q ... %q", lines[0], lines[len(lines)-1])
	}
	health, err := expand("recentHealth", `vsphere_audit_label_overflow_total`, "5m", "audit")
	if err != nil {
		t.Fatal(err)
	}
	if h := strings.Join(health, "\n"); strings.Contains(h, "max without") || strings.Contains(h, "last_seen") {
		t.Errorf("recentHealth counts per instance, without a last-seen gauge:\n%s", h)
	}
}

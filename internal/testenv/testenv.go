// Package testenv holds helpers for tests that use real programs.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireBinary returns the path of the program name. When it is missing
// the test fails in CI (CI=true) — a missing tool must never pass silently
// there — and is skipped elsewhere, with the command that installs it.
func RequireBinary(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " not found; install it with: apt-get install " + debianPackage + " (make test does this)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

package vcenter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

func ev(key int32, t time.Time) types.BaseEvent {
	return &types.UserLoginSessionEvent{SessionEvent: types.SessionEvent{Event: types.Event{Key: key, CreatedTime: t}}}
}

func TestCheckpointSeen(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	var cp Checkpoint
	if cp.Seen(ev(1, t0)) {
		t.Fatal("empty checkpoint saw an event")
	}
	cp.Advance(ev(10, t0))
	cp.Advance(ev(7, t0)) // keys are not monotonic within one instant
	for _, c := range []struct {
		key  int32
		t    time.Time
		seen bool
	}{
		{10, t0, true}, {7, t0, true}, {8, t0, false}, // same time: by the key set
		{1, t0.Add(time.Nanosecond), false},  // later time, lower key (reset): new
		{99, t0.Add(-time.Nanosecond), true}, // earlier time: seen
	} {
		if got := cp.Seen(ev(c.key, c.t)); got != c.seen {
			t.Errorf("Seen(%d, %v) = %v, want %v", c.key, c.t, got, c.seen)
		}
	}
	cp.Advance(ev(1, t0.Add(time.Second)))
	if len(cp.Keys) != 1 || cp.Keys[0] != 1 || !cp.CreatedTime.Equal(t0.Add(time.Second)) {
		t.Errorf("advance to a later time: %+v", cp)
	}
	path := CheckpointFile(t.TempDir(), "vc/01:443")
	if strings.ContainsAny(filepath.Base(path), "/:") {
		t.Errorf("unsafe file name %s", path)
	}
	if err := cp.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCheckpoint(path)
	if err != nil || !got.CreatedTime.Equal(cp.CreatedTime) || len(got.Keys) != 1 {
		t.Fatalf("load: %+v %v", got, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	if c, err := LoadCheckpoint(path + ".missing"); err != nil || !c.IsZero() {
		t.Errorf("missing file: %+v %v", c, err)
	}
}

func TestOptions(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("Sup3rSecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(v string) func(string) string { return func(string) string { return v } }
	ok := Options{URLs: []string{"https://ro@vc1.example.com/sdk", "ro@vc2.example.com:8443"}, PasswordFile: pw, StateDir: dir}
	cfgs, err := ok.Configs(env(""))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 2 || cfgs[0].User != "ro" || cfgs[0].Password != "Sup3rSecret" || cfgs[0].Name != "vc1.example.com" ||
		cfgs[1].Name != "vc2.example.com:8443" || cfgs[1].URL.Path != "/sdk" || cfgs[0].URL.User != nil {
		t.Errorf("configs: %+v", cfgs)
	}
	for _, c := range []struct {
		o    Options
		env  string
		want string
	}{
		{Options{URLs: []string{"https://ro:Sup3rSecret@vc/sdk"}, StateDir: dir}, "x", "password in the URL"},
		{Options{URLs: []string{"https:///sdk"}, User: "u", StateDir: dir}, "x", "no host"},
		{Options{URLs: []string{"https://vc/sdk"}, StateDir: dir}, "Sup3rSecret", "no user"},
		{Options{URLs: []string{"https://vc/sdk"}, User: "u", StateDir: dir}, "", "no vCenter password"},
		{Options{URLs: []string{"https://vc/sdk"}, User: "u", CAFile: filepath.Join(dir, "nope.pem"), StateDir: dir}, "x", "--vcenter.ca-file"},
		{Options{URLs: []string{"https://vc/sdk"}, User: "u", CAFile: pw, StateDir: dir}, "x", "CA file"},
		{Options{URLs: []string{"https://vc/sdk"}, User: "u", Insecure: true, Thumbprint: "AA", StateDir: dir}, "x", "cannot be combined"},
		{Options{URLs: []string{"http://vc/sdk"}, User: "u", StateDir: dir}, "x", "https"},
		{Options{User: "u", PasswordFile: pw, StateDir: dir}, "", "need --vcenter.url"},
		{Options{URLs: []string{"https://vc/sdk", "https://vc:443/sdk"}, User: "u", StateDir: dir}, "x", "twice"},
	} {
		_, err := c.o.Configs(env(c.env))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.o, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "Sup3rSecret") {
			t.Errorf("error reveals the password: %v", err)
		}
	}
}

// TestPasswordFileMode (issue 11, finding 12): a password file readable by
// its group or others was accepted silently; it is now a warning (the
// exporter still starts).
func TestPasswordFileMode(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("Sup3rSecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{URLs: []string{"https://ro@vc1.example.com/sdk"}, PasswordFile: pw, StateDir: t.TempDir()}
	for _, c := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o400, false}, {0o640, true}, {0o604, true}, {0o644, true}} {
		if err := os.Chmod(pw, c.mode); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Configs(func(string) string { return "" }); err != nil {
			t.Errorf("mode %04o: %v, want it accepted", c.mode, err)
		}
		w := o.Warnings()
		if got := len(w) == 1 && strings.Contains(w[0], "--vcenter.password-file") && !strings.Contains(w[0], "Sup3rSecret"); got != c.warn {
			t.Errorf("mode %04o: warnings %q, want a warning: %v", c.mode, w, c.warn)
		}
		if !c.warn && len(w) != 0 {
			t.Errorf("mode %04o: warnings %q, want none", c.mode, w)
		}
	}
}

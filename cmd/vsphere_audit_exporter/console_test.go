package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// nxlogLine is a guest DC01 Security event as NXLog's to_json() writes it.
func nxlogLine(at string, id int, fields string) string {
	return `{"EventTime":"` + at + `","Hostname":"DC01.corp.example.com","EventID":` + itoa(id) +
		`,"SourceName":"Microsoft-Windows-Security-Auditing","Channel":"Security",` + fields + `}`
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// replayEvents replays in with args and returns the events of kind.
func replayEvents(t *testing.T, in string, kind audit.Kind, args ...string) []audit.Event {
	t.Helper()
	var out bytes.Buffer
	a := append(append([]string{"replay", "--log.level=warn", "--year=2024"}, args...), "-")
	if rc := run(context.Background(), a, strings.NewReader(in), &out, nil); rc != 0 {
		t.Fatalf("%v: exit %d", a, rc)
	}
	var got []audit.Event
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e audit.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if e.Kind == kind {
			got = append(got, e)
		}
	}
	return got
}

// The console ledger's scenario: alice opens dc01's console and logs on at
// the guest's console; mallory opens the same console ten minutes later and
// does not log on. Exactly one console_session_reused, mallory's, on
// alice's session; none when mallory logs on within the window, or when
// alice locked the guest or logged off before.
func TestReplayConsoleSessionReused(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("..", "..", "testdata", "console", "dc01-reuse.log"))
	if err != nil {
		t.Fatal(err)
	}
	alice := `"TargetUserName":"alice","TargetDomainName":"CORP","TargetLogonId":"0x5c1e2a"`
	mallory := `"TargetUserName":"mallory","TargetDomainName":"CORP","TargetLogonId":"0x6d0001"`
	for _, c := range []struct {
		name  string
		extra []string // lines after the scenario's
		want  int
	}{
		{"reused", nil, 1},
		{"mallory logs on within the window", []string{nxlogLine("2024-12-03 10:11:05", 4624, mallory+`,"LogonType":"2"`)}, 0},
		{"mallory unlocks within the window", []string{nxlogLine("2024-12-03 10:11:55", 4801, mallory)}, 0},
		{"mallory logs on after the window", []string{nxlogLine("2024-12-03 10:12:30", 4624, mallory+`,"LogonType":"2"`)}, 1},
		{"mallory logs on over RDP", []string{nxlogLine("2024-12-03 10:10:30", 4624, mallory+`,"LogonType":"10","IpAddress":"10.0.0.66"`)}, 1},
		{"alice locked", []string{nxlogLine("2024-12-03 10:05:00", 4800, alice)}, 0},
		{"alice logged off", []string{nxlogLine("2024-12-03 10:05:00", 4647, alice)}, 0},
		{"alice logged off and on again", []string{nxlogLine("2024-12-03 10:05:00", 4647, alice), nxlogLine("2024-12-03 10:06:00", 4624, alice+`,"LogonType":"2"`)}, 1},
		{"alice locked and unlocked", []string{nxlogLine("2024-12-03 10:05:00", 4800, alice), nxlogLine("2024-12-03 10:06:00", 4801, alice)}, 1},
		{"another user logged off", []string{nxlogLine("2024-12-03 10:05:00", 4647, mallory)}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := string(base) + strings.Join(c.extra, "\n") + "\n"
			got := replayEvents(t, in, audit.KindConsoleSessionReused)
			if len(got) != c.want {
				t.Fatalf("%d console_session_reused events, want %d: %+v", len(got), c.want, got)
			}
			if c.want == 0 {
				return
			}
			e := got[0]
			if e.VM != "dc01" || e.User != "mallory@vsphere.local" || e.Value != "alice@corp" || e.Host != "vcsa01.lab.local" ||
				e.Time.Format("15:04:05.000") != "10:10:00.201" || e.Rule != "console/session_reused" {
				t.Errorf("event %+v, want vm dc01, user mallory@vsphere.local, value alice@corp, host vcsa01.lab.local at 10:10:00.201", e)
			}
		})
	}
}

// The guest's log lines name their VM: by --guest.map, or by the guest's
// host name's first label.
func TestReplayGuestMap(t *testing.T) {
	in := strings.Join([]string{
		`<86>Dec  3 09:10:12 web01.lab.local login[1302]: pam_unix(login:session): session opened for user alice(uid=1000) by LOGIN(uid=0)`,
		`<86>Dec  3 09:11:00 10.0.0.40 login[1302]: pam_unix(login:session): session opened for user bob(uid=1001) by LOGIN(uid=0)`,
		`<86>Dec  3 09:12:00 db-guest login[1302]: pam_unix(login:session): session opened for user carol(uid=1002) by LOGIN(uid=0)`,
	}, "\n") + "\n"
	vms := func(args ...string) []string {
		var out []string
		for _, e := range replayEvents(t, in, audit.KindGuestLogon, args...) {
			out = append(out, e.User+"="+e.VM)
		}
		return out
	}
	if got, want := strings.Join(vms(), " "), "alice=web01 bob= carol=db-guest"; got != want {
		t.Errorf("without a map: %s, want %s", got, want)
	}
	m := filepath.Join(t.TempDir(), "guests")
	if err := os.WriteFile(m, []byte("# VM=guest host name or address\nweb-vm=web01.lab.local\n\napp-vm = 10.0.0.40\ndb01=db-guest\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(vms("--guest.map="+m), " "), "alice=web-vm bob=app-vm carol=db01"; got != want {
		t.Errorf("with --guest.map: %s, want %s", got, want)
	}
}

// A bad --guest.map line is an error naming the flag, the file and the line.
func TestGuestMapErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ content, want string }{
		{"web01\n", `line 1: "web01" is not vm=hostname`},
		{"a=h1\nb=h1\n", "line 2: h1 is mapped to both a and b"},
		{"=h1\n", `line 1: "=h1" is not vm=hostname`},
		{"a=two words\n", `line 1: "a=two words" is not vm=hostname`},
	} {
		m := filepath.Join(dir, "map")
		if err := os.WriteFile(m, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := (&consoleFlagValues{loginWindow: time.Minute, guestMap: m}).options()
		if want := "--guest.map " + m + ": " + c.want; err == nil || err.Error() != want {
			t.Errorf("%q: error %v, want %s", c.content, err, want)
		}
	}
	missing := filepath.Join(dir, "missing")
	if _, err := (&consoleFlagValues{loginWindow: time.Minute, guestMap: missing}).options(); err == nil || err.Error() != "--guest.map: open "+missing+": no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
	if _, err := (&consoleFlagValues{}).options(); err == nil || err.Error() != "--console.login-window must be positive, got 0s" {
		t.Errorf("zero window: %v", err)
	}
}

// A restart remembers the guests' sessions: alice's console logon on DC01
// reaches one exporter; after a restart on the same journal, mallory opens
// dc01's console and does not log on: the reuse is detected.
func TestConsoleLedgerSurvivesRestart(t *testing.T) {
	journalDir := t.TempDir()
	args := []string{"--log.level=error", "--web.listen-address=127.0.0.1:0", "--syslog.udp.listen-address=",
		"--syslog.tcp.listen-address=127.0.0.1:0", "--console.login-window=1s", "--journal.path=" + journalDir}
	now := time.Now().UTC()
	send := func(t *testing.T, addr string, lines ...string) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("alice logs on", func(t *testing.T) {
		e := startExporterArgs(t, args)
		logonAt := now.Add(-5 * time.Minute)
		send(t, e.tcp, "<14>1 "+logonAt.Format(time.RFC3339Nano)+" DC01.corp.example.com Microsoft-Windows-Security-Auditing 756 - - "+
			nxlogLine(logonAt.Format(time.DateTime), 4624, `"TargetUserName":"alice","TargetDomainName":"CORP","TargetLogonId":"0x5c1e2a","LogonType":"2"`))
		logon := `vsphere_audit_guest_logons_total{action="logon", host="DC01.corp.example.com", method="console", user="alice@corp", vm="DC01"}`
		waitUntil(t, func() bool { return scrape(t, e.url)[logon] == 1 })
	})
	t.Run("mallory opens the console after a restart", func(t *testing.T) {
		e := startExporterArgs(t, args)
		ts := now.Format(time.RFC3339Nano)
		send(t, e.tcp, `<14>1 `+ts+` vcsa01.lab.local vpxd 7213 - -  Event [5100181] [1-1] [`+ts+`] [vim.event.VmAcquiredTicketEvent] [info] [VSPHERE.LOCAL\mallory] [DC1] [5100181] [A ticket for dc01 of type webmks on esx01.lab.local in DC1 has been acquired]`)
		reused := `vsphere_audit_console_sessions_reused_total{user="mallory@vsphere.local", vm="dc01"}`
		waitUntil(t, func() bool { return scrape(t, e.url)[reused] == 1 }, func() string { return fmt.Sprint(scrape(t, e.url)) })
	})
}

// A guest's sshd reads like ESXi's: an SSH login to a host that sent guest
// logons, or that --guest.map names, is the guest's remote logon, not a
// direct login to an ESXi host (which would page).
func TestReplayGuestSSHIsNoDirectLogin(t *testing.T) {
	in := strings.Join([]string{
		`<86>Dec  3 09:21:07 web01.lab.local gdm-password][2389]: pam_unix(gdm-password:session): session opened for user alice(uid=1000) by (uid=0)`,
		`<38>Dec  3 09:30:00 web01.lab.local sshd[4001]: Accepted publickey for bob from 10.0.0.9 port 50122 ssh2: ED25519 SHA256:x`,
		`<38>Dec  3 09:31:00 db02.lab.local sshd[4002]: Accepted password for carol from 10.0.0.9 port 50123 ssh2`,
		`<38>Dec  3 09:32:00 esx01.lab.local sshd[4003]: Accepted keyboard-interactive/pam for root from 10.0.0.9 port 50124 ssh2`,
	}, "\n") + "\n"
	m := filepath.Join(t.TempDir(), "guests")
	if err := os.WriteFile(m, []byte("db02=db02.lab.local\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range []audit.Kind{audit.KindLogin, audit.KindGuestLogon} {
		for _, e := range replayEvents(t, in, k, "--guest.map="+m) {
			got = append(got, fmt.Sprintf("%s %s %s %s %s direct=%v", e.Kind, e.Host, e.User, e.Method, e.VM, e.Direct))
		}
	}
	want := []string{
		"login esx01.lab.local root ssh  direct=true",
		"guest_logon web01.lab.local alice console web01 direct=false",
		"guest_logon web01.lab.local bob remote web01 direct=false",
		"guest_logon db02.lab.local carol remote db02 direct=false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

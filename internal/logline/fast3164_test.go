package logline

import (
	"strings"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc3164"
)

// goSyslog3164 is what parse3164 takes from go-syslog's machine (the one
// NewParser configures) for s: ok when it parsed without error and found a
// host, a tag and a message.
func goSyslog3164(p *Parser, s string) (t time.Time, host, app, pid, body string, ok bool) {
	m, err := p.p3164.Parse([]byte(s))
	if err != nil || m == nil {
		return t, "", "", "", "", false
	}
	msg := m.(*rfc3164.SyslogMessage)
	if msg.Message == nil || msg.Appname == nil || msg.Hostname == nil || msg.Timestamp == nil {
		return t, "", "", "", "", false
	}
	return msg.Timestamp.UTC(), *msg.Hostname, *msg.Appname, str(msg.ProcID), *msg.Message, true
}

// checkFast3164 fails t when parse3164Fast accepts s and go-syslog does not,
// or finds other fields; it reports whether the fast path took s.
func checkFast3164(t *testing.T, p *Parser, s string) bool {
	t.Helper()
	h, ok := parse3164Fast(s)
	if !ok {
		return false
	}
	var rec Record
	h.fill(s, &rec)
	wt, host, app, pid, body, wok := goSyslog3164(p, s)
	if !wok {
		t.Errorf("parse3164Fast(%q) accepted a message go-syslog rejects", s)
		return true
	}
	if rec.Time != wt || rec.Host != host || rec.App != app || rec.PID != pid || rec.Body != body {
		t.Errorf("parse3164Fast(%q) = %v %q %q %q %q; go-syslog: %v %q %q %q %q", s,
			rec.Time, rec.Host, rec.App, rec.PID, rec.Body, wt, host, app, pid, body)
	}
	return true
}

var fast3164Lines = []string{
	"<164>2024-05-02T00:00:00.031Z esx28.lab.local Hostd[2099151]: [Originator@6876 sub=deviceStatsProvider(0000002e9d8e1341)] FillVirtualDeviceStats: Unable to locate sample for stat ID 11",
	"<166>2024-05-02T00:00:00.049Z esx05.lab.local Hostd[2098571]: [Originator@6876 sub=Vimsvc.HaSessionManager opID=1245a8f9 sid=020df568] Accepted password for user vpxuser from 10.10.0.5 - session=020df568-2236-a364-cc4f-391537d124c3",
	"<78>2024-05-02T00:00:00.129Z esx28.lab.local crond[2097946]: USER root pid 2133684 cmd /bin/hostd-probe.sh ++group=host/vim/vmvisor/hostd-probe/stats/sh",
	"<14>2024-05-02T00:00:00.304Z esx12.lab.local vobd[2097434]:  [scsiCorrelator] 128661455592us: [esx.problem.scsi.device.io.latency.high] Device naa.60a98000bb94ae63d4b1b94f6fe464b6",
	"<38>2024-05-02T00:00:00.339Z esx18.lab.local sshd[1934540]: Accepted keyboard-interactive/pam for root from 10.0.0.1 port 52000 ssh2",
	"<13>2024-05-02T00:00:01Z esx01 shell[2100]: [root]: esxcli network firewall set --enabled false",
	"<13>2024-05-02T00:00:01+02:00 esx01 ESXShell: ESXi Shell enabled",
	"<13>2024-05-02T23:59:59.999999-11:30 esx_01.local sfcb-CIMXML-Processor[1]: x",
	"<0>2024-02-29T00:00:00Z h a: b",
	"<191>2023-12-31T23:59:59.5Z vc01.example.com vpxd[51702]: Event [12345] [1-1] [2024-05-02T00:00:00.000Z] [vim.event.UserLoginSessionEvent] [info] [VSPHERE.LOCAL\\admin] [] [12345] [User VSPHERE.LOCAL\\admin@10.0.0.5 logged in as pyvmomi]",
	"<13>2024-05-02T00:00:01Z esx01 app/x.y-z_w: tab\there é \xff",
	"<13>2024-05-02T00:00:01Z esx01 vpxd[51702]: 51702] x",
	"<13>2024-05-02T00:00:01Z esx01 " + strings.Repeat("a", 48) + ": x",
}

// Lines the fast path must leave to go-syslog (checked against it too,
// when it takes one by mistake).
var slow3164Lines = []string{
	"<192>2024-05-02T00:00:01Z esx01 app: x",
	"<01>2024-05-02T00:00:01Z esx01 app: x",
	"<>2024-05-02T00:00:01Z esx01 app: x",
	"<13> 2024-05-02T00:00:01Z esx01 app: x",
	"<13>2024-05-02T00:00:01Z  esx01 app: x",
	"<13>2024-05-02T00:00:01Z esx01  app: x",
	"<13>2024-02-30T00:00:01Z esx01 app: x",
	"<13>2023-02-29T00:00:01Z esx01 app: x",
	"<13>2024-13-01T00:00:01Z esx01 app: x",
	"<13>2024-05-02T24:00:01Z esx01 app: x",
	"<13>2024-05-02T00:60:01Z esx01 app: x",
	"<13>2024-05-02T00:00:60Z esx01 app: x",
	"<13>2024-05-02T00:00:01.1234567Z esx01 app: x",
	"<13>2024-05-02T00:00:01.Z esx01 app: x",
	"<13>2024-05-02T00:00:01z esx01 app: x",
	"<13>2024-05-02T00:00:01+24:00 esx01 app: x",
	"<13>2024-05-02T00:00:01+0200 esx01 app: x",
	"<13>2024-05-02T00:00:01 esx01 app: x",
	"<13>2024-05-02T00:00:01Z - app: x",
	"<13>2024-05-02T00:00:01Z esx01 -: x",
	"<13>2024-05-02T00:00:01Z esx01 1app: x",
	"<13>2024-05-02T00:00:01Z esx01 app:x",
	"<13>2024-05-02T00:00:01Z esx01 app: ",
	"<13>2024-05-02T00:00:01Z esx01 app:",
	"<13>2024-05-02T00:00:01Z esx01 app[]: x",
	"<13>2024-05-02T00:00:01Z esx01 app[-]: x",
	"<13>2024-05-02T00:00:01Z esx01 app[12] x",
	"<13>2024-05-02T00:00:01Z esx01 app[12]:x",
	"<13>2024-05-02T00:00:01Z esx01 app x",
	"<13>2024-05-02T00:00:01Z esx01: app: x",
	"<13>2024-05-02T00:00:01Z esx[1] app: x",
	"<13>2024-05-02T00:00:01Z esx01 app: x\x01y",
	"<13>2024-05-02T00:00:01Z esx01 app: x\ny",
	"<13>2024-05-02T00:00:01Z esx01 app: x\x7fy",
	"<13>2024-05-02T00:00:01Z esx01 " + strings.Repeat("a", 49) + ": x",
	"<13>May  2 00:00:01 esx01 app: x",
	"<13>1 2024-05-02T00:00:01Z esx01 app - - - x",
}

// parse3164Fast takes the common header forms, leaves the rest to
// go-syslog, and where it takes a line finds what go-syslog finds.
func TestParse3164FastMatchesGoSyslog(t *testing.T) {
	p := NewParser(Options{})
	for _, s := range fast3164Lines {
		if !checkFast3164(t, p, s) {
			t.Errorf("parse3164Fast(%q) left a common form to go-syslog", s)
		}
	}
	for _, s := range slow3164Lines {
		if checkFast3164(t, p, s) {
			t.Errorf("parse3164Fast(%q) took a line it should leave to go-syslog", s)
		}
	}
}

// rfc3339Stamp gives time.Parse's instant for every timestamp it takes.
func TestRFC3339StampMatchesTimeParse(t *testing.T) {
	for _, s := range []string{"2024-05-02T00:00:00Z", "2024-05-02T00:00:00.031Z", "2024-02-29T23:59:59.999999+14:00",
		"1900-02-28T00:00:00-23:59", "2000-02-29T12:00:00.1+00:00", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.000001-00:30",
		"2024-12-31T23:59:59+05:45", "2024-05-02T00:00:00-00:00"} {
		got, n, ok := rfc3339Stamp(s + " x")
		want, err := time.Parse(time.RFC3339, s)
		if !ok || err != nil || n != len(s) || got.UTC() != want.UTC() {
			t.Errorf("rfc3339Stamp(%q) = %v, %d, %v; time.Parse: %v, %v", s, got, n, ok, want.UTC(), err)
		}
	}
}

// FuzzParse3164Fast: a line as given, and one built from a timestamp, a
// host, a tag and a message (most random lines fail the PRI or the
// timestamp, so the built one reaches the rest of the header).
// daysFromCivil counts the days time.Date counts.
func TestDaysFromCivil(t *testing.T) {
	for y := 0; y <= 9999; y += 7 {
		for m := 1; m <= 12; m++ {
			for _, d := range []int{1, 28, daysIn(time.Month(m), y)} {
				want := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400 // midnight: exact
				if got := daysFromCivil(y, m, d); got != want {
					t.Fatalf("daysFromCivil(%d, %d, %d) = %d, want %d", y, m, d, got, want)
				}
			}
		}
	}
}

// visible, eight bytes at a time, is visibleBytes byte by byte.
func TestVisible(t *testing.T) {
	for c := 0; c < 256; c++ {
		for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17} {
			for pos := 0; pos < n; pos++ {
				b := []byte(strings.Repeat("a", n))
				b[pos] = byte(c)
				if got, want := visible(string(b)), visibleBytes(string(b)); got != want {
					t.Fatalf("visible(%q) = %v, byte by byte %v", b, got, want)
				}
			}
		}
	}
	for _, s := range []string{"", "\t\t\t\t\t\t\t\t\t", "é\xff\x80\x9f abcdefgh", "abcdefg\x00", "\x1f\x7f\x20\x7e\x21\xa0\xdf\x60\x40"} {
		if got, want := visible(s), visibleBytes(s); got != want {
			t.Errorf("visible(%q) = %v, byte by byte %v", s, got, want)
		}
	}
}

func FuzzParse3164Fast(f *testing.F) {
	for _, s := range fast3164Lines {
		f.Add(s, "2024-05-02T00:00:00.031Z", "esx01.lab.local", "Hostd[2099151]", "[Originator@6876 sub=x] y")
	}
	for _, s := range slow3164Lines {
		f.Add(s, "2024-02-29T23:59:59+01:00", "h", "a", "b")
	}
	p := NewParser(Options{})
	f.Fuzz(func(t *testing.T, s, ts, host, tag, msg string) {
		checkFast3164(t, p, s)
		checkFast3164(t, p, "<13>"+ts+" "+host+" "+tag+": "+msg)
		if visible(msg) != visibleBytes(msg) {
			t.Errorf("visible(%q) = %v, byte by byte %v", msg, visible(msg), visibleBytes(msg))
		}
		for _, s := range []string{s, ts} {
			if got, n, ok := rfc3339Stamp(s); ok {
				want, err := time.Parse(time.RFC3339, s[:n])
				if err != nil || got.UTC() != want.UTC() {
					t.Errorf("rfc3339Stamp(%q) = %v; time.Parse: %v, %v", s[:n], got, want.UTC(), err)
				}
			}
		}
	})
}

package logline

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixedNow is the clock of the parser under test: messages without a
// usable timestamp get this time.
var fixedNow = time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

type parseCase struct {
	name string
	line string
	opts *Options // nil: Options{Now: fixedNow}
	want Record   // Params are not compared here; see params
	// params are selected structured-data parameters (key -> value);
	// nParams, when >= 0, is the exact number of parameters.
	params  map[string]string
	nParams int
}

func TestParseHeaderForms(t *testing.T) {
	cases := []parseCase{
		{
			name: "rfc3164 rfc3339 ts with ESXi 8 leading SD",
			line: `<166>2023-12-05T14:31:48.557Z esx01 Hostd[1050748]: [Originator@6876 sub=Vimsvc.HaSessionManager opID=esxui-8c02-9b39 sid=52f0e556] Accepted password for user root from 192.168.127.10`,
			want: Record{
				Time: utc("2023-12-05T14:31:48.557Z"), Host: "esx01", App: "Hostd", Program: "hostd", PID: "1050748",
				SDID: "Originator@6876", Body: "Accepted password for user root from 192.168.127.10", Format: "rfc3164",
			},
			params:  map[string]string{"sub": "Vimsvc.HaSessionManager", "opID": "esxui-8c02-9b39", "sid": "52f0e556"},
			nParams: 3,
		},
		{
			name: "rfc3164 ESXi 8 SD followed by meta element",
			line: `<166>2023-12-05T14:31:48.557Z esx01 Hostd[1]: [Originator@6876 sub=Default][meta sequenceId="5"] msg text`,
			want: Record{
				Time: utc("2023-12-05T14:31:48.557Z"), Host: "esx01", App: "Hostd", Program: "hostd", PID: "1",
				SDID: "Originator@6876", Body: "msg text", Format: "rfc3164",
			},
			params:  map[string]string{"sub": "Default", "sequenceId": "5"},
			nParams: 2,
		},
		{
			name: "pre-8.0 wire: level word and inner hostd tag",
			line: `<166>2022-11-04T15:01:58.230Z ESXI Hostd: info hostd[1053970] [Originator@6876 sub=Vimsvc.ha-eventmgr opID=esxui-b370-037c user=root] Event 406 : text`,
			want: Record{
				Time: utc("2022-11-04T15:01:58.230Z"), Host: "ESXI", App: "Hostd", Program: "hostd", PID: "1053970", Level: "info",
				SDID: "Originator@6876", Body: "Event 406 : text", Format: "rfc3164",
			},
			params:  map[string]string{"sub": "Vimsvc.ha-eventmgr", "opID": "esxui-b370-037c", "user": "root"},
			nParams: 3,
		},
		{
			name: "ESXi 6.0 wire: no space before SD",
			line: `<166>2016-01-11T10:06:35.123Z esx60 Hostd: info hostd[32740B70][Originator@6876 sub=Vimsvc.ha-eventmgr opID=a1b2 user=root] Event 65 : User root@10.0.0.1 logged in`,
			want: Record{
				Time: utc("2016-01-11T10:06:35.123Z"), Host: "esx60", App: "Hostd", Program: "hostd", PID: "32740B70", Level: "info",
				SDID: "Originator@6876", Body: "Event 65 : User root@10.0.0.1 logged in", Format: "rfc3164",
			},
			params:  map[string]string{"sub": "Vimsvc.ha-eventmgr", "opID": "a1b2", "user": "root"},
			nParams: 3,
		},
		{
			name: "ESXi 6.0 file: no space before SD",
			line: `2016-01-11T10:06:35.123Z info hostd[32740B70][Originator@6876 sub=Vimsvc.ha-eventmgr opID=a1b2 user=root] Event 65 : User root@10.0.0.1 logged in`,
			want: Record{
				Time: utc("2016-01-11T10:06:35.123Z"), App: "hostd", Program: "hostd", PID: "32740B70", Level: "info",
				SDID: "Originator@6876", Body: "Event 65 : User root@10.0.0.1 logged in", Format: "esxi-level-file",
			},
			params:  map[string]string{"sub": "Vimsvc.ha-eventmgr", "opID": "a1b2", "user": "root"},
			nParams: 3,
		},
		{
			name: "rfc5424 quoted SD",
			line: `<14>1 2021-09-06T14:40:13.123Z vcsa01 vpxd 7213 - [Originator@6876 sub="Default" opID="x y"] Event [1] hello`,
			want: Record{
				Time: utc("2021-09-06T14:40:13.123Z"), Host: "vcsa01", App: "vpxd", Program: "vpxd", PID: "7213",
				SDID: "Originator@6876", Body: "Event [1] hello", Format: "rfc5424",
			},
			params:  map[string]string{"sub": "Default", "opID": "x y"},
			nParams: 2,
		},
		{
			name: "rfc5424 nil SD, two spaces before MSG",
			line: `<14>1 2021-09-06T14:40:13.26309Z vcenter vpxd 58650 - -  Event [575792] [1-1] text`,
			want: Record{
				Time: utc("2021-09-06T14:40:13.26309Z"), Host: "vcenter", App: "vpxd", Program: "vpxd", PID: "58650",
				Body: "Event [575792] [1-1] text", Format: "rfc5424",
			},
			nParams: 0,
		},
		{
			name: "rfc5424 quoted SD with escaped quote and bracket (lenient)",
			line: `<14>1 2021-09-06T14:40:13.123Z vc app 1 - [a@1 x="q\"u]o\\te"][meta sequenceId="5"] msg`,
			want: Record{
				Time: utc("2021-09-06T14:40:13.123Z"), Host: "vc", App: "app", Program: "app", PID: "1",
				SDID: "a@1", Body: "msg", Format: "rfc5424-lenient",
			},
			params:  map[string]string{"x": `q"u]o\te`, "sequenceId": "5"},
			nParams: 2,
		},
		{
			name: "rfc5424 ESXi unquoted SD (go-syslog rejects)",
			line: `<166>1 2023-12-05T14:31:48.557Z esx01 Hostd 1050748 - [Originator@6876 sub=Vimsvc.HaSessionManager opID=esxui-1 sid=52f0e556] Accepted password for user root from 10.0.0.1`,
			want: Record{
				Time: utc("2023-12-05T14:31:48.557Z"), Host: "esx01", App: "Hostd", Program: "hostd", PID: "1050748",
				SDID: "Originator@6876", Body: "Accepted password for user root from 10.0.0.1", Format: "rfc5424-lenient",
			},
			params:  map[string]string{"sub": "Vimsvc.HaSessionManager", "opID": "esxui-1", "sid": "52f0e556"},
			nParams: 3,
		},
		{
			name: "rfc5424 unquoted SD value with spaces",
			line: `<166>1 2023-12-05T14:31:48.557Z esx01 Hostd 1050748 - [Originator@6876 sub=Proxy Req 81133 opID=x] body text`,
			want: Record{
				Time: utc("2023-12-05T14:31:48.557Z"), Host: "esx01", App: "Hostd", Program: "hostd", PID: "1050748",
				SDID: "Originator@6876", Body: "body text", Format: "rfc5424-lenient",
			},
			params:  map[string]string{"sub": "Proxy Req 81133", "opID": "x"},
			nParams: 2,
		},
		{
			name: "rfc3164 unquoted SD value with spaces",
			line: `<166>2023-12-05T14:31:48.557Z esx01 Hostd[1]: [Originator@6876 sub=Proxy Req 81133 opID=x] body text`,
			want: Record{
				Time: utc("2023-12-05T14:31:48.557Z"), Host: "esx01", App: "Hostd", Program: "hostd", PID: "1",
				SDID: "Originator@6876", Body: "body text", Format: "rfc3164",
			},
			params:  map[string]string{"sub": "Proxy Req 81133", "opID": "x"},
			nParams: 2,
		},
		{
			name: "rfc3164 BSD timestamp with Options.Year",
			line: `<38>Jan  2 10:11:12 esx01 sshd[1234]: Accepted password for root from 10.0.0.1 port 22 ssh2`,
			opts: &Options{Year: 2024, Now: func() time.Time { return fixedNow }},
			want: Record{
				Time: utc("2024-01-02T10:11:12Z"), Host: "esx01", App: "sshd", Program: "sshd", PID: "1234",
				Body: "Accepted password for root from 10.0.0.1 port 22 ssh2", Format: "rfc3164",
			},
		},
		{
			name: "BSD file line (no PRI) with Options.Year",
			line: `Jan  2 10:11:12 esx01 sshd[1234]: Accepted password for root from 10.0.0.1 port 22 ssh2`,
			opts: &Options{Year: 2024, Now: func() time.Time { return fixedNow }},
			want: Record{
				Time: utc("2024-01-02T10:11:12Z"), Host: "esx01", App: "sshd", Program: "sshd", PID: "1234",
				Body: "Accepted password for root from 10.0.0.1 port 22 ssh2", Format: "bsd",
			},
		},
		{
			name: "relay prepends BSD header to an ESXi frame",
			line: `Jan 1 12:34:56 10.100.101.102 2023-01-02T12:34:56.789Z esxihostname Hostd: info hostd[A1B2C3] [Originator@6789 sub=VsanSimsStubImpl opID=f9e8d7c6] Calling vim.host.VsanSystemEx.GetVsanRuntimeInfo`,
			opts: &Options{Year: 2024, Now: func() time.Time { return fixedNow }},
			want: Record{
				Time: utc("2023-01-02T12:34:56.789Z"), Host: "esxihostname", App: "Hostd", Program: "hostd", PID: "A1B2C3", Level: "info",
				SDID: "Originator@6789", Body: "Calling vim.host.VsanSystemEx.GetVsanRuntimeInfo", Format: "rfc3339-host",
			},
			params:  map[string]string{"sub": "VsanSimsStubImpl", "opID": "f9e8d7c6"},
			nParams: 2,
		},
		{
			name: "relay with PRI prepends BSD header to an ESXi frame",
			line: `<14>Jan 1 12:34:56 10.100.101.102 2023-01-02T12:34:56.789Z esxihostname Hostd: info hostd[A1B2C3] [Originator@6789 sub=VsanSimsStubImpl] Calling x`,
			opts: &Options{Year: 2024, Now: func() time.Time { return fixedNow }},
			want: Record{
				Time: utc("2023-01-02T12:34:56.789Z"), Host: "esxihostname", App: "Hostd", Program: "hostd", PID: "A1B2C3", Level: "info",
				SDID: "Originator@6789", Body: "Calling x", Format: "rfc3339-host",
			},
			params:  map[string]string{"sub": "VsanSimsStubImpl"},
			nParams: 1,
		},
		{
			name: "ESXi 8 file form with severity token",
			line: `2023-12-05T17:35:29.040Z No(13) SSH[1053644]: SSH login enabled`,
			want: Record{
				Time: utc("2023-12-05T17:35:29.040Z"), App: "SSH", Program: "ssh", PID: "1053644", Level: "No(13)",
				Body: "SSH login enabled", Format: "esxi8-file",
			},
			nParams: 0,
		},
		{
			name: "ESXi 8 file form with leading SD",
			line: `2023-12-05T14:31:48.557Z In(166) Hostd[1050748]: [Originator@6876 sub=Vimsvc.HaSessionManager opID=esxui-8c02-9b39] Accepted password for user root from 192.168.127.10`,
			want: Record{
				Time: utc("2023-12-05T14:31:48.557Z"), App: "Hostd", Program: "hostd", PID: "1050748", Level: "In(166)",
				SDID: "Originator@6876", Body: "Accepted password for user root from 192.168.127.10", Format: "esxi8-file",
			},
			params:  map[string]string{"sub": "Vimsvc.HaSessionManager", "opID": "esxui-8c02-9b39"},
			nParams: 2,
		},
		{
			name: "--> continuation, wire form",
			line: `<166>2023-12-05T14:31:48.557Z esx01 Hostd[1050748]: -->    eventTypeId = "esx.audit.ssh.session.opened",`,
			want: Record{
				Time: utc("2023-12-05T14:31:48.557Z"), Host: "esx01", App: "Hostd", Program: "hostd", PID: "1050748",
				Body: `eventTypeId = "esx.audit.ssh.session.opened",`, Continuation: true, Format: "rfc3164",
			},
			nParams: 0,
		},
		{
			name: "--> continuation, pre-8.0 wire form without pid",
			line: `<166>2024-12-06T10:58:45.102Z SRVESX12 Hostd: -->    objectId = "ha-host",`,
			want: Record{
				Time: utc("2024-12-06T10:58:45.102Z"), Host: "SRVESX12", App: "Hostd", Program: "hostd",
				Body: `objectId = "ha-host",`, Continuation: true, Format: "rfc3164",
			},
			nParams: 0,
		},
		{
			name: "--> continuation, ESXi 8 file form",
			line: `2023-12-05T14:31:48.557Z In(166) Hostd[1050748]: --> eventTypeId = "x",`,
			want: Record{
				Time: utc("2023-12-05T14:31:48.557Z"), App: "Hostd", Program: "hostd", PID: "1050748", Level: "In(166)",
				Body: `eventTypeId = "x",`, Continuation: true, Format: "esxi8-file",
			},
			nParams: 0,
		},
		{
			name: "--> continuation, ESXi 6.x/7.0 file form (bare line)",
			line: `--> If you don't know, answer "I Co_pied It".`,
			want: Record{Time: fixedNow, Body: `If you don't know, answer "I Co_pied It".`, Continuation: true, Format: "msg"},
		},
		{
			name: "--> alone",
			line: `-->`,
			want: Record{Time: fixedNow, Body: "", Continuation: true, Format: "msg"},
		},
		{
			name: "severity token with + line marker",
			line: `2023-12-05T14:31:48.557Z In(166)+ Hostd[1050748]: continued text`,
			want: Record{
				Time: utc("2023-12-05T14:31:48.557Z"), App: "Hostd", Program: "hostd", PID: "1050748", Level: "In(166)",
				Body: "continued text", Continuation: true, Format: "esxi8-file",
			},
			nParams: 0,
		},
		{
			name: "+ line marker in the body",
			line: `<166>2023-12-05T14:31:48.557Z esx01 Hostd[1050748]: + continued`,
			want: Record{
				Time: utc("2023-12-05T14:31:48.557Z"), Host: "esx01", App: "Hostd", Program: "hostd", PID: "1050748",
				Body: "continued", Continuation: true, Format: "rfc3164",
			},
			nParams: 0,
		},
		{
			name: "vobd 7.0 file form",
			line: `2023-02-13T16:22:22.897Z: [UserLevelCorrelator] 1234us: [vob.user.ssh.session.opened] SSH session was opened for 'root@10.0.0.1'.`,
			want: Record{
				Time: utc("2023-02-13T16:22:22.897Z"), App: "vobd", Program: "vobd",
				Body: "[UserLevelCorrelator] 1234us: [vob.user.ssh.session.opened] SSH session was opened for 'root@10.0.0.1'.", Format: "esxi-vobd-file",
			},
			nParams: 0,
		},
		{
			name: "bare message",
			line: `just some text`,
			want: Record{Time: fixedNow, Body: "just some text", Format: "msg"},
		},
		{
			name: "bare message part with its tag",
			line: `sshd[2102293]: Invalid user admin from 1.2.3.4`,
			want: Record{Time: fixedNow, App: "sshd", Program: "sshd", PID: "2102293", Body: "Invalid user admin from 1.2.3.4", Format: "msg"},
		},
		{
			name: "URL is not a tag",
			line: `https://example.com/x: not a tag`,
			want: Record{Time: fixedNow, Body: "https://example.com/x: not a tag", Format: "msg"},
		},
		{
			name: "negative offset, file form",
			line: `2023-01-02T12:34:56.789-05:30 host app[1]: msg`,
			want: Record{Time: utc("2023-01-02T18:04:56.789Z"), Host: "host", App: "app", Program: "app", PID: "1", Body: "msg", Format: "rfc3339-host"},
		},
		{
			name: "positive offset, rfc5424",
			line: `<14>1 2022-09-01T06:06:19.084018+02:00 host123 vpxd 24962 - - Event [513220451] [1-1] text`,
			want: Record{Time: utc("2022-09-01T04:06:19.084018Z"), Host: "host123", App: "vpxd", Program: "vpxd", PID: "24962", Body: "Event [513220451] [1-1] text", Format: "rfc5424"},
		},
		{
			name: "positive offset, rfc3164",
			line: `<166>2023-01-02T12:34:56.789+01:00 esx01 Hostd[1]: msg`,
			want: Record{Time: utc("2023-01-02T11:34:56.789Z"), Host: "esx01", App: "Hostd", Program: "hostd", PID: "1", Body: "msg", Format: "rfc3164"},
		},
		{
			name: "trailing CRLF and literal \\n are stripped",
			line: "<166>2023-12-05T14:31:48.557Z esx01 sshd[7]: Connection closed\\n\r\n",
			want: Record{Time: utc("2023-12-05T14:31:48.557Z"), Host: "esx01", App: "sshd", Program: "sshd", PID: "7", Body: "Connection closed", Format: "rfc3164"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Options{Now: func() time.Time { return fixedNow }}
			if c.opts != nil {
				o = *c.opts
			}
			rec, err := NewParser(o).Parse([]byte(c.line))
			if err != nil {
				t.Fatalf("Parse(%q): %v", c.line, err)
			}
			checkRecord(t, rec, c)
		})
	}
}

func checkRecord(t *testing.T, got Record, c parseCase) {
	t.Helper()
	w := c.want
	if !got.Time.Equal(w.Time) {
		t.Errorf("Time = %v, want %v", got.Time, w.Time.UTC())
	}
	for _, f := range []struct{ name, got, want string }{
		{"Host", got.Host, w.Host}, {"App", got.App, w.App}, {"Program", got.Program, w.Program},
		{"PID", got.PID, w.PID}, {"Level", got.Level, w.Level}, {"SDID", got.SDID, w.SDID},
		{"Body", got.Body, w.Body}, {"Format", got.Format, w.Format},
	} {
		if f.got != f.want {
			t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
		}
	}
	if got.Continuation != w.Continuation {
		t.Errorf("Continuation = %v, want %v", got.Continuation, w.Continuation)
	}
	for k, v := range c.params {
		if g := got.Param(k); g != v {
			t.Errorf("Param(%q) = %q, want %q", k, g, v)
		}
	}
	if (c.params != nil || c.nParams != 0) && len(got.Params) != c.nParams {
		t.Errorf("len(Params) = %d (%v), want %d", len(got.Params), got.Params, c.nParams)
	}
	if c.params == nil && c.nParams == 0 && len(got.Params) != 0 {
		t.Errorf("Params = %v, want none", got.Params)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, line := range []string{"", " ", "\r\n", " \t \n", "\x00", `\n`} {
		t.Run(fmt.Sprintf("%q", line), func(t *testing.T) {
			rec, err := NewParser(Options{Now: func() time.Time { return fixedNow }}).Parse([]byte(line))
			if !errors.Is(err, ErrEmpty) {
				t.Fatalf("Parse(%q) error = %v, want ErrEmpty", line, err)
			}
			if rec.Body != "" || !rec.Time.IsZero() || rec.Format != "" {
				t.Errorf("Parse(%q) = %+v, want zero Record", line, rec)
			}
		})
	}
}

// A Parser is reused for many messages: nothing of one record may leak
// into the next.
func TestParserReuseDoesNotLeak(t *testing.T) {
	p := NewParser(Options{Now: func() time.Time { return fixedNow }})
	if _, err := p.Parse([]byte(`<166>2022-11-04T15:01:58.230Z ESXI Hostd: info hostd[1053970] [Originator@6876 sub=a opID=b] Event 406 : text`)); err != nil {
		t.Fatal(err)
	}
	rec, err := p.Parse([]byte(`plain`))
	if err != nil {
		t.Fatal(err)
	}
	if rec.SDID != "" || len(rec.Params) != 0 || rec.Level != "" || rec.Host != "" || rec.PID != "" || rec.Body != "plain" || rec.Format != "msg" {
		t.Errorf("second record = %+v", rec)
	}
}

// Records of one Parser share the allocations their Params come from
// (paramChunk): a record's Params stay its own, also when they grow past
// their first window and when many records were parsed since.
func TestParamsAreEachRecordsOwn(t *testing.T) {
	p := NewParser(Options{Now: func() time.Time { return fixedNow }})
	var recs []Record
	for i := range 300 {
		n := 1 + i%7 // up to 7 parameters: some outgrow the first window
		var sd strings.Builder
		for j := range n {
			fmt.Fprintf(&sd, " k%d=v%d_%d", j, i, j)
		}
		rec, err := p.Parse([]byte(fmt.Sprintf("<166>2022-11-04T15:01:58.230Z esx%d Hostd[1]: [Originator@6876%s] text %d", i, sd.String(), i)))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	for i, rec := range recs {
		n := 1 + i%7
		if len(rec.Params) != n {
			t.Fatalf("record %d: %d params, want %d: %+v", i, len(rec.Params), n, rec.Params)
		}
		for j, prm := range rec.Params {
			if want := fmt.Sprintf("v%d_%d", i, j); prm.Key != fmt.Sprintf("k%d", j) || prm.Value != want {
				t.Errorf("record %d param %d = %+v, want k%d=%s", i, j, prm, j, want)
			}
		}
	}
}

// Timestamps that carry no zone are read in Options.Location; the result
// is the same instant whatever the path.
func TestParseLocation(t *testing.T) {
	loc := time.FixedZone("X", 3*3600)
	p := NewParser(Options{Year: 2024, Location: loc, Now: func() time.Time { return fixedNow }})
	cases := []struct {
		line string
		want time.Time
	}{
		{`2024-03-01T10:00:00 host app: m`, utc("2024-03-01T07:00:00Z")},
		{`2024-03-01 10:00:00 host app: m`, utc("2024-03-01T07:00:00Z")},
		{`Mar  1 10:00:00 host app: m`, utc("2024-03-01T07:00:00Z")},
		{`<13>Mar  1 10:00:00 host app: m`, utc("2024-03-01T07:00:00Z")},
		{`2024-03-01T10:00:00Z host app: m`, utc("2024-03-01T10:00:00Z")},
	}
	for _, c := range cases {
		rec, err := p.Parse([]byte(c.line))
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.line, err)
		}
		if !rec.Time.Equal(c.want) {
			t.Errorf("Parse(%q).Time = %v, want %v", c.line, rec.Time, c.want)
		}
	}
}

// With Options.Year zero, a BSD date more than a day in the future (by the
// parser's clock) belongs to the previous year: "Dec 31" read on January 1.
func TestParseBSDYearRollover(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 30, 0, 0, time.UTC)
	cases := []struct {
		name, line string
		want       time.Time
	}{
		{name: "no PRI, Dec 31 on Jan 1", line: `Dec 31 23:59:00 esx01 sshd[1]: m`, want: utc("2024-12-31T23:59:00Z")},
		{name: "no PRI, Jan 1 on Jan 1", line: `Jan  1 00:10:00 esx01 sshd[1]: m`, want: utc("2025-01-01T00:10:00Z")},
		{name: "no PRI, tomorrow is this year", line: `Jan  2 00:10:00 esx01 sshd[1]: m`, want: utc("2025-01-02T00:10:00Z")},
		{name: "PRI, Jan 1 on Jan 1", line: `<38>Jan  1 00:10:00 esx01 sshd[1]: m`, want: utc("2025-01-01T00:10:00Z")},
		{name: "PRI, Dec 31 on Jan 1", line: `<38>Dec 31 23:59:00 esx01 sshd[1]: m`, want: utc("2024-12-31T23:59:00Z")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec, err := NewParser(Options{Now: func() time.Time { return now }}).Parse([]byte(c.line))
			if err != nil {
				t.Fatal(err)
			}
			if !rec.Time.Equal(c.want) {
				t.Errorf("Time = %v, want %v", rec.Time, c.want)
			}
		})
	}
}

// Record.Time is documented as the message time; the no-PRI paths return
// it in UTC. Every path should.
func TestParseTimeIsUTC(t *testing.T) {
	cases := []struct {
		line string
	}{
		{line: `2023-01-02T12:34:56.789-05:30 host app[1]: msg`},
		{line: `2023-01-02T12:34:56.789+01:00: [UserLevelCorrelator] x`},
		{line: `2023-01-02 12:34:56 host app: msg`},
		{line: `<166>2023-01-02T12:34:56.789+01:00 esx01 Hostd[1]: msg`},
		{line: `<14>1 2022-09-01T06:06:19.084018+02:00 host123 vpxd 24962 - - msg`},
		{line: `<166>1 2022-09-01T06:06:19.084+02:00 esx Hostd 1 - [Originator@6876 sub=x] msg`},
	}
	for _, c := range cases {
		t.Run(c.line, func(t *testing.T) {
			rec, err := NewParser(Options{Now: func() time.Time { return fixedNow }}).Parse([]byte(c.line))
			if err != nil {
				t.Fatal(err)
			}
			if rec.Time.Location() != time.UTC {
				t.Errorf("Time = %v, location %v, want UTC", rec.Time, rec.Time.Location())
			}
		})
	}
}

// SDID is the ID of the first structured-data element, also when a frame
// carries several.
func TestParseSDIDIsFirstElement(t *testing.T) {
	p := NewParser(Options{Now: func() time.Time { return fixedNow }})
	line := []byte(`<14>1 2021-09-06T14:40:13.123Z vc app 1 - [a@1 x="1" z="3"][b@2 y="2"] msg`)
	for i := 0; i < 50; i++ {
		rec, err := p.Parse(line)
		if err != nil {
			t.Fatal(err)
		}
		if rec.SDID != "a@1" {
			t.Fatalf("parse %d: SDID = %q, want a@1 (Params %v)", i, rec.SDID, rec.Params)
		}
		want := []Param{{"x", "1"}, {"z", "3"}, {"y", "2"}}
		if fmt.Sprint(rec.Params) != fmt.Sprint(want) {
			t.Fatalf("parse %d: Params = %v, want %v", i, rec.Params, want)
		}
	}
}

// TestPeekAgreesWithParse checks, over the corpus, the property that lets
// the pipeline drop a line after Peek: where Peek succeeds, it finds the
// host, program and body that Parse finds.
func TestPeekAgreesWithParse(t *testing.T) {
	files, err := filepath.Glob("../../testdata/corpus/*.log")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files (%v)", err)
	}
	p := NewParser(Options{Year: 2024, Now: func() time.Time { return fixedNow }})
	peeked := 0
	for _, fn := range files {
		fh, err := os.Open(fn)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		n := 0
		for sc.Scan() {
			n++
			line := sc.Text()
			if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
				continue
			}
			pk, ok := Peek([]byte(line))
			if !ok {
				continue
			}
			peeked++
			name := fmt.Sprintf("%s:%d", filepath.Base(fn), n)
			t.Run(name, func(t *testing.T) {
				rec, err := p.Parse([]byte(line))
				if err != nil {
					t.Fatalf("Parse(%q): %v", line, err)
				}
				if pk.Host != rec.Host {
					t.Errorf("%q: Peek Host %q, Parse Host %q", line, pk.Host, rec.Host)
				}
				if !strings.EqualFold(pk.Program, rec.App) {
					t.Errorf("%q: Peek Program %q, Parse App %q", line, pk.Program, rec.App)
				}
				if pk.Body != rec.Body {
					t.Errorf("%q: Peek Body %q, Parse Body %q", line, pk.Body, rec.Body)
				}
				if pk.SDID != rec.SDID {
					t.Errorf("%q: Peek SDID %q, Parse SDID %q", line, pk.SDID, rec.SDID)
				}
			})
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		fh.Close()
	}
	if peeked < 100 {
		t.Errorf("Peek succeeded on only %d corpus lines", peeked)
	}
}

// Peek on the header forms it supports and the ones it must refuse.
func TestPeekForms(t *testing.T) {
	cases := []struct {
		line             string
		ok               bool
		host, prog, body string
	}{
		{`<166>2023-12-05T14:31:48.557Z esx01 Hostd[1050748]: [Originator@6876 sub=Vimsvc.HaSessionManager opID=esxui-8c02-9b39] Accepted password`, true, "esx01", "Hostd", "Accepted password"},
		{`<166>2022-11-04T15:01:58.230Z ESXI Hostd: info hostd[1053970] [Originator@6876 sub=a] Event 406 : text`, true, "ESXI", "Hostd", "Event 406 : text"},
		{`<166>2016-01-11T10:06:35.123Z esx60 Hostd: info hostd[32740B70][Originator@6876 sub=a] Event 65 : x`, true, "esx60", "Hostd", "Event 65 : x"},
		{`<14>1 2021-09-06T14:40:13.123Z vcsa01 vpxd 7213 - [Originator@6876 sub="a]b"] Event [1] hello`, true, "vcsa01", "vpxd", "Event [1] hello"},
		{`<14>1 2021-09-06T14:40:13.123Z vcsa01 vpxd 7213 - -  Event [1] hello`, true, "vcsa01", "vpxd", "Event [1] hello"},
		{`<38>Jan  2 10:11:12 esx01 sshd[1234]: Accepted`, true, "esx01", "sshd", "Accepted"},
		{`Jan 12 10:11:12 esx01 sshd[1234]: Accepted`, true, "esx01", "sshd", "Accepted"},
		{`2023-01-02T12:34:56.789-05:30 host app[1]: msg`, true, "host", "app", "msg"},
		{`<166>2023-12-05T14:31:48.557Z esx01 Hostd[1]: [GenericCorrelator] kept`, true, "esx01", "Hostd", "[GenericCorrelator] kept"},
		// A relay's colon-less tag.
		{`<14>Sep  6 14:40:13 vc01 vpxd[51702] Event [575792] [1-1] x`, true, "vc01", "vpxd", "Event [575792] [1-1] x"},
		{`2021-09-06T14:40:13.289354+00:00 vc01 vpxd[51702] Event [1] x`, true, "vc01", "vpxd", "Event [1] x"},
		// An audit record: the body is empty, the SD-ID names it.
		{`<110>2024-06-04T02:00:01.000Z esx01 Hostd[2099435]: [vm.power.off@6876 subject="root" object="app01" result="success"]`, true, "esx01", "Hostd", ""},
		// Refused: the caller parses these in full.
		{`Jan 1 12:34:56 10.100.101.102 2023-01-02T12:34:56.789Z esxihostname Hostd: x`, false, "", "", ""},
		{`2023-12-05T17:35:29.040Z No(13) SSH[1053644]: SSH login enabled`, false, "", "", ""},
		{`2016-01-11T10:06:35.123Z info hostd[32740B70] x`, false, "", "", ""},
		{`2023-02-13T16:22:22.897Z: [UserLevelCorrelator] x`, false, "", "", ""},
		{`2017-06-16T16:31:34.653Z [tomcat-exec-65 INFO] x`, false, "", "", ""},
		{`sshd[1]: x`, false, "", "", ""},
		{`just text`, false, "", "", ""},
		{`<abc>x`, false, "", "", ""},
		{``, false, "", "", ""},
	}
	for _, c := range cases {
		pk, ok := Peek([]byte(c.line))
		if ok != c.ok {
			t.Errorf("Peek(%q) ok = %v, want %v (%+v)", c.line, ok, c.ok, pk)
			continue
		}
		if ok && (pk.Host != c.host || pk.Program != c.prog || pk.Body != c.body) {
			t.Errorf("Peek(%q) = %+v, want {%s %s %s}", c.line, pk, c.host, c.prog, c.body)
		}
	}
	for line, want := range map[string]string{
		`<110>2024-06-04T02:00:01.000Z esx01 Hostd[2099435]: [vm.power.off@6876 subject="root" object="app01" result="success"]`: "vm.power.off@6876",
		`<110>1 2024-06-04T02:00:05.000Z esx01 Hostd 2099435 - [vm.power.reset@6876 subject="root" object="x" result="success"]`: "vm.power.reset@6876",
		`<166>2023-12-05T14:31:48.557Z esx01 Hostd[1]: [Originator@6876 sub=a opID=b] Accepted`:                                  "Originator@6876",
		`<14>1 2021-09-06T14:40:13.123Z vcsa01 vpxd 7213 - [meta sequenceId="1"][Originator@6876 sub=a] hello`:                   "Originator@6876",
		`<38>Jan  2 10:11:12 esx01 sshd[1234]: Accepted`:                                                                         "",
	} {
		if pk, _ := Peek([]byte(line)); pk.SDID != want {
			t.Errorf("Peek(%q).SDID = %q, want %q", line, pk.SDID, want)
		}
	}
}

// The tag of rsyslog and syslog-ng relays without its colon is a tag.
func TestColonlessTag(t *testing.T) {
	p := NewParser(Options{Year: 2021, Now: func() time.Time { return fixedNow }})
	for _, line := range []string{
		`<14>Sep  6 14:40:13 vc01 vpxd[51702] Event [575792] [1-1] text`,
		`<14>2021-09-06T14:40:13.263383+00:00 vc01 vpxd[51702] Event [575792] [1-1] text`,
		`Sep  6 14:40:13 vc01 vpxd[51702] Event [575792] [1-1] text`,
		`2021-09-06T14:40:13.263383+00:00 vc01 vpxd[51702] Event [575792] [1-1] text`,
	} {
		rec, err := p.Parse([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if rec.Host != "vc01" || rec.Program != "vpxd" || rec.PID != "51702" || rec.Body != "Event [575792] [1-1] text" {
			t.Errorf("Parse(%q) = host %q program %q pid %q body %q", line, rec.Host, rec.Program, rec.PID, rec.Body)
		}
	}
	// Not a tag: a word with brackets that is not name[digits].
	rec, _ := p.Parse([]byte(`2021-09-06T14:40:13Z vc01 [GenericCorrelator] text`))
	if rec.App != "" {
		t.Errorf("took %q for a tag", rec.App)
	}
}

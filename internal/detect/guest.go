package detect

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// The guests' own logons (issue 14): a VM's guest that sends its syslog to
// the exporter says who logged on at its console, so that a VM console
// opened through vCenter can be matched with the guest session it showed
// (package console). Host is the guest's name: the syslog HOSTNAME, or the
// computer name a Windows event carries.

// guestLoginTable: Linux console logons by login(1) on a virtual terminal
// (util-linux and shadow-utils login, as syslog's authpriv facility
// carries them):
//
//	login[1234]: pam_unix(login:session): session opened for user alice(uid=1000) by LOGIN(uid=0)
//	login[1234]: pam_unix(login:session): session closed for user alice
//	login[1234]: ROOT LOGIN ON tty1
//	login[1234]: LOGIN ON tty2 BY alice
//	login[1234]: LOGIN ON pts/1 BY alice FROM 10.0.0.5
//
// login logs both the PAM line and its own for one logon: de-duplication
// makes them one (same guest, user and action within seconds). ESXi's own
// console login ("root login on 'char/tty/1'", table login) is lower case.
func guestLoginTable() *Table {
	return &Table{
		Name:     "guest_login",
		Programs: []string{"login"},
		Rules: append(pamSessionRules("login"),
			Rule{Name: "root_login", Kind: audit.KindGuestLogon, Action: audit.ActionLogon, User: "root", Prefix: "ROOT LOGIN ON ",
				Re: regexp.MustCompile(`^ROOT LOGIN ON \S+(?: FROM (?P<client_ip>\S+))?`), Fn: remoteIfFrom},
			Rule{Name: "login_by", Kind: audit.KindGuestLogon, Action: audit.ActionLogon, Prefix: "LOGIN ON ",
				Re: regexp.MustCompile(`^LOGIN ON \S+ BY (?P<user>\S+)(?: FROM (?P<client_ip>\S+))?`), Fn: remoteIfFrom},
		),
	}
}

// remoteIfFrom makes a login(1) logon "FROM" another host (telnet, rlogin)
// a remote one.
func remoteIfFrom(_ *Input, e *audit.Event) bool {
	e.Method = audit.MethodConsole
	if e.ClientIP != "" {
		e.Method = audit.MethodRemote
	}
	return true
}

// displayManagerPrograms are the program tags of the display managers'
// session lines. GDM's session workers log under the odd tag
// "gdm-password]" (their process title is "gdm-session-worker
// [pam/gdm-password]"); relays through journald send "gdm-password".
var displayManagerPrograms = []string{
	"gdm-password]", "gdm-password", "gdm-autologin]", "gdm-autologin", "gdm-fingerprint]", "gdm-fingerprint",
	"gdm-smartcard]", "gdm-smartcard", "lightdm", "sddm-helper", "sddm",
}

// displayManagerServices are their PAM services (the greeters' own,
// gdm-launch-environment and lightdm-greeter, are not among them).
const displayManagerServices = `gdm-password|gdm-autologin|gdm-fingerprint|gdm-smartcard|lightdm|lightdm-autologin|sddm|sddm-autologin`

// guestDisplayManagerTable: graphical console logons (GDM, LightDM, SDDM):
//
//	gdm-password][2389]: pam_unix(gdm-password:session): session opened for user alice(uid=1000) by (uid=0)
//	lightdm: pam_unix(lightdm:session): session opened for user alice by (uid=0)
//	lightdm: pam_unix(lightdm:session): session closed for user alice
//
// The greeters' sessions (pam_unix(gdm-launch-environment:session),
// pam_unix(lightdm-greeter:session), users gdm, lightdm, sddm) are no
// logon. Screen locks and unlocks of these desktops leave no line of their
// own in syslog (GNOME's unlock re-authenticates without a session line),
// so a locked Linux desktop is not seen.
func guestDisplayManagerTable() *Table {
	return &Table{Name: "guest_dm", Programs: displayManagerPrograms, Rules: pamSessionRules(displayManagerServices)}
}

// pamSessionRules read pam_unix's session lines of the PAM services
// (a regular expression alternation).
func pamSessionRules(services string) []Rule {
	user := func(_ *Input, e *audit.Event) bool {
		switch e.User {
		case "gdm", "lightdm", "sddm":
			return false
		}
		return true
	}
	return []Rule{
		{Name: "session_opened", Kind: audit.KindGuestLogon, Action: audit.ActionLogon, Method: audit.MethodConsole, Prefix: "pam_unix(",
			Re: regexp.MustCompile(`^pam_unix\((?:` + services + `):session\): session opened for user (?P<user>[^\s(]+)`), Fn: user},
		{Name: "session_closed", Kind: audit.KindGuestLogoff, Action: audit.ActionLogoff, Method: audit.MethodConsole, Prefix: "pam_unix(",
			Re: regexp.MustCompile(`^pam_unix\((?:` + services + `):session\): session closed for user (?P<user>[^\s(]+)`), Fn: user},
	}
}

// Windows Security events of interactive sessions. EventID, logon type:
//
//	4624 2  console logon          -> guest_logon  logon  console
//	4624 11 cached console logon   -> guest_logon  logon  console
//	4624 7  workstation unlocked   -> guest_logon  unlock console
//	4624 10 RDP logon              -> guest_logon  logon  remote
//	4634 2, 11, 10 logoff          -> guest_logoff logoff console|remote
//	4647 user-initiated logoff     -> guest_logoff logoff (no logon type)
//	4800 workstation locked        -> guest_logoff lock   console
//	4801 workstation unlocked      -> guest_logon  unlock console
//
// Other logon types (3 network, 4 batch, 5 service, ...) are no session at
// a console. The sessions Windows opens for itself (Window Manager's DWM-n
// and Font Driver Host's UMFD-n at boot, type 2), machine accounts (ending
// in $) and NT AUTHORITY accounts are left out. An administrator's console
// logon under UAC is two 4624 events (the filtered and the elevated token,
// linked), and its logoff a 4647 and two 4634: the event id and the
// session's logon id make each its own reporter, so that de-duplication
// counts the pair once (and the logoff once).
var windowsEvents = map[int]struct {
	kind   audit.Kind
	action string
}{
	4624: {audit.KindGuestLogon, audit.ActionLogon},
	4634: {audit.KindGuestLogoff, audit.ActionLogoff},
	4647: {audit.KindGuestLogoff, audit.ActionLogoff},
	4800: {audit.KindGuestLogoff, audit.ActionLock},
	4801: {audit.KindGuestLogon, audit.ActionUnlock},
}

// windowsEvent is what a Windows Security event says of a session, in
// either forwarder's form.
type windowsEvent struct {
	id                 int
	user, domain       string
	logonType, logonID string
	computer, ip       string
	time               time.Time
}

// classify turns w into the event's fields; false: no console session.
func (w *windowsEvent) classify(e *audit.Event) bool {
	we, ok := windowsEvents[w.id]
	if !ok {
		return false
	}
	u, dom := strings.TrimSpace(w.user), strings.TrimSpace(w.domain)
	switch {
	case u == "" || u == "-" || strings.HasSuffix(u, "$"),
		strings.HasPrefix(u, "DWM-"), strings.HasPrefix(u, "UMFD-"), strings.EqualFold(u, "ANONYMOUS LOGON"),
		strings.EqualFold(dom, "Window Manager"), strings.EqualFold(dom, "Font Driver Host"), strings.EqualFold(dom, "NT AUTHORITY"):
		return false
	}
	e.Kind, e.Action = we.kind, we.action
	switch w.id {
	case 4624, 4634:
		switch w.logonType {
		case "2", "11":
			e.Method = audit.MethodConsole
		case "7":
			e.Method = audit.MethodConsole
			if w.id == 4624 {
				e.Action = audit.ActionUnlock
			}
		case "10":
			e.Method = audit.MethodRemote
		default:
			return false
		}
	case 4800, 4801:
		e.Method = audit.MethodConsole
	}
	if dom != "" && dom != "-" {
		u = dom + `\` + u
	}
	e.User = u
	if w.computer != "" {
		e.Host = w.computer
	}
	if w.ip != "" && w.ip != "-" && w.ip != "::1" && w.ip != "127.0.0.1" {
		e.ClientIP = w.ip
	}
	if !w.time.IsZero() {
		e.Time = w.time
	}
	e.Reporter = e.Rule + "/" + strconv.Itoa(w.id) + "/" + w.logonID
	return true
}

// windowsRule is the one rule of a Windows table: decode reads the event
// in the table's form, classify decides what it says.
func windowsRule(decode func(in *Input) (windowsEvent, bool)) Rule {
	return Rule{Name: "security", Fn: func(in *Input, e *audit.Event) bool {
		w, ok := decode(in)
		return ok && w.classify(e)
	}}
}

// windowsJSONTable: Windows Security events as NXLog sends them
// (im_msvistalog, then to_json(); alone over TCP, or as the MSG of a
// to_syslog_bsd() frame tagged Microsoft-Windows-Security-Auditing). The
// field names are NXLog's: the System fields (EventTime, Hostname,
// EventID) and the event's EventData by name (TargetUserName,
// TargetDomainName, TargetLogonId, LogonType, IpAddress):
//
//	{"EventTime":"2026-12-03 10:00:00","Hostname":"DC01.corp.example.com","EventID":4624,...,"TargetUserName":"alice","TargetDomainName":"CORP","TargetLogonId":"0x5c1e2a","LogonType":"2",...}
//
// NXLog writes EventTime in the agent's local time without a zone; it is
// read as UTC, and only when the message has no syslog header of its own.
func windowsJSONTable() *Table {
	return &Table{
		Name: "windows_json",
		Sniff: func(text string) bool {
			return strings.Contains(text, `"EventID":`) && strings.Contains(text, `"TargetUserName":`)
		},
		Always: true,
		Rules:  []Rule{windowsRule(decodeNXLog)},
	}
}

type nxlogEvent struct {
	EventTime        string          `json:"EventTime"`
	Hostname         string          `json:"Hostname"`
	EventID          json.RawMessage `json:"EventID"`
	TargetUserName   string          `json:"TargetUserName"`
	TargetDomainName string          `json:"TargetDomainName"`
	TargetLogonID    string          `json:"TargetLogonId"`
	LogonType        json.RawMessage `json:"LogonType"`
	IPAddress        string          `json:"IpAddress"`
}

func decodeNXLog(in *Input) (windowsEvent, bool) {
	s := in.Text
	i := strings.IndexByte(s, '{')
	if i < 0 {
		return windowsEvent{}, false
	}
	var n nxlogEvent
	if err := json.Unmarshal([]byte(s[i:]), &n); err != nil {
		return windowsEvent{}, false
	}
	id, err := strconv.Atoi(strings.Trim(string(n.EventID), `"`))
	if err != nil {
		return windowsEvent{}, false
	}
	w := windowsEvent{id: id, user: n.TargetUserName, domain: n.TargetDomainName, logonID: n.TargetLogonID,
		logonType: strings.Trim(string(n.LogonType), `"`), computer: n.Hostname, ip: n.IPAddress}
	if in.Rec.Format == "msg" {
		if t, err := time.Parse(time.DateTime, n.EventTime); err == nil {
			w.time = t
		}
	}
	return w, true
}

// snareTable: Windows Security events in Snare's tab-separated form
// (Snare Agent for Windows, NXLog's to_syslog_snare(), LogLogic's "Snare
// over syslog"): after the syslog header, or after the bare host name,
//
//	MSWinEventLog<TAB>Criticality<TAB>LogName<TAB>SnareCounter<TAB>SubmitTime<TAB>EventID<TAB>SourceName<TAB>UserName<TAB>SIDType<TAB>EventLogType<TAB>ComputerName<TAB>CategoryString<TAB>DataString<TAB>ExpandedString<TAB>MD5
//
// DataString is the event's rendered message on one line ("... New Logon:
// Security ID: ... Account Name: alice Account Domain: CORP Logon ID:
// 0x5C1E2A ..."), where the user and the logon type are read. rsyslog
// escapes the tabs as "#011" by default ($EscapeControlCharactersOnReceive):
// both are read. SubmitTime is the agent's local time without a zone; it
// is read as UTC, and only when the message has no syslog header.
func snareTable() *Table {
	return &Table{
		Name: "windows_snare",
		Sniff: func(text string) bool {
			return strings.Contains(text, "MSWinEventLog\t") || strings.Contains(text, "MSWinEventLog#011")
		},
		Always: true,
		Rules:  []Rule{windowsRule(decodeSnare)},
	}
}

var (
	snareLogonType = regexp.MustCompile(`Logon Type:\s+(\d+)`)
	// The account of a 4624 is its "New Logon" (Windows 10+, Server 2016+)
	// or "New Logon" of 2008-2012; the others name it as "Subject".
	snareNewLogon = regexp.MustCompile(`New Logon:\s+Security ID:\s+.*?\s+Account Name:\s+(\S+)\s+Account Domain:\s+(\S+)\s+Logon ID:\s+(\S+)`)
	snareSubject  = regexp.MustCompile(`Subject:\s+Security ID:\s+.*?\s+Account Name:\s+(\S+)\s+Account Domain:\s+(\S+)\s+Logon ID:\s+(\S+)`)
	snareAddress  = regexp.MustCompile(`Source Network Address:\s+(\S+)`)
)

func decodeSnare(in *Input) (windowsEvent, bool) {
	s := in.Text
	if !strings.Contains(s, "MSWinEventLog\t") {
		s = strings.ReplaceAll(s, "#011", "\t")
	}
	i := strings.Index(s, "MSWinEventLog\t")
	if i < 0 {
		return windowsEvent{}, false
	}
	f := strings.Split(s[i:], "\t")
	if len(f) < 13 || !strings.EqualFold(f[2], "Security") {
		return windowsEvent{}, false
	}
	id, err := strconv.Atoi(strings.TrimSpace(f[5]))
	if err != nil {
		return windowsEvent{}, false
	}
	w := windowsEvent{id: id, computer: strings.TrimSpace(f[10])}
	data := f[12]
	if m := snareLogonType.FindStringSubmatch(data); m != nil {
		w.logonType = m[1]
	}
	re := snareSubject
	if id == 4624 {
		re = snareNewLogon
		if m := snareAddress.FindStringSubmatch(data); m != nil {
			w.ip = m[1]
		}
	}
	m := re.FindStringSubmatch(data)
	if m == nil {
		return windowsEvent{}, false
	}
	w.user, w.domain, w.logonID = m[1], m[2], m[3]
	if in.Rec.Format == "msg" {
		if t, err := time.Parse("Mon Jan 02 15:04:05 2006", strings.TrimSpace(f[4])); err == nil {
			w.time = t
		}
	}
	return w, true
}

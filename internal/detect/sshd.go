package detect

import (
	"regexp"
	"strings"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// sshdTable: ESXi's sshd (auth.log). Real lines (testdata/corpus/esxi*.log):
//
//	Accepted keyboard-interactive/pam for root from 192.168.127.10 port 58470 ssh2
//	Accepted publickey for root from 1.2.3.4 port 33398 ssh2: RSA SHA256:...
//	error: PAM: Authentication failure for root from 192.168.249.23
//	Invalid user administrator from 1.2.3.4 port 41100
//	Session closed for 'root' on /dev/char/pty/t0
//	User 'root' running command 'vim-cmd vmsvc/power.getstate 91 2>&1'
func sshdTable() *Table {
	return &Table{
		Name:     "sshd",
		Programs: []string{"sshd"},
		Prefixes: []string{"User '"}, // command_effect follows exec_command
		Rules: []Rule{
			{Name: "accepted", Kind: audit.KindLogin, Method: audit.MethodSSH, Prefix: "Accepted ",
				Fn: func(in *Input, e *audit.Event) bool {
					user, ip, ok := acceptedLogin(in.Text)
					e.User, e.ClientIP = user, ip
					return ok
				}},
			{Name: "pam_auth_failure", Kind: audit.KindLoginFailed, Method: audit.MethodSSH, Pattern: "error: PAM: Authentication failure for {user} from {client_ip}"},
			{Name: "failed_password", Kind: audit.KindLoginFailed, Method: audit.MethodSSH, Prefix: "Failed ",
				Re: regexp.MustCompile(`^Failed (?:password|keyboard-interactive/pam) for (?:invalid user )?(?P<user>\S+) from (?P<client_ip>\S+)`)},
			{Name: "invalid_user", Kind: audit.KindLoginFailed, Method: audit.MethodSSH, Prefix: "Invalid user ",
				Re: regexp.MustCompile(`^Invalid user (?P<user>\S*) from (?P<client_ip>\S+)`)},
			{Name: "session_closed", Kind: audit.KindLogout, Method: audit.MethodSSH, Prefix: "Session closed for ",
				Re: regexp.MustCompile(`^Session closed for '(?P<user>[^']+)'`)},
			{Name: "pam_session_closed", Kind: audit.KindLogout, Method: audit.MethodSSH, Prefix: "pam_unix(sshd:session): session closed for user ",
				Re: regexp.MustCompile(`^pam_unix\(sshd:session\): session closed for user (?P<user>\S+)`)},
			{Name: "exec_command", Kind: audit.KindShellCommand, Method: audit.MethodSSH, Prefix: "User '",
				Re: regexp.MustCompile(`^User '(?P<user>[^']+)' running command '(?P<command>.*?)'?$`), Continue: true,
				Fn: func(_ *Input, e *audit.Event) bool { e.Technique = TechniqueOf(e.Command); return true }},
			// The command itself may be a configuration change (see shell.go).
			commandRule(),
		},
	}
}

// sshInitTable: ESXi 8's /etc/init.d/SSH ("SSH[pid]: SSH login enabled").
func sshInitTable() *Table {
	return &Table{
		Name:     "ssh",
		Programs: []string{"ssh"},
		Rules: []Rule{
			{Name: "login_enabled", Kind: audit.KindServiceEnabled, Service: audit.ServiceSSH, Prefix: "SSH login enabled"},
			{Name: "login_disabled", Kind: audit.KindServiceDisabled, Service: audit.ServiceSSH, Prefix: "SSH login disabled"},
		},
	}
}

// esxShellTable: the ESXi Shell getty wrapper ("ESXShell[pid]: ESXi Shell available").
func esxShellTable() *Table {
	return &Table{
		Name:     "esxshell",
		Programs: []string{"esxshell"},
		Rules: []Rule{
			{Name: "available", Kind: audit.KindServiceEnabled, Service: audit.ServiceESXiShell, Prefix: "ESXi Shell available"},
			{Name: "unavailable", Kind: audit.KindServiceDisabled, Service: audit.ServiceESXiShell, Prefix: "ESXi Shell unavailable"},
		},
	}
}

// loginTable: a shell login on the host's physical console
// ("login[64386]: root login on 'char/tty/1'", VMware KB 2004810).
func loginTable() *Table {
	return &Table{
		Name:     "login",
		Programs: []string{"login"},
		Rules: []Rule{
			{Name: "console_login", Kind: audit.KindLogin, Method: audit.MethodDCUI, Contains: " login on ",
				Re: regexp.MustCompile(`^(?P<user>\S+) login on '`)},
		},
	}
}

// acceptedLogin takes the user and the client address out of sshd's
// "Accepted keyboard-interactive/pam for root from 192.168.127.10 port
// 58470 ssh2" as the regular expression
//
//	^Accepted \S+ for (?P<user>\S+) from ?(?P<client_ip>[0-9A-Fa-f.:]+) port
//
// does, at a fraction of its cost (every SSH login runs it). The space
// after "from" is optional: "from10.11.12.13" is how VMware's own KB
// 2004810 prints it.
func acceptedLogin(s string) (user, ip string, ok bool) {
	rest, ok := strings.CutPrefix(s, "Accepted ")
	if !ok {
		return "", "", false
	}
	n := nonSpaceLen(rest) // the method
	if n == 0 {
		return "", "", false
	}
	if rest, ok = strings.CutPrefix(rest[n:], " for "); !ok {
		return "", "", false
	}
	if n = nonSpaceLen(rest); n == 0 {
		return "", "", false
	}
	user = rest[:n]
	if rest, ok = strings.CutPrefix(rest[n:], " from"); !ok {
		return "", "", false
	}
	rest = strings.TrimPrefix(rest, " ")
	n = 0
	for n < len(rest) && isAddrByte(rest[n]) {
		n++
	}
	if n == 0 || !strings.HasPrefix(rest[n:], " port") {
		return "", "", false
	}
	return user, rest[:n], true
}

// nonSpaceLen is the length of the run of s that \S+ matches at its start:
// up to the first of RE2's \s ([\t\n\f\r ]).
func nonSpaceLen(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\f', '\r':
			return i
		}
	}
	return len(s)
}

// isAddrByte reports whether c is in [0-9A-Fa-f.:].
func isAddrByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':'
}

package detect

import (
	"regexp"

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
				// "from10.11.12.13" (no space) is how VMware's own KB 2004810 prints it.
				Re: regexp.MustCompile(`^Accepted \S+ for (?P<user>\S+) from ?(?P<client_ip>[0-9A-Fa-f.:]+) port`)},
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

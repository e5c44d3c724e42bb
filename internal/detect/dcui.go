package detect

import (
	"regexp"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// dcuiTable: the Direct Console's own lines (ESXi syslog.log, tag DCUI),
// logins at the host's physical or remote (iLO, iDRAC) console:
//
//	DCUI: User root logged in
//	DCUI: authentication of user root succeeded
//	DCUI: pam_unix(dcui:auth): authentication failure; logname= uid=0 euid=0 tty= ruser= rhost=  user=root
//
// A console login has no client address; it is direct whoever logs in
// (audit.IsDirect). One login logged both ways counts once (dedup: same
// host, method and user).
func dcuiTable() *Table {
	return &Table{
		Name:     "dcui",
		Programs: []string{"dcui"},
		Rules: []Rule{
			{Name: "logged_in", Kind: audit.KindLogin, Method: audit.MethodDCUI, Pattern: "User {user} logged in"},
			{Name: "logged_out", Kind: audit.KindLogout, Method: audit.MethodDCUI, Pattern: "User {user} logged out"},
			{Name: "auth_succeeded", Kind: audit.KindLogin, Method: audit.MethodDCUI, Prefix: "authentication of user ",
				Re: regexp.MustCompile(`^authentication of user (?P<user>\S+) (?:has )?succeeded`)},
			{Name: "auth_failed", Kind: audit.KindLoginFailed, Method: audit.MethodDCUI, Prefix: "authentication of user ",
				Re: regexp.MustCompile(`^authentication of user (?P<user>\S+) (?:has )?failed`)},
			{Name: "pam_failure", Kind: audit.KindLoginFailed, Method: audit.MethodDCUI, Prefix: "pam_unix(dcui:auth): authentication failure;",
				Re: regexp.MustCompile(`user=(?P<user>\S+)\s*$`)},
		},
	}
}

package detect

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vsphere"
)

// ssoJSONTable: vCenter SSO audit events as JSON (websso.log "[auditlogger]"
// on vCenter 7/8, /var/log/audit/sso-events/audit_events.log on 6.7),
// testdata/corpus/vcenter-*.log:
//
//	{"user":"USER01@intra.company.net","client":"1.2.3.4",...,"type":"com.vmware.sso.LoginSuccess"}
//
// These carry the real client IP of a vSphere Client login.
func ssoJSONTable() *Table {
	return &Table{
		Name:     "sso",
		Programs: []string{"websso", "audit_events", "sso-events", "audit-events"},
		Sniff: func(text string) bool {
			return strings.Contains(text, `"type":"com.vmware.sso.`) || strings.Contains(text, `\"type\":\"com.vmware.sso.`)
		},
		Prepare: prepareSSOJSON,
		// Every event names its type com.vmware.sso.*.
		Contains: []string{"com.vmware.sso."},
		Rules:    ssoRules(),
	}
}

// ssoRules are the com.vmware.sso.* ids of the vSphere table: the JSON
// names the id, the user and the client address.
func ssoRules() []Rule {
	var out []Rule
	for _, vt := range vsphere.Of(vsphere.VCenter) {
		name, ok := strings.CutPrefix(vt.ID, "com.vmware.sso.")
		if !ok {
			continue
		}
		out = append(out, Rule{Name: name, ID: vt.ID, Kind: vt.Kind, Method: vt.Method, Setting: vt.Setting})
	}
	return out
}

type ssoAudit struct {
	User        string `json:"user"`
	Client      string `json:"client"`
	Description string `json:"description"`
	Type        string `json:"type"`
}

func prepareSSOJSON(in *Input) bool {
	s := in.Text
	i := strings.IndexByte(s, '{')
	if i < 0 {
		return false
	}
	s = s[i:]
	if strings.Contains(s, `\"`) {
		s = strings.ReplaceAll(s, `\"`, `"`)
	}
	// A truncated line (a missing final "}") still names its fields.
	var a ssoAudit
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		if err2 := json.Unmarshal([]byte(s+"}"), &a); err2 != nil {
			return false
		}
	}
	if a.Type == "" {
		return false
	}
	in.ID = a.Type
	in.User = a.User
	in.ClientIP = a.Client
	in.Text = a.Description
	return true
}

// ssoFileTable: vCenter 6.x SSO service logs (vmware-sts-idmd.log,
// ssoAdminServer.log), testdata/corpus/vcenter-files.log.
func ssoFileTable() *Table {
	return &Table{
		Name:     "sso_file",
		Programs: []string{"vmware-sts-idmd", "ssoadminserver", "sts", "idmd", "vmware-stsd"},
		Sniff: func(text string) bool {
			return strings.Contains(text, "[IdentityManager]") || strings.Contains(text, "com.vmware.identity.")
		},
		Rules: []Rule{
			{Name: "authentication_succeeded", Kind: audit.KindLogin, Method: audit.MethodSSO, Contains: "] Authentication succeeded for user [",
				Re: regexp.MustCompile(`\] Authentication succeeded for user \[(?P<user>[^\]]+)\]`)},
			{Name: "authentication_failed", Kind: audit.KindLoginFailed, Method: audit.MethodSSO, Contains: "[IdentityManager] Failed to authenticate principal [",
				Re: regexp.MustCompile(`\[IdentityManager\] Failed to authenticate principal \[(?P<user>[^\]]+)\]`)},
			{Name: "admin_logout", Kind: audit.KindLogout, Method: audit.MethodSSO, Contains: "SessionManagerImpl]",
				Re: regexp.MustCompile(`SessionManagerImpl\]\s+User \{Name: [^,]+, Domain: [^}]+\} with role '[^']*' logged out`), Fn: nameDomain},
			{Name: "principal_management", Kind: audit.KindAccountChanged, Method: audit.MethodSSO, Contains: "PrincipalManagementServiceImpl]",
				Re: regexp.MustCompile(`PrincipalManagementServiceImpl\] \[User \{Name: [^,]+, Domain: [^}]+\} with role '[^']*'\] (?:Creating|Resetting|Deleting|Adding|Removing|Updating|Disabling|Enabling|Unlocking)`), Fn: nameDomain},
			{Name: "password_policy", Kind: audit.KindConfigChanged, Method: audit.MethodSSO, Setting: audit.SettingOther, Contains: "PasswordPolicyServiceImpl]",
				Re: regexp.MustCompile(`PasswordPolicyServiceImpl\] \[User \{Name: [^,]+, Domain: [^}]+\} with role '[^']*'\] Updating`), Fn: nameDomain},
		},
	}
}

var nameDomainRe = regexp.MustCompile(`User \{Name: ([^,]+), Domain: ([^}]+)\}`)

func nameDomain(in *Input, e *audit.Event) bool {
	if m := nameDomainRe.FindStringSubmatch(in.Text); m != nil {
		e.User = m[1] + "@" + m[2]
	}
	return true
}

// authzTable: vCenter permission and role changes
// (vpxd-svcs.log / invsvc authz-event.log "AuthorizationService.AuditLog"), testdata/corpus/vcenter-files.log.
func authzTable() *Table {
	return &Table{
		Name:     "authz",
		Programs: []string{"vpxd-svcs", "invsvc", "authz-event"},
		Sniff:    func(text string) bool { return strings.Contains(text, "AuthorizationService.AuditLog") },
		Rules: []Rule{
			{Name: "access_control", Kind: audit.KindPermissionChanged, Method: audit.MethodVCenter, Contains: "access control",
				Re: regexp.MustCompile(`Action performed by principal\(name=(?P<user>[^,]+),isGroup=\w+\):(?:Added|Remove|Removed|Update|Updated) access control`)},
			{Name: "role", Kind: audit.KindRoleChanged, Method: audit.MethodVCenter, Contains: " role ",
				Re: regexp.MustCompile(`Action performed by principal\(name=(?P<user>[^,]+),isGroup=\w+\):(?:Add|Update|Delete) role `)},
		},
	}
}

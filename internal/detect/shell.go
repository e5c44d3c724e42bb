package detect

import (
	"regexp"
	"strings"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// shellTable: the ESXi Shell's command log (shell.log), in both forms
// (testdata/corpus/esxi80-*.log):
//
//	shell[1053659]: [root]: esxcli system version get
//	shell[1231448]: [shell.cmd@6876 subject="root" object="shell" command="..." result="success" status="0"]
//
// A command is always a shell_command; a command that changes security
// configuration (Splunk ESCU and Sigma esxcli detections) is also a
// config, permission or account change.
func shellTable() *Table {
	return &Table{
		Name:     "shell",
		Programs: []string{"shell"},
		Always:   true, // every line is a command
		// A command logged both as a shell.log line and as an audit record
		// is two reports of one fact.
		Prepare: func(in *Input) bool {
			if strings.HasPrefix(in.Rec.SDID, "shell.cmd@") {
				in.Reporter = "audit_record"
			}
			return true
		},
		Rules: []Rule{
			{Name: "command", Kind: audit.KindShellCommand, Prefix: "[",
				Re: regexp.MustCompile(`^\[(?P<user>[^\]]+)\]: (?P<command>.*)$`), Continue: true},
			{Name: "audit_record", Kind: audit.KindShellCommand, Continue: true, Fn: func(in *Input, e *audit.Event) bool {
				if !strings.HasPrefix(in.Rec.SDID, "shell.cmd@") {
					return false
				}
				e.User, e.Command = in.Rec.Param("subject"), in.Rec.Param("command")
				return e.Command != ""
			}},
			commandRule(),
		},
	}
}

// commandEffect is one esxcli/vim-cmd pattern that changes configuration.
type commandEffect struct {
	all     []string // every one must occur in the command
	any     []string // at least one must occur (when set)
	kind    audit.Kind
	setting string
}

// commandEffects: Splunk ESCU "ESXi Post Compromise" and Sigma esxcli rules.
var commandEffects = []commandEffect{
	{all: []string{"syslog config set"}, kind: audit.KindConfigChanged, setting: audit.SettingSyslog},
	{all: []string{"advanced set", "Syslog.global"}, kind: audit.KindConfigChanged, setting: audit.SettingSyslog},
	{all: []string{"network firewall set"}, kind: audit.KindConfigChanged, setting: audit.SettingFirewall},
	{all: []string{"network firewall ruleset set"}, kind: audit.KindConfigChanged, setting: audit.SettingFirewall},
	{all: []string{"system auditrecords"}, any: []string{"remote", "local"}, kind: audit.KindConfigChanged, setting: audit.SettingAuditRecords},
	{all: []string{"software acceptance set"}, kind: audit.KindConfigChanged, setting: audit.SettingAcceptanceLevel},
	{all: []string{"system settings encryption set"}, kind: audit.KindConfigChanged, setting: audit.SettingEncryption},
	{all: []string{"system permission "}, any: []string{" set", " unset"}, kind: audit.KindPermissionChanged},
	{all: []string{"system account "}, any: []string{" add", " set", " remove"}, kind: audit.KindAccountChanged},
}

// commandRule derives a change event from a command line.
func commandRule() Rule {
	return Rule{Name: "command_effect", Fn: func(in *Input, e *audit.Event) bool {
		user, cmd := commandOf(in)
		if cmd == "" {
			return false
		}
		for _, ce := range commandEffects {
			if matchesCommand(cmd, ce) {
				e.Kind, e.Setting, e.User, e.Command = ce.kind, ce.setting, user, cmd
				if in.Rec.Program == "sshd" {
					e.Method = audit.MethodSSH
				}
				return true
			}
		}
		return false
	}}
}

func matchesCommand(cmd string, ce commandEffect) bool {
	for _, s := range ce.all {
		if !strings.Contains(cmd, s) {
			return false
		}
	}
	if len(ce.any) == 0 {
		return true
	}
	for _, s := range ce.any {
		if strings.Contains(cmd, s) {
			return true
		}
	}
	return false
}

// commandOf extracts the user and command of a shell or sshd command line.
func commandOf(in *Input) (string, string) {
	if strings.HasPrefix(in.Rec.SDID, "shell.cmd@") {
		return in.Rec.Param("subject"), in.Rec.Param("command")
	}
	t := in.Text
	if strings.HasPrefix(t, "[") {
		if i := strings.Index(t, "]: "); i > 0 {
			return t[1:i], t[i+3:]
		}
	}
	if rest, ok := strings.CutPrefix(t, "User '"); ok {
		if i := strings.Index(rest, "' running command '"); i > 0 {
			return rest[:i], strings.TrimSuffix(rest[i+len("' running command '"):], "'")
		}
	}
	return "", ""
}

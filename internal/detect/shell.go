package detect

import (
	"strings"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// shellTable: the ESXi Shell's command log (shell.log):
//
//	shell[1053659]: [root]: esxcli system version get
//
// (its audit record form, [shell.cmd@6876 ...], is read by the generic
// audit record path, records.go). A command is always a shell_command,
// with the MITRE ATT&CK technique of a known ESXi attack pattern it
// matches (techniques); a command that changes security configuration
// (Splunk ESCU and Sigma esxcli detections) is also a config, permission
// or account change (commandEffects).
func shellTable() *Table {
	return &Table{
		Name:     "shell",
		Programs: []string{"shell"},
		Always:   true, // every line is a command
		Rules: []Rule{
			{Name: "command", Kind: audit.KindShellCommand, Prefix: "[", Continue: true,
				Fn: func(in *Input, e *audit.Event) bool {
					user, cmd, ok := shellCommandLine(in.Text)
					e.User, e.Command, e.Technique = user, cmd, TechniqueOf(cmd)
					return ok
				}},
			commandRule(),
		},
	}
}

// shellCommandLine splits shell.log's "[root]: esxcli system version get"
// into user and command as the regular expression
//
//	^\[(?P<user>[^\]]+)\]: (?P<command>.*)$
//
// does, at a fraction of its cost (every command runs it): the user runs
// to the first "]", the command to the end of the text, on one line.
func shellCommandLine(s string) (user, cmd string, ok bool) {
	if !strings.HasPrefix(s, "[") {
		return "", "", false
	}
	i := strings.IndexByte(s, ']')
	if i < 2 || !strings.HasPrefix(s[i+1:], ": ") {
		return "", "", false
	}
	cmd = s[i+3:]
	if strings.IndexByte(cmd, '\n') >= 0 {
		return "", "", false
	}
	return s[1:i], cmd, true
}

// commandEffect is one esxcli/vim-cmd pattern that changes configuration.
// Patterns are lower case; commands are compared in lower case.
type commandEffect struct {
	all     []string // every one must occur in the command
	any     []string // at least one must occur (when set)
	kind    audit.Kind
	setting string
	action  string
}

// commandEffects: Splunk ESCU "ESXi Post Compromise" and Sigma esxcli
// rules, and the LOLESXi project's defence-evasion commands. The first
// match wins, so the entries that know the direction of a change come
// before the one for the command in general.
var commandEffects = []commandEffect{
	{all: []string{"syslog config set", "--logdir"}, any: []string{"/tmp", "/dev/null", "/scratch/tmp"}, kind: audit.KindConfigChanged, setting: audit.SettingSyslog, action: audit.ActionLowered},
	{all: []string{"syslog config set"}, kind: audit.KindConfigChanged, setting: audit.SettingSyslog, action: audit.ActionSet},
	{all: []string{"advanced set", "syslog.global.auditrecord"}, kind: audit.KindConfigChanged, setting: audit.SettingAuditRecords, action: audit.ActionSet},
	{all: []string{"advanced set", "syslog.global"}, kind: audit.KindConfigChanged, setting: audit.SettingSyslog, action: audit.ActionSet},
	{all: []string{"network firewall set"}, any: []string{"--default-action true", "--default-action=true", "-d true"}, kind: audit.KindConfigChanged, setting: audit.SettingFirewall, action: audit.ActionLowered},
	{all: []string{"network firewall set"}, any: []string{"--enabled false", "--enabled=false", "-e false"}, kind: audit.KindConfigChanged, setting: audit.SettingFirewall, action: audit.ActionDisabled},
	{all: []string{"network firewall set"}, any: []string{"--enabled true", "--enabled=true", "-e true"}, kind: audit.KindConfigChanged, setting: audit.SettingFirewall, action: audit.ActionEnabled},
	{all: []string{"network firewall ruleset set"}, any: []string{"--enabled true", "--enabled=true", "-e true", "--allowed-all true", "--allowed-all=true", "-a true"}, kind: audit.KindConfigChanged, setting: audit.SettingFirewall, action: audit.ActionLowered},
	{all: []string{"network firewall"}, any: []string{" set", " add", " remove"}, kind: audit.KindConfigChanged, setting: audit.SettingFirewall, action: audit.ActionSet},
	{all: []string{"system auditrecords", "disable"}, kind: audit.KindConfigChanged, setting: audit.SettingAuditRecords, action: audit.ActionDisabled},
	{all: []string{"system auditrecords", "enable"}, kind: audit.KindConfigChanged, setting: audit.SettingAuditRecords, action: audit.ActionEnabled},
	{all: []string{"system auditrecords"}, any: []string{"remote", "local"}, kind: audit.KindConfigChanged, setting: audit.SettingAuditRecords, action: audit.ActionSet},
	{all: []string{"execinstalledonly"}, any: []string{" false", " 0", "=false", "=0"}, kind: audit.KindConfigChanged, setting: audit.SettingExecInstalledOnly, action: audit.ActionDisabled},
	{all: []string{"execinstalledonly"}, any: []string{" true", " 1", "=true", "=1"}, kind: audit.KindConfigChanged, setting: audit.SettingExecInstalledOnly, action: audit.ActionEnabled},
	{all: []string{"software acceptance set"}, any: []string{"communitysupported", "partnersupported"}, kind: audit.KindConfigChanged, setting: audit.SettingAcceptanceLevel, action: audit.ActionLowered},
	{all: []string{"software acceptance set"}, kind: audit.KindConfigChanged, setting: audit.SettingAcceptanceLevel, action: audit.ActionSet},
	{all: []string{"software vib install"}, any: []string{"--no-sig-check", "-f ", "--force"}, kind: audit.KindConfigChanged, setting: audit.SettingAcceptanceLevel, action: audit.ActionLowered},
	{all: []string{"software vib"}, any: []string{" install", " update", " remove"}, kind: audit.KindConfigChanged, setting: audit.SettingSoftware, action: audit.ActionSet},
	{all: []string{"system settings encryption set"}, kind: audit.KindConfigChanged, setting: audit.SettingEncryption, action: audit.ActionSet},
	{all: []string{"system coredump"}, any: []string{"--enable false", "--enable=false", "-e false", "--unconfigure", " remove"}, kind: audit.KindConfigChanged, setting: audit.SettingForensicSnapshots, action: audit.ActionDisabled},
	{all: []string{"system coredump", " set"}, kind: audit.KindConfigChanged, setting: audit.SettingForensicSnapshots, action: audit.ActionSet},
	{all: []string{"system welcomemsg set"}, kind: audit.KindConfigChanged, setting: audit.SettingWelcomeMessage, action: audit.ActionSet},
	{all: []string{"system permission "}, any: []string{" set", " unset"}, kind: audit.KindPermissionChanged},
	{all: []string{"system account "}, any: []string{" add", " set", " remove"}, kind: audit.KindAccountChanged},
}

// technique is a known ESXi attack pattern (the LOLESXi project, and the
// ransomware playbooks of 2023-2026) with its MITRE ATT&CK id.
type technique struct {
	id  string
	all []string // every one must occur (lower case)
	any []string // at least one must occur (when set)
}

// techniques, first match wins. Administrators run some of these too
// (a single power-off is an admin's; a loop over every VM is not), so
// the patterns are the shapes attacks take.
var techniques = []technique{
	// Inhibit System Recovery: snapshots wiped, autostart switched off.
	{id: "T1490", all: []string{"snapshot.removeall"}},
	{id: "T1490", all: []string{"snapshot", "remove"}, any: []string{"getallvms", "for ", "xargs", "while "}},
	{id: "T1490", all: []string{"autostartmanager/enable_autostart"}, any: []string{" false", " 0"}},
	// System Shutdown/Reboot: VMs killed or powered off in bulk.
	{id: "T1529", all: []string{"vm process kill"}},
	{id: "T1529", all: []string{"kill"}, any: []string{"vmx", "vmm"}},
	{id: "T1529", all: []string{"power."}, any: []string{"getallvms", "for ", "xargs", "while "}},
	{id: "T1529", all: []string{"system shutdown"}},
	// Impair Defenses: firewall opened, execInstalledOnly off, logs
	// redirected, audit records off.
	{id: "T1562.001", all: []string{"network firewall set"}, any: []string{"--default-action true", "--default-action=true", "-d true", "--enabled false", "--enabled=false", "-e false"}},
	{id: "T1562.001", all: []string{"execinstalledonly"}, any: []string{" false", " 0", "=false", "=0"}},
	{id: "T1562.001", all: []string{"syslog", "logdir"}, any: []string{"/tmp", "/dev/null"}},
	{id: "T1562.001", all: []string{"system auditrecords", "disable"}},
	{id: "T1562.001", all: []string{"syslog.global.auditrecord"}, any: []string{" false", " 0", "=false", "=0"}},
	{id: "T1562.001", all: []string{"software acceptance set"}, any: []string{"communitysupported"}},
	{id: "T1562.001", all: []string{"software vib install", "--no-sig-check"}},
	// Indicator Removal: history and logs erased, core dumps off, times forged.
	{id: "T1070", all: []string{"history"}, any: []string{"rm ", "-c", "unset", "/dev/null"}},
	{id: "T1070", all: []string{".ash_history"}},
	{id: "T1070", all: []string{"rm "}, any: []string{"/var/log/", "/scratch/log/", "/var/run/log/"}},
	{id: "T1070", all: []string{"system coredump"}, any: []string{"--enable false", "--enable=false", "-e false", "--unconfigure", " remove"}},
	{id: "T1070", all: []string{"touch -r"}},
	// System Information Discovery: the inventory ransomware reads first.
	{id: "T1082", all: []string{"vmsvc/getallvms"}},
	{id: "T1082", all: []string{"storage filesystem list"}},
	{id: "T1082", all: []string{"vm process list"}},
	// Data Encrypted for Impact: the buffer cache tuned for mass
	// encryption, eager-zeroed dummy disks filling a datastore.
	{id: "T1486", all: []string{"buffercache"}},
	{id: "T1486", all: []string{"vmkfstools", "eagerzeroedthick"}},
}

// TechniqueOf returns the MITRE ATT&CK id of the first known attack
// pattern cmd matches, or "".
func TechniqueOf(cmd string) string {
	if cmd == "" {
		return ""
	}
	lc := strings.ToLower(cmd)
	for _, t := range techniques {
		if matchesAll(lc, t.all, t.any) {
			return t.id
		}
	}
	return ""
}

// effectOf returns the configuration change a command makes, or nil.
func effectOf(cmd string) *commandEffect {
	lc := strings.ToLower(cmd)
	for i := range commandEffects {
		if matchesAll(lc, commandEffects[i].all, commandEffects[i].any) {
			return &commandEffects[i]
		}
	}
	return nil
}

// commandRule derives a change event from a command line.
func commandRule() Rule {
	return Rule{Name: "command_effect", Fn: func(in *Input, e *audit.Event) bool {
		user, cmd := commandOf(in)
		if cmd == "" {
			return false
		}
		ce := effectOf(cmd)
		if ce == nil {
			return false
		}
		e.Kind, e.Setting, e.Action, e.User, e.Command = ce.kind, ce.setting, ce.action, user, cmd
		if in.Rec.Program == "sshd" {
			e.Method = audit.MethodSSH
		}
		return true
	}}
}

// commandEvents gives the shell_command event cmd (an audit record's) its
// technique and appends the change the command makes, if any.
func commandEvents(cmd *audit.Event, out []audit.Event) []audit.Event {
	cmd.Technique = TechniqueOf(cmd.Command)
	ce := effectOf(cmd.Command)
	if ce == nil {
		return out
	}
	e := *cmd
	e.Kind, e.Setting, e.Action, e.Technique = ce.kind, ce.setting, ce.action, ""
	e.Rule = cmd.Rule + "/command_effect"
	e.Reporter = e.Rule
	return append(out, e)
}

func matchesAll(s string, all, any []string) bool {
	for _, p := range all {
		if !strings.Contains(s, p) {
			return false
		}
	}
	if len(any) == 0 {
		return true
	}
	for _, p := range any {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// commandOf extracts the user and command of a shell or sshd command line.
func commandOf(in *Input) (string, string) {
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

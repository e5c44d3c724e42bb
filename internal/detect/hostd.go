package detect

import (
	"regexp"
	"strings"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vsphere"
)

// hostdTable: ESXi's hostd (Host Client, API, SDK sessions; host events).
// Rules match the text after "Event N : " for event-manager lines.
//
// Real lines (testdata/corpus/esxi*.log):
//
//	Event 99 : User root@192.168.127.10 logged in as Mozilla/5.0 ...
//	Accepted password for user root from 192.168.127.10 - session=...
//	Rejected password for user root from xxx.xxx.xxx.xxx
//	Event 175 : Cannot login root@xxx.xxx.xxx.xxx
//	Event 129 : SSH access has been enabled.
//	Event 130 : SSH for the host nc-ass-vip.sdv.fr has been enabled
//	TSM-SSH running status is true
//	Set called with key 'Config.HostAgent.plugins.hostsvc.esxAdminsGroup' value '"ESX Admins new"'
func hostdTable() *Table {
	return &Table{
		Name:     "hostd",
		Programs: []string{"hostd"},
		Prepare:  prepareHostd,
		Rules: []Rule{
			{Name: "login_event", Kind: audit.KindLogin, Method: audit.MethodHostd, Pattern: "User {user}@{client_ip} logged in"},
			{Name: "accepted_password", Kind: audit.KindLogin, Method: audit.MethodHostd, Pattern: "Accepted password for user {user} from {client_ip}"},
			{Name: "logout_event", Kind: audit.KindLogout, Method: audit.MethodHostd, Pattern: "User {user}@{client_ip} logged out"},
			{Name: "rejected_password", Kind: audit.KindLoginFailed, Method: audit.MethodHostd, Pattern: "Rejected password for user {user} from {client_ip}"},
			{Name: "cannot_login", Kind: audit.KindLoginFailed, Method: audit.MethodHostd, Pattern: "Cannot login {user}@{client_ip}"},
			// VOBs that hostd relays as events (the descriptions of the vSphere table).
			{Name: "ssh_session_opened", Kind: audit.KindLogin, Method: audit.MethodSSH, Prefix: "SSH session was opened for ", Fn: userFromQuoted},
			{Name: "ssh_session_closed", Kind: audit.KindLogout, Method: audit.MethodSSH, Prefix: "SSH session was closed for ", Fn: userFromQuoted},
			{Name: "ssh_login_failed", Kind: audit.KindLoginFailed, Method: audit.MethodSSH, Prefix: "SSH login has failed for ", Fn: userFromQuoted},
			{Name: "account_locked", Kind: audit.KindAccountLocked, Prefix: "Remote access for ESXi local user account ", Fn: userFromQuoted},
			{Name: "audit_description", Prefixes: vsphere.Descriptions(vsphere.ESXi), Fn: auditFromDescription},
			// RemoteTSMEnabledEvent / LocalTSMEnabledEvent texts.
			{Name: "ssh_for_host", Prefix: "SSH for the host ", Service: audit.ServiceSSH, Fn: enabledDisabled},
			{Name: "shell_for_host", Prefix: "ESXi Shell for the host ", Service: audit.ServiceESXiShell, Fn: enabledDisabled},
			// Hostsvc.ServiceSystem state changes.
			{Name: "tsm_ssh_running", Prefix: "TSM-SSH running status is ", Service: audit.ServiceSSH, Fn: runningStatus},
			{Name: "tsm_running", Prefix: "TSM running status is ", Service: audit.ServiceESXiShell, Fn: runningStatus},
			{Name: "dcui_running", Prefix: "DCUI running status is ", Service: audit.ServiceDCUI, Fn: runningStatus},
			// Advanced settings (Splunk "ESXi Loghost Config Tampering", Aria "Remote syslog destination changed").
			{Name: "set_advanced_option", Kind: audit.KindConfigChanged, Prefix: "Set called with key ",
				Fn: advancedOption},
			// hostd's own VM events (testdata/corpus/esxi67-file.log, log-samples.md §13a):
			// "v-queworx_a on host localhost.localdomain in ha-datacenter is starting".
			// The starting and stopping events carry the operation's user and
			// opID; the "is powered on/off" that follow carry neither and would
			// count the operation twice, so they are left out.
			{Name: "vm_starting", Kind: audit.KindVMPower, Action: audit.ActionOn, Contains: " is starting",
				Re: regexp.MustCompile(`^(?P<vm>\S.*?) on\s+(?:host )?\S+ in \S+ is starting$`)},
			{Name: "vm_stopping", Kind: audit.KindVMPower, Action: audit.ActionOff, Contains: " is stopping",
				Re: regexp.MustCompile(`^(?P<vm>\S.*?) on\s+(?:host )?\S+ in \S+ is stopping$`)},
			{Name: "vm_registered", Kind: audit.KindVMLifecycle, Action: audit.ActionRegister, Prefix: "Registered ",
				Re: regexp.MustCompile(`^Registered (?P<vm>\S.*?) on\s+(?:host )?\S+ in \S+$`)},
			{Name: "vm_removed", Kind: audit.KindVMLifecycle, Action: audit.ActionDelete, Prefix: "Removed ",
				Re: regexp.MustCompile(`^Removed (?P<vm>\S.*?) on\s+(?:host )?\S+ from \S+$`)},
			// An NFC file download (Splunk ESCU "ESXi VM Exported via Remote Tool"):
			// a VM's disk copied off the host by ovftool, the Host Client or a script.
			{Name: "nfc_download", Kind: audit.KindDatastoreAccess, Prefix: "File download from path '",
				Re: regexp.MustCompile(`^File download from path '(?P<path>[^']+)' was initiated from '(?P<value>[^'@]*)@(?P<client_ip>[^':]+)`)},
			// PermissionAddedEvent / PermissionUpdatedEvent / PermissionRemovedEvent texts on a host.
			// The principal named is the permission's subject, not the actor.
			{Name: "permission_event", Kind: audit.KindPermissionChanged, Prefix: "Permission ",
				Re: regexp.MustCompile(`^Permission (?:created|changed|rule removed|removed|updated) for `)},
			// Multi-line VmkVprobSource dump of a VOB event (reassembled from "-->" lines).
			{Name: "vprob_event", Prefix: "VmkVprobSource::Post event", Contains: "eventTypeId = \"", Fn: vprobEvent, MultiLine: true},
		},
	}
}

// prepareHostd trims "Event N : ".
func prepareHostd(in *Input) bool {
	if i := eventNumberEnd(in.Text); i >= 0 {
		in.EventID = in.Text[6:i]
		in.Text = in.Text[i+3:]
	}
	return true
}

func userFromQuoted(in *Input, e *audit.Event) bool {
	u, ip := vsphere.UserAtIP(in.Text)
	if u == "" {
		return false
	}
	e.User, e.ClientIP = u, ip
	return true
}

func auditFromDescription(in *Input, e *audit.Event) bool {
	vt := vsphere.LookupDescription(in.Text, vsphere.ESXi)
	if vt == nil {
		return false
	}
	vt.Apply(e)
	return vt.Fill(in.Text, e)
}

func enabledDisabled(in *Input, e *audit.Event) bool {
	switch {
	case strings.Contains(in.Text, "has been enabled"):
		e.Kind = audit.KindServiceEnabled
	case strings.Contains(in.Text, "has been disabled"):
		e.Kind = audit.KindServiceDisabled
	default:
		return false
	}
	return true
}

func runningStatus(in *Input, e *audit.Event) bool {
	switch {
	case strings.HasSuffix(in.Text, " true"):
		e.Kind = audit.KindServiceEnabled
	case strings.HasSuffix(in.Text, " false"):
		e.Kind = audit.KindServiceDisabled
	default:
		return false
	}
	return true
}

// advancedSettings maps advanced-option keys to config settings. Keys not
// listed are routine and produce no event.
var advancedSettings = []struct{ prefix, setting string }{
	{"Syslog.global.", audit.SettingSyslog},
	{"Config.HostAgent.plugins.hostsvc.esxAdminsGroup", audit.SettingAdminsGroup},
	{"Security.", audit.SettingOther},
	{"DCUI.Access", audit.SettingLockdownExceptions},
	{"UserVars.ESXiShell", audit.SettingOther},
	{"UserVars.SuppressShellWarning", audit.SettingOther},
	{"Config.HostAgent.plugins.solo.enableMob", audit.SettingOther},
	{"VMkernel.Boot.execInstalledOnly", audit.SettingEncryption},
}

func advancedOption(in *Input, e *audit.Event) bool {
	key := in.Text[len("Set called with key '"):]
	if i := strings.IndexByte(key, '\''); i >= 0 {
		key = key[:i]
	}
	for _, s := range advancedSettings {
		if strings.HasPrefix(key, s.prefix) {
			e.Setting = s.setting
			return true
		}
	}
	return false
}

var vprobTypeRe = regexp.MustCompile(`eventTypeId = "([^"]+)"`)
var vprobValueRe = regexp.MustCompile(`value = "([^"]*)"`)

// vprobEvent reads a reassembled "VmkVprobSource::Post event: (vim.event.EventEx) {...}" dump.
func vprobEvent(in *Input, e *audit.Event) bool {
	m := vprobTypeRe.FindStringSubmatch(in.Text)
	if m == nil {
		return false
	}
	vt := esxiType(m[1])
	if vt == nil {
		return false
	}
	vt.Apply(e)
	args := vprobValueRe.FindAllStringSubmatch(in.Text, 3)
	switch vt.Kind {
	case audit.KindLogin, audit.KindLogout, audit.KindLoginFailed, audit.KindAccountLocked:
		if len(args) > 0 {
			e.User = args[0][1]
		}
		if len(args) > 1 {
			e.ClientIP = args[1][1]
		}
	}
	return true
}

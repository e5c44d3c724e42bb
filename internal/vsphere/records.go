package vsphere

import (
	"fmt"
	"strings"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// AuditRecord is one ESX audit record id: the SD-ID of the record without
// its "@6876" (ESXi 7.0 U2 and later, facility 13). The whole message of a
// record is one structured-data element whose parameters name the actor
// (subject), the address (ip), the object and the result:
//
//	[vm.power.off@6876 subject="root" object="web01" result="success" ip="10.0.0.9" opID="a1"]
//
// Every parameter fills the event field of the same meaning: subject is
// the user, ip the client address, command, value and reason themselves,
// url and path the path, opID the operation id. Object fills the field
// the entry's Object names.
type AuditRecord struct {
	ID string
	// Kind is the event kind; "" for an id that is not audit-relevant,
	// with Ignore saying why.
	Kind   audit.Kind
	Ignore string
	// Constant fields of the event.
	Method, Setting, Action string
	// Object names the event field the record's object parameter fills
	// (an audit.Fields name; "vm" for VM records, "service" for host
	// services, "setting" for advanced and kernel options). Empty: the
	// event's Object.
	Object string
	// FailureKind, when set, is the kind of a record whose result is
	// failure (vim.connect: login_failed).
	FailureKind audit.Kind
	// FailureOnly: only a failed attempt is an event; a success is
	// reported by another record of the same act (service.password.use
	// precedes the vim.connect of the same login).
	FailureOnly bool
	// URLs, when set, decide the kind by the record's url parameter (the
	// HTTP service a ticket is for); a url no entry matches is no event.
	URLs []URLKind
}

// URLKind is the kind of a ticket record for URLs that start with Prefix.
type URLKind struct {
	Prefix     string
	Kind       audit.Kind
	TicketType string
}

// AuditRecordSDSuffix is the enterprise number of every ESX audit record's SD-ID.
const AuditRecordSDSuffix = "@6876"

// Host services a service.* record may name (the object), as the ESXi
// service ids (esxcli network firewall ruleset and vim.host.ServiceSystem keys).
var loginServices = map[string]string{
	"TSM-SSH": audit.ServiceSSH, "sshd": audit.ServiceSSH, "ssh": audit.ServiceSSH,
	"TSM": audit.ServiceESXiShell, "DCUI": audit.ServiceDCUI, "dcui": audit.ServiceDCUI,
}

// ServiceOf returns the audit service of an ESXi service id ("TSM-SSH" is
// ssh), or "" for a service that is not a way to log in.
func ServiceOf(id string) string { return loginServices[id] }

// option is an advanced or kernel option with the setting it belongs to.
// Protective options are protections: a false or 0 value switches them off.
type option struct {
	prefix     string // matched case-insensitively against the option's name
	setting    string
	protective bool
}

// options: the ESXi advanced and kernel options a security team watches
// (Broadcom's vSphere 8 Security Configuration Guide, and the options
// intruders change first: execInstalledOnly, the audit record switches, the
// syslog target, the welcome message ransom notes are written to).
var options = []option{
	{"VMkernel.Boot.execInstalledOnly", audit.SettingExecInstalledOnly, true},
	{"execInstalledOnly", audit.SettingExecInstalledOnly, true},
	{"Syslog.global.auditRecord.", audit.SettingAuditRecords, true},
	{"Syslog.", audit.SettingSyslog, false},
	{"Config.HostAgent.plugins.hostsvc.esxAdminsGroup", audit.SettingAdminsGroup, false},
	{"Annotations.WelcomeMessage", audit.SettingWelcomeMessage, false},
	{"Config.Etc.issue", audit.SettingWelcomeMessage, false},
	{"Config.Etc.motd", audit.SettingWelcomeMessage, false},
	{"UserVars.DcuiWelcomeMessage", audit.SettingWelcomeMessage, false},
	{"Misc.CoreDump", audit.SettingForensicSnapshots, true},
	{"Mem.", audit.SettingForensicSnapshots, false},
	{"VMkernel.Boot.disableHwrng", audit.SettingAdvanced, false},
	{"UserVars.SuppressShellWarning", audit.SettingAdvanced, false},
}

// OptionSetting returns the setting an advanced or kernel option belongs
// to (audit.SettingAdvanced for the others) and the direction of setting
// it to value: disabled when a protection is switched off, enabled when it
// is switched on, set otherwise.
func OptionSetting(name, value string) (setting, action string) {
	for _, o := range options {
		if len(name) >= len(o.prefix) && strings.EqualFold(name[:len(o.prefix)], o.prefix) {
			if !o.protective {
				return o.setting, audit.ActionSet
			}
			switch strings.ToLower(strings.TrimSpace(value)) {
			case "false", "0", "no", "off":
				return o.setting, audit.ActionDisabled
			case "true", "1", "yes", "on":
				return o.setting, audit.ActionEnabled
			}
			return o.setting, audit.ActionSet
		}
	}
	return audit.SettingAdvanced, audit.ActionSet
}

func login(id, method string, k audit.Kind) AuditRecord {
	r := AuditRecord{ID: id, Kind: k, Method: method}
	if k == audit.KindLogin {
		r.FailureKind = audit.KindLoginFailed
	}
	return r
}

func cfg(id, setting, action string) AuditRecord {
	return AuditRecord{ID: id, Kind: audit.KindConfigChanged, Setting: setting, Action: action}
}

func vm(id string, k audit.Kind, action string) AuditRecord {
	return AuditRecord{ID: id, Kind: k, Action: action, Object: "vm"}
}

func ignore(id, why string) AuditRecord { return AuditRecord{ID: id, Ignore: why} }

// AuditRecords is the table of every id of Broadcom's ESX audit log event
// reference (ESX 8.0.3 and 9.0: 145 ids; internal/vsphere/testdata/esx-audit-record-ids.txt).
var AuditRecords = []AuditRecord{
	// Local accounts. The object is the account.
	{ID: "account.changePassword", Kind: audit.KindAccountChanged},
	{ID: "account.create", Kind: audit.KindAccountChanged},
	{ID: "account.delete", Kind: audit.KindAccountChanged},
	{ID: "account.edit", Kind: audit.KindAccountChanged},
	{ID: "account.locked", Kind: audit.KindAccountLocked, Object: "user"},
	ignore("api.call", "every API call, at debug severity; the operations that matter have records of their own"),

	// The audit trail itself: a loss of records is a logging failure.
	{ID: "audit.failure", Kind: audit.KindLoggingFailed},
	{ID: "audit.net.failure", Kind: audit.KindLoggingFailed},
	ignore("audit.start", "the audit daemon starting (every boot); its stop and failures are what lose records"),
	{ID: "audit.stop", Kind: audit.KindLoggingFailed},
	{ID: "audit.storage.failure", Kind: audit.KindLoggingFailed},
	ignore("audit.storage.recycle", "the local record FIFO wrapping around: normal operation, the records were sent"),

	// Certificates.
	cfg("cert.castore.add", audit.SettingCertificates, audit.ActionSet),
	cfg("cert.castore.remove", audit.SettingCertificates, audit.ActionSet),
	ignore("cert.client.generate", "a certificate signing request; the certificate's install is the change"),
	cfg("cert.client.install", audit.SettingCertificates, audit.ActionSet),
	ignore("cert.server.generate", "a certificate signing request; the certificate's install is the change"),
	cfg("cert.server.install", audit.SettingCertificates, audit.ActionSet),
	cfg("cert.server.provision", audit.SettingCertificates, audit.ActionSet),

	// Configuration encryption.
	cfg("configenc.reqeio.disable", audit.SettingExecInstalledOnly, audit.ActionDisabled),
	cfg("configenc.reqeio.enable", audit.SettingExecInstalledOnly, audit.ActionEnabled),
	cfg("configenc.reqsb.disable", audit.SettingSecureBoot, audit.ActionDisabled),
	cfg("configenc.reqsb.enable", audit.SettingSecureBoot, audit.ActionEnabled),
	cfg("configenc.tpm.enable", audit.SettingEncryption, audit.ActionEnabled),

	// The DCUI.
	login("dcui.login", audit.MethodDCUI, audit.KindLogin),
	login("dcui.logout", audit.MethodDCUI, audit.KindLogout),

	// The entropy daemon.
	ignore("entropy.data.exhausted", "entropy daemon health, no administrator action"),
	ignore("entropy.data.received", "entropy daemon health, no administrator action"),
	ignore("entropy.data.timeout", "entropy daemon health, no administrator action"),
	ignore("entropy.failure", "entropy daemon health, no administrator action"),
	ignore("entropy.memory.exhausted", "entropy daemon health, no administrator action"),
	ignore("entropy.rbg.failure", "entropy daemon health, no administrator action"),
	ignore("entropy.start", "entropy daemon health, no administrator action"),
	ignore("entropy.stop", "entropy daemon health, no administrator action"),
	ignore("entropy.watermark.above", "entropy daemon health, no administrator action"),
	ignore("entropy.watermark.below", "entropy daemon health, no administrator action"),

	ignore("httpaccess.request", "an HTTP request to /cgi-bin, one per token; the logins and tickets it carries have their own records"),
	ignore("message.invalid", "the audit daemon's report of a malformed record of another id"),

	// The firewall.
	cfg("network.fw.defaultpolicy", audit.SettingFirewall, audit.ActionSet),
	cfg("network.fw.disable", audit.SettingFirewall, audit.ActionDisabled),
	cfg("network.fw.enable", audit.SettingFirewall, audit.ActionEnabled),
	ignore("network.fw.refresh", "reloads the firewall's rules; each change of them has its own record"),
	cfg("network.fw.rule.disable", audit.SettingFirewall, audit.ActionSet),
	cfg("network.fw.rule.enable", audit.SettingFirewall, audit.ActionLowered),
	cfg("network.fw.rule.update", audit.SettingFirewall, audit.ActionSet),

	// Host networking.
	ignore("network.nic.connect", "a host NIC joining a switch: networking, not a security setting"),
	ignore("network.nic.disconnect", "a host NIC leaving a switch: networking, not a security setting"),
	ignore("network.switch.add", "a virtual switch added: networking, not a security setting"),
	ignore("network.switch.remove", "a virtual switch removed: networking, not a security setting"),

	// A record that could not be written is a loss of the audit trail.
	{ID: "product.issue", Kind: audit.KindLoggingFailed},
	ignore("proxy.connect", "a proxied service connection; the session it carries has its own vim.connect"),
	ignore("proxy.disconnect", "a proxied service connection ended"),

	// Services, keys and tickets.
	{ID: "service.access.denied", Kind: audit.KindAccessDenied},
	{ID: "service.apikey.get", Kind: audit.KindAccountChanged},
	{ID: "service.apikey.use", Kind: audit.KindLoginFailed, Method: audit.MethodHostd, FailureOnly: true},
	{ID: "service.exttoken.use", Kind: audit.KindLoginFailed, Method: audit.MethodHostd, FailureOnly: true},
	ignore("service.lcticket.get", "a Lifecycle Manager ticket for settingsd: vCenter's own image management"),
	ignore("service.lcticket.use", "a Lifecycle Manager ticket for settingsd: vCenter's own image management"),
	{ID: "service.password.use", Kind: audit.KindLoginFailed, Method: audit.MethodHostd, FailureOnly: true},
	{ID: "service.restart", Kind: audit.KindConfigChanged, Setting: audit.SettingServices, Action: audit.ActionSet},
	{ID: "service.start", Kind: audit.KindServiceEnabled, Object: "service"},
	{ID: "service.stop", Kind: audit.KindServiceDisabled, Object: "service"},
	{ID: "service.ticket.get", URLs: ticketURLs},
	{ID: "service.ticket.use", URLs: ticketURLs},
	{ID: "service.token.get", Kind: audit.KindLoginFailed, Method: audit.MethodHostd, FailureOnly: true},
	{ID: "service.token.use", Kind: audit.KindLoginFailed, Method: audit.MethodHostd, FailureOnly: true},
	{ID: "service.uninstall", Kind: audit.KindConfigChanged, Setting: audit.SettingServices, Action: audit.ActionSet},
	{ID: "service.updatepolicy", Kind: audit.KindConfigChanged, Setting: audit.SettingServices, Action: audit.ActionSet},

	// Advanced and kernel options: the option decides the setting.
	{ID: "settings.advanced.add", Kind: audit.KindConfigChanged, Setting: audit.SettingAdvanced, Action: audit.ActionSet, Object: "setting"},
	{ID: "settings.advanced.delete", Kind: audit.KindConfigChanged, Setting: audit.SettingAdvanced, Action: audit.ActionSet, Object: "setting"},
	{ID: "settings.advanced.reset", Kind: audit.KindConfigChanged, Setting: audit.SettingAdvanced, Action: audit.ActionSet, Object: "setting"},
	{ID: "settings.advanced.set", Kind: audit.KindConfigChanged, Setting: audit.SettingAdvanced, Action: audit.ActionSet, Object: "setting"},
	{ID: "settings.kernel.set", Kind: audit.KindConfigChanged, Setting: audit.SettingAdvanced, Action: audit.ActionSet, Object: "setting"},

	// Shells and SSH.
	{ID: "shell.cmd", Kind: audit.KindShellCommand},
	{ID: "ssh.cmd", Kind: audit.KindShellCommand, Method: audit.MethodSSH},
	login("ssh.connect", audit.MethodSSH, audit.KindLogin),
	login("ssh.disconnect", audit.MethodSSH, audit.KindLogout),
	login("ssh.session.begin", audit.MethodSSH, audit.KindLogin),
	login("ssh.session.end", audit.MethodSSH, audit.KindLogout),

	// Syslog.
	ignore("syslog.mark", "a mark an administrator wrote to the log on purpose"),
	ignore("syslog.net.close", "vmsyslogd closing a socket (reconfiguration, shutdown); a lost link is syslog.net.link.down"),
	{ID: "syslog.net.link.down", Kind: audit.KindLoggingFailed},
	ignore("syslog.net.link.up", "the link to a collector is back"),
	ignore("syslog.net.open", "vmsyslogd opening a socket to a collector"),
	ignore("syslog.reload", "reapplies the syslog configuration; its changes are settings.advanced.set records"),

	// Software.
	cfg("system.update.add", audit.SettingSoftware, audit.ActionSet),
	ignore("system.update.end", "closes an update; the VIBs it changed are system.update.add and .remove records"),
	cfg("system.update.remove", audit.SettingSoftware, audit.ActionSet),
	ignore("system.update.start", "opens an update; the VIBs it changes are system.update.add and .remove records"),

	// Time.
	cfg("time.monitoring.disable", audit.SettingTime, audit.ActionDisabled),
	cfg("time.monitoring.enable", audit.SettingTime, audit.ActionEnabled),
	cfg("time.ntp.disable", audit.SettingTime, audit.ActionDisabled),
	cfg("time.ntp.enable", audit.SettingTime, audit.ActionEnabled),
	ignore("time.ntp.set.loglevel", "NTP's log verbosity"),
	cfg("time.ntp.set.rawconfig", audit.SettingTime, audit.ActionSet),
	cfg("time.ntp.set.servers", audit.SettingTime, audit.ActionSet),
	cfg("time.ptp.disable", audit.SettingTime, audit.ActionDisabled),
	cfg("time.ptp.enable", audit.SettingTime, audit.ActionEnabled),
	cfg("time.ptp.set.device", audit.SettingTime, audit.ActionSet),
	cfg("time.ptp.set.domain", audit.SettingTime, audit.ActionSet),
	cfg("time.ptp.set.fallback", audit.SettingTime, audit.ActionSet),
	cfg("time.ptp.set.ip", audit.SettingTime, audit.ActionSet),
	ignore("time.ptp.set.loglevel", "PTP's log verbosity"),
	cfg("time.set.systemclock", audit.SettingTime, audit.ActionSet),

	// TLS.
	cfg("tls.clt.set.cipherlist", audit.SettingTLS, audit.ActionSet),
	cfg("tls.clt.set.ciphersuites", audit.SettingTLS, audit.ActionSet),
	cfg("tls.clt.set.groups", audit.SettingTLS, audit.ActionSet),
	cfg("tls.clt.set.profile", audit.SettingTLS, audit.ActionSet),
	cfg("tls.clt.set.protocols", audit.SettingTLS, audit.ActionSet),
	cfg("tls.svr.set.cipherlist", audit.SettingTLS, audit.ActionSet),
	cfg("tls.svr.set.ciphersuites", audit.SettingTLS, audit.ActionSet),
	cfg("tls.svr.set.groups", audit.SettingTLS, audit.ActionSet),
	cfg("tls.svr.set.profile", audit.SettingTLS, audit.ActionSet),
	cfg("tls.svr.set.protocols", audit.SettingTLS, audit.ActionSet),

	// USB passthrough.
	cfg("usb.passthru.disable", audit.SettingUSBPassthrough, audit.ActionDisabled),
	cfg("usb.passthru.enable", audit.SettingUSBPassthrough, audit.ActionEnabled),

	// VIM sessions (hostd: the Host Client, the API, vCenter's vpxuser).
	{ID: "vim.access.denied", Kind: audit.KindAccessDenied},
	login("vim.connect", audit.MethodHostd, audit.KindLogin),
	login("vim.disconnect", audit.MethodHostd, audit.KindLogout),
	login("vim.terminate", audit.MethodHostd, audit.KindLogout),

	// Virtual machines. The object is the VM.
	vm("vm.create", audit.KindVMLifecycle, audit.ActionCreate),
	vm("vm.delete", audit.KindVMLifecycle, audit.ActionDelete),
	{ID: "vm.guestrpc.denied", Kind: audit.KindAccessDenied, Object: "vm"},
	{ID: "vm.hypercall.denied", Kind: audit.KindAccessDenied, Object: "vm"},
	vm("vm.kill", audit.KindVMPower, audit.ActionKill),
	ignore("vm.net.add", "a VM's network attachment: networking, not an attack path this product watches"),
	ignore("vm.net.edit", "a VM's network attachment: networking, not an attack path this product watches"),
	ignore("vm.net.remove", "a VM's network attachment: networking, not an attack path this product watches"),
	vm("vm.power.off", audit.KindVMPower, audit.ActionOff),
	vm("vm.power.on", audit.KindVMPower, audit.ActionOn),
	vm("vm.power.reset", audit.KindVMPower, audit.ActionReset),
	vm("vm.power.suspend", audit.KindVMPower, audit.ActionSuspend),
	ignore("vm.reconfigure", "a reconfiguration as a whole; its disk and network changes have records of their own"),
	vm("vm.register", audit.KindVMLifecycle, audit.ActionRegister),
	vm("vm.snapshot.create", audit.KindVMSnapshot, audit.ActionCreate),
	vm("vm.snapshot.remove", audit.KindVMSnapshot, audit.ActionRemove),
	vm("vm.snapshot.removeAll", audit.KindVMSnapshot, audit.ActionRemoveAll),
	vm("vm.snapshot.rename", audit.KindVMSnapshot, audit.ActionRename),
	vm("vm.snapshot.revert", audit.KindVMSnapshot, audit.ActionRevert),
	vm("vm.storage.add", audit.KindVMDiskChanged, audit.ActionAdd),
	vm("vm.storage.edit", audit.KindVMDiskChanged, audit.ActionEdit),
	vm("vm.storage.remove", audit.KindVMDiskChanged, audit.ActionRemove),
	vm("vm.unregister", audit.KindVMLifecycle, audit.ActionUnregister),
	{ID: "vm.usb.connect", Kind: audit.KindConfigChanged, Setting: audit.SettingUSBPassthrough, Action: audit.ActionEnabled, Object: "vm"},
	{ID: "vm.usb.disconnect", Kind: audit.KindConfigChanged, Setting: audit.SettingUSBPassthrough, Action: audit.ActionDisabled, Object: "vm"},
}

// ticketURLs: the HTTP services a service ticket opens. /folder is the
// datastore browser (file download and upload), /host the host's
// configuration files, /tmp its scratch space, /screen a VM's screenshot;
// /cgi-bin is the Host Client's own plumbing.
var ticketURLs = []URLKind{
	{Prefix: "/folder", Kind: audit.KindDatastoreAccess},
	{Prefix: "/host", Kind: audit.KindDatastoreAccess},
	{Prefix: "/tmp", Kind: audit.KindDatastoreAccess},
	{Prefix: "/screen", Kind: audit.KindConsoleOpened, TicketType: "screen"},
}

var recordByID = map[string]*AuditRecord{}

func init() {
	if err := buildRecords(); err != nil {
		panic("vsphere: audit records: " + err.Error())
	}
}

func buildRecords() error {
	kinds := map[audit.Kind]bool{}
	for _, k := range audit.Kinds {
		kinds[k] = true
	}
	for i := range AuditRecords {
		r := &AuditRecords[i]
		if r.ID == "" || strings.Contains(r.ID, "@") {
			return fmt.Errorf("entry %d: bad ID %q (the id without @6876)", i, r.ID)
		}
		if _, dup := recordByID[r.ID]; dup {
			return fmt.Errorf("%s: listed twice", r.ID)
		}
		switch {
		case r.Ignore != "" && (r.Kind != "" || len(r.URLs) > 0):
			return fmt.Errorf("%s: both a kind and a reason to ignore it", r.ID)
		case r.Ignore == "" && r.Kind == "" && len(r.URLs) == 0:
			return fmt.Errorf("%s: neither a kind nor a reason to ignore it", r.ID)
		case r.Kind != "" && !kinds[r.Kind]:
			return fmt.Errorf("%s: unknown kind %q", r.ID, r.Kind)
		case r.FailureKind != "" && !kinds[r.FailureKind]:
			return fmt.Errorf("%s: unknown failure kind %q", r.ID, r.FailureKind)
		case r.Object != "" && !audit.IsField(r.Object):
			return fmt.Errorf("%s: Object %q is not an event field (%s)", r.ID, r.Object, strings.Join(audit.Fields, ", "))
		}
		for _, u := range r.URLs {
			if !kinds[u.Kind] || u.Prefix == "" {
				return fmt.Errorf("%s: URL entry %q: kind %q", r.ID, u.Prefix, u.Kind)
			}
		}
		recordByID[r.ID] = r
	}
	return nil
}

// LookupAuditRecord returns the entry of an audit record SD-ID
// ("vm.power.off@6876" or "vm.power.off"), or nil for an SD-ID that is
// not an ESX audit record.
func LookupAuditRecord(sdid string) *AuditRecord {
	id, ok := strings.CutSuffix(sdid, AuditRecordSDSuffix)
	if !ok && strings.IndexByte(sdid, '@') >= 0 {
		return nil
	}
	return recordByID[id]
}

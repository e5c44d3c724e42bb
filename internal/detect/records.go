package detect

import (
	"path"
	"strings"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vsphere"
)

// ESX audit records (ESXi 7.0 U2 and later): any message, from any
// program, whose structured data is one [<id>@6876 ...] element of the
// ids in vsphere.AuditRecords. The table there says what each id is; this
// file turns a record's parameters into the event's fields:
//
//	shell[1231448]: [shell.cmd@6876 subject="root" object="shell" command="grep -i kali hostd.log" result="success" status="0"]
//	Hostd[2099435]: [vm.storage.add@6876 subject="root" object="web01" result="success" ip="10.0.0.9" path="[ds1] dc01/dc01.vmdk"]

// auditRecordRule names the events of records: "audit_record/vm.power.off".
const auditRecordRule = "audit_record/"

// IsAuditRecord reports whether sdid (the first structured-data element's
// ID) names an ESX audit record of the table, mapped or ignored.
func IsAuditRecord(sdid string) bool { return auditRecord(sdid) != nil }

// auditRecord returns the table entry of sdid, or nil.
func auditRecord(sdid string) *vsphere.AuditRecord {
	// Every record id is dotted ("vm.power.off"); hostd's and vSAN's own
	// SD-IDs ("Originator@6876") are not: they are rejected without a lookup.
	if strings.IndexByte(sdid, '.') <= 0 || !strings.HasSuffix(sdid, vsphere.AuditRecordSDSuffix) {
		return nil
	}
	return vsphere.LookupAuditRecord(sdid)
}

// classifyRecord appends the events of audit record rec of type ar.
func classifyRecord(ar *vsphere.AuditRecord, rec *logline.Record, out []audit.Event) []audit.Event {
	if ar.Ignore != "" {
		return out
	}
	// Every record says how the attempt ended; one that does not is not
	// a record ESXi wrote.
	result := rec.Param("result")
	if result != "success" && result != "failure" {
		return out
	}
	failed := result == "failure"
	if ar.FailureOnly && !failed {
		return out
	}
	rule := auditRecordRule + ar.ID
	e := audit.Event{
		Time:     rec.Time,
		Source:   audit.SourceSyslog,
		Host:     rec.Host,
		Kind:     ar.Kind,
		Method:   ar.Method,
		Setting:  ar.Setting,
		Action:   ar.Action,
		User:     rec.Param("subject"),
		ClientIP: rec.Param("ip"),
		Command:  rec.Param("command"),
		Value:    rec.Param("value"),
		Path:     firstOf(rec.Param("path"), rec.Param("url")),
		OpID:     rec.Param("opID"),
		Rule:     rule,
		Reporter: rule,
	}
	if failed {
		e.Outcome = audit.OutcomeFailure
		e.Reason = rec.Param("reason")
		if ar.FailureKind != "" {
			e.Kind = ar.FailureKind
		}
	}
	if len(ar.URLs) > 0 && !ticketKind(ar, &e) {
		return out
	}
	obj := rec.Param("object")
	var vmx string
	switch ar.Object {
	case "":
		if objectMatters(e.Kind) {
			e.Object = obj
		}
	case "vm":
		e.VM, vmx = vmOf(obj)
	case "service":
		serviceOf(obj, &e)
	case "setting":
		e.Object = obj
		e.Setting, e.Action = vsphere.OptionSetting(obj, e.Value)
	default:
		audit.SetField(&e, ar.Object, obj)
	}
	switch e.Kind {
	case audit.KindVMSnapshot:
		e.Value = firstOf(rec.Param("newName"), rec.Param("name"))
	case audit.KindVMDiskChanged:
		e.CrossVM = e.Action != audit.ActionRemove && audit.IsCrossVM(e.VM, vmx, e.Path)
	case audit.KindAccessDenied:
		if api := rec.Param("apiName"); api != "" {
			e.Object = api
		} else if name := rec.Param("name"); name != "" {
			e.Object = name
		}
	}
	e.Message = recordMessage(rec)
	audit.Normalize(&e)
	out = append(out, e)
	if e.Kind == audit.KindShellCommand {
		out = commandEvents(&out[len(out)-1], out)
	}
	return out
}

// ticketKind decides the kind of a service ticket by the URL it is for.
func ticketKind(ar *vsphere.AuditRecord, e *audit.Event) bool {
	for _, u := range ar.URLs {
		if strings.HasPrefix(e.Path, u.Prefix) {
			e.Kind, e.TicketType = u.Kind, u.TicketType
			return true
		}
	}
	return false
}

// vmOf returns the VM a record's object names and its configuration file
// when the object is one ("[ds1] web01/web01.vmx", "/vmfs/volumes/ds1/web01/web01.vmx").
func vmOf(obj string) (vm, vmx string) {
	if strings.HasSuffix(obj, ".vmx") && strings.ContainsAny(obj, "/]") {
		return strings.TrimSuffix(path.Base(obj), ".vmx"), obj
	}
	return obj, ""
}

// serviceOf fills the service of a service.start or .stop record: SSH,
// the ESXi Shell and the DCUI are service_enabled/disabled; any other
// service is a config change of the services setting.
func serviceOf(obj string, e *audit.Event) {
	if svc := vsphere.ServiceOf(obj); svc != "" {
		e.Service = svc
		return
	}
	e.Object = obj
	e.Setting = audit.SettingServices
	if e.Kind == audit.KindServiceEnabled {
		e.Action = audit.ActionEnabled
	} else {
		e.Action = audit.ActionDisabled
	}
	e.Kind = audit.KindConfigChanged
}

// objectMatters reports whether a record's object says something for an
// event of kind k (the account changed, the object denied); for sessions
// and commands it only names the service ("vim", "shell", "ssh").
func objectMatters(k audit.Kind) bool {
	switch k {
	case audit.KindLogin, audit.KindLoginFailed, audit.KindLogout, audit.KindShellCommand,
		audit.KindDatastoreAccess, audit.KindConsoleOpened:
		return false
	}
	return true
}

// recordMessage writes a record as it came, `[id@6876 k="v" ...]`, for
// the event's message (the record has no text of its own).
func recordMessage(rec *logline.Record) string {
	var b strings.Builder
	b.WriteByte('[')
	b.WriteString(rec.SDID)
	for _, p := range rec.Params {
		if b.Len() >= MaxMessage {
			break
		}
		b.WriteByte(' ')
		b.WriteString(p.Key)
		b.WriteString(`="`)
		b.WriteString(p.Value)
		b.WriteByte('"')
	}
	b.WriteByte(']')
	if b.Len() > MaxMessage {
		return b.String()[:MaxMessage]
	}
	return b.String()
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

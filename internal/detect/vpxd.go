package detect

import (
	"strings"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vsphere"
)

// vpxdTable: vCenter's event stream as vpxd writes it to syslog
// (testdata/corpus/vcenter-wire.log):
//
//	Event [575792] [1-1] [2021-09-06T14:40:13.26309Z] [vim.event.UserLoginSessionEvent] [info] [VSPHERE.LOCAL\Administrator] [] [575792] [User VSPHERE.LOCAL\Administrator@10.100.10.190 logged in as Go-http-client/1.1]
//
// Rules are keyed by the event class, one per class of the vSphere table
// (internal/vsphere), whose message template supplies VM, hosts and
// addresses. Split events ("[1-3]" ... "[3-3]") are joined before they
// get here (package reassembly).
func vpxdTable() *Table {
	t := &Table{
		Name:     "vpxd",
		Programs: []string{"vpxd"},
		Sniff:    func(text string) bool { return strings.HasPrefix(text, "Event [") },
		Prepare:  prepareVpxdEvent,
		Prefixes: []string{"Event ["},
	}
	// The typed classes, by class name, from the vSphere table.
	for _, vt := range vsphere.Of(vsphere.VCenter) {
		if vt.Extended() {
			continue
		}
		vt := vt
		t.Rules = append(t.Rules, Rule{Name: vt.ID, ID: vt.ID, Kind: vt.Kind, Method: vt.Method, Service: vt.Service,
			Setting: vt.Setting, User: vt.User, TicketType: vt.TicketType, Action: vt.Action,
			Fn: func(in *Input, e *audit.Event) bool { return vt.Fill(in.Text, e) }})
	}
	// EventEx / ExtendedEvent: the class says nothing, the text does.
	t.Rules = append(t.Rules,
		Rule{Name: "EventEx", ID: "EventEx", Fn: extendedEvent},
		Rule{Name: "ExtendedEvent", ID: "ExtendedEvent", Fn: extendedEvent})
	return t
}

// prepareVpxdEvent splits "Event [id] [k-N] [created] [vim.event.Type] [severity] [user] [target] [chain] [desc]".
func prepareVpxdEvent(in *Input) bool {
	s, ok := strings.CutPrefix(in.Text, "Event [")
	if !ok {
		return false
	}
	var f [8]string
	for i := range f {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		f[i] = s[:end]
		s = strings.TrimPrefix(s[end+1:], " ")
		if i < 7 {
			if !strings.HasPrefix(s, "[") {
				return false
			}
			s = s[1:]
		}
	}
	// f: id, part, created, type, severity, user, target, chain
	desc := strings.TrimPrefix(s, "[")
	desc = strings.TrimSuffix(desc, "]")
	in.ID = strings.TrimPrefix(f[3], "vim.event.")
	in.EventID = f[0]
	in.User = f[5]
	in.Target = f[6]
	in.Text = desc
	if t, err := time.Parse(time.RFC3339Nano, f[2]); err == nil {
		rec := *in.Rec
		rec.Time = t
		in.Rec = &rec
	}
	return true
}

// extendedEvent recognizes an EventEx or ExtendedEvent by its text (an SSO
// login, an esx.audit VOB vCenter relays); an event about an ESXi host is
// about the host in the target column.
func extendedEvent(in *Input, e *audit.Event) bool {
	vt := vsphere.LookupDescription(in.Text, vsphere.VCenter)
	if vt == nil {
		return false
	}
	vt.Apply(e)
	if !vt.Fill(in.Text, e) {
		return false
	}
	e.Rule = "vpxd/" + vt.ID
	e.Reporter = e.Rule
	if vt.Scope == vsphere.ScopeHost && in.Target != "" {
		e.Host = in.Target
	}
	return true
}

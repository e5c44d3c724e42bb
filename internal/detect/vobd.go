package detect

import (
	"strings"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/vsphere"
)

// vobdTable: ESXi's vobd, which logs VOBs (esx.audit.*, vob.user.*) once per
// correlator:
//
//	vobd:  [UserLevelCorrelator] 410535867us: [esx.audit.account.locked] Remote access for ESXi local user account 'root' ...
//
// The id decides (the ESXi ids of the vSphere table); the text gives the
// user and client IP.
func vobdTable() *Table {
	return &Table{
		Name:     "vobd",
		Programs: []string{"vobd"},
		Prepare:  prepareVOB,
		Contains: []string{"us: [esx.audit.", "us: [vob.user.", "us: [esx.problem.vmsyslogd"},
		Rules: []Rule{
			{Name: "audit_id", Fn: func(in *Input, e *audit.Event) bool {
				vt := esxiType(in.Extra)
				if vt == nil {
					return false
				}
				vt.Apply(e)
				return vt.Fill(in.Text, e)
			}},
		},
	}
}

// prepareVOB splits "[Correlator] 123us: [id] text".
func prepareVOB(in *Input) bool {
	s := in.Text
	if !strings.HasPrefix(s, "[") {
		return false
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return false
	}
	in.Reporter = s[1:end]
	s = s[end+1:]
	i := strings.Index(s, "us: [")
	if i < 0 {
		return false
	}
	s = s[i+5:]
	end = strings.IndexByte(s, ']')
	if end < 0 {
		return false
	}
	id := s[:end]
	if esxiType(id) == nil {
		return false
	}
	in.Extra = id
	// One VOB is logged once per correlator, and as both vob.* and esx.audit.*.
	in.Reporter += "/" + id
	in.Text = strings.TrimLeft(s[end+1:], " ")
	return true
}

// esxiType is the vSphere table's entry for an id ESXi logs, or nil.
func esxiType(id string) *vsphere.EventType {
	if vt := vsphere.Lookup(id); vt != nil && vt.Origin&vsphere.ESXi != 0 {
		return vt
	}
	return nil
}

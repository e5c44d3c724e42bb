package rules

import (
	"strings"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/audit"
)

// vobdTable: ESXi's vobd, which logs VOBs (esx.audit.*, vob.user.*) once per
// correlator:
//
//	vobd:  [UserLevelCorrelator] 410535867us: [esx.audit.account.locked] Remote access for ESXi local user account 'root' ...
//
// The id decides (AuditIDs); the text gives the user and client IP.
func vobdTable() *Table {
	return &Table{
		Name:     "vobd",
		Programs: []string{"vobd"},
		Prepare:  prepareVOB,
		Contains: []string{"us: [esx.audit.", "us: [vob.user.", "us: [esx.problem.vmsyslogd"},
		Rules: []Rule{
			{Name: "audit_id", Fn: func(in *Input, e *audit.Event) bool {
				a := LookupAuditID(in.Extra)
				if a == nil {
					return false
				}
				eventFromAuditID(a, in.Text, e)
				return true
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
	if LookupAuditID(id) == nil {
		return false
	}
	in.Extra = id
	// One VOB is logged once per correlator, and as both vob.* and esx.audit.*.
	in.Reporter += "/" + id
	in.Text = strings.TrimLeft(s[end+1:], " ")
	return true
}

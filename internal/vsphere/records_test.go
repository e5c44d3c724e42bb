package vsphere

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// Every id of Broadcom's catalogue is in the table: mapped to a kind, or
// marked as not audit-relevant with a reason; and the table holds no id
// the catalogue does not.
func TestAuditRecordCoverage(t *testing.T) {
	fh, err := os.Open("testdata/esx-audit-record-ids.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	catalogue := map[string]bool{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		id := strings.TrimSpace(sc.Text())
		if id == "" || strings.HasPrefix(id, "#") {
			continue
		}
		catalogue[id] = true
	}
	if len(catalogue) != 145 {
		t.Fatalf("the catalogue lists %d ids, want 145", len(catalogue))
	}
	mapped, ignored := 0, 0
	for id := range catalogue {
		r := LookupAuditRecord(id + AuditRecordSDSuffix)
		switch {
		case r == nil:
			t.Errorf("%s: in neither group: map it to a kind in AuditRecords, or mark it ignored with a reason", id)
		case r.Ignore != "":
			ignored++
		default:
			mapped++
		}
	}
	for _, r := range AuditRecords {
		if !strings.Contains(r.ID, ".") {
			t.Errorf("%s: an id without a dot (detect.IsAuditRecord rejects undotted SD-IDs unseen)", r.ID)
		}
		if !catalogue[r.ID] {
			t.Errorf("%s: in the table but not in Broadcom's catalogue", r.ID)
		}
	}
	t.Logf("%d ids: %d mapped to a kind, %d not audit-relevant", len(catalogue), mapped, ignored)
}

func TestLookupAuditRecord(t *testing.T) {
	for sdid, want := range map[string]audit.Kind{
		"vm.power.off@6876":  audit.KindVMPower,
		"vm.power.off":       audit.KindVMPower,
		"vim.connect@6876":   audit.KindLogin,
		"Originator@6876":    "",
		"vm.power.off@32473": "",
		"vSAN@6876":          "",
	} {
		r := LookupAuditRecord(sdid)
		var got audit.Kind
		if r != nil {
			got = r.Kind
		}
		if got != want {
			t.Errorf("LookupAuditRecord(%q) kind %q, want %q", sdid, got, want)
		}
	}
}

func TestOptionSetting(t *testing.T) {
	for _, c := range []struct{ name, value, setting, action string }{
		{"VMkernel.Boot.execInstalledOnly", "FALSE", audit.SettingExecInstalledOnly, audit.ActionDisabled},
		{"execinstalledonly", "TRUE", audit.SettingExecInstalledOnly, audit.ActionEnabled},
		{"Syslog.global.auditRecord.remoteEnable", "false", audit.SettingAuditRecords, audit.ActionDisabled},
		{"Syslog.global.auditRecord.storageEnable", "1", audit.SettingAuditRecords, audit.ActionEnabled},
		{"Syslog.global.logHost", "udp://10.0.0.66:514", audit.SettingSyslog, audit.ActionSet},
		{"Annotations.WelcomeMessage", "pay us", audit.SettingWelcomeMessage, audit.ActionSet},
		{"Config.HostAgent.plugins.hostsvc.esxAdminsGroup", "ESX Admins", audit.SettingAdminsGroup, audit.ActionSet},
		{"UserVars.ESXiShellTimeOut", "0", audit.SettingAdvanced, audit.ActionSet},
	} {
		s, a := OptionSetting(c.name, c.value)
		if s != c.setting || a != c.action {
			t.Errorf("OptionSetting(%q, %q) = %s, %s; want %s, %s", c.name, c.value, s, a, c.setting, c.action)
		}
	}
}

// A wrong entry fails at construction.
func TestAuditRecordTableChecks(t *testing.T) {
	saved, savedBy := AuditRecords, recordByID
	defer func() { AuditRecords, recordByID = saved, savedBy }()
	for name, tbl := range map[string][]AuditRecord{
		"no kind, no reason": {{ID: "x.y"}},
		"both":               {{ID: "x.y", Kind: audit.KindLogin, Ignore: "why"}},
		"unknown kind":       {{ID: "x.y", Kind: "nope"}},
		"suffix in id":       {{ID: "x.y@6876", Kind: audit.KindLogin}},
		"twice":              {{ID: "x.y", Kind: audit.KindLogin}, {ID: "x.y", Kind: audit.KindLogout}},
		"object not a field": {{ID: "x.y", Kind: audit.KindLogin, Object: "nope"}},
	} {
		AuditRecords, recordByID = tbl, map[string]*AuditRecord{}
		if err := buildRecords(); err == nil {
			t.Errorf("%s: the table was accepted", name)
		}
	}
}

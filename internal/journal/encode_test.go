package journal

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// appendEvent writes exactly what encoding/json writes for an event.
func TestAppendEventMatchesEncodingJSON(t *testing.T) {
	full := audit.Event{Time: time.Date(2026, 12, 3, 7, 0, 1, 123456789, time.FixedZone("x", 3600)), Source: "syslog", Host: "esx01",
		Kind: audit.KindVMDiskChanged, User: "root", ClientIP: "10.0.0.9", Method: "hostd", Direct: true, Outcome: "success", VM: "web01",
		SourceHost: "a", TargetHost: "b", Service: "ssh", TicketType: "mks", Setting: "firewall", Command: "ls -l | grep \"x\" && <y>",
		Action: "add", Path: "[ds1] dc01/dc01.vmdk", Operation: "op", Technique: "T1490", Value: "v\u2028w\u2029", Reason: "r\x00\x1f\x7f",
		Object: "o", CrossVM: true, Message: "bad utf8 \xff\xfe ok é 日本 \t\r\n\\", Rule: "audit_record/vm.storage.add",
		Reporter: "not stored", OpID: "not stored", EventID: "not stored"}
	for _, e := range []audit.Event{full, {}, {Kind: audit.KindLogin, Time: time.Unix(0, 0).UTC()}} {
		want, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendEvent(nil, &e); !bytes.Equal(got, want) {
			t.Errorf("appendEvent:\n got %s\nwant %s", got, want)
		}
	}
}

func FuzzAppendEvent(f *testing.F) {
	f.Add("root", "User root@10.0.0.9 logged in", "\xff<&>\u2028")
	f.Fuzz(func(t *testing.T, user, msg, cmd string) {
		e := audit.Event{Time: time.Unix(1700000000, 5).UTC(), Source: "syslog", Host: "h", Kind: audit.KindLogin, User: user, Message: msg, Command: cmd}
		want, _ := json.Marshal(&e)
		if got := appendEvent(nil, &e); !bytes.Equal(got, want) {
			t.Fatalf("appendEvent:\n got %s\nwant %s", got, want)
		}
	})
}

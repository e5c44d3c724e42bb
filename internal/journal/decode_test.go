package journal

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// decodeEvent gives what json.Unmarshal gives, for stored events (random
// ones, with escapes, HTML characters, non-ASCII and invalid UTF-8 in
// their strings, and times in several zones) and for other JSON.
func TestDecodeEvent(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	pieces := []string{"", "root", "VSPHERE.LOCAL\\Administrator", `say "hi"`, "<b>&amp;</b>", "é ü 日本", "\xff\xfe", "tab\there", "line\nbreak", "\u2028", "😀", "a/b"}
	zones := []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("X", -5*3600-1800), time.Local}
	str := func() string {
		var b strings.Builder
		for n := rng.IntN(3); n >= 0; n-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	for i := 0; i < 3000; i++ {
		e := audit.Event{Time: time.Unix(rng.Int64N(2e9), rng.Int64N(1e9)*int64(rng.IntN(2))).In(zones[rng.IntN(len(zones))]),
			Source: str(), Host: str(), Kind: audit.Kind(str()), User: str(), ClientIP: str(), Method: str(), Direct: rng.IntN(2) == 0,
			Outcome: str(), VM: str(), SourceHost: str(), TargetHost: str(), Service: str(), TicketType: str(), Setting: str(),
			Command: str(), Action: str(), Path: str(), Operation: str(), Technique: str(), Value: str(), Reason: str(), Object: str(),
			CrossVM: rng.IntN(2) == 0, Message: str(), Rule: str(), Reporter: "not stored", EventID: "not stored"}
		data, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		checkDecode(t, data)
		// A few fields: those, as json.Unmarshal reads them.
		want := uint32(rng.Int64N(allFields + 1))
		var part, full audit.Event
		json.Unmarshal(data, &full)
		if err := decodeEvent(data, &part, want); err != nil {
			t.Fatal(err)
		}
		pv, fv := reflect.ValueOf(&part).Elem(), reflect.ValueOf(&full).Elem()
		for k := 0; k < pv.NumField(); k++ {
			name, _, _ := strings.Cut(pv.Type().Field(k).Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			m, ok := fieldMask([]string{name})
			if !ok {
				t.Fatalf("field %s has no bit", name)
			}
			if got, w := pv.Field(k).Interface(), fv.Field(k).Interface(); want&m != 0 && !reflect.DeepEqual(got, w) {
				t.Fatalf("%s: field %s = %v, want %v", data, name, got, w)
			} else if want&m == 0 && !pv.Field(k).IsZero() {
				t.Fatalf("%s: field %s filled, not asked for", data, name)
			}
		}
	}
	for _, s := range []string{`{}`, ` { } `, `{"user":null}`, `{"User":"x"}`, `{"direct":1}`, `{"time":"2024-01-02T03:04:05+01:00","user":"a"}`,
		`{"time":"2024-01-02T03:04:05.000Z"}`, `{"extra":{"a":1},"user":"b"}`, `{"user":"a",}`, `{"user":"a"} x`, `[]`, `{"user":"\ud800"}`,
		`{"direct":true,"cross_vm":false,"kind":"login"}`, `{"message":"a\"b\\c\/d\u00e9"}`} {
		checkDecode(t, []byte(s))
	}
}

func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	var want, got audit.Event
	werr := json.Unmarshal(data, &want)
	gerr := decodeEvent(data, &got, allFields)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: decodeEvent error %v, json.Unmarshal %v", data, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\ndecodeEvent  %+v\njson.Unmarshal %+v", data, got, want)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	e := audit.Event{Time: time.Date(2024, 2, 12, 10, 41, 48, 631649000, time.UTC), Source: "syslog", Host: "vcsa01.lab.local", Kind: audit.KindConsoleOpened,
		User: "administrator@example.local", Method: "vcenter", VM: "root", TargetHost: "5.6.7.8", TicketType: "mks",
		Message: `A ticket for "root" of type MKS on 5.6.7.8 in Datacenter has been acquired <&>`, Rule: "vpxd/VmAcquiredTicketEvent"}
	data, _ := json.Marshal(&e)
	f.Add(data)
	f.Add([]byte(`{"time":"2024-01-02T03:04:05+01:00","direct":true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
	})
}

func BenchmarkDecodeEvent(b *testing.B) {
	e := audit.Event{Time: time.Date(2024, 2, 12, 10, 41, 48, 631649000, time.UTC), Source: "vcenter", Host: "vcsa01.lab.local", Kind: audit.KindVMMigrated,
		User: "DRS", VM: "vm-153", SourceHost: "esx11.lab.local", TargetHost: "esx07.lab.local", Outcome: "success",
		Message: "Migration of virtual machine vm-153 from esx11.lab.local, ds1 to esx07.lab.local, ds1 completed", Rule: "vcenter/DrsVmMigratedEvent"}
	data, _ := json.Marshal(&e)
	b.Run("decodeEvent", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var e audit.Event
			decodeEvent(data, &e, allFields)
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var e audit.Event
			json.Unmarshal(data, &e)
		}
	})
}

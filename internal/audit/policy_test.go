package audit

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestCanonicalUser(t *testing.T) {
	for in, want := range map[string]string{
		`VSPHERE.LOCAL\Administrator`: "administrator@vsphere.local",
		"Administrator@VSPHERE.LOCAL": "administrator@vsphere.local",
		"administrator@vsphere.local": "administrator@vsphere.local",
		`'root'`:                      "root",
		"Root":                        "Root", // a local ESXi name is compared with case: kept
		`vpxuser:VSPHERE.LOCAL\bob`:   "bob@vsphere.local",
		"vpxuser":                     "vpxuser",
		`DOMAIN\`:                     `DOMAIN\`,
		"":                            "",
	} {
		if got := CanonicalUser(in); got != want {
			t.Errorf("CanonicalUser(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsDirect(t *testing.T) {
	for _, c := range []struct {
		e    Event
		want bool
	}{
		{Event{Kind: KindLogin, Method: MethodHostd, User: "root", ClientIP: "10.0.0.1"}, true},
		{Event{Kind: KindLogin, Method: MethodSSH, User: "root", ClientIP: "127.0.0.1"}, false},
		{Event{Kind: KindLogin, Method: MethodDCUI, User: "root", ClientIP: "127.0.0.1"}, true},
		{Event{Kind: KindLogin, Method: MethodDCUI, User: "dcui"}, false},
		{Event{Kind: KindLogin, Method: MethodHostd, User: "vpxuser", ClientIP: "10.0.0.2"}, false},
		{Event{Kind: KindLogin, Method: MethodVCenter, User: "root", ClientIP: "10.0.0.1"}, false},
		{Event{Kind: KindLoginFailed, Method: MethodSSH, User: "root", ClientIP: "10.0.0.1"}, false},
	} {
		e := c.e
		Normalize(&e)
		if e.Direct != c.want {
			t.Errorf("%+v: direct = %v, want %v", c.e, e.Direct, c.want)
		}
	}
}

func TestLoginPartners(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	sso := Event{Time: t0, Kind: KindLogin, Method: MethodSSO, User: "USER01@intra.example.com", ClientIP: "10.1.2.3"}
	vc := Event{Time: t0.Add(time.Second), Kind: KindLogin, Method: MethodVCenter, User: `INTRA\user01`, ClientIP: "127.0.0.1"}
	Normalize(&sso)
	Normalize(&vc)
	if !LoginPartners(&sso, &vc) || !LoginPartners(&vc, &sso) {
		t.Fatalf("%+v and %+v are one vSphere Client login", sso, vc)
	}
	j := JoinLogin(sso, vc)
	if j.Method != MethodVCenter || j.ClientIP != "10.1.2.3" || j.User != "user01@intra" {
		t.Errorf("joined %+v", j)
	}
	late := vc
	late.Time = t0.Add(LoginJoinWindow + time.Second)
	other := vc
	other.User = "bob@intra"
	remote := vc
	remote.ClientIP = "10.9.9.9"
	for _, b := range []Event{late, other, remote, sso} {
		if LoginPartners(&sso, &b) {
			t.Errorf("%+v joined with %+v", sso, b)
		}
	}
}

func TestIsCrossVM(t *testing.T) {
	for _, c := range []struct {
		vm, vmx, disk string
		want          bool
	}{
		// The disk of the domain controller attached to another VM.
		{"web01", "[ds1] web01/web01.vmx", "[ds1] dc01/dc01.vmdk", true},
		{"web01", "", "[ds1] dc01/dc01.vmdk", true},
		// The VM's own disks.
		{"web01", "[ds1] web01/web01.vmx", "[ds1] web01/web01_1.vmdk", false},
		{"WEB01", "", "[ds1] web01/web01.vmdk", false},
		// The same folder name on another datastore is another folder.
		{"web01", "[ds1] web01/web01.vmx", "[ds2] web01/web01.vmdk", true},
		// Nested folders: the folder is the whole path.
		{"web01", "[ds1] prod/web01/web01.vmx", "[ds1] prod/web01/web01_2.vmdk", false},
		{"web01", "", "[ds1] prod/web01/web01_2.vmdk", false},
		// The host's file system view of a datastore path.
		{"web01", "", "/vmfs/volumes/ds1/dc01/dc01.vmdk", true},
		{"web01", "[ds1] web01/web01.vmx", "/vmfs/volumes/ds1/web01/web01_1.vmdk", false},
		// Not a datastore path, a disk at the datastore's root, no VM: no judgement.
		{"web01", "", "/tmp/dc01/dc01.vmdk", false},
		{"web01", "", "[ds1] dc01.vmdk", false},
		{"", "", "[ds1] dc01/dc01.vmdk", false},
		{"web01", "", "", false},
	} {
		if got := IsCrossVM(c.vm, c.vmx, c.disk); got != c.want {
			t.Errorf("IsCrossVM(%q, %q, %q) = %v, want %v", c.vm, c.vmx, c.disk, got, c.want)
		}
	}
	if got := DatastoreFolder("[ds1] dc01/dc01.vmdk"); got != "[ds1] dc01" {
		t.Errorf("DatastoreFolder = %q", got)
	}
}

func TestJudgeVpxuser(t *testing.T) {
	known, err := ParseVCenterAddrs([]string{"10.0.0.5", "10.1.0.0/29"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		v      VCenterAddrs
		e      Event
		direct bool
	}{
		{"from the known vCenter", known, Event{Kind: KindLogin, Method: MethodHostd, User: "vpxuser", ClientIP: "10.0.0.5"}, false},
		{"from a known range", known, Event{Kind: KindLogin, Method: MethodHostd, User: "vpxuser", ClientIP: "10.1.0.7"}, false},
		{"stolen credentials", known, Event{Kind: KindLogin, Method: MethodHostd, User: "vpxuser", ClientIP: "172.16.5.5"}, true},
		{"stolen credentials over SSH", known, Event{Kind: KindLogin, Method: MethodSSH, User: "vpxuser", ClientIP: "10.1.0.8"}, true},
		{"vpxa on the host", known, Event{Kind: KindLogin, Method: MethodHostd, User: "vpxuser", ClientIP: "127.0.0.1"}, false},
		{"no address", known, Event{Kind: KindLogin, Method: MethodHostd, User: "vpxuser"}, false},
		{"a failed attempt", known, Event{Kind: KindLogin, Outcome: OutcomeFailure, Method: MethodHostd, User: "vpxuser", ClientIP: "172.16.5.5"}, false},
		{"no vCenter known", VCenterAddrs{}, Event{Kind: KindLogin, Method: MethodHostd, User: "vpxuser", ClientIP: "172.16.5.5"}, false},
		{"another user", known, Event{Kind: KindLogin, Method: MethodVCenter, User: "vpxuser", ClientIP: "172.16.5.5"}, false},
	} {
		e := c.e
		c.v.JudgeVpxuser(&e)
		if e.Direct != c.direct {
			t.Errorf("%s: direct %v, want %v", c.name, e.Direct, c.direct)
		}
		if e.Direct && e.Reason != ReasonUnknownVCenter {
			t.Errorf("%s: reason %q", c.name, e.Reason)
		}
	}
	if _, err := ParseVCenterAddrs([]string{"vcenter.example.com"}); err == nil {
		t.Error("a host name was accepted as an address")
	}
}

// trimBytes with the cutsets of CleanUser and CleanIP equals strings.Trim.
func TestTrimBytes(t *testing.T) {
	for _, c := range []struct {
		cutset string
		cut    func(byte) bool
	}{{`'"`, isQuote}, {`'".,[]`, isIPPunct}} {
		for _, s := range []string{"", "'", `"`, `''""`, `'".,[]`, "[]", "a", "'a'", `"root"`, `'"x"'`, "x'", "'x",
			"[fe80::1%5]", "10.0.0.1.", "'10.0.0.1',", "a'b", "é", "'é'", "[\xff]", "\xff", " 'a' ", `"` + "ü" + `"`, ".,.,x,.,.", "[[[]]]"} {
			if got, want := trimBytes(s, c.cut), strings.Trim(s, c.cutset); got != want {
				t.Errorf("trimBytes(%q) with %q = %q, strings.Trim = %q", s, c.cutset, got, want)
			}
		}
	}
	for b := 0; b < 256; b++ {
		s := string([]byte{byte(b)})
		if got, want := trimBytes(s, isIPPunct), strings.Trim(s, `'".,[]`); got != want {
			t.Errorf("trimBytes(%q) = %q, strings.Trim = %q", s, got, want)
		}
		if got, want := trimBytes(s, isQuote), strings.Trim(s, `'"`); got != want {
			t.Errorf("trimBytes(%q) = %q, strings.Trim = %q", s, got, want)
		}
	}
}

// IsLoopback's fast path for addresses that cannot be loopback agrees with
// a parse of every one.
func TestIsLoopbackFastPath(t *testing.T) {
	for _, ip := range []string{"", "127.0.0.1", "127.255.255.254", "127.1", "127.", "127", "0127.0.0.1", "128.0.0.1", "10.0.0.1", "1.2.3.4",
		"::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "0:0:0:0:0:0:0:1", "fe80::1%5", "127.0.0.1%eth0", "localhost", "[::1]", "127.0.0.1:22",
		"1127.0.0.1", " 127.0.0.1", "127.0.0.01", "::", "0.0.0.0", "x:y"} {
		a, err := netip.ParseAddr(ip)
		if got, want := IsLoopback(ip), err == nil && a.IsLoopback(); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", ip, got, want)
		}
	}
}

// CleanUser is idempotent: one pass gives what two give. Before, a quoted
// name inside the prefix kept a quote after one pass (`"bob` from
// `"vpxuser:"bob""`) and lost it after a second, so that the same line
// read as a syslog event (two passes) and as a vCenter event (one) named
// two users.
func TestCleanUserIdempotent(t *testing.T) {
	for in, want := range map[string]string{
		`root`:                                  `root`,
		`"root"`:                                `root`,
		`vpxuser`:                               `vpxuser`,
		`vpxuser:`:                              `vpxuser:`,
		`vpxuser:""`:                            `vpxuser:`,
		`"vpxuser:"bob""`:                       `bob`,
		`vpxuser:"VSPHERE.LOCAL\Administrator"`: `VSPHERE.LOCAL\Administrator`,
		`vpxuser:vpxuser:x`:                     `x`,
		`'alice'`:                               `alice`,
		``:                                      ``,
	} {
		got := CleanUser(in)
		if got != want {
			t.Errorf("CleanUser(%q) = %q, want %q", in, got, want)
		}
		if again := CleanUser(got); again != got {
			t.Errorf("CleanUser(CleanUser(%q)) = %q, not %q", in, again, got)
		}
	}
}

func FuzzCleanUser(f *testing.F) {
	for _, s := range []string{`"vpxuser:"bob""`, `vpxuser:""`, `vpxuser:vpxuser:'x'`, `root`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		once := CleanUser(u)
		if twice := CleanUser(once); twice != once {
			t.Fatalf("CleanUser(%q) = %q, again %q", u, once, twice)
		}
		if c := CanonicalUser(u); CanonicalUser(c) != c {
			t.Fatalf("CanonicalUser(%q) = %q, again %q", u, c, CanonicalUser(c))
		}
	})
}

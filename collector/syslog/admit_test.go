package syslog

import (
	"net/netip"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func TestParseAllowedSources(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name    string
		values  []string
		allowed map[string][]string // transport -> addresses accepted
		refused map[string][]string // transport -> addresses refused
		str     map[string]string   // transport -> String()
		err     string
	}{
		{name: "none: every sender", values: nil,
			allowed: map[string][]string{TransportUDP: {"203.0.113.9"}, TransportTCP: {"::1"}, TransportTLS: {"10.0.0.1"}},
			str:     map[string]string{TransportUDP: "any", TransportTLS: "any"}},
		{name: "no prefix: every transport", values: []string{"10.20.0.0/16"},
			allowed: map[string][]string{TransportUDP: {"10.20.1.2"}, TransportTCP: {"10.20.255.255"}, TransportTLS: {"10.20.0.0"}},
			refused: map[string][]string{TransportUDP: {"10.21.0.1", "::ffff:10.21.0.1"}, TransportTCP: {"192.0.2.1"}},
			str:     map[string]string{TransportUDP: "10.20.0.0/16", TransportTLS: "10.20.0.0/16"}},
		{name: "per transport fails closed for the others", values: []string{"tls=192.0.2.10"},
			allowed: map[string][]string{TransportTLS: {"192.0.2.10", "::ffff:192.0.2.10"}},
			refused: map[string][]string{TransportTLS: {"192.0.2.11"}, TransportUDP: {"192.0.2.10"}, TransportTCP: {"192.0.2.10"}},
			str:     map[string]string{TransportTLS: "192.0.2.10/32", TransportUDP: "none", TransportTCP: "none"}},
		{name: "repeated, lists, spaces, case", values: []string{"UDP=10.1.0.0/24, 10.2.0.0/24", "tcp = 2001:db8::/32", "tls=10.9.9.9"},
			allowed: map[string][]string{TransportUDP: {"10.1.0.7", "10.2.0.200"}, TransportTCP: {"2001:db8::1"}, TransportTLS: {"10.9.9.9"}},
			refused: map[string][]string{TransportUDP: {"10.3.0.1", "2001:db8::1"}, TransportTCP: {"10.1.0.7"}, TransportTLS: {"10.1.0.7"}},
			str:     map[string]string{TransportUDP: "10.1.0.0/24,10.2.0.0/24", TransportTCP: "2001:db8::/32"}},
		{name: "host bits masked, mapped CIDR unmapped", values: []string{"10.1.2.3/8", "::ffff:192.168.0.0/112"},
			allowed: map[string][]string{TransportUDP: {"10.200.0.1", "192.168.5.5"}},
			refused: map[string][]string{TransportUDP: {"11.0.0.1", "192.169.0.1"}},
			str:     map[string]string{TransportUDP: "10.0.0.0/8,192.168.0.0/16"}},
		{name: "a link-local sender's zone is ignored", values: []string{"fe80::/10"},
			allowed: map[string][]string{TransportTCP: {"fe80::1%eth0"}}},
		{name: "the invalid address is refused", values: []string{"0.0.0.0/0", "::/0"},
			allowed: map[string][]string{TransportUDP: {"1.2.3.4", "2001:db8::1"}}, refused: map[string][]string{TransportUDP: {""}}},
		{name: "unknown transport", values: []string{"relp=10.0.0.0/8"}, err: `"relp=10.0.0.0/8": unknown transport "relp" (want udp=, tcp= or tls=, or no prefix for every transport)`},
		{name: "not a CIDR", values: []string{"10.0.0.0/33"}, err: `"10.0.0.0/33": not a CIDR`},
		{name: "a host name", values: []string{"tls=esx01.lab"}, err: `"tls=esx01.lab": not an address or CIDR`},
		{name: "empty list", values: []string{"udp="}, err: `"udp=": no address or CIDR`},
		{name: "empty value", values: []string{""}, err: `"": no address or CIDR`},
		{name: "two transports in one value", values: []string{"udp=10.0.0.0/8,tcp=10.1.0.0/16"}, err: `"udp=10.0.0.0/8,tcp=10.1.0.0/16": one transport per value ("tcp=10.1.0.0/16"): repeat the flag for each transport`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAllowedSources(tc.values)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one starting %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Enabled() != (len(tc.values) > 0) {
				t.Errorf("Enabled() = %v with %d values", got.Enabled(), len(tc.values))
			}
			parse := func(s string) netip.Addr {
				if s == "" {
					return netip.Addr{}
				}
				return a(s)
			}
			for tr, addrs := range tc.allowed {
				for _, s := range addrs {
					if !got.Allowed(tr, parse(s)) {
						t.Errorf("%s from %q refused, want accepted", tr, s)
					}
				}
			}
			for tr, addrs := range tc.refused {
				for _, s := range addrs {
					if got.Allowed(tr, parse(s)) {
						t.Errorf("%s from %q accepted, want refused", tr, s)
					}
				}
			}
			for tr, want := range tc.str {
				if s := got.String(tr); s != want {
					t.Errorf("String(%s) = %q, want %q", tr, s, want)
				}
			}
		})
	}
}

func TestSameHost(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"esx01", "esx01", true},
		{"esx01", "ESX01", true},
		{"esx01", "esx01.lab.local", true},
		{"esx01.lab.local", "esx01", true},
		{"ESX01.lab.local", "esx01.LAB.local", true},
		{"esx01", "esx02", false},
		{"esx01", "esx-victim", false},
		{"esx01.lab.local", "esx01.other.local", false},
		{"esx01.lab.local", "esx02.lab.local", false},
		{"esx01", "esx02.lab.local", false},
		{"10.0.0.1", "10.0.0.1", true},
		{"10.0.0.1", "10", false},
		{"10", "10.0.0.1", false},
		{"10.0.0.1", "10.0.0.2", false},
		{"2001:db8::1", "2001:DB8::1", true},
		{"", "esx01", false},
	} {
		if got := sameHost(tc.a, tc.b); got != tc.want {
			t.Errorf("sameHost(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestHostBinder(t *testing.T) {
	b := newHostBinder(2)
	a1, a2, a3 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	type step struct {
		addr  netip.Addr
		host  string
		ok    bool
		bound string
		full  bool
	}
	for i, s := range []step{
		{a1, "esx01.lab", true, "esx01.lab", false},
		{a1, "esx01", true, "esx01.lab", false},
		{a1, "esx-victim", false, "esx01.lab", false},
		{a1, "", true, "", false},
		{a1, "-", true, "", false},
		{a1, "localhost", true, "", false},
		{a3, "LOCALHOST.localdomain", true, "", false}, // not bound: a3 is still free
		{a3, "localhost", true, "", false},
		{a2, "esx02", true, "esx02", false},
		{a3, "esx03", true, "", true}, // the table holds 2
		{a3, "esx-victim", true, "", true},
		{a2, "esx01", false, "esx02", false},
	} {
		ok, bound, full := b.check(s.addr, s.host)
		if ok != s.ok || bound != s.bound || full != s.full {
			t.Errorf("step %d: check(%s, %q) = %v, %q, %v; want %v, %q, %v", i, s.addr, s.host, ok, bound, full, s.ok, s.bound, s.full)
		}
	}
	// The bound name is a copy, not the read buffer the host name aliases.
	buf := []byte("esx09")
	b2 := newHostBinder(0)
	b2.check(a1, unsafe.String(&buf[0], len(buf)))
	copy(buf, "XXXXX")
	if ok, bound, _ := b2.check(a1, "esx09"); !ok || bound != "esx09" {
		t.Errorf("bound %q, ok %v; want esx09, true", bound, ok)
	}
	if b2.max != DefaultMaxHostBindings {
		t.Errorf("default table size %d, want %d", b2.max, DefaultMaxHostBindings)
	}
}

func TestParseHostBinding(t *testing.T) {
	for in, want := range map[string]string{"": HostBindingOff, "off": HostBindingOff, "flag": HostBindingFlag, "enforce": HostBindingEnforce} {
		if got, err := ParseHostBinding(in); err != nil || got != want {
			t.Errorf("ParseHostBinding(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseHostBinding("strict"); err == nil || err.Error() != `"strict": want off, flag or enforce` {
		t.Errorf("ParseHostBinding(strict) err = %v", err)
	}
}

// The slots: the total cap, the per-source cap, and the reserve that only
// a source without a connection may take; each release frees exactly one.
func TestSlots(t *testing.T) {
	a := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}) }
	type op struct {
		release bool
		src     int
		reason  string // "" for acquired
	}
	for _, tc := range []struct {
		name                    string
		max, perSource, reserve int
		ops                     []op
		total                   int
	}{
		{name: "per-source cap", max: 10, perSource: 2, ops: []op{
			{src: 1}, {src: 1}, {src: 1, reason: RejectSourceConnLimit}, {src: 2}, {src: 2},
			{release: true, src: 1}, {src: 1}, {src: 1, reason: RejectSourceConnLimit},
		}, total: 4},
		{name: "total cap", max: 3, ops: []op{
			{src: 1}, {src: 2}, {src: 3}, {src: 4, reason: RejectConnLimit}, {src: 1, reason: RejectConnLimit},
			{release: true, src: 2}, {src: 4},
		}, total: 3},
		{name: "reserve for new sources", max: 4, reserve: 2, ops: []op{
			{src: 1}, {src: 1}, {src: 1, reason: RejectConnLimit}, // source 1 stops at max-reserve
			{src: 2}, {src: 2, reason: RejectConnLimit}, // a new source takes a reserved slot, not a second one
			{src: 3}, {src: 4, reason: RejectConnLimit}, // full
			{release: true, src: 1}, {src: 1, reason: RejectConnLimit}, {src: 4}, // the freed slot is in the reserve
		}, total: 4},
		{name: "no caps but the total", max: 2, perSource: 0, reserve: 0, ops: []op{
			{src: 1}, {src: 1}, {src: 1, reason: RejectConnLimit}, {release: true, src: 1}, {release: true, src: 1},
		}, total: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSlots(tc.max, tc.perSource, tc.reserve)
			for i, o := range tc.ops {
				if o.release {
					s.release(a(o.src))
					continue
				}
				reason, ok := s.acquire(a(o.src))
				if ok != (o.reason == "") || reason != o.reason {
					t.Errorf("op %d: acquire(source %d) = %q, %v; want %q", i, o.src, reason, ok, o.reason)
				}
			}
			if s.total != tc.total {
				t.Errorf("total = %d, want %d", s.total, tc.total)
			}
			sum := 0
			for _, n := range s.by {
				sum += n
			}
			if sum != s.total {
				t.Errorf("per-source counts sum to %d, total %d", sum, s.total)
			}
		})
	}
	s := newSlots(4, 0, 0)
	s.acquire(a(1))
	s.release(a(1))
	if len(s.by) != 0 {
		t.Errorf("%d addresses kept after their last release, want 0", len(s.by))
	}
}

func TestLogLimiter(t *testing.T) {
	a := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type call struct {
		at         time.Duration
		src        int
		ok         bool
		suppressed int
	}
	for _, tc := range []struct {
		name             string
		max, perInterval int
		calls            []call
	}{
		{name: "once a minute per source", max: 10, perInterval: 100, calls: []call{
			{0, 1, true, 0}, {time.Second, 1, false, 0}, {59 * time.Second, 1, false, 0},
			{2 * time.Second, 2, true, 0}, // another source has its own minute
			{60 * time.Second, 1, true, 2}, {61 * time.Second, 1, false, 0}, {3 * time.Minute, 1, true, 1},
		}},
		{name: "a bound on lines per minute over every source", max: 10, perInterval: 2, calls: []call{
			{0, 1, true, 0}, {0, 2, true, 0}, {0, 3, false, 0}, {30 * time.Second, 4, false, 0},
			{60 * time.Second, 3, true, 0}, {61 * time.Second, 1, true, 0}, {62 * time.Second, 2, false, 0},
			{2 * time.Minute, 2, true, 1},
		}},
		{name: "a full table logs no new source until entries age out", max: 2, perInterval: 100, calls: []call{
			{0, 1, true, 0}, {0, 2, true, 0}, {time.Second, 3, false, 0}, {59 * time.Second, 3, false, 0},
			{61 * time.Second, 3, true, 0}, // the aged entries were dropped
			{62 * time.Second, 1, true, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLogLimiter(time.Minute, tc.max, tc.perInterval)
			var now time.Time
			l.now = func() time.Time { return now }
			for i, c := range tc.calls {
				now = t0.Add(c.at)
				ok, suppressed := l.allow(a(c.src))
				if ok != c.ok || suppressed != c.suppressed {
					t.Errorf("call %d (%v, source %d): allow = %v, %d; want %v, %d", i, c.at, c.src, ok, suppressed, c.ok, c.suppressed)
				}
				if len(l.last) > tc.max {
					t.Fatalf("call %d: %d entries, max %d", i, len(l.last), tc.max)
				}
			}
		})
	}
	// A flood from 100,000 sources keeps the table at its bound.
	l := newLogLimiter(time.Minute, 4096, 100)
	logged := 0
	for i := 0; i < 100000; i++ {
		if ok, _ := l.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})); ok {
			logged++
		}
	}
	if logged != 100 || len(l.last) != 100 {
		t.Errorf("100000 sources in a minute: %d lines logged, %d entries; want 100, 100", logged, len(l.last))
	}
}

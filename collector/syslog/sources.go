package syslog

import (
	"fmt"
	"net/netip"
	"strings"
)

// AllowedSources is the --syslog.allowed-sources list: the networks each
// transport accepts senders from. The zero value accepts every sender.
type AllowedSources struct {
	// set is false when no rule was given: every sender is accepted.
	set bool
	// by transport; a transport with no rule, once any rule is given,
	// accepts no sender (fail closed).
	prefixes map[string][]netip.Prefix
}

// ParseAllowedSources parses --syslog.allowed-sources values. Each value is
// a comma-separated list of CIDRs or single addresses (IPv4 or IPv6),
// optionally prefixed by the transport they apply to: "udp=", "tcp=" or
// "tls="; without a prefix they apply to every transport. Examples:
// "10.20.0.0/16", "tls=192.0.2.10", "udp=10.1.0.0/24,10.2.0.0/24".
func ParseAllowedSources(values []string) (AllowedSources, error) {
	a := AllowedSources{prefixes: map[string][]netip.Prefix{}}
	for _, v := range values {
		transports := []string{TransportUDP, TransportTCP, TransportTLS}
		list := v
		if t, rest, ok := strings.Cut(v, "="); ok {
			t = strings.ToLower(strings.TrimSpace(t))
			switch t {
			case TransportUDP, TransportTCP, TransportTLS:
				transports = []string{t}
			default:
				return AllowedSources{}, fmt.Errorf("%q: unknown transport %q (want udp=, tcp= or tls=, or no prefix for every transport)", v, t)
			}
			list = rest
		}
		n := 0
		for _, s := range strings.Split(list, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if strings.Contains(s, "=") {
				return AllowedSources{}, fmt.Errorf("%q: one transport per value (%q): repeat the flag for each transport", v, s)
			}
			p, err := parsePrefix(s)
			if err != nil {
				return AllowedSources{}, fmt.Errorf("%q: %v", v, err)
			}
			for _, t := range transports {
				a.prefixes[t] = append(a.prefixes[t], p)
			}
			n++
		}
		if n == 0 {
			return AllowedSources{}, fmt.Errorf("%q: no address or CIDR", v)
		}
		a.set = true
	}
	return a, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not a CIDR: %v", err)
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q: a CIDR has no zone", s)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			// ::ffff:10.0.0.0/104 is 10.0.0.0/8: senders are compared
			// unmapped.
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not an address or CIDR: %v", err)
	}
	addr = addr.Unmap().WithZone("")
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// Enabled reports whether any rule was given.
func (a AllowedSources) Enabled() bool { return a.set }

// Allowed reports whether transport accepts a sender at addr. Once any
// rule is given it fails closed: a transport no rule names, and an
// invalid address, accept no sender.
func (a AllowedSources) Allowed(transport string, addr netip.Addr) bool {
	if !a.set {
		return true
	}
	addr = addr.Unmap().WithZone("") // a link-local sender's zone is its interface
	for _, p := range a.prefixes[transport] {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// String describes the rules of transport, for the start-up log.
func (a AllowedSources) String(transport string) string {
	if !a.set {
		return "any"
	}
	ps := a.prefixes[transport]
	if len(ps) == 0 {
		return "none"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

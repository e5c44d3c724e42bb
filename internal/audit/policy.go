package audit

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// The policy every source shares: how a user and an address are written,
// what counts as a direct login, which logins are one person's one login.
// Sources and the pipeline call these; nothing else decides them.

// Normalize applies the shared policy to e: the user in its canonical form,
// the client address cleaned, the ticket type in lower case (vCenter says
// "WebMKS", "webmks" and "mks"), the outcome, and whether a login is
// direct. It is idempotent.
func Normalize(e *Event) {
	e.User = CanonicalUser(e.User)
	e.ClientIP = CleanIP(e.ClientIP)
	e.TicketType = strings.ToLower(e.TicketType)
	if e.Outcome == "" {
		if e.Kind == KindLoginFailed {
			e.Outcome = OutcomeFailure
		} else {
			e.Outcome = OutcomeSuccess
		}
	}
	e.Direct = IsDirect(e)
}

// CleanUser strips the quotes some messages put around a user and the
// "vpxuser:" prefix ESXi puts before the vCenter user acting through
// vCenter's account. It is idempotent (Normalize runs on a syslog event
// twice, at detection and in the pipeline, and once on a vCenter event):
// the quotes inside the prefix go too, `vpxuser:"bob"` is bob at once.
func CleanUser(u string) string {
	for {
		u = trimBytes(u, isQuote)
		rest, ok := strings.CutPrefix(u, "vpxuser:")
		if !ok {
			return u
		}
		if rest = trimBytes(rest, isQuote); rest == "" {
			return u
		}
		u = rest
	}
}

// CanonicalUser gives one form to the names one person logs in with:
// "VSPHERE.LOCAL\Administrator", "Administrator@VSPHERE.LOCAL" and
// "administrator@vsphere.local" are all "administrator@vsphere.local". A
// name with a domain (an SSO or directory principal, which vCenter compares
// without case) becomes user@domain in lower case; a bare local name
// ("root", "vpxuser") is kept as logged. The event's Message keeps what the
// line said.
//
// It is idempotent, as CleanUser is: the form it gives is one it keeps
// (lower-casing "VPXUSER:..." makes a prefix to strip, for example).
func CanonicalUser(u string) string {
	for range 8 {
		c := canonicalOnce(u)
		if c == u {
			break
		}
		u = c
	}
	return u
}

func canonicalOnce(u string) string {
	u = CleanUser(u)
	if i := strings.IndexByte(u, '\\'); i > 0 && i < len(u)-1 && strings.IndexByte(u, '@') < 0 {
		if user := trimBytes(u[i+1:], isQuote); user != "" {
			u = user + "@" + trimBytes(u[:i], isQuote)
		}
	}
	if strings.IndexByte(u, '@') <= 0 {
		return u
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(u)
		}
	}
	return u
}

// CleanIP strips the quotes, brackets and punctuation messages put around
// an address, and an IPv6 zone ("fe80::1%5").
func CleanIP(ip string) string {
	ip = trimBytes(ip, isIPPunct)
	if i := strings.LastIndexByte(ip, '%'); i > 0 {
		ip = ip[:i]
	}
	return ip
}

// trimBytes returns s without its leading and trailing bytes for which cut
// is true. With an ASCII cut it equals strings.Trim with that cutset, which
// builds its set of bytes on every call.
func trimBytes(s string, cut func(byte) bool) string {
	i, j := 0, len(s)
	for i < j && cut(s[i]) {
		i++
	}
	for j > i && cut(s[j-1]) {
		j--
	}
	return s[i:j]
}

// isQuote: the cutset `'"` of CleanUser.
func isQuote(c byte) bool { return c == '\'' || c == '"' }

// isIPPunct: the cutset `'".,[]` of CleanIP.
func isIPPunct(c byte) bool {
	switch c {
	case '\'', '"', '.', ',', '[', ']':
		return true
	}
	return false
}

// IsInternalUser reports whether u is vCenter's own account on a host
// (vpxuser) or the host's internal console session (dcui).
func IsInternalUser(u string) bool {
	return u == "vpxuser" || strings.HasPrefix(u, "vpxuser:") || u == "dcui"
}

// IsLoopback reports whether ip is a loopback address (local tooling on
// the host, or vCenter's own UI service logging in for a vSphere Client user).
func IsLoopback(ip string) bool {
	// Text without a ':' parses as IPv4 or not at all, and an IPv4 loopback
	// address (127.0.0.0/8, no leading zeros) starts with "127.": most
	// addresses need no parse.
	if !strings.HasPrefix(ip, "127.") && strings.IndexByte(ip, ':') < 0 {
		return false
	}
	a, err := netip.ParseAddr(ip)
	return err == nil && a.IsLoopback()
}

// IsDirect reports whether e is a successful login to an ESXi host that did
// not go through vCenter: a login by hostd, SSH or DCUI by anyone but
// vCenter's vpxuser and the host's own dcui session, and not from local
// tooling at 127.0.0.1.
func IsDirect(e *Event) bool {
	if e.Kind != KindLogin || e.Outcome == OutcomeFailure {
		return false
	}
	switch e.Method {
	case MethodHostd, MethodSSH, MethodDCUI:
	default:
		return false
	}
	if IsInternalUser(e.User) {
		return false
	}
	if e.Method != MethodDCUI && IsLoopback(e.ClientIP) {
		return false
	}
	return true
}

// LoginJoinWindow is how far apart an SSO login and the vCenter session it
// opened may be.
const LoginJoinWindow = 2 * time.Minute

// AwaitsLoginPartner reports whether e is one half of a vSphere Client
// login: the SSO login that carries the client's real address, or the
// vCenter session that vCenter's UI service opened for it from 127.0.0.1.
// The two are one login (see JoinLogin).
func AwaitsLoginPartner(e *Event) bool {
	if e.Kind != KindLogin || e.User == "" {
		return false
	}
	switch e.Method {
	case MethodSSO:
		return e.ClientIP != "" && !IsLoopback(e.ClientIP)
	case MethodVCenter:
		return IsLoopback(e.ClientIP)
	}
	return false
}

// LoginPartners reports whether a and b (in either order) are the SSO
// login and the vCenter session of one vSphere Client login: the same
// user, within LoginJoinWindow. Both must be normalized. The user is
// compared without its domain: SSO may name a directory user by its DNS
// domain (user01@intra.example.com) where vCenter names its NetBIOS one
// (INTRA\user01).
func LoginPartners(a, b *Event) bool {
	if !AwaitsLoginPartner(a) || !AwaitsLoginPartner(b) || a.Method == b.Method || !strings.EqualFold(localPart(a.User), localPart(b.User)) {
		return false
	}
	d := a.Time.Sub(b.Time)
	return d <= LoginJoinWindow && d >= -LoginJoinWindow
}

// JoinLogin returns the one login event of partners a and b: the vCenter
// session, with the client address SSO recorded.
func JoinLogin(a, b Event) Event {
	vc, sso := a, b
	if vc.Method != MethodVCenter {
		vc, sso = b, a
	}
	vc.ClientIP = sso.ClientIP
	return vc
}

// localPart is u without its "@domain".
func localPart(u string) string {
	if i := strings.LastIndexByte(u, '@'); i > 0 {
		return u[:i]
	}
	return u
}

// DatastoreFolder returns the folder of a datastore path: "[ds1] dc01/dc01.vmdk"
// and "/vmfs/volumes/ds1/dc01/dc01.vmdk" are in "[ds1] dc01". It returns ""
// for a path that is not a datastore path or lies at a datastore's root.
func DatastoreFolder(p string) string {
	p = strings.TrimSpace(p)
	if rest, ok := strings.CutPrefix(p, "/vmfs/volumes/"); ok {
		ds, file, ok := strings.Cut(rest, "/")
		if !ok || ds == "" {
			return ""
		}
		p = "[" + ds + "] " + file
	}
	if !strings.HasPrefix(p, "[") {
		return ""
	}
	end := strings.IndexByte(p, ']')
	if end < 0 {
		return ""
	}
	rest := strings.TrimLeft(p[end+1:], " ")
	slash := strings.LastIndexByte(rest, '/')
	if slash <= 0 {
		return ""
	}
	return p[:end+1] + " " + rest[:slash]
}

// IsCrossVM reports whether a disk whose backing file is disk, attached to
// the VM named vm whose configuration file is vmx (a datastore path, "" when
// not known), lies in another VM's folder: how a domain controller's
// database is read offline by attaching its disk to a VM the intruder
// controls. Without vmx the VM's folder is taken to be named after the VM,
// as vSphere names it (a VM renamed after creation keeps its old folder,
// so give vmx where it is known).
func IsCrossVM(vm, vmx, disk string) bool {
	df := DatastoreFolder(disk)
	if df == "" {
		return false
	}
	if vf := DatastoreFolder(vmx); vf != "" {
		return df != vf
	}
	dir := df[strings.IndexByte(df, ']')+2:]
	if i := strings.LastIndexByte(dir, '/'); i >= 0 {
		dir = dir[i+1:]
	}
	return vm != "" && !strings.EqualFold(dir, vm)
}

// VCenterAddrs are the addresses vCenter's vpxuser logs in to ESXi hosts
// from: the vCenters the exporter reads, and any the operator names. A
// vpxuser login from any other address is stolen vCenter credentials in
// use (vpxuser's password sits on every host and in vCenter's database)
// and counts as a direct login. The zero value knows none and judges no
// vpxuser login.
type VCenterAddrs struct {
	prefixes []netip.Prefix
}

// ParseVCenterAddrs reads addresses and CIDR ranges ("10.0.0.5",
// "10.0.0.0/29", "fd00::5").
func ParseVCenterAddrs(vals []string) (VCenterAddrs, error) {
	var v VCenterAddrs
	for _, s := range vals {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return VCenterAddrs{}, fmt.Errorf("%q is neither an address nor a CIDR range: %v", s, err)
			}
			v.prefixes = append(v.prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return VCenterAddrs{}, fmt.Errorf("%q is neither an address nor a CIDR range: %v", s, err)
		}
		v.Add(a)
	}
	return v, nil
}

// Add adds one address.
func (v *VCenterAddrs) Add(a netip.Addr) {
	a = a.Unmap()
	v.prefixes = append(v.prefixes, netip.PrefixFrom(a, a.BitLen()))
}

// Len is the number of addresses and ranges known.
func (v VCenterAddrs) Len() int { return len(v.prefixes) }

// Contains reports whether ip is one of the addresses.
func (v VCenterAddrs) Contains(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range v.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ReasonUnknownVCenter is the Reason of a vpxuser login JudgeVpxuser made direct.
const ReasonUnknownVCenter = "vpxuser from an address that is not a known vCenter"

// JudgeVpxuser makes a successful vpxuser login to a host from an address
// that is not a known vCenter a direct login. A login from the host itself
// (vpxa, vCenter's agent, talks to hostd over 127.0.0.1) and one without
// an address are not judged, nor any when no address is known. e must be
// normalized.
func (v VCenterAddrs) JudgeVpxuser(e *Event) {
	if len(v.prefixes) == 0 || e.Kind != KindLogin || e.Outcome == OutcomeFailure || e.User != "vpxuser" {
		return
	}
	switch e.Method {
	case MethodHostd, MethodSSH:
	default:
		return
	}
	if e.ClientIP == "" || IsLoopback(e.ClientIP) || v.Contains(e.ClientIP) {
		return
	}
	if _, err := netip.ParseAddr(e.ClientIP); err != nil {
		return
	}
	e.Direct = true
	e.Reason = ReasonUnknownVCenter
}

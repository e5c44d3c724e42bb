package detect

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"
)

// The regular expressions the hand-written matchers replace.
var (
	acceptedRe     = regexp.MustCompile(`^Accepted \S+ for (?P<user>\S+) from ?(?P<client_ip>[0-9A-Fa-f.:]+) port`)
	shellCommandRe = regexp.MustCompile(`^\[(?P<user>[^\]]+)\]: (?P<command>.*)$`)
)

// texts returns the crafted cases and n random joins of pieces (fixed seed).
func texts(crafted, pieces []string, n int) []string {
	out := append([]string(nil), crafted...)
	r := rand.New(rand.NewSource(1))
	for range n {
		var b strings.Builder
		for k := r.Intn(9); k >= 0; k-- {
			b.WriteString(pieces[r.Intn(len(pieces))])
		}
		out = append(out, b.String())
	}
	return out
}

func TestAcceptedLoginMatchesRegexp(t *testing.T) {
	crafted := []string{
		"Accepted keyboard-interactive/pam for root from 192.168.127.10 port 58470 ssh2",
		"Accepted publickey for root from 1.2.3.4 port 33398 ssh2: RSA SHA256:abc",
		"Accepted password for root from10.11.12.13 port 22",
		"Accepted password for root from  10.0.0.1 port 22",
		"Accepted password for root from fe80::1%5 port 22",
		"Accepted password for root from ::1 port",
		"Accepted password for root from 10.0.0.1 porter",
		"Accepted password for root from 10.0.0.1 Port 22",
		"Accepted password for root from 10.0.0.1",
		"Accepted password for root from 10.0.0.1 ",
		"Accepted password for for root from 10.0.0.1 port 22",
		"Accepted  password for root from 10.0.0.1 port 22",
		"Accepted password  for root from 10.0.0.1 port 22",
		"Accepted password for  root from 10.0.0.1 port 22",
		"Accepted password for root\tfrom 10.0.0.1 port 22",
		"Accepted pass\vword for ro\vot from 10.0.0.1 port 22",
		"Accepted password for ü from 10.0.0.1 port 22",
		"Accepted password for \xff from 10.0.0.1 port 22",
		"Accepted password for root from 10.0.0.g port 22",
		"Accepted password for root from abcdef port 22",
		"Accepted password for root from ABCDEF:. port 22",
		"Accepted for root from 10.0.0.1 port 22",
		"Accepted ",
		"Accepted",
		"",
	}
	pieces := []string{"Accepted ", "Accepted", " ", "  ", "password", "for", " for ", "from", " from", " from ", "root", "ü", "\xff",
		"10.0.0.1", "::1", "fe80::1%5", "g", "port", " port", " port 22", "\t", "\n", "\f", "\r", "\v", ":", ".", "x", "A", "-"}
	// Near misses and matches: each part of the line drawn from variants.
	r := rand.New(rand.NewSource(2))
	pick := func(vs ...string) string { return vs[r.Intn(len(vs))] }
	for range 100000 {
		crafted = append(crafted, pick("Accepted ", "Accepted  ", "Accepted\t")+pick("password", "publickey", "keyboard-interactive/pam", "", "pass word", "p\xffw")+
			pick(" for ", " for  ", "\tfor ", " for")+pick("root", "for", "ü", "", "r t", "ro\vot", "admin@x")+
			pick(" from ", " from", " from  ", "\tfrom ", " fro ")+pick("10.0.0.1", "::1", "fe80::1%5", "", "ABCDEF", "10.0.0.g", ".:")+
			pick(" port 22", " port", " porter", " Port", "", " ", "port", "  port"))
	}
	for _, s := range texts(crafted, pieces, 200000) {
		for _, s := range []string{s, "Accepted " + s, "Accepted password for " + s} {
			m := acceptedRe.FindStringSubmatch(s)
			user, ip, ok := acceptedLogin(s)
			if ok != (m != nil) || ok && (user != m[1] || ip != m[2]) {
				t.Fatalf("acceptedLogin(%q) = %q, %q, %v; the regexp: %q", s, user, ip, ok, m)
			}
		}
	}
}

func TestShellCommandLineMatchesRegexp(t *testing.T) {
	crafted := []string{
		"[root]: esxcli system version get",
		"[root]: ",
		"[root]:",
		"[]: ls",
		"[r]: ls",
		"[a]b]: ls",
		"[a: b]: ls",
		"[root]:  ls ]: x",
		"[root]: ls\n",
		"[root]: ls\nrm",
		"[ro\not]: ls",
		"[root] : ls",
		"[ü]: \xff",
		"[[root]]: ls",
		"root]: ls",
		"[",
		"",
	}
	pieces := []string{"[", "]", "]: ", ": ", ":", " ", "root", "ls -l", "\n", "\r", "\t", "ü", "\xff", "x", "]:"}
	for _, s := range texts(crafted, pieces, 200000) {
		for _, s := range []string{s, "[" + s, "[root]: " + s} {
			m := shellCommandRe.FindStringSubmatch(s)
			user, cmd, ok := shellCommandLine(s)
			if ok != (m != nil) || ok && (user != m[1] || cmd != m[2]) {
				t.Fatalf("shellCommandLine(%q) = %q, %q, %v; the regexp: %q", s, user, cmd, ok, m)
			}
		}
	}
}

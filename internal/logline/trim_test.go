package logline

import (
	"strings"
	"testing"
)

// trimLeftBlanks, which trimLine ends with, is strings.TrimLeft(s, " \t").
func TestTrimLeftBlanks(t *testing.T) {
	for _, s := range []string{"", " ", "\t", " \t \t", "\n", "\r\n", `\n`, ` \n `, "a", " a", "\ta\t", " \t a b \r\n",
		"\x00", " \x00a", "\u00a0a", " é ", "\xff", `x\n\n`, "\v a", " \t\n"} {
		if got, want := trimLeftBlanks(s), strings.TrimLeft(s, " \t"); got != want {
			t.Errorf("trimLeftBlanks(%q) = %q, want %q", s, got, want)
		}
	}
}

// sdIDOf and cutLevelWord find what the code they replace found.
func TestSDIDOfAndCutLevelWord(t *testing.T) {
	for _, s := range []string{"[", "[]", "[ ", "[a", "[a]", "[a b]", "[Originator@6876 sub=x]", "[meta]", "[x]y z", "[é ]", "[\xff]"} {
		want := s[1:]
		if i := strings.IndexAny(want, " ]"); i >= 0 {
			want = want[:i]
		}
		if got := sdIDOf(s); got != want {
			t.Errorf("sdIDOf(%q) = %q, want %q", s, got, want)
		}
	}
	for _, b := range []string{"", " ", "info", "info ", "info hostd[1] x", "INFO x", "WARNING  y", "critical", "infox y", "[Originator@6876] x",
		"Accepted password", "verbose\tx", "error:", "trivia x", "1nfo x", "éinfo x", "panic\n"} {
		tok, rest := token(b)
		gotTok, gotRest, ok := cutLevelWord(b)
		if ok != isLevelWord(tok) || ok && (gotTok != tok || gotRest != rest) {
			t.Errorf("cutLevelWord(%q) = %q, %q, %v; token: %q, %q, level word %v", b, gotTok, gotRest, ok, tok, rest, isLevelWord(tok))
		}
	}
}

// normalizeProgram is strings.ToLower, without allocating for the common tags.
func TestNormalizeProgram(t *testing.T) {
	for _, app := range []string{"Hostd", "Vpxa", "Rhttpproxy", "SSH", "ESXShell", "Fdm", "Vpxd", "ssoAdminServer", "hostd", "sshd", "VMkernel", "", "vobd"} {
		if got, want := normalizeProgram(app), strings.ToLower(app); got != want {
			t.Errorf("normalizeProgram(%q) = %q, want %q", app, got, want)
		}
	}
	var got string
	if n := testing.AllocsPerRun(10, func() { got = normalizeProgram("ssoAdminServer") }); n != 0 || got != "ssoadminserver" {
		t.Errorf("normalizeProgram(\"ssoAdminServer\") allocates %v times", n)
	}
}

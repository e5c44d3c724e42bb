package logline

import (
	"strings"
	"testing"
)

// trimLineReference is trimLine as it was written with strings.TrimLeft.
func trimLineReference(s string) string {
	for len(s) > 0 {
		c := s[len(s)-1]
		if c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == 0 {
			s = s[:len(s)-1]
			continue
		}
		if strings.HasSuffix(s, `\n`) {
			s = s[:len(s)-2]
			continue
		}
		break
	}
	return strings.TrimLeft(s, " \t")
}

func TestTrimLine(t *testing.T) {
	for _, s := range []string{"", " ", "\t", " \t \t", "\n", "\r\n", `\n`, ` \n `, "a", " a", "\ta\t", " \t a b \r\n",
		"\x00", " \x00a", "\u00a0a", " é ", "\xff", `x\n\n`, "\v a", " \t\n"} {
		if got, want := trimLine(s), trimLineReference(s); got != want {
			t.Errorf("trimLine(%q) = %q, want %q", s, got, want)
		}
	}
}

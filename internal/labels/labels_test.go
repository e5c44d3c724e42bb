package labels

import (
	"testing"
)

func TestCleanStripsControlBytes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"\x00root", "root"},
		{"a\tb", "ab"},
		{"x\x7f", "x"},
		{"\r\nadmin\x1b[31m", "admin[31m"},
		{"plain", "plain"},
		{"ünïcode", "ünïcode"},
	} {
		if got := Clean(c.in, 128); got != c.want {
			t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Clean's fast path for printable ASCII changes nothing.
func TestCleanFastPath(t *testing.T) {
	for _, v := range []string{"", " ", "~", "root", "a b", "\x1f", "\x20", "\x7e", "\x7f", "\x80", "x\xff", "ü", "日本",
		"abcdefgh", "abcdefghi", "abcdéfgh", "abcdefg\t", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"} {
		for _, max := range []int{0, 1, 3, 8, 128} {
			if got, want := Clean(v, max), clean(v, max); got != want {
				t.Errorf("Clean(%q, %d) = %q, want %q", v, max, got, want)
			}
		}
	}
}

package labels

import "testing"

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

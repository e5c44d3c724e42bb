package detect

import (
	"strings"
	"testing"
)

// eventNumberEnd finds what the unbounded search it replaces found.
func TestEventNumberEnd(t *testing.T) {
	want := func(s string) int {
		if strings.HasPrefix(s, "Event ") {
			if i := strings.Index(s, " : "); i > 6 && i < 20 {
				return i
			}
		}
		return -1
	}
	for _, s := range []string{"", "Event", "Event ", "Event :", "Event  : x", "Event 1 : x", "Event 1 :", "Event 1 : ", "Event 975279 : User root@10.0.0.1 logged in",
		"Event 1234567890123 : x", "Event 12345678901234 : x", "Event 123456789012 : x", "Event 1 x : y : z", "Event x", "Event 123 :x : y",
		"Event 1234567890123456789 : x", "Event abc : def", "User root : x", "Event 12 :" + strings.Repeat(" : ", 3)} {
		if got := eventNumberEnd(s); got != want(s) {
			t.Errorf("eventNumberEnd(%q) = %d, want %d", s, got, want(s))
		}
	}
}

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

// containsAny with a lead finds what one search per needle finds.
func TestContainsAnyLead(t *testing.T) {
	sets := [][]string{
		{" is starting", " is stopping"},
		{"us: [esx.audit.", "us: [vob.user.", "us: [esx.problem.vmsyslogd"},
		{"abcd", "abcd", "abcde"},
		{"aaaa", "aaaab"},
	}
	bodies := []string{"", " is", " is st", " is starting", "vm is stopping", "x is st is stopping", " is st is sta is starting",
		"12us: [esx.audit.x", "us: [vob.use us: [vob.user.", "us: [esx.problem.vmsyslogd", "us: [esx.problem.vmsyslog",
		"abc", "abcd", "xabcde", "aaa", "aaaa", "aaaaab", "aaaaaaa", "ü is stopping", "\xff is starting\xff"}
	for _, set := range sets {
		q := quickFilter{contains: set}
		plain := q
		q.lead = commonPrefix(set)
		if len(q.lead) < minLead {
			t.Fatalf("%q: lead %q too short for the test", set, q.lead)
		}
		for _, b := range bodies {
			if got, want := q.containsAny(b), plain.containsAny(b); got != want {
				t.Errorf("%q in %q: %v with lead %q, %v without", set, b, got, q.lead, want)
			}
		}
	}
	if p := commonPrefix([]string{" is starting", " is stopping"}); p != " is st" {
		t.Errorf("commonPrefix = %q", p)
	}
}

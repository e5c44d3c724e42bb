package metrics

import "testing"

// A new series' label pairs are sorted by name and carry the values they
// were made of, which share the memory of the series' key.
func TestNewSeriesLabels(t *testing.T) {
	f := newFamily(spec{name: "x_total", labels: []string{"user", "host", "direct", "client_ip"}}, Options{MaxSeries: 10}, nil)
	for _, vals := range [][]string{
		{"root", "esx01", "true", "10.0.0.1"},
		{"", "", "", ""},
		{"", "esx01", "", "::1"},
		{"ü", "a\xffb", "x", ""}, // 0xff never survives Clean; here it is only data
	} {
		f.key(vals)
		s := f.newSeries(string(f.buf), vals)
		want := map[string]string{"user": vals[0], "host": vals[1], "direct": vals[2], "client_ip": vals[3]}
		prev := ""
		for _, p := range s.pairs {
			if p.GetName() <= prev {
				t.Errorf("%q: label %q after %q", vals, p.GetName(), prev)
			}
			prev = p.GetName()
			if p.GetValue() != want[p.GetName()] {
				t.Errorf("%q: %s=%q, want %q", vals, p.GetName(), p.GetValue(), want[p.GetName()])
			}
		}
		if len(s.pairs) != len(vals) || s.key != string(f.buf) {
			t.Errorf("%q: %d pairs, key %q", vals, len(s.pairs), s.key)
		}
	}
}

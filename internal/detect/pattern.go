package detect

import (
	"fmt"
	"strings"
)

// pattern is a literal template with captures, such as
// "User {user}@{client_ip} logged in": it must match at the start of the
// text, each capture is a non-empty run without spaces that ends where the
// next literal begins (a final capture ends at the next space). It does the
// work of a simple regular expression at a fraction of the cost, for the
// rules that see the most traffic.
type pattern struct {
	lits []string // lits[0] is the prefix; lits[i+1] follows caps[i]
	caps []string
}

func compilePattern(p string) (*pattern, error) {
	out := &pattern{}
	rest := p
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			out.lits = append(out.lits, rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("pattern %q: unclosed {", p)
		}
		out.lits = append(out.lits, rest[:i])
		out.caps = append(out.caps, rest[i+1:i+j])
		rest = rest[i+j+1:]
		if strings.HasPrefix(rest, "{") {
			return nil, fmt.Errorf("pattern %q: two captures need a literal between them", p)
		}
	}
	return out, nil
}

// match returns the captured values (in caps order) into vals.
func (p *pattern) match(s string, vals []string) bool {
	if !strings.HasPrefix(s, p.lits[0]) {
		return false
	}
	s = s[len(p.lits[0]):]
	for i := range p.caps {
		next := p.lits[i+1]
		var v string
		if next == "" {
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			v, s = s[:end], s[end:]
		} else {
			j := strings.Index(s, next)
			if j <= 0 {
				return false
			}
			v, s = s[:j], s[j+len(next):]
		}
		if v == "" || strings.IndexByte(v, ' ') >= 0 {
			return false
		}
		vals[i] = v
	}
	return true
}

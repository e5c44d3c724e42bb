package logline

import (
	"strings"
	"unsafe"
)

// Peeked is what Peek finds in a message without parsing it: enough to
// decide whether any rule could match. The strings alias the line passed
// to Peek and are valid only while it is.
type Peeked struct {
	Host    string
	Program string // as sent ("Hostd"); compare with strings.EqualFold
	Body    string // after the tag, the ESXi level prefix and leading structured data
	// SDID is the ID of the first structured-data element ("shell.cmd@6876"),
	// as Record.SDID.
	SDID string
}

// Peek finds host, program and body of the common ESXi and vCenter header
// forms (RFC 3164 with RFC 3339 or BSD time, RFC 5424, and the same
// without PRI) without allocating. ok is false for anything else; the
// caller then parses the message fully.
func Peek(line []byte) (p Peeked, ok bool) {
	if len(line) == 0 {
		return p, false
	}
	s := trimLine(unsafe.String(&line[0], len(line)))
	if s == "" {
		return p, false
	}
	if s[0] == '<' {
		rest, ok := skipPRI(s)
		if !ok {
			return p, false
		}
		if isVersion5424(rest) {
			return peek5424(rest[strings.IndexByte(rest, ' ')+1:])
		}
		s = rest
	}
	var n int
	switch {
	case len(s) > 19 && s[4] == '-' && s[10] == 'T':
		n = strings.IndexByte(s, ' ')
	case len(s) > 16 && s[3] == ' ' && months[s[:3]] != 0:
		// "Mmm dd hh:mm:ss " or "Mmm  d hh:mm:ss "
		n = 15
		if s[4] == ' ' {
			n = 15
		} else if s[5] == ' ' {
			n = 14
		}
		if n >= len(s) || s[n] != ' ' || s[n-3] != ':' {
			return p, false
		}
	default:
		return p, false
	}
	if n <= 0 || n+1 >= len(s) {
		return p, false
	}
	s = s[n+1:]
	host, rest := token(s)
	if host == "" || rest == "" || strings.HasSuffix(host, ":") || isSeverityToken(host) || isLevelWord(host) || host[0] == '[' || host[0] == '{' {
		return p, false
	}
	rest = rest[1:]
	tag, body := token(rest)
	var app string
	if len(tag) >= 2 && tag[len(tag)-1] == ':' && tag[0] != '[' {
		app, _ = splitTag(tag[:len(tag)-1])
	} else if a, _, ok := colonlessTag(tag); ok && body != "" {
		app = a
	} else {
		return p, false
	}
	if isDigit(app[0]) { // a relay's inner timestamp
		return p, false
	}
	p.Host, p.Program = host, app
	var sdOK bool
	p.Body, p.SDID, sdOK = peekBody(body)
	return p, sdOK && !isContinuation(p.Body)
}

// isContinuation: a continuation line is left to the full parser.
func isContinuation(b string) bool {
	return strings.HasPrefix(b, "-->") || b == "+" || strings.HasPrefix(b, "+ ")
}

// peek5424 handles "TIMESTAMP HOSTNAME APP PROCID MSGID SD MSG".
func peek5424(s string) (p Peeked, ok bool) {
	_, rest := token(s)
	host, rest := token(strings.TrimPrefix(rest, " "))
	app, rest := token(strings.TrimPrefix(rest, " "))
	_, rest = token(strings.TrimPrefix(rest, " "))
	_, rest = token(strings.TrimPrefix(rest, " "))
	rest = strings.TrimPrefix(rest, " ")
	if app == "" || rest == "" {
		return p, false
	}
	var sdid string
	if rest[0] == '-' {
		rest = rest[1:]
	} else {
		for len(rest) > 0 && rest[0] == '[' {
			end := skipSD(rest)
			if end < 0 {
				return p, false
			}
			if id := sdIDOf(rest); sdid == "" && id != "meta" {
				sdid = id
			}
			rest = rest[end:]
		}
	}
	p.Host, p.Program = host, app
	var inner string
	var sdOK bool
	p.Body, inner, sdOK = peekBody(rest)
	if !sdOK {
		return p, false
	}
	if sdid == "" {
		sdid = inner
	}
	p.SDID = sdid
	return p, !isContinuation(p.Body)
}

// sdIDOf returns the ID of the structured-data element at the start of s.
// (What strings.IndexAny(id, " ]") finds, without building its set of
// bytes per call.)
func sdIDOf(s string) string {
	id := s[1:]
	for i := 0; i < len(id); i++ {
		if id[i] == ' ' || id[i] == ']' {
			return id[:i]
		}
	}
	return id
}

// peekBody mirrors finish: it drops the pre-8.0 "info hostd[tid] " and the
// leading structured data, without allocating, and returns the ID of the
// first structured-data element it dropped. ok is false for an element
// it cannot take apart (an unbalanced quote): the full parser decides.
func peekBody(b string) (body, sdid string, ok bool) {
	b = strings.TrimLeft(b, " ")
	if _, rest, ok := cutLevelWord(b); ok {
		rest = strings.TrimLeft(rest, " ")
		if tag, after := token(rest); strings.IndexByte(tag, '[') > 0 {
			if i := strings.Index(tag, "]["); i > 0 {
				after = rest[i+1:]
			}
			b = strings.TrimLeft(after, " ")
		}
	}
	for len(b) > 0 && b[0] == '[' {
		id := sdIDOf(b)
		if at := strings.IndexByte(id, '@'); at <= 0 && id != "meta" {
			break
		}
		end := skipSD(b)
		if end < 0 {
			return "", "", false
		}
		if sdid == "" && id != "meta" {
			sdid = id
		}
		b = b[end:]
	}
	return strings.TrimLeft(b, " "), sdid, true
}

// skipSD returns the length of the structured-data element at the start of
// s (quoted values may contain "]"), or -1.
func skipSD(s string) int {
	// Fast path: ESXi writes unquoted values, so the first "]" ends the
	// element unless a quote comes before it.
	if end := strings.IndexByte(s, ']'); end > 0 && strings.IndexByte(s[:end], '"') < 0 {
		return end + 1
	}
	quoted := false
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ']':
			if !quoted {
				return i + 1
			}
		}
	}
	return -1
}

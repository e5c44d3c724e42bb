package logline

import "strings"

// finish normalizes the program name and takes ESXi's prefixes off the body:
// the pre-8.0 repetition "info hostd[tid] ", the continuation marker "-->"
// and the leading structured-data block(s) that ESXi 8 writes into the
// message of an RFC 3164 frame.
func finish(rec *Record, pc *paramChunk) {
	rec.Program = normalizeProgram(rec.App)
	b := strings.TrimLeft(rec.Body, " ")
	// Pre-8.0: "Hostd: info hostd[1053970] [Originator@6876 ...] text"
	if tok, rest, ok := cutLevelWord(b); ok {
		rest = strings.TrimLeft(rest, " ")
		tag, after := token(rest)
		// "hostd[32740B70][Originator@6876 ..." (ESXi 6.0: no space before the SD block)
		if i := strings.Index(tag, "]["); i > 0 {
			tag, after = rest[:i+1], rest[i+1:]
		}
		if strings.IndexByte(tag, '[') > 0 && strings.HasSuffix(tag, "]") {
			rec.Level = tok
			app, pid := splitTag(tag)
			if rec.App == "" {
				rec.App, rec.Program = app, normalizeProgram(app)
			}
			if rec.PID == "" {
				rec.PID = pid
			}
			b = strings.TrimLeft(after, " ")
		}
	}
	if rec.App == "" && rec.Format == "msg" {
		// A bare message part that still carries its tag: "sshd[2102293]: Invalid user ..."
		if tok, rest := token(b); len(tok) > 1 && strings.HasSuffix(tok, ":") && tok[0] != '[' && !strings.Contains(tok, "://") {
			app, pid := splitTag(tok[:len(tok)-1])
			if validTag(app) {
				rec.App, rec.PID, rec.Program = app, pid, normalizeProgram(app)
				b = strings.TrimLeft(rest, " ")
			}
		}
	}
	if strings.HasPrefix(b, "-->") {
		rec.Continuation = true
		b = strings.TrimPrefix(b[3:], " ")
	} else if strings.HasPrefix(b, "+ ") || b == "+" {
		// ESXi 8 line marker for the subsequent lines of a multi-line submission.
		rec.Continuation = true
		b = strings.TrimPrefix(b[1:], " ")
	}
	rec.Body = strings.TrimLeft(consumeSD(b, false, rec, pc), " ")
}

func validTag(s string) bool {
	if s == "" || len(s) > 48 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/') {
			return false
		}
	}
	return true
}

// parseSDElement parses one structured-data element at the start of s:
// "[ID k=v k2=\"v 2\" ...]". Values may be quoted (RFC 5424) or, as ESXi
// writes them, unquoted; an unquoted value runs to the next " key=" or "]".
// Only IDs of the form name@number and "meta" are taken as structured data
// (so "[GenericCorrelator]" or "[root]:" are left in the body). strict5424
// accepts any ID, as in the SD field of an RFC 5424 header.
func parseSDElement(s string, strict5424 bool, dst []Param) (id string, params []Param, rest string, ok bool) {
	n0 := len(dst)
	params = dst
	defer func() {
		if !ok {
			params = dst[:n0]
		}
	}()
	if len(s) < 3 || s[0] != '[' {
		return "", nil, s, false
	}
	i := 1
	for i < len(s) && s[i] != ' ' && s[i] != ']' {
		if s[i] == '[' || s[i] == '=' || s[i] == '"' {
			return "", nil, s, false
		}
		i++
	}
	if i >= len(s) {
		return "", nil, s, false
	}
	id = s[1:i]
	if !strict5424 && id != "meta" {
		at := strings.IndexByte(id, '@')
		if at <= 0 || at == len(id)-1 || !allDigits(id[at+1:]) {
			return "", nil, s, false
		}
	}
	for i < len(s) {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			return "", nil, s, false
		}
		if s[i] == ']' {
			return id, params, s[i+1:], true
		}
		// key
		k := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != ']' {
			i++
		}
		if i >= len(s) {
			return "", nil, s, false
		}
		if s[i] != '=' {
			// A word without "=": part of the previous unquoted value
			// ("sub=Proxy Req 81133").
			if len(params) == n0 {
				return "", nil, s, false
			}
			params[len(params)-1].Value += " " + s[k:i]
			continue
		}
		key := s[k:i]
		if key == "" {
			return "", nil, s, false // "=value": not structured data
		}
		i++
		if i < len(s) && s[i] == '"' {
			i++
			var sb strings.Builder
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				sb.WriteByte(s[i])
				i++
			}
			if i >= len(s) {
				return "", nil, s, false
			}
			i++
			params = append(params, Param{key, sb.String()})
			continue
		}
		v := i
		for i < len(s) && s[i] != ' ' && s[i] != ']' {
			i++
		}
		params = append(params, Param{key, s[v:i]})
	}
	return "", nil, s, false
}

// consumeSD parses the structured-data elements at the start of s into rec
// and returns what follows them.
func consumeSD(s string, strict5424 bool, rec *Record, pc *paramChunk) string {
	if len(s) > 0 && s[0] == '[' && rec.Params == nil {
		rec.Params = pc.take()
	}
	for len(s) > 0 && s[0] == '[' {
		id, params, rest, ok := parseSDElement(s, strict5424, rec.Params)
		if !ok {
			break
		}
		if rec.SDID == "" {
			rec.SDID = id
		}
		rec.Params = params
		s = rest
	}
	return s
}

// paramsPerRecord is the room a record's Params start with.
const paramsPerRecord = 4

// paramChunk hands out the Params of records from allocations shared by
// many records (most lines carry an SD block, and one allocation per line
// was a tenth of the parse). Each record gets a window of its own whose
// capacity ends where the next record's begins, so that an append past it
// moves that record's Params to a new array instead of overwriting a
// neighbour's.
type paramChunk []Param

func (c *paramChunk) take() []Param {
	if cap(*c)-len(*c) < paramsPerRecord {
		*c = make([]Param, 0, 64*paramsPerRecord)
	}
	n := len(*c)
	*c = (*c)[:n+paramsPerRecord]
	return (*c)[n : n : n+paramsPerRecord]
}

package journal

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// allFields is the decode mask of every stored field of audit.Event: bit
// i is the field keyIndex numbers i.
const allFields = 1<<26 - 1

// fieldMask is the mask of the named fields, false for a name that is not
// a stored field.
func fieldMask(names []string) (uint32, bool) {
	var m uint32
	for _, n := range names {
		i := fieldIndex(n)
		if i < 0 {
			return 0, false
		}
		m |= 1 << i
	}
	return m, true
}

func fieldIndex(key string) int { return keyIndex([]byte(key)) }

// keyIndex is the index of the field named key, -1 for none. A switch on
// string(key) does not allocate.
func keyIndex(key []byte) int {
	switch string(key) {
	case "time":
		return 0
	case "source":
		return 1
	case "host":
		return 2
	case "kind":
		return 3
	case "user":
		return 4
	case "client_ip":
		return 5
	case "method":
		return 6
	case "direct":
		return 7
	case "outcome":
		return 8
	case "vm":
		return 9
	case "source_host":
		return 10
	case "target_host":
		return 11
	case "service":
		return 12
	case "ticket_type":
		return 13
	case "setting":
		return 14
	case "command":
		return 15
	case "action":
		return 16
	case "path":
		return 17
	case "operation":
		return 18
	case "technique":
		return 19
	case "value":
		return 20
	case "reason":
		return 21
	case "object":
		return 22
	case "cross_vm":
		return 23
	case "message":
		return 24
	case "rule":
		return 25
	}
	return -1
}

// stringField is the string field of index i, nil for the others.
func stringField(e *audit.Event, i int) *string {
	switch i {
	case 1:
		return &e.Source
	case 2:
		return &e.Host
	case 4:
		return &e.User
	case 5:
		return &e.ClientIP
	case 6:
		return &e.Method
	case 8:
		return &e.Outcome
	case 9:
		return &e.VM
	case 10:
		return &e.SourceHost
	case 11:
		return &e.TargetHost
	case 12:
		return &e.Service
	case 13:
		return &e.TicketType
	case 14:
		return &e.Setting
	case 15:
		return &e.Command
	case 16:
		return &e.Action
	case 17:
		return &e.Path
	case 18:
		return &e.Operation
	case 19:
		return &e.Technique
	case 20:
		return &e.Value
	case 21:
		return &e.Reason
	case 22:
		return &e.Object
	case 24:
		return &e.Message
	case 25:
		return &e.Rule
	}
	return nil
}

// decodeEvent is json.Unmarshal(data, e) into a zeroed e, several times
// faster for what the journal stores (json.Marshal of an audit.Event: one
// flat object of strings, booleans and the time). Anything else, a key it
// does not know or a value of another type, goes to json.Unmarshal, so
// the result is always json.Unmarshal's (FuzzDecodeEvent). Only the fields
// in want are filled (json.Unmarshal fills them all); a decode of some
// fields stops once it has them.
func decodeEvent(data []byte, e *audit.Event, want uint32) error {
	*e = audit.Event{}
	if fastDecode(data, e, want) {
		return nil
	}
	*e = audit.Event{}
	return json.Unmarshal(data, e)
}

func fastDecode(d []byte, e *audit.Event, want uint32) bool {
	left := want // the wanted fields not yet read: none left ends a partial decode
	i := ws(d, 0)
	if i >= len(d) || d[i] != '{' {
		return false
	}
	i = ws(d, i+1)
	if i < len(d) && d[i] == '}' {
		return ws(d, i+1) == len(d)
	}
	for {
		k0, k1, n, plain := str(d, i)
		if n < 0 || !plain {
			return false
		}
		f := keyIndex(d[k0:k1])
		if f < 0 {
			return false
		}
		i = ws(d, n)
		if i >= len(d) || d[i] != ':' {
			return false
		}
		i = ws(d, i+1)
		if i >= len(d) {
			return false
		}
		wanted := want&(1<<f) != 0
		left &^= 1 << f
		switch f {
		case 7, 23: // direct, cross_vm
			var v bool
			switch {
			case hasAt(d, i, "true"):
				v, i = true, i+4
			case hasAt(d, i, "false"):
				i += 5
			default:
				return false
			}
			if wanted {
				if f == 7 {
					e.Direct = v
				} else {
					e.CrossVM = v
				}
			}
		default:
			v0, v1, n, plain := str(d, i)
			if n < 0 {
				return false
			}
			i = n
			if !wanted {
				break
			}
			var v string
			if plain {
				v = string(d[v0:v1])
			} else if v, plain = unquote(d[v0-1 : v1+1]); !plain {
				return false
			}
			switch f {
			case 0:
				t, err := time.Parse(time.RFC3339Nano, v)
				if err != nil || t.Format(time.RFC3339Nano) != v {
					return false // json.Unmarshal is the judge of a time written otherwise
				}
				e.Time = t
			case 3:
				e.Kind = audit.Kind(v)
			default:
				*stringField(e, f) = v
			}
		}
		if left == 0 && want != allFields {
			return true
		}
		i = ws(d, i)
		if i >= len(d) {
			return false
		}
		switch d[i] {
		case ',':
			i = ws(d, i+1)
		case '}':
			return ws(d, i+1) == len(d)
		default:
			return false
		}
	}
}

// unquote decodes a JSON string with escapes or non-ASCII bytes (its own
// function: the string escapes here only).
func unquote(quoted []byte) (string, bool) {
	var s string
	err := json.Unmarshal(quoted, &s)
	return s, err == nil
}

func ws(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

func hasAt(d []byte, i int, lit string) bool {
	return len(d)-i >= len(lit) && string(d[i:i+len(lit)]) == lit
}

// str finds the JSON string at d[i]: its contents d[start:end] and the
// index after it, or n = -1. plain is false when the contents have escapes
// or bytes beyond ASCII (json.Unmarshal decodes those).
func str(d []byte, i int) (start, end, n int, plain bool) {
	if i >= len(d) || d[i] != '"' {
		return 0, 0, -1, false
	}
	plain = true
	for j := i + 1; j < len(d); j++ {
		switch c := d[j]; {
		case c == '"':
			return i + 1, j, j + 1, plain
		case c == '\\':
			plain = false
			j++ // the escaped byte
		case c < 0x20:
			return 0, 0, -1, false
		case c >= utf8.RuneSelf:
			plain = false
		}
	}
	return 0, 0, -1, false
}

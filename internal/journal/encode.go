package journal

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// appendEvent appends e as JSON, the same object encoding/json writes for
// it (the same keys, in the same order, the same omitempty), without
// reflection: encoding an event is on the ingest path. Strings are
// escaped as JSON requires; invalid UTF-8 becomes U+FFFD, as encoding/json
// does. TestAppendEventMatchesEncodingJSON holds it to that.
func appendEvent(b []byte, e *audit.Event) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendKey(b, "source", e.Source, false)
	b = appendKey(b, "host", e.Host, false)
	b = appendKey(b, "kind", string(e.Kind), false)
	b = appendKey(b, "user", e.User, true)
	b = appendKey(b, "client_ip", e.ClientIP, true)
	b = appendKey(b, "method", e.Method, true)
	b = append(b, `,"direct":`...)
	b = strconv.AppendBool(b, e.Direct)
	b = appendKey(b, "outcome", e.Outcome, true)
	b = appendKey(b, "vm", e.VM, true)
	b = appendKey(b, "source_host", e.SourceHost, true)
	b = appendKey(b, "target_host", e.TargetHost, true)
	b = appendKey(b, "service", e.Service, true)
	b = appendKey(b, "ticket_type", e.TicketType, true)
	b = appendKey(b, "setting", e.Setting, true)
	b = appendKey(b, "command", e.Command, true)
	b = appendKey(b, "action", e.Action, true)
	b = appendKey(b, "path", e.Path, true)
	b = appendKey(b, "operation", e.Operation, true)
	b = appendKey(b, "technique", e.Technique, true)
	b = appendKey(b, "value", e.Value, true)
	b = appendKey(b, "reason", e.Reason, true)
	b = appendKey(b, "object", e.Object, true)
	if e.CrossVM {
		b = append(b, `,"cross_vm":true`...)
	}
	b = appendKey(b, "message", e.Message, true)
	b = appendKey(b, "rule", e.Rule, true)
	return append(b, '}')
}

func appendKey(b []byte, key, v string, omitEmpty bool) []byte {
	if omitEmpty && v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it (including <, > and & and U+2028/U+2029).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Package logline turns one syslog message, as received on the wire or as
// written to a file by a collector, into a Record: time, host, program and
// the message body with ESXi's own prefixes (the repeated "info hostd[tid]",
// the leading structured-data block) taken apart.
//
// Transport (sockets, framing) lives elsewhere; this package sees one message.
package logline

import (
	"strings"
	"time"
)

// Param is one key/value pair of a structured-data element.
type Param struct {
	Key, Value string
}

// Record is one parsed log message.
type Record struct {
	Time    time.Time
	Host    string // HOSTNAME of the sender ("" when the line had none)
	App     string // the program tag as sent ("Hostd", "sshd", "vpxd")
	Program string // App normalized: lower case ("hostd")
	PID     string
	Level   string // ESXi level word or severity token when present ("info", "In(166)")
	// SDID is the ID of the first structured-data element ("Originator@6876",
	// "shell.cmd@6876"); Params are its parameters plus those of any
	// following elements (such as [meta sequenceId="..."]).
	SDID   string
	Params []Param
	// Body is the message text after every prefix was removed.
	Body string
	// Continuation is true for a line that continues the previous message of
	// the same host and program (ESXi "-->" lines and "+" line markers).
	Continuation bool
	// Format names the header form that was recognized (for diagnostics).
	Format string
}

// Param returns the value of the structured-data parameter key, or "".
func (r *Record) Param(key string) string {
	for i := range r.Params {
		if r.Params[i].Key == key {
			return r.Params[i].Value
		}
	}
	return ""
}

// normalizeProgram lower-cases an application tag. The tags ESXi and
// vCenter send with capitals are normalized without allocating (a switch:
// cheaper than a map lookup for every message).
func normalizeProgram(app string) string {
	switch app {
	case "Hostd":
		return "hostd"
	case "Vpxa":
		return "vpxa"
	case "Rhttpproxy":
		return "rhttpproxy"
	case "SSH":
		return "ssh"
	case "ESXShell":
		return "esxshell"
	case "Fdm":
		return "fdm"
	case "Vpxd":
		return "vpxd"
	case "ssoAdminServer":
		return "ssoadminserver"
	}
	for i := 0; i < len(app); i++ {
		c := app[i]
		if c >= 'A' && c <= 'Z' {
			return strings.ToLower(app)
		}
	}
	return app
}

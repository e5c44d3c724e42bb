package audit

// Fields are the event fields a detection may fill by name (the JSON name):
// the named groups of a rule's regular expression, the captures of its
// pattern, the groups of a vSphere message template.
var Fields = []string{"user", "client_ip", "vm", "source_host", "target_host", "service", "ticket_type", "setting", "command", "host",
	"action", "path", "operation", "technique", "value", "reason", "object"}

// IsField reports whether name is one of Fields.
func IsField(name string) bool {
	for _, f := range Fields {
		if f == name {
			return true
		}
	}
	return false
}

// SetField sets the field of e named name (one of Fields) to v. It reports
// false for a name that is not a field.
func SetField(e *Event, name, v string) bool {
	switch name {
	case "user":
		e.User = v
	case "client_ip":
		e.ClientIP = v
	case "vm":
		e.VM = v
	case "source_host":
		e.SourceHost = v
	case "target_host":
		e.TargetHost = v
	case "service":
		e.Service = v
	case "ticket_type":
		e.TicketType = v
	case "setting":
		e.Setting = v
	case "command":
		e.Command = v
	case "host":
		e.Host = v
	case "action":
		e.Action = v
	case "path":
		e.Path = v
	case "operation":
		e.Operation = v
	case "technique":
		e.Technique = v
	case "value":
		e.Value = v
	case "reason":
		e.Reason = v
	case "object":
		e.Object = v
	default:
		return false
	}
	return true
}

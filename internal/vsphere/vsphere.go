// Package vsphere is the vSphere vocabulary: the one table of vCenter event
// classes, vCenter EventEx/ExtendedEvent ids and ESXi VOB ids that the
// exporter turns into audit events, with the kind and fields each gives.
//
// Both sources read it: the vCenter API mapping (collector/vcenter) looks
// events up by class or id, the syslog detections (internal/detect) by the
// class vpxd names in its event stream, by the VOB id vobd logs, or by the
// message text vCenter and hostd relay. A fact is therefore written once,
// and the two paths cannot disagree on it.
//
// The table is checked when the package loads: an entry with an unknown
// kind, a duplicate id, a template that does not compile or a template
// group that is not an event field stops the program at once.
package vsphere

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// Scope says which host an event is about.
type Scope uint8

const (
	// ScopeVCenter: the vCenter itself (sessions, VMs, permissions); the
	// event's host is the vCenter.
	ScopeVCenter Scope = iota
	// ScopeHost: the ESXi host the event names.
	ScopeHost
)

// Origin says who reports an id.
type Origin uint8

const (
	// VCenter: a vCenter event (a typed class, or an EventEx/ExtendedEvent
	// id), read over the vSphere API and in vpxd's syslog event stream.
	VCenter Origin = 1 << iota
	// ESXi: an ESXi VOB, logged with its id by vobd and relayed by text by
	// hostd (and, for the esx.* ids, also a vCenter event).
	ESXi
	// API: a vCenter event that only the vSphere API path reads: what
	// vpxd's syslog line says is not enough to tell it (a TaskEvent's text
	// names neither its VM nor, reliably, its task; a VmReconfiguredEvent's
	// disk changes are in its ConfigSpec). No syslog rule is made of it.
	API
)

// EventType is one vSphere event class or id.
type EventType struct {
	// ID is the class name (UserLoginSessionEvent) or the dotted event
	// type id (esx.audit.ssh.enabled, com.vmware.sso.LoginSuccess).
	ID string
	// Constant fields of the audit event.
	Kind                                               audit.Kind
	Method, Service, Setting, User, TicketType, Action string
	// Outcome and Reason are constant fields too; Apply sets them, which
	// vpxd's rules of the typed classes do not call, so only dotted ids
	// may have them (checked at init).
	Outcome, Reason string
	Scope           Scope
	Origin          Origin
	// Args names the event field each positional argument of the message
	// template fills: "{1}", "{2}", ... which vCenter delivers as the
	// EventEx arguments and ExtendedEvent data keyed "1", "2", ... ("" for
	// an argument that fills none). The API path reads them; they win over
	// the text.
	Args []string
	// Text is a regular expression over the event's message (as vCenter
	// formats it, as vpxd logs it); its named groups fill the audit event
	// fields of the same JSON name (audit.Fields). A syslog line whose
	// text does not match is not this event, unless Optional is set.
	Text     string
	Optional bool
	// Require, when set, must occur in the message: the class is an audit
	// event only then (GeneralHostWarningEvent about lost log messages).
	Require string
	// Description is the start of the message vCenter and hostd show for
	// the id, by which a relay that names no id is recognized (vpxd's
	// EventEx and ExtendedEvent lines, hostd's events).
	Description string
	// Note says where the template comes from, or why it is unverified.
	Note string

	re *regexp.Regexp
}

// Extended reports whether the type is an EventEx/ExtendedEvent id (a
// dotted id) rather than a typed class.
func (t *EventType) Extended() bool { return strings.IndexByte(t.ID, '.') >= 0 }

// Regexp is the compiled Text, or nil.
func (t *EventType) Regexp() *regexp.Regexp { return t.re }

// Apply sets e's kind and constant fields from t.
func (t *EventType) Apply(e *audit.Event) {
	e.Kind = t.Kind
	if t.Method != "" {
		e.Method = t.Method
	}
	if t.Service != "" {
		e.Service = t.Service
	}
	if t.Setting != "" {
		e.Setting = t.Setting
	}
	if t.User != "" {
		e.User = t.User
	}
	if t.TicketType != "" {
		e.TicketType = t.TicketType
	}
	if t.Action != "" {
		e.Action = t.Action
	}
	if t.Outcome != "" {
		e.Outcome = t.Outcome
	}
	if t.Reason != "" {
		e.Reason = t.Reason
	}
}

// Fill takes the event fields out of the message text: the named groups of
// Text, or, for session kinds without a Text, the "user@ip" the message
// names ("SSH session was opened for 'root@10.0.0.9'."). It reports whether
// the text is this event's: false when Require is absent, or when Text is
// set, not Optional, and does not match.
func (t *EventType) Fill(text string, e *audit.Event) bool {
	if t.Require != "" && !strings.Contains(text, t.Require) {
		return false
	}
	if t.re != nil {
		m := t.re.FindStringSubmatch(text)
		if m == nil {
			return t.Optional
		}
		for i, name := range t.re.SubexpNames() {
			if name != "" && m[i] != "" {
				audit.SetField(e, name, m[i])
			}
		}
		return true
	}
	if sessionKind(t.Kind) {
		if u, ip := UserAtIP(text); u != "" {
			e.User = u
			if ip != "" {
				e.ClientIP = ip
			}
		}
	}
	return true
}

func sessionKind(k audit.Kind) bool {
	switch k {
	case audit.KindLogin, audit.KindLogout, audit.KindLoginFailed, audit.KindAccountLocked:
		return true
	}
	return false
}

// UserAtIP extracts "user@ip" or "user" from texts such as
// "SSH session was opened for 'root@1.2.3.4'.", "SSH session was closed for
// root@1.2.3.4." or "account 'root' has been locked".
func UserAtIP(text string) (user, ip string) {
	s := text
	if i := strings.IndexByte(s, '\''); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '\''); j >= 0 {
			s = s[:j]
		}
	} else if i := strings.LastIndex(s, " for "); i >= 0 {
		s = strings.TrimRight(s[i+5:], ".")
	} else {
		return "", ""
	}
	if at := strings.LastIndexByte(s, '@'); at > 0 {
		return s[:at], s[at+1:]
	}
	if strings.ContainsAny(s, " \t") {
		return "", ""
	}
	return s, ""
}

var (
	byID = map[string]*EventType{}
	// descriptions holds the types with a Description, longest first, so
	// that a longer description wins over one that is its prefix.
	descriptions []*EventType
)

func init() {
	if err := build(); err != nil {
		panic("vsphere: " + err.Error())
	}
}

func build() error {
	kinds := map[audit.Kind]bool{}
	for _, k := range audit.Kinds {
		kinds[k] = true
	}
	for i := range Types {
		t := &Types[i]
		if t.ID == "" {
			return fmt.Errorf("entry %d has no ID", i)
		}
		if _, dup := byID[t.ID]; dup {
			return fmt.Errorf("%s: listed twice", t.ID)
		}
		if !kinds[t.Kind] {
			return fmt.Errorf("%s: unknown kind %q", t.ID, t.Kind)
		}
		if t.Origin == 0 {
			return fmt.Errorf("%s: no Origin", t.ID)
		}
		if t.Origin&API != 0 && t.Origin != API {
			return fmt.Errorf("%s: API is an Origin of its own (the vSphere API alone reads it)", t.ID)
		}
		if (t.Outcome != "" || t.Reason != "") && !t.Extended() && t.Origin&VCenter != 0 {
			return fmt.Errorf("%s: a constant Outcome or Reason on a typed class, which vpxd's rule would not set", t.ID)
		}
		if t.Origin == API && (t.Text != "" || t.Description != "") {
			return fmt.Errorf("%s: a Text or Description for an id the vSphere API alone reads", t.ID)
		}
		for _, a := range t.Args {
			if a != "" && !audit.IsField(a) {
				return fmt.Errorf("%s: Args names %q, which is not an event field (%s)", t.ID, a, strings.Join(audit.Fields, ", "))
			}
		}
		if t.Text != "" {
			re, err := regexp.Compile(t.Text)
			if err != nil {
				return fmt.Errorf("%s: Text: %v", t.ID, err)
			}
			for _, g := range re.SubexpNames() {
				if g != "" && !audit.IsField(g) {
					return fmt.Errorf("%s: Text group %q is not an event field (%s)", t.ID, g, strings.Join(audit.Fields, ", "))
				}
			}
			t.re = re
		} else if t.Optional {
			return fmt.Errorf("%s: Optional without Text", t.ID)
		}
		byID[t.ID] = t
		if t.Description != "" {
			descriptions = append(descriptions, t)
		}
	}
	slices.SortStableFunc(descriptions, func(a, b *EventType) int { return len(b.Description) - len(a.Description) })
	return nil
}

// Lookup returns the type of a class or id, or nil.
func Lookup(id string) *EventType { return byID[id] }

// LookupDescription returns the type of origin o whose Description starts
// text, or nil.
func LookupDescription(text string, o Origin) *EventType {
	for _, t := range descriptions {
		if t.Origin&o != 0 && strings.HasPrefix(text, t.Description) {
			return t
		}
	}
	return nil
}

// Descriptions returns the Descriptions of the types of origin o.
func Descriptions(o Origin) []string {
	var out []string
	for _, t := range descriptions {
		if t.Origin&o != 0 {
			out = append(out, t.Description)
		}
	}
	return out
}

// Of returns the types of origin o, in table order.
func Of(o Origin) []*EventType {
	var out []*EventType
	for i := range Types {
		if Types[i].Origin&o != 0 {
			out = append(out, &Types[i])
		}
	}
	return out
}

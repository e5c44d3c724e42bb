package report

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// DefaultSince is the period a report covers when no since is given.
const DefaultSince = "30d"

// localLayouts are the times ParseTime reads in the report's location.
var localLayouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

// ParseTime reads a bound of the period: a duration before now in
// Prometheus' syntax (30d, 12h, 1h30m), "now", an RFC 3339 time
// (2026-11-01T08:00:00+01:00), or a date, or a date and time, in loc
// (2026-11-01, 2026-11-01 08:00, 2026-11-01T08:00:00). "" is the zero time.
func ParseTime(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return time.Time{}, nil
	case "now":
		return now, nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return now.Add(-time.Duration(d)), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, l := range localLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration before now (30d, 12h, 1h30m) nor a time (2026-11-01T08:00:00+01:00, or 2026-11-01 08:00 in %s)", s, loc)
}

// ParseKinds reads kinds; a value may list several, comma-separated. Each
// must be a kind some section shows (Kinds).
func ParseKinds(values []string) ([]audit.Kind, error) {
	var ks []audit.Kind
	known := Kinds()
	for _, v := range values {
		for _, k := range strings.Split(v, ",") {
			k = strings.TrimSpace(k)
			if k == "" {
				continue
			}
			if !slices.Contains(known, audit.Kind(k)) {
				names := make([]string, len(known))
				for i, k := range known {
					names[i] = string(k)
				}
				if slices.Contains(audit.Kinds, audit.Kind(k)) {
					return nil, fmt.Errorf("%q is in no section of the report; the sections show %s", k, strings.Join(names, ", "))
				}
				return nil, fmt.Errorf("unknown kind %q; the report shows %s", k, strings.Join(names, ", "))
			}
			if !slices.Contains(ks, audit.Kind(k)) {
				ks = append(ks, audit.Kind(k))
			}
		}
	}
	return ks, nil
}

// ParamError is a parameter (a flag, a query parameter) with a value the
// report cannot use.
type ParamError struct {
	Param string
	Err   error
}

func (e *ParamError) Error() string { return e.Param + ": " + e.Err.Error() }
func (e *ParamError) Unwrap() error { return e.Err }

// Params are a report's filter as given: flags or query parameters.
type Params struct {
	Since, Until   string // ParseTime; Since "" is DefaultSince
	User, Host, VM string
	Kinds          []string
}

// Filter resolves p at now in loc. An error is a *ParamError naming
// "since", "until" or "kind".
func (p Params) Filter(now time.Time, loc *time.Location) (Filter, error) {
	var f Filter
	var err error
	since := p.Since
	if strings.TrimSpace(since) == "" {
		since = DefaultSince
	}
	if f.Since, err = ParseTime(since, now, loc); err != nil {
		return f, &ParamError{"since", err}
	}
	if f.Until, err = ParseTime(p.Until, now, loc); err != nil {
		return f, &ParamError{"until", err}
	}
	if !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, &ParamError{"until", fmt.Errorf("%s is not after since (%s)", f.Until.In(loc).Format(Layout), f.Since.In(loc).Format(Layout))}
	}
	if f.Kinds, err = ParseKinds(p.Kinds); err != nil {
		return f, &ParamError{"kind", err}
	}
	// The user in the journal's one form: VSPHERE.LOCAL\Administrator
	// selects administrator@vsphere.local.
	f.User = audit.CanonicalUser(strings.TrimSpace(p.User))
	f.Host, f.VM = strings.TrimSpace(p.Host), strings.TrimSpace(p.VM)
	return f, nil
}

// ParamsFromQuery reads since, until, user, host, vm and kind (repeatable).
func ParamsFromQuery(q url.Values) Params {
	return Params{Since: q.Get("since"), Until: q.Get("until"), User: q.Get("user"), Host: q.Get("host"), VM: q.Get("vm"), Kinds: q["kind"]}
}

// Query is p as query parameters (the empty ones left out).
func (p Params) Query() url.Values {
	v := url.Values{}
	for _, kv := range []struct{ k, v string }{{"since", p.Since}, {"until", p.Until}, {"user", p.User}, {"host", p.Host}, {"vm", p.VM}} {
		if kv.v != "" {
			v.Set(kv.k, kv.v)
		}
	}
	for _, k := range p.Kinds {
		if k != "" {
			v.Add("kind", k)
		}
	}
	return v
}

// Command genrules renders the shipped alert rules, alerts/*.rules.yml, from
// the templates in alerts/templates/*.rules.yml.tmpl, with the scrape job
// name, the runbook base URL and the keep_firing_for of pages as
// parameters. The rendered defaults are committed; a site with another job
// name or its own runbook wiki renders its copy:
//
//	go run ./tools/genrules --job=vcenter_audit --runbook-url=https://wiki.example.com/runbooks# --out=/etc/prometheus/rules
//
// Templates use [[ ]] as delimiters (Prometheus annotations keep their
// {{ }}). Besides .Job, .RunbookURL and .KeepFiringFor, two functions
// write the counting idiom of the alerts (see the header of
// alerts/vsphere-audit.rules.yml), each on a line of its own:
//
//	[[ recent `vsphere_audit_logins_total{direct="true"}` "5m" ]]
//	[[ recentHealth `vsphere_audit_label_overflow_total` "5m" ]]
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

// Params are the values a site may change.
type Params struct {
	Job           string
	RunbookURL    string
	KeepFiringFor string
}

// Defaults are the parameters of the committed alerts/*.rules.yml.
var Defaults = Params{
	Job:           "vsphere_audit",
	RunbookURL:    "https://github.com/vsphere-audit-exporter/vsphere-audit-exporter/blob/main/docs/runbooks.md#",
	KeepFiringFor: "1h",
}

func main() {
	app := kingpin.New("genrules", "Render alerts/*.rules.yml from alerts/templates/*.rules.yml.tmpl.")
	p := Defaults
	app.Flag("job", "The Prometheus scrape job name of the exporter (the job label of up{...}); the target-down and target-absent alerts select it.").Default(Defaults.Job).StringVar(&p.Job)
	app.Flag("runbook-url", "The base of every runbook_url annotation; the alert name is appended (end it with # for an anchor, or / for a page per alert).").Default(Defaults.RunbookURL).StringVar(&p.RunbookURL)
	app.Flag("keep-firing-for", "How long a page (a critical security alert) keeps firing after its event left the alert's window, so that it does not resolve before a human looked (Prometheus >= 2.42).").Default(Defaults.KeepFiringFor).StringVar(&p.KeepFiringFor)
	templates := app.Flag("templates", "The directory of the *.rules.yml.tmpl templates.").Default("alerts/templates").String()
	out := app.Flag("out", "The directory the rendered *.rules.yml are written to.").Default("alerts").String()
	kingpin.MustParse(app.Parse(os.Args[1:]))
	files, err := Render(*templates, p)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genrules:", err)
		os.Exit(1)
	}
	for _, name := range sortedKeys(files) {
		if err := os.WriteFile(filepath.Join(*out, name), files[name], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "genrules: --out:", err)
			os.Exit(1)
		}
	}
}

func sortedKeys(m map[string][]byte) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

// Render returns every template of dir rendered with p, by output file name.
func Render(dir string, p Params) (map[string][]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.rules.yml.tmpl"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("--templates: no *.rules.yml.tmpl in %s", dir)
	}
	out := map[string][]byte{}
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		b, err := renderOne(filepath.Base(path), string(src), p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out[strings.TrimSuffix(filepath.Base(path), ".tmpl")] = b
	}
	return out, nil
}

var jobName = regexp.MustCompile(`^[a-zA-Z0-9_.:/-]+$`)

func (p Params) validate() error {
	if !jobName.MatchString(p.Job) {
		return fmt.Errorf("--job %q: want a scrape job name (letters, digits, _ . : / -)", p.Job)
	}
	if p.RunbookURL == "" || strings.ContainsAny(p.RunbookURL, " \n\"'") {
		return fmt.Errorf("--runbook-url %q: want a URL without spaces or quotes", p.RunbookURL)
	}
	if _, err := time.ParseDuration(p.KeepFiringFor); err != nil {
		return fmt.Errorf("--keep-firing-for %q: %v", p.KeepFiringFor, err)
	}
	return nil
}

// directive is a line holding only a counting function call (and maybe a
// trailing comma); its expansion is indented like the line.
var directive = regexp.MustCompile("^( *)\\[\\[ *(recent|recentHealth) +`([^`]+)` +\"([0-9a-z]+)\" *\\]\\](,?)$")

func renderOne(name, src string, p Params) ([]byte, error) {
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		m := directive.FindStringSubmatch(l)
		if m == nil {
			if strings.Contains(l, "recent") && strings.Contains(l, "[[") {
				return nil, fmt.Errorf("line %d: a counting function must stand alone on its line", i+1)
			}
			continue
		}
		exp, err := expand(m[2], m[3], m[4], p.Job)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		ind := m[1]
		var b strings.Builder
		for j, e := range exp {
			if j > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(ind + e)
		}
		b.WriteString(m[5])
		// Keep text/template away from the expansion (it has no [[).
		lines[i] = b.String()
	}
	t, err := template.New(name).Delims("[[", "]]").Option("missingkey=error").Parse(strings.Join(lines, "\n"))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString("# Rendered by tools/genrules from alerts/templates/" + name + "; edit the template.\n")
	if err := t.Execute(&buf, p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var selector = regexp.MustCompile(`^(vsphere_audit_[a-z0-9_]+)_total(\{.*\})?$`)

// expand writes the events of the last window per series of the counter
// selected by sel:
//
//	recent: max without (instance) (
//	    (x - last_over_time(x[1h] offset W) >= 0)
//	  or
//	    (x and time() - x_last_seen_timestamp_seconds < W)
//	  or
//	    (
//	        x
//	      unless
//	        last_over_time(x[1h] offset W)
//	      and on (job, instance)
//	        max_over_time(up{job="J"}[1h] offset W) == 1
//	    )
//	)
//
// The growth since the last sample at least W ago; for a series that had
// no sample then (a new label set, a new or re-added target, a scrape gap
// over an hour) or whose counter was reset, its whole value when its
// newest event is within W (the exporter's last-seen gauge, event time):
// old counts held by an exporter Prometheus has not seen before do not
// page. The third term is a series born within W on a target Prometheus
// scraped in the hour before W, when it did not have it: its events are new
// whatever their event time says (a host whose clock is behind, syslog a
// host buffered, vCenter events read after the exporter was down).
// max without (instance) makes two replicas fed the same events one series.
//
// recentHealth is the same for the exporter's own counters, which have no
// last-seen gauge: the whole value counts only when Prometheus scraped the
// target successfully in the hour before W (a restart), not when the target
// is new to it or was unreachable for over an hour (up 0 all along).
func expand(fn, sel, window, job string) ([]string, error) {
	w, err := time.ParseDuration(window)
	if err != nil {
		return nil, err
	}
	m := selector.FindStringSubmatch(sel)
	if m == nil {
		return nil, fmt.Errorf("%s: %q is not a vsphere_audit_*_total selector", fn, sel)
	}
	scraped := fmt.Sprintf(`max_over_time(up{job="%s"}[1h] offset %s) == 1`, job, window)
	guard := "on (job, instance) " + scraped
	if fn == "recent" {
		guard = fmt.Sprintf("time() - %s_last_seen_timestamp_seconds%s < %d", m[1], m[2], int(w.Seconds()))
	}
	lines := []string{
		"  (",
		"      " + sel,
		"    -",
		"      last_over_time(" + sel + "[1h] offset " + window + ")",
		"    >=",
		"      0",
		"  )",
		"or",
		"  (",
		"      " + sel,
		"    and",
		"      " + guard,
		"  )",
	}
	if fn == "recentHealth" {
		return lines, nil
	}
	lines = append(lines,
		"or",
		"  (",
		"      "+sel,
		"    unless",
		"      last_over_time("+sel+"[1h] offset "+window+")",
		"    and on (job, instance)",
		"      "+scraped,
		"  )",
	)
	out := []string{"max without (instance) ("}
	for _, l := range lines {
		out = append(out, "  "+l)
	}
	return append(out, ")"), nil
}

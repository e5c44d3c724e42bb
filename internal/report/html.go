package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/journal"
)

// HTMLOptions configure WriteHTML.
type HTMLOptions struct {
	// Served makes the page the web report: a filter form filled with
	// Params, CSV and JSON download links and, for a paged section, links
	// to its other pages, all carrying Params (and PageSize).
	Served bool
	Params Params
}

// Page size of the web report.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

var page = template.Must(template.New("audit").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vSphere audit report</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.2em 2em; color: #1f2328; }
h1 { font-size: 1.5em; margin: 0 0 .3em; }
h2 { font-size: 1.15em; margin: 1.6em 0 .2em; }
h2 .count { font-weight: normal; color: #57606a; }
p.meta, p.note { color: #57606a; margin: .2em 0; }
form { display: flex; flex-wrap: wrap; gap: .5em 1em; align-items: flex-end; background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: .7em 1em; margin: .8em 0; }
form label { display: flex; flex-direction: column; font-size: .85em; color: #57606a; }
form input[type=text], form input[type=number] { font: inherit; font-size: 1.05em; padding: 2px 4px; width: 11em; }
form input[type=number] { width: 5em; }
fieldset { border: 0; margin: 0; padding: 0; font-size: .85em; max-width: 60em; }
fieldset legend { color: #57606a; }
fieldset label { display: inline; margin-right: .6em; color: #1f2328; }
button { font: inherit; padding: 3px 14px; }
table { border-collapse: collapse; margin: .4em 0; font-size: .9em; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.time, td.first, td.last, td.disabled { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; white-space: nowrap; }
td.detail, td.command, td.users { max-width: 40em; overflow-wrap: anywhere; }
tr.direct td { background: #ffebe9; }
tr.still-on td.disabled { color: #cf222e; font-weight: bold; }
nav.pages { font-size: .9em; margin: .2em 0 .6em; }
nav.pages a, nav.pages span { margin-right: .8em; }
.none { color: #57606a; font-style: italic; }
</style>
</head>
<body>
<h1>vSphere audit report</h1>
<p class="meta">Period: <span id="period">{{.R.Period}}</span>. Times in <span id="zone">{{.R.ZoneText}}</span>. Filter: {{.R.FilterText}}.</p>
{{if .Served}}<form method="get" action="">
<label>Since <input type="text" name="since" value="{{.P.Since}}" placeholder="30d"></label>
<label>Until <input type="text" name="until" value="{{.P.Until}}" placeholder="now"></label>
<label>User <input type="text" name="user" value="{{.P.User}}"></label>
<label>Host <input type="text" name="host" value="{{.P.Host}}"></label>
<label>VM <input type="text" name="vm" value="{{.P.VM}}"></label>
<label>Rows per page <input type="number" name="page_size" min="1" max="` + strconv.Itoa(MaxPageSize) + `" value="{{.PageSize}}"></label>
<fieldset><legend>Kinds (none: all)</legend>{{range .Kinds}}<label><input type="checkbox" name="kind" value="{{.Name}}"{{if .Checked}} checked{{end}}> {{.Name}}</label> {{end}}</fieldset>
<button type="submit">Show</button> <a href="?">Reset</a>
</form>
<p class="meta">Since and until: a duration before now (30d, 12h), or a time (2026-11-01 08:00 in this time zone, or RFC 3339). Download the whole selection: <a id="csv" href="{{.CSV}}">CSV</a> · <a id="json" href="{{.JSON}}">JSON</a></p>
{{end}}{{range .Sections}}<section id="{{.ID}}">
<h2>{{.Title}} <span class="count">({{.Total}})</span></h2>
<p class="note">{{.Note}}</p>
{{if .Rows}}<table>
<thead><tr>{{range .Columns}}<th class="{{.Key}}">{{.Title}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr{{if .Class}} class="{{.Class}}"{{end}}>{{range .Cells}}<td class="{{.Key}}">{{.Text}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{else}}<p class="none">None.</p>
{{end}}{{if .Nav}}<nav class="pages">{{range .Nav}}{{if .Href}}<a href="{{.Href}}">{{.Text}}</a>{{else}}<span>{{.Text}}</span>{{end}}{{end}}</nav>
{{end}}</section>
{{end}}</body>
</html>
`))

type htmlData struct {
	R         *Report
	Served    bool
	P         Params
	PageSize  int
	Kinds     []htmlKind
	CSV, JSON string
	Sections  []htmlSection
}

type htmlKind struct {
	Name    string
	Checked bool
}

type htmlSection struct {
	*Section
	Rows []htmlRow
	Nav  []htmlLink
}

type htmlRow struct {
	Class string
	Cells []htmlCell
}

type htmlCell struct{ Key, Text string }

type htmlLink struct{ Text, Href string }

// WriteHTML renders r as one HTML page (no script; the style inline).
func WriteHTML(w io.Writer, r *Report, o HTMLOptions) error {
	d := htmlData{R: r, Served: o.Served, P: o.Params, PageSize: DefaultPageSize}
	base := o.Params.Query()
	pages := url.Values{} // every section's page, so that a link keeps the others'
	for _, s := range r.Sections {
		if s.PageSize > 0 {
			d.PageSize = s.PageSize
			if s.Page > 1 {
				pages.Set("page."+s.ID, strconv.Itoa(s.Page))
			}
		}
	}
	link := func(set func(url.Values)) string {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		if d.PageSize != DefaultPageSize {
			v.Set("page_size", strconv.Itoa(d.PageSize))
		}
		for k, vs := range pages {
			v[k] = vs
		}
		set(v)
		return "?" + v.Encode()
	}
	if o.Served {
		for _, k := range Kinds() {
			checked := false
			for _, f := range r.Filter.Kinds {
				checked = checked || f == k
			}
			d.Kinds = append(d.Kinds, htmlKind{string(k), checked})
		}
		d.CSV = link(func(v url.Values) { dropPages(v); v.Set("format", "csv") })
		d.JSON = link(func(v url.Values) { dropPages(v); v.Set("format", "json") })
	}
	for _, s := range r.Sections {
		hs := htmlSection{Section: s}
		for i := range s.Len() {
			row := s.Rows.At(i)
			hr := htmlRow{}
			switch x := row.(type) {
			case Login:
				if x.Direct {
					hr.Class = "direct"
				}
			case ShellWindow:
				if x.StillOn {
					hr.Class = "still-on"
				}
			}
			for k, c := range row.Cells() {
				if c == "" {
					c = "-"
				}
				hr.Cells = append(hr.Cells, htmlCell{s.Columns[k].Key, c})
			}
			hs.Rows = append(hs.Rows, hr)
		}
		if o.Served && s.Pages() > 1 {
			key := "page." + s.ID
			to := func(p int) string { return link(func(v url.Values) { v.Set(key, strconv.Itoa(p)) }) + "#" + s.ID }
			hs.Nav = append(hs.Nav, htmlLink{Text: fmt.Sprintf("Page %d of %d (rows %d–%d of %d)", s.Page, s.Pages(),
				(s.Page-1)*s.PageSize+1, (s.Page-1)*s.PageSize+s.Len(), s.Total)})
			if s.Page > 1 {
				hs.Nav = append(hs.Nav, htmlLink{"« first", to(1)}, htmlLink{"‹ previous", to(s.Page - 1)})
			}
			if s.Page < s.Pages() {
				hs.Nav = append(hs.Nav, htmlLink{"next ›", to(s.Page + 1)}, htmlLink{"last »", to(s.Pages())})
			}
		}
		d.Sections = append(d.Sections, hs)
	}
	return page.Execute(w, d)
}

func dropPages(v url.Values) {
	for k := range v {
		if k == "page" || k == "page_size" || strings.HasPrefix(k, "page.") {
			delete(v, k)
		}
	}
}

// HandlerOptions configure Handler.
type HandlerOptions struct {
	// Location is the time zone of the page (default time.Local).
	Location *time.Location
	Logger   *slog.Logger
	Now      func() time.Time
}

// Handler serves the report of j: HTML (one page of each section; page,
// page.<section> and page_size pick it), or the whole selection with
// format=csv, json or text. The filter is since, until, user, host, vm and
// kind (repeatable); a bad value is a 400 that names the parameter.
func Handler(j *journal.Journal, o HandlerOptions) http.Handler {
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		q := req.URL.Query()
		p := ParamsFromQuery(q)
		bad := func(err error) { http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest) }
		f, err := p.Filter(o.Now(), o.Location)
		if err != nil {
			bad(err)
			return
		}
		format := q.Get("format")
		bo := Options{Location: o.Location, Now: o.Now}
		switch format {
		case "", "html":
			format = "html"
			bo.PageSize = DefaultPageSize
			if v := q.Get("page_size"); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > MaxPageSize {
					bad(&ParamError{"page_size", fmt.Errorf("%q is not a number from 1 to %d", v, MaxPageSize)})
					return
				}
				bo.PageSize = n
			}
			bo.Page = map[string]int{}
			for _, id := range Sections() {
				for _, key := range []string{"page", "page." + id} {
					v := q.Get(key)
					if v == "" {
						continue
					}
					n, err := strconv.Atoi(v)
					if err != nil || n < 1 {
						bad(&ParamError{key, fmt.Errorf("%q is not a page number (1, 2, ...)", v)})
						return
					}
					bo.Page[id] = n
				}
			}
		case "csv", "json", "text":
		default:
			bad(&ParamError{"format", fmt.Errorf("%q is not one of html, csv, json, text", format)})
			return
		}
		start := time.Now()
		r, err := Build(req.Context(), j, f, bo)
		if err != nil {
			if req.Context().Err() == nil { // not a client gone
				o.Logger.Error("audit report", "err", err)
			}
			http.Error(w, "cannot read the journal: "+err.Error(), http.StatusInternalServerError)
			return
		}
		var buf bytes.Buffer
		switch format {
		case "html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			err = WriteHTML(&buf, r, HTMLOptions{Served: true, Params: p})
		case "csv":
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="`+fileName(r, "csv")+`"`)
			err = WriteCSV(&buf, r)
		case "json":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Disposition", `attachment; filename="`+fileName(r, "json")+`"`)
			err = WriteJSON(&buf, r)
		case "text":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			err = WriteText(&buf, r)
		}
		if err != nil {
			o.Logger.Error("audit report", "err", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		if req.Method != http.MethodHead {
			w.Write(buf.Bytes())
		}
		o.Logger.Debug("audit report served", "format", format, "took", time.Since(start))
	})
}

// fileName is the download's name: the period's bounds.
func fileName(r *Report, ext string) string {
	from := "start"
	if !r.From.IsZero() {
		from = r.From.Format("20060102T150405")
	}
	return "vsphere-audit-" + from + "-" + r.To.Format("20060102T150405") + "." + ext
}

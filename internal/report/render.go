package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// Formats are the renderers Write knows.
var Formats = []string{"text", "csv", "json", "html"}

// Write renders r in format (one of Formats).
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case "text", "":
		return WriteText(w, r)
	case "csv":
		return WriteCSV(w, r)
	case "json":
		return WriteJSON(w, r)
	case "html":
		return WriteHTML(w, r, HTMLOptions{})
	}
	return fmt.Errorf("report: unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// Period describes the report's period, "2026-11-01 00:00:00 +01:00 to
// 2026-12-01 00:00:00 +01:00".
func (r *Report) Period() string {
	from := "the oldest event"
	if !r.From.IsZero() {
		from = r.From.Format(Layout)
	}
	return from + " to " + r.To.Format(Layout)
}

// FilterText names the filter's fields that are set, "user=root
// kind=login", or "none".
func (r *Report) FilterText() string {
	var parts []string
	for _, p := range []struct{ k, v string }{{"user", r.Filter.User}, {"host", r.Filter.Host}, {"vm", r.Filter.VM}} {
		if p.v != "" {
			parts = append(parts, p.k+"="+p.v)
		}
	}
	for _, k := range r.Filter.Kinds {
		parts = append(parts, "kind="+string(k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// ZoneText names the report's time zone and its offset now, "Europe/Paris
// (+01:00)".
func (r *Report) ZoneText() string {
	return r.Location.String() + " (" + r.To.Format("-07:00") + ")"
}

// maxTextCell is the widest a cell is printed in text (the last column of
// a section excepted); CSV and JSON have it whole.
const maxTextCell = 60

// WriteText renders r as aligned columns a person reads. The sections
// are formatted side by side, then written in order.
func WriteText(w io.Writer, r *Report) error {
	bufs := make([]bytes.Buffer, len(r.Sections))
	var wg sync.WaitGroup
	for i, s := range r.Sections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			writeSection(&bufs[i], s)
		}()
	}
	wg.Wait()
	if _, err := fmt.Fprintf(w, "vSphere audit report\nPeriod:    %s\nTime zone: %s\nFilter:    %s\n", r.Period(), r.ZoneText(), r.FilterText()); err != nil {
		return err
	}
	for i := range bufs {
		if _, err := bufs[i].WriteTo(w); err != nil {
			return err
		}
	}
	return nil
}

func writeSection(b *bytes.Buffer, s *Section) {
	fmt.Fprintf(b, "\n== %s: %d", s.Title, s.Total)
	if s.PageSize > 0 && s.Total > s.PageSize {
		fmt.Fprintf(b, ", page %d of %d", s.Page, s.Pages())
	}
	fmt.Fprintf(b, " (%s) ==\n", s.Note)
	if s.Len() == 0 {
		b.WriteString("(none)\n")
		return
	}
	writeTable(b, s)
}

func writeTable(w *bytes.Buffer, s *Section) {
	last := len(s.Columns) - 1
	// Two passes: the widths (without formatting the cells where the row
	// knows them), then the lines; keeping every cell would hold the
	// whole report twice.
	cells := func(i int) []string {
		cs := s.Rows.cells(i)
		for k, c := range cs {
			if c == "" {
				c = "-"
			}
			if k < last {
				c = truncate(c, maxTextCell)
			}
			cs[k] = c
		}
		return cs
	}
	titles := make([]string, len(s.Columns))
	width := make([]int, len(s.Columns))
	for i, c := range s.Columns {
		titles[i] = strings.ToUpper(c.Title)
		width[i] = textWidth(titles[i])
	}
	for i := range s.Len() {
		if s.Rows.widen(i, width) {
			continue
		}
		for k, c := range cells(i) {
			width[k] = max(width[k], textWidth(c))
		}
	}
	line := 1
	for _, n := range width {
		line += n + 2
	}
	w.Grow((s.Len() + 1) * line)
	pad := strings.Repeat(" ", slices.Max(width)+2)
	write := func(cs []string) {
		for k, c := range cs {
			w.WriteString(c)
			if k < last {
				w.WriteString(pad[:width[k]+2-textWidth(c)])
			}
		}
		w.WriteByte('\n')
	}
	write(titles)
	for i := range s.Len() {
		write(cells(i))
	}
}

// A widener raises w to the text widths of its cells without formatting
// them: the widths pass of a large section.
type widener interface{ widen(w []int) }

var timeWidth = len(Layout)

// widen raises w[k] to the width of cell s of a column that is not the
// last (those are truncated).
func widen(w []int, k int, s string) {
	n := textWidth(s)
	if n == 0 {
		n = 1 // "-"
	}
	w[k] = max(w[k], min(n, maxTextCell))
}

func (r Login) widen(w []int) {
	w[0] = max(w[0], timeWidth)
	widen(w, 1, r.User)
	widen(w, 2, r.ClientIP)
	widen(w, 3, r.Method)
	widen(w, 4, r.Host)
	w[5] = max(w[5], 3)
}

func (r Console) widen(w []int) {
	w[0] = max(w[0], timeWidth)
	widen(w, 1, r.User)
	widen(w, 2, r.VM)
	widen(w, 3, r.TicketType)
	widen(w, 4, r.Host)
	widen(w, 5, r.Event)
}

func (r ConsoleReuse) widen(w []int) {
	w[0] = max(w[0], timeWidth)
	widen(w, 1, r.VM)
	widen(w, 2, r.User)
	widen(w, 3, r.SessionOf)
	widen(w, 4, r.Host)
	widen(w, 5, r.Evidence)
}

func (r Migration) widen(w []int) {
	w[0] = max(w[0], timeWidth)
	widen(w, 1, r.VM)
	widen(w, 2, r.User)
	widen(w, 3, r.From)
	widen(w, 4, r.To)
}

func (r Change) widen(w []int) {
	w[0] = max(w[0], timeWidth)
	widen(w, 1, r.Host)
	widen(w, 2, r.User)
	widen(w, 3, string(r.Kind))
	widen(w, 4, r.Setting)
	widen(w, 5, r.Action)
	widen(w, 6, r.Value)
	widen(w, 7, r.Command)
}

func textWidth(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.RuneCountInString(s)
		}
	}
	return len(s)
}

func truncate(s string, n int) string {
	if textWidth(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// csvColumns is the one header of the CSV file: the section, then every
// section's columns, each key once.
func csvColumns() []string {
	cols := []string{"section"}
	seen := map[string]bool{}
	for _, d := range defs {
		for _, c := range d.cols {
			if !seen[c.Key] {
				seen[c.Key] = true
				cols = append(cols, c.Key)
			}
		}
	}
	return cols
}

// WriteCSV renders r as one CSV file: a section column, then the columns
// of every section (each row fills its own section's).
func WriteCSV(w io.Writer, r *Report) error {
	cols := csvColumns()
	index := map[string]int{}
	for i, c := range cols {
		index[c] = i
	}
	cw := csv.NewWriter(w) // buffered
	if err := cw.Write(cols); err != nil {
		return err
	}
	rec := make([]string, len(cols))
	for _, s := range r.Sections {
		for i := range s.Len() {
			clear(rec)
			rec[0] = s.ID
			for k, c := range s.Rows.At(i).Cells() {
				rec[index[s.Columns[k].Key]] = c
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

type jsonSection struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Note     string   `json:"note"`
	Columns  []string `json:"columns"`
	Total    int      `json:"total"`
	Page     int      `json:"page,omitempty"`
	PageSize int      `json:"page_size,omitempty"`
}

type jsonHeader struct {
	Generated time.Time    `json:"generated"`
	Since     *time.Time   `json:"since"`
	Until     time.Time    `json:"until"`
	TimeZone  string       `json:"time_zone"`
	User      string       `json:"user,omitempty"`
	Host      string       `json:"host,omitempty"`
	VM        string       `json:"vm,omitempty"`
	Kinds     []audit.Kind `json:"kinds,omitempty"`
}

// WriteJSON renders r as one JSON object: the period and filter, then the
// sections, each with its rows (times RFC 3339 in the report's location).
func WriteJSON(w io.Writer, r *Report) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	h := jsonHeader{Generated: r.Generated, Until: r.To, TimeZone: r.Location.String(),
		User: r.Filter.User, Host: r.Filter.Host, VM: r.Filter.VM, Kinds: r.Filter.Kinds}
	if !r.From.IsZero() {
		h.Since = &r.From
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return err
	}
	bw.Write(hb[:len(hb)-1])
	bw.WriteString(`,"sections":[`)
	for i, s := range r.Sections {
		if i > 0 {
			bw.WriteByte(',')
		}
		js := jsonSection{ID: s.ID, Title: s.Title, Note: s.Note, Total: s.Total}
		if s.PageSize > 0 {
			js.Page, js.PageSize = s.Page, s.PageSize
		}
		for _, c := range s.Columns {
			js.Columns = append(js.Columns, c.Key)
		}
		sb, err := json.Marshal(js)
		if err != nil {
			return err
		}
		bw.Write(sb[:len(sb)-1])
		bw.WriteString(`,"rows":[`)
		for k := range s.Len() {
			if k > 0 {
				bw.WriteByte(',')
			}
			rb, err := json.Marshal(s.Rows.At(k))
			if err != nil {
				return err
			}
			bw.WriteString("\n")
			bw.Write(rb)
		}
		bw.WriteString("]}")
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

package metrics

import (
	"bufio"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// WriteText writes the text exposition (format 0.0.4) of the audit
// metrics and of others (families gathered elsewhere), all sorted by
// name: what expfmt writes for Gather's families merged with others, byte
// for byte, without building client_model families for every series
// (replay writes a whole exposition once, at the end).
func (s *Sink) WriteText(w io.Writer, others []*dto.MetricFamily) error {
	s.maybeExpire()
	type unit struct {
		name  string
		write func(*bufio.Writer) error
	}
	var units []unit
	for _, mf := range others {
		units = append(units, unit{mf.GetName(), func(bw *bufio.Writer) error {
			_, err := expfmt.MetricFamilyToText(bw, mf)
			return err
		}})
	}
	for _, f := range s.families {
		units = append(units, unit{f.name, func(bw *bufio.Writer) error { f.writeText(bw, false); return nil }})
		if f.seenName != "" {
			units = append(units, unit{f.seenName, func(bw *bufio.Writer) error { f.writeText(bw, true); return nil }})
		}
	}
	sort.SliceStable(units, func(i, j int) bool { return units[i].name < units[j].name })
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, u := range units {
		if err := u.write(bw); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writeText writes the family's main metric, or with seen its last-seen
// (or state time) gauge, as expfmt.MetricFamilyToText does; nothing when
// it has no sample.
func (f *family) writeText(w *bufio.Writer, seen bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sortLocked()
	name, help, typ := f.name, f.help, "counter"
	if f.kind != counterFamily {
		typ = "gauge"
	}
	if seen {
		name, help, typ = f.seenName, f.seenHelp, "gauge"
	}
	header := false
	var num []byte
	for _, s := range f.sorted {
		v := s.value
		if seen {
			if !s.has {
				continue
			}
			v = s.ts
		}
		if !header {
			w.WriteString("# HELP ")
			w.WriteString(name)
			w.WriteByte(' ')
			writeEscaped(w, help, false)
			w.WriteString("\n# TYPE ")
			w.WriteString(name)
			w.WriteByte(' ')
			w.WriteString(typ)
			w.WriteByte('\n')
			header = true
		}
		w.WriteString(name)
		if len(s.pairs) > 0 {
			w.WriteByte('{')
			for i, p := range s.pairs {
				if i > 0 {
					w.WriteByte(',')
				}
				w.WriteString(*p.Name)
				w.WriteString(`="`)
				writeEscaped(w, *p.Value, true)
				w.WriteByte('"')
			}
			w.WriteByte('}')
		}
		w.WriteByte(' ')
		num = appendFloat(num[:0], v)
		w.Write(num)
		w.WriteByte('\n')
	}
}

// appendFloat formats f as expfmt's text format does.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, '1')
	case f == 0:
		return append(b, '0')
	case f == -1:
		return append(b, "-1"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// writeEscaped escapes a help text (\ and newline) or, with quotes, a
// label value (\, newline and "), as the text format requires.
func writeEscaped(w *bufio.Writer, v string, quotes bool) {
	if !strings.ContainsAny(v, "\\\n\"") {
		w.WriteString(v)
		return
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\':
			w.WriteString(`\\`)
		case c == '\n':
			w.WriteString(`\n`)
		case c == '"' && quotes:
			w.WriteString(`\"`)
		default:
			w.WriteByte(c)
		}
	}
}

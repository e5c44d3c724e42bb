// Package replay reads log files offline and reports what the exporter
// would have recognized: one JSON object per audit event, or the resulting
// Prometheus exposition.
package replay

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/console"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/journal"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/metrics"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/pipeline"
)

// Output formats.
const (
	OutputJSONL   = "jsonl"
	OutputMetrics = "metrics"
)

// Options configure a replay.
type Options struct {
	Output string // jsonl (default) or metrics
	// Host is used for lines that name no host (ESXi's own log files).
	Host string
	// Parser options (year and zone for timestamps that lack them).
	Parser logline.Options
	// MaxLineBytes caps one line; longer lines are cut and counted.
	MaxLineBytes int
	// Metrics options for --output=metrics.
	Metrics metrics.Options
	// GCPercent is the garbage collector setting during the replay
	// (default 400; negative leaves the process setting alone).
	GCPercent int
	// VCenters: see pipeline.Options.
	VCenters audit.VCenterAddrs
	// Console configures the console ledger (see pipeline.Options).
	Console console.Options
	// Journal, when set, is a journal directory the events are also
	// stored in (a backfill from archived logs).
	Journal string
	// Progress, when set, is called about every second with the lines read so far.
	Progress func(lines, events int64)
}

// Stats summarize a replay.
type Stats struct {
	Lines, Events, Oversize, Comments int64
	// Skipped lines had a recognized header and a body no rule could match.
	Skipped int64
}

// Input is one named source of lines.
type Input struct {
	Name string
	R    io.Reader
}

// Run replays inputs in order and writes the result to out.
func Run(ctx context.Context, o Options, inputs []Input, out io.Writer) (Stats, error) {
	if o.Output == "" {
		o.Output = OutputJSONL
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = 64 << 10
	}
	var st Stats
	bw := bufio.NewWriterSize(out, 64<<10)
	var sink audit.Sink
	var writeMetrics func() error // --output=metrics: the exposition, at the end
	// The wall clock as of the last 1024 lines (replayOne sets it): the
	// series TTL is days, and a clock reading per event costs 2%.
	var wall atomic.Int64
	wall.Store(time.Now().UnixNano())
	var mu sync.Mutex
	var encErr error
	switch o.Output {
	case OutputJSONL:
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		sink = audit.SinkFunc(func(e audit.Event) {
			mu.Lock()
			defer mu.Unlock()
			st.Events++
			e.Time = e.Time.UTC()
			if err := enc.Encode(e); err != nil && encErr == nil {
				encErr = err
			}
		})
	case OutputMetrics:
		r := prometheus.NewRegistry()
		mo := o.Metrics
		if mo.Now == nil {
			mo.Now = func() time.Time { return time.Unix(0, wall.Load()) }
		}
		ms := metrics.NewSink(r, mo)
		writeMetrics = func() error {
			others, err := r.Gather()
			if err != nil {
				return err
			}
			return ms.WriteText(bw, others)
		}
		sink = audit.SinkFunc(func(e audit.Event) {
			mu.Lock()
			st.Events++
			mu.Unlock()
			ms.Record(e)
		})
	default:
		return st, fmt.Errorf("unknown output %q: want %q or %q", o.Output, OutputJSONL, OutputMetrics)
	}
	var closeJournal func() error
	if o.Journal != "" {
		j, err := journal.Open(journal.Options{Path: o.Journal}, sink)
		if err != nil {
			return st, err
		}
		// Closed before the output is written: Close commits what is queued.
		defer j.Close()
		sink = j
		closeJournal = j.Close
	}
	p := pipeline.New(pipeline.Options{VCenters: o.VCenters, Console: o.Console}, sink)
	// A replay is a batch job whose memory the label caps bound: trade
	// some heap for less garbage collection.
	if o.GCPercent == 0 {
		o.GCPercent = 400
	}
	if o.GCPercent > 0 {
		defer debug.SetGCPercent(debug.SetGCPercent(o.GCPercent))
	}
	// Offline, a line without a timestamp happened when the line before it did.
	var lastTime time.Time
	if o.Parser.Now == nil {
		o.Parser.Now = func() time.Time { return lastTime }
	}
	parser := logline.NewParser(o.Parser)
	last := time.Now()
	for _, in := range inputs {
		if err := replayOne(ctx, o, in, parser, p, &st, &last, &lastTime, &wall); err != nil {
			return st, err
		}
	}
	p.Flush()
	if closeJournal != nil {
		if err := closeJournal(); err != nil {
			return st, fmt.Errorf("journal %s: %w", o.Journal, err)
		}
	}
	if encErr != nil {
		return st, encErr
	}
	if writeMetrics != nil {
		if err := writeMetrics(); err != nil {
			return st, err
		}
	}
	return st, bw.Flush()
}

func replayOne(ctx context.Context, o Options, in Input, parser *logline.Parser, p *pipeline.Pipeline, st *Stats, last, lastTime *time.Time, wall *atomic.Int64) error {
	br := bufio.NewReaderSize(in.R, 64<<10)
	lineNo := 0
	var rec logline.Record
	var perr error
	for {
		if lineNo&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			wall.Store(time.Now().UnixNano())
			if o.Progress != nil && time.Since(*last) >= time.Second {
				*last = time.Now()
				o.Progress(st.Lines, st.Events)
			}
		}
		line, cut, err := readLine(br, o.MaxLineBytes)
		if len(line) > 0 || err == nil {
			lineNo++
			st.Lines++
			if cut {
				st.Oversize++
			}
			if len(line) > 0 && line[0] == '#' {
				st.Comments++
			} else if _, skip := p.Skip(line); skip {
				st.Skipped++
			} else if rec, perr = parser.Parse(line); perr == nil {
				if rec.Host == "" {
					rec.Host = o.Host
				}
				*lastTime = rec.Time
				p.Process(&rec)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: line %d: %w", in.Name, lineNo+1, err)
		}
	}
}

// readLine reads one line of at most max bytes; the rest of a longer line
// is skipped and cut is true.
func readLine(br *bufio.Reader, max int) (line []byte, cut bool, err error) {
	for {
		frag, e := br.ReadSlice('\n')
		if len(line)+len(frag) <= max {
			if line == nil && e == nil {
				return frag, cut, nil // fast path: the whole line was in the buffer
			}
			line = append(line, frag...)
		} else {
			if room := max - len(line); room > 0 {
				line = append(line, frag[:room]...)
			}
			cut = true
		}
		if e == nil {
			return line, cut, nil
		}
		if errors.Is(e, bufio.ErrBufferFull) {
			continue
		}
		return line, cut, e
	}
}

package pipeline

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/detect"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/metrics"
)

// FuzzParseClassify drives the parse-and-classify entry point (logline ->
// pipeline -> metrics) with arbitrary messages, seeded with every line of
// testdata/corpus. It checks that nothing panics and that every event is
// well formed.
func FuzzParseClassify(f *testing.F) {
	addCorpus(f)
	f.Add([]byte("<14>1 2021-09-06T14:40:13Z vc vpxd 1 - -  Event [1] [1-2] [2021-09-06T14:40:13Z] [vim.event.UserLoginSessionEvent] [info] [u] [] [1] [User u@1.2.3.4 logged"))
	f.Add([]byte("<166>2023-12-05T14:31:48.557Z h Hostd[1]: --> eventTypeId = \"esx.audit.ssh.session.opened\","))
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	kinds := audit.Kinds
	f.Fuzz(func(t *testing.T, line []byte) {
		reg := prometheus.NewRegistry()
		ms := metrics.NewSink(reg, metrics.Options{MaxSeries: 50})
		sink := audit.SinkFunc(func(e audit.Event) {
			if !slices.Contains(kinds, e.Kind) {
				t.Fatalf("event with unknown kind %q from %q", e.Kind, line)
			}
			if e.Direct && e.Kind != audit.KindLogin {
				t.Fatalf("direct %s event from %q", e.Kind, line)
			}
			if len(e.Message) > detect.MaxMessage {
				t.Fatalf("message of %d bytes", len(e.Message))
			}
			ms.Record(e)
		})
		p := New(Options{}, sink)
		parser := logline.NewParser(logline.Options{Year: 2025, Now: func() time.Time { return now }})
		// Twice, so that a first line can be completed by a second.
		for i := 0; i < 2; i++ {
			rec, err := parser.Parse(line)
			if err != nil {
				continue
			}
			p.Process(&rec)
		}
		p.Flush()
		if _, err := reg.Gather(); err != nil {
			t.Fatalf("gather after %q: %v", line, err)
		}
	})
}

// FuzzSkip: a message the live server drops unparsed (Skip, which peeks at
// the header, the SD-ID and the body) would have given no event.
func FuzzSkip(f *testing.F) {
	addCorpus(f)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line []byte) {
		var got []audit.Event
		p := New(Options{DedupWindow: time.Nanosecond}, audit.SinkFunc(func(e audit.Event) { got = append(got, e) }))
		_, skip := p.Skip(line)
		if !skip {
			return
		}
		rec, err := logline.NewParser(logline.Options{Year: 2025, Now: func() time.Time { return now }}).Parse(line)
		if err != nil {
			return
		}
		p.Process(&rec)
		p.Flush()
		if len(got) > 0 {
			t.Fatalf("Skip drops %q, which gives %+v", line, got)
		}
	})
}

// addCorpus seeds f with every message of testdata/corpus.
func addCorpus(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/corpus/*.log")
	for _, fn := range files {
		fh, err := os.Open(fn)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		for sc.Scan() {
			if l := sc.Text(); l != "" && l[0] != '#' {
				f.Add([]byte(l))
			}
		}
		fh.Close()
	}
}

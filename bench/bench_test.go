// Package bench measures throughput: `make bench` (not part of make test).
//
// BenchmarkReplay compares, in one run on one core and on the same
// reproducible corpus (tools/gencorpus), the replay path against two
// baselines: go-syslog's raw RFC 3164 parser alone, and mtail running an
// equivalent program (bench/esxi.mtail). BenchmarkTCPIngest sends the
// corpus over loopback TCP to a running syslog collector and counts what
// arrives.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/collector/syslog"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/journal"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/metrics"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/pipeline"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/replay"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
)

var (
	corpusOnce sync.Once
	corpusPath string
	corpusErr  error
)

func lines() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_LINES")); err == nil && n > 0 {
		return n
	}
	return 1000000
}

// corpus generates (once) the reproducible benchmark corpus.
func corpus(b *testing.B) string {
	corpusOnce.Do(func() {
		corpusPath = filepath.Join(os.TempDir(), fmt.Sprintf("vsphere-audit-bench-%d.log", lines()))
		if _, err := os.Stat(corpusPath); err == nil {
			return
		}
		cmd := exec.Command("go", "run", "../tools/gencorpus", "-n", strconv.Itoa(lines()), "-seed", "1", "-o", corpusPath)
		cmd.Stderr = os.Stderr
		corpusErr = cmd.Run()
	})
	if corpusErr != nil {
		b.Fatalf("generating the corpus: %v", corpusErr)
	}
	return corpusPath
}

func timeIt(f func()) time.Duration {
	runtime.GC()
	start := time.Now()
	f()
	return time.Since(start)
}

// BenchmarkReplay reports lines per second on one core for replay and both
// baselines, and the ratios the targets are stated in.
//
// Like for like: mtail keeps every label set, the exporter caps them
// (--metrics.max-series, --metrics.max-total-series) and folds the rest
// into overflow series, which is less work. So replay runs twice: with
// the caps raised so that nothing overflows (equal output: the same login
// series as mtail), and with the default caps; the ratio to mtail of each
// is printed. And the two must have counted the same: the bench fails when
// replay and mtail disagree on the corpus' logins, login failures or
// account lockouts (a comparison of unequal work is not a result).
func BenchmarkReplay(b *testing.B) {
	path := corpus(b)
	testenv.RequireBinary(b, "mtail", "mtail")
	n := float64(lines())
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)

	uncapped := metrics.Options{MaxSeries: 1 << 30, MaxTotalSeries: -1}
	replayOnce := func(o metrics.Options, out *bytes.Buffer) {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		out.Reset()
		st, err := replay.Run(context.Background(), replay.Options{Output: replay.OutputMetrics, Metrics: o}, []replay.Input{{Name: path, R: f}}, out)
		if err != nil {
			b.Fatal(err)
		}
		if st.Lines != int64(lines()) {
			b.Fatalf("replay read %d lines, want %d", st.Lines, lines())
		}
	}

	// Each side runs three times, interleaved; the best run of each counts
	// (this machine's timings vary by up to 30% from run to run).
	var replayD, equalD, rawD time.Duration
	best := func(cur *time.Duration, d time.Duration) {
		if *cur == 0 || d < *cur {
			*cur = d
		}
	}
	var capped, equal bytes.Buffer
	for i := 0; i < b.N*3; i++ {
		best(&rawD, timeIt(func() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			p := rfc3164.NewParser(rfc3164.WithRFC3339(), rfc3164.WithSecondFractions(), rfc3164.WithYear(rfc3164.CurrentYear{}), rfc3164.WithBestEffort())
			br := bufio.NewReaderSize(f, 64<<10)
			for {
				l, err := br.ReadSlice('\n')
				if len(l) > 0 {
					p.Parse(bytes.TrimRight(l, "\n"))
				}
				if err != nil {
					break
				}
			}
		}))
		best(&replayD, timeIt(func() { replayOnce(metrics.Options{}, &capped) }))
		best(&equalD, timeIt(func() { replayOnce(uncapped, &equal) }))
	}
	out, err := exec.Command("./mtail.sh", path).CombinedOutput()
	if err != nil {
		b.Fatalf("mtail.sh: %v\n%s", err, out)
	}
	mt := map[string]float64{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok && strings.HasPrefix(k, "mtail_") {
			mt[k], _ = strconv.ParseFloat(v, 64)
		}
	}
	mtailRate := mt["mtail_lines_per_second"]
	if mtailRate == 0 {
		b.Fatalf("mtail.sh printed no rate:\n%s", out)
	}

	// The same counts, and with the caps raised the same login series.
	eq := expositionTotals(equal.String())
	cp := expositionTotals(capped.String())
	for _, c := range []struct{ replay, mtail string }{
		{"vsphere_audit_logins_total", "mtail_logins_total"},
		{"vsphere_audit_login_failures_total", "mtail_login_failures_total"},
		{"vsphere_audit_account_locks_total", "mtail_account_locked_total"},
	} {
		if eq[c.replay].sum != mt[c.mtail] || cp[c.replay].sum != mt[c.mtail] {
			b.Errorf("replay counted %s = %v (default caps: %v), mtail %s = %v: the two programs do not count the same",
				c.replay, eq[c.replay].sum, cp[c.replay].sum, c.mtail, mt[c.mtail])
		}
	}
	if got, want := float64(eq["vsphere_audit_logins_total"].series), mt["mtail_logins_series"]; got != want {
		b.Errorf("with the caps raised replay has %v login series, mtail %v: not equal output", got, want)
	}
	b.Logf("corpus: %d lines; logins %v, login failures %v, account lockouts %v (replay and mtail agree); login series: mtail %v, replay uncapped %d, default caps %d (%v samples to overflow series)",
		lines(), mt["mtail_logins_total"], mt["mtail_login_failures_total"], mt["mtail_account_locked_total"], mt["mtail_logins_series"],
		eq["vsphere_audit_logins_total"].series, cp["vsphere_audit_logins_total"].series, cp["vsphere_audit_label_overflow_total"].sum)

	replayRate := n / replayD.Seconds()
	equalRate := n / equalD.Seconds()
	rawRate := n / rawD.Seconds()
	b.ReportMetric(replayRate, "replay_lines/s")
	b.ReportMetric(equalRate, "replay_equal_output_lines/s")
	b.ReportMetric(rawRate, "gosyslog_raw_lines/s")
	b.ReportMetric(mtailRate, "mtail_lines/s")
	b.ReportMetric(replayRate/mtailRate, "x_mtail")
	b.ReportMetric(equalRate/mtailRate, "x_mtail_equal_output")
	b.ReportMetric(100*replayRate/rawRate, "pct_of_raw_parse")
	b.Logf("replay %.0f lines/s (equal output %.0f); go-syslog raw parse %.0f lines/s; mtail %.0f lines/s; replay = %.2fx mtail with equal output, %.2fx with the default caps; %.0f%% of raw parse",
		replayRate, equalRate, rawRate, mtailRate, equalRate/mtailRate, replayRate/mtailRate, 100*replayRate/rawRate)
	b.Logf("pct_of_raw_parse: the raw side parses every line with go-syslog's RFC 3164 parser and does nothing else; replay reads every line, " +
		"drops the lines no rule can match on a quick filter before parsing them, parses and classifies the rest, dedups, counts, and writes the exposition")
}

type total struct {
	sum    float64
	series int
}

// expositionTotals sums each metric's samples in a text exposition and
// counts its series.
func expositionTotals(text string) map[string]total {
	out := map[string]total{}
	for _, l := range strings.Split(text, "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		name := l[:strings.IndexAny(l, "{ ")]
		v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
		if err != nil {
			continue
		}
		t := out[name]
		t.sum += v
		t.series++
		out[name] = t
	}
	return out
}

// BenchmarkTCPIngest sends the corpus over loopback TCP (octet-counting
// framing) to a running collector, over one connection and over four
// (the lines split by sending host, as ESXi hosts each keep their own),
// and reports messages per second and the number lost; the same over one
// connection with the journal on (internal/journal, a group commit to
// SQLite before metrics count an event), each timed until every event is
// counted, and the ratio of the two (target: the journaled rate within
// 20% of the plain one); and a real rsyslogd (imtcp -> omfile, its
// defaults) sent the same frames over the same connections, timed until
// its file holds every line. Best of 3, interleaved. Goals (issues 13,
// 15): >= 1M msg/s over 4 connections with 0 lost, at least rsyslog's
// rate.
func BenchmarkTCPIngest(b *testing.B) {
	path := corpus(b)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	// frames[k][c]: the corpus over k connections, connection c's part.
	frames := map[int][][]byte{}
	total := 0
	for _, k := range []int{1, 4} {
		parts := make([]bytes.Buffer, k)
		total = 0
		for _, l := range bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n")) {
			part := &parts[hostOf(l)%k]
			fmt.Fprintf(part, "%d ", len(l))
			part.Write(l)
			total++
		}
		for c := range parts {
			frames[k] = append(frames[k], parts[c].Bytes())
		}
	}
	// send writes each part over its own connection to addr, all at once.
	send := func(addr string, parts [][]byte) {
		var wg sync.WaitGroup
		for _, part := range parts {
			conn, err := (&netDialer{}).dial(addr)
			if err != nil {
				b.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				if _, err := conn.Write(part); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	// run ingests the corpus once over conns connections and returns the
	// messages received, the events counted and the time until both were
	// complete.
	run := func(journalDir string, wantEvents int64, conns int) (int, int64, time.Duration) {
		reg := prometheus.NewRegistry()
		ms := metrics.NewSink(reg, metrics.Options{})
		var events atomic.Int64
		var sink audit.Sink = audit.SinkFunc(func(e audit.Event) { events.Add(1); ms.Record(e) })
		var j *journal.Journal
		if journalDir != "" {
			j, err = journal.Open(journal.Options{Path: journalDir}, sink)
			if err != nil {
				b.Fatal(err)
			}
			sink = j
		}
		health := syslog.NewHealth(reg, ms.Bounds(), []string{syslog.TransportTCP})
		p := pipeline.New(pipeline.Options{}, sink)
		c := syslog.New(syslog.Config{TCPAddress: "127.0.0.1:0"}, slog.New(slog.NewTextHandler(io.Discard, nil)), health, p)
		if err := c.Listen(); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { c.Serve(ctx); p.Flush(); close(done) }()
		received := func() int {
			s := 0
			for _, r := range []string{syslog.ResultParsed, syslog.ResultUnparsed, syslog.ResultOversize} {
				s += int(testutil.ToFloat64(health.Messages.WithLabelValues(syslog.TransportTCP, r)))
			}
			return s
		}
		start := time.Now()
		send(c.TCPAddr().String(), frames[conns])
		deadline := time.Now().Add(120 * time.Second)
		for (received() < total || wantEvents > 0 && events.Load() < wantEvents) && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		elapsed := time.Since(start)
		got := received()
		cancel()
		<-done
		if j != nil {
			j.Close()
		}
		return got, events.Load(), elapsed
	}
	// rsyslogRun sends the corpus to a fresh rsyslogd over conns
	// connections and returns the lines written and the time until all
	// were (or until none came for 2s).
	rsyslogRun := func(conns int) (int, time.Duration) {
		r := startRsyslog(b, "imtcp")
		defer r.stop()
		start := time.Now()
		send(r.addr(), frames[conns])
		got := settle(r.count, total, 2*time.Second)
		return got, time.Since(start)
	}
	startRsyslog(b, "imtcp").stop() // fails (CI) or skips now when rsyslogd is missing
	best := func(cur *time.Duration, d time.Duration) {
		if *cur == 0 || d < *cur {
			*cur = d
		}
	}
	for i := 0; i < b.N; i++ {
		// Warm up and learn how many events the corpus gives (the login
		// join may hold a few until the flush).
		_, want, _ := run("", 0, 1)
		want -= 64
		var plainD, plain4D, journalD, rsD, rs4D time.Duration
		got, got4, rsGot, rs4Got := 0, 0, 0, 0
		for k := 0; k < 3; k++ {
			g, _, d := run("", want, 1)
			got = g
			best(&plainD, d)
			g, _, d = run("", want, 4)
			got4 = g
			best(&plain4D, d)
			g2, _, d2 := run(b.TempDir(), want, 1)
			if g2 != total {
				b.Fatalf("journaled ingest received %d of %d", g2, total)
			}
			best(&journalD, d2)
			n, d3 := rsyslogRun(1)
			rsGot = n
			best(&rsD, d3)
			n, d3 = rsyslogRun(4)
			rs4Got = n
			best(&rs4D, d3)
		}
		rate := func(d time.Duration) float64 { return float64(total) / d.Seconds() }
		plain, plain4, journaled, rs, rs4 := rate(plainD), rate(plain4D), rate(journalD), rate(rsD), rate(rs4D)
		b.ReportMetric(plain, "msg/s")
		b.ReportMetric(plain4, "msg/s_4conns")
		b.ReportMetric(float64(total-got), "lost")
		b.ReportMetric(float64(total-got4), "lost_4conns")
		b.ReportMetric(rs, "rsyslog_msg/s")
		b.ReportMetric(rs4, "rsyslog_msg/s_4conns")
		b.ReportMetric(journaled, "journaled_msg/s")
		b.ReportMetric(100*journaled/plain, "pct_journaled")
		b.Logf("TCP ingest, 1 connection: %d of %d messages in %v = %.0f msg/s, %d lost; rsyslog (imtcp -> omfile) %d lines in %v = %.0f msg/s; exporter = %.2fx rsyslog (target >= 1): %s",
			got, total, plainD.Round(time.Millisecond), plain, total-got, rsGot, rsD.Round(time.Millisecond), rs, plain/rs, verdict(plain >= rs && got == total))
		b.Logf("TCP ingest, 4 connections: %d of %d messages in %v = %.0f msg/s, %d lost (target >= 1000000 msg/s, 0 lost): %s; rsyslog %d lines in %v = %.0f msg/s; exporter = %.2fx rsyslog (target >= 1): %s",
			got4, total, plain4D.Round(time.Millisecond), plain4, total-got4, verdict(plain4 >= 1e6 && got4 == total),
			rs4Got, rs4D.Round(time.Millisecond), rs4, plain4/rs4, verdict(plain4 >= rs4 && got4 == total))
		if rsGot != total || rs4Got != total {
			b.Logf("rsyslog wrote %d and %d of %d lines", rsGot, rs4Got, total)
		}
		b.Logf("TCP ingest with the journal, 1 connection: %.0f msg/s (%d events stored), %.0f%% of it without (target >= 80%%): %s",
			journaled, want, 100*journaled/plain, verdict(journaled >= 0.8*plain))
	}
}

// hostOf is a hash of a line's sending host (its second field: <PRI>TIME
// HOST ...), to keep each host's lines on one connection.
func hostOf(l []byte) int {
	f := bytes.Fields(l)
	if len(f) < 2 {
		return 0
	}
	h := 0
	for _, c := range f[1] {
		h = h*31 + int(c)
	}
	return h & 0x7fffffff
}

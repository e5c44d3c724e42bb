package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/replay"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/testenv"
)

var (
	binOnce sync.Once
	binPath string
	binDir  string
	binErr  error
)

// exporterBinary builds (once) the exporter as a user runs it, into a
// directory of this process's own (TestMain removes it): another bench
// running at the same time builds its own.
func exporterBinary(b *testing.B) string {
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vsphere-audit-bench-bin-")
		if err != nil {
			binErr = err
			return
		}
		binDir = dir
		binPath = filepath.Join(dir, "vsphere_audit_exporter")
		cmd := exec.Command("go", "build", "-o", binPath, "../cmd/vsphere_audit_exporter")
		cmd.Stderr = os.Stderr
		binErr = cmd.Run()
	})
	if binErr != nil {
		b.Fatalf("building the exporter: %v", binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// usersCorpus generates (once per size) a corpus of lines() lines whose
// logins and failures cycle through users distinct user names.
func usersCorpus(b *testing.B, users int) string {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("vsphere-audit-bench-%d-users-%d.log", lines(), users))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	cmd := exec.Command("go", "run", "../tools/gencorpus", "-n", strconv.Itoa(lines()), "-seed", "1", "-users", strconv.Itoa(users), "-o", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("generating the %d-user corpus: %v", users, err)
	}
	return path
}

// proc is one whole process's cost: CPU (user and system) and peak RSS.
type proc struct {
	cpu    time.Duration
	maxRSS int64 // bytes
}

// runProc runs a command under GNU time, which reports its peak RSS: the
// rusage of a child of this process would not do, as a process forked
// from the bench (hundreds of MiB by then) keeps the parent's peak across
// exec.
func runProc(b *testing.B, name string, args ...string) proc {
	testenv.RequireBinary(b, "/usr/bin/time", "time")
	rss, err := os.CreateTemp("", "bench-rss")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(rss.Name())
	rss.Close()
	cmd := exec.Command("/usr/bin/time", append([]string{"-o", rss.Name(), "-f", "%M", name}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s: %v\n%s", name, err, out)
	}
	data, err := os.ReadFile(rss.Name())
	if err != nil {
		b.Fatal(err)
	}
	kb, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		b.Fatalf("GNU time wrote %q: %v", data, err)
	}
	return proc{cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), maxRSS: kb << 10}
}

// bestOf keeps the lowest CPU and the lowest peak RSS of three runs (this
// machine's figures vary from run to run).
func bestOf(b *testing.B, n int, f func() proc) proc {
	var best proc
	for i := range n {
		p := f()
		if i == 0 || p.cpu < best.cpu {
			best.cpu = p.cpu
		}
		if i == 0 || p.maxRSS < best.maxRSS {
			best.maxRSS = p.maxRSS
		}
	}
	return best
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// BenchmarkReplayProcess: replay and mtail as whole processes over the
// same corpus (the exporter binary's replay command, mtail one-shot with
// bench/esxi.mtail via mtail.sh, both on one CPU where taskset allows),
// CPU and peak RSS side by side. Goals (issue 13): replay at least 10x
// mtail's rate of lines per CPU-second, and a peak RSS no larger than
// mtail's.
func BenchmarkReplayProcess(b *testing.B) {
	path := corpus(b)
	testenv.RequireBinary(b, "mtail", "mtail")
	bin := exporterBinary(b)
	var rep, mt proc
	for range b.N {
		rep = bestOf(b, 3, func() proc {
			return runProc(b, "taskset", "-c", "0", bin, "replay", "--output=metrics", "--log.level=warn", path)
		})
		mt = bestOf(b, 3, func() proc { return runProc(b, "./mtail.sh", path) })
	}
	n := float64(lines())
	rr, mr := n/rep.cpu.Seconds(), n/mt.cpu.Seconds()
	b.ReportMetric(rr, "replay_lines/cpu_s")
	b.ReportMetric(mr, "mtail_lines/cpu_s")
	b.ReportMetric(rr/mr, "x_mtail_cpu")
	b.ReportMetric(float64(rep.maxRSS)/(1<<20), "replay_peak_rss_MiB")
	b.ReportMetric(float64(mt.maxRSS)/(1<<20), "mtail_peak_rss_MiB")
	b.ReportMetric(float64(rep.maxRSS)/float64(mt.maxRSS), "rss_ratio_to_mtail")
	b.Logf("%d lines, whole processes: replay %.0f lines per CPU-s, mtail %.0f: %.2fx (%s: >= 10x); peak RSS replay %.0f MiB, mtail %.0f MiB: %.2fx (%s: <= 1x)",
		lines(), rr, mr, rr/mr, verdict(rr/mr >= 10), float64(rep.maxRSS)/(1<<20), float64(mt.maxRSS)/(1<<20),
		float64(rep.maxRSS)/float64(mt.maxRSS), verdict(rep.maxRSS <= mt.maxRSS))
}

// BenchmarkReplayUsers: replay's cost does not grow with the number of
// distinct users: the same corpus size with 1k, 100k and 1M distinct login
// users (tools/gencorpus -users), as whole processes with the default
// series budget. Goal (issue 13): CPU within 15% of each other; memory
// bounded by the budget, not by the users.
func BenchmarkReplayUsers(b *testing.B) {
	bin := exporterBinary(b)
	sizes := []int{1000, 100000, 1000000}
	got := make([]proc, len(sizes))
	for range b.N {
		for i, u := range sizes {
			path := usersCorpus(b, u)
			got[i] = bestOf(b, 3, func() proc {
				return runProc(b, "taskset", "-c", "0", bin, "replay", "--output=metrics", "--log.level=warn", path)
			})
		}
	}
	lo, hi := got[0].cpu, got[0].cpu
	for i, p := range got {
		lo, hi = min(lo, p.cpu), max(hi, p.cpu)
		b.ReportMetric(p.cpu.Seconds(), fmt.Sprintf("cpu_s_%d_users", sizes[i]))
		b.ReportMetric(float64(p.maxRSS)/(1<<20), fmt.Sprintf("peak_rss_MiB_%d_users", sizes[i]))
	}
	spread := hi.Seconds()/lo.Seconds() - 1
	b.ReportMetric(100*spread, "cpu_spread_pct")
	b.Logf("%d lines: CPU %.2f / %.2f / %.2f s and peak RSS %.0f / %.0f / %.0f MiB with 1k / 100k / 1M distinct users; CPU spread %.0f%% (%s: within 15%%)",
		lines(), got[0].cpu.Seconds(), got[1].cpu.Seconds(), got[2].cpu.Seconds(),
		float64(got[0].maxRSS)/(1<<20), float64(got[1].maxRSS)/(1<<20), float64(got[2].maxRSS)/(1<<20), 100*spread, verdict(spread <= 0.15))
}

// BenchmarkProfileReplay is replay alone over the corpus, in-process, for
// `make bench-profile` (go test -cpuprofile/-memprofile of this benchmark).
func BenchmarkProfileReplay(b *testing.B) {
	path := corpus(b)
	b.ResetTimer()
	for range b.N {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		st, err := replay.Run(context.Background(), replay.Options{Output: replay.OutputMetrics}, []replay.Input{{Name: path, R: f}}, io.Discard)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if st.Lines != int64(lines()) {
			b.Fatalf("replay read %d lines, want %d", st.Lines, lines())
		}
	}
	b.ReportMetric(float64(lines())*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

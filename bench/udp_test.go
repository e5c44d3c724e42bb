package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// lineSet is the corpus in one buffer, its lines by offset (no pointer
// per line: the sender's memory costs the collector's garbage collector
// nothing).
type lineSet struct {
	data []byte
	ends []int32 // line i is data[ends[i-1]+1 : ends[i]] (the newline excluded)
}

func loadLines(b *testing.B, path string) *lineSet {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	data = bytes.TrimRight(data, "\n")
	ls := &lineSet{data: data}
	for i, c := range data {
		if c == '\n' {
			ls.ends = append(ls.ends, int32(i))
		}
	}
	ls.ends = append(ls.ends, int32(len(data)))
	return ls
}

func (ls *lineSet) len() int { return len(ls.ends) }

func (ls *lineSet) line(i int) []byte {
	start := 0
	if i > 0 {
		start = int(ls.ends[i-1]) + 1
	}
	return ls.data[start:ls.ends[i]]
}

// udpSendBatch is how many datagrams the paced sender hands to one
// sendmmsg.
const udpSendBatch = 32

// udpSenders is how many paced senders share the rate, each with its
// own socket (the kernel's loopback delivery runs in the sender's system
// call: one sender alone tops out below 400k msg/s on this machine).
const udpSenders = 2

// paceUDP sends lines 0..n-1 of ls as datagrams to addr at rate per
// second, split between udpSenders senders (sender j sends lines j,
// j+udpSenders, ...): each a token bucket, checked before each sendmmsg
// of at most udpSendBatch datagrams (a sender that falls behind catches
// up in full batches). It returns the time until the last was sent.
func paceUDP(b *testing.B, addr string, ls *lineSet, n int, rate float64) time.Duration {
	senders := min(udpSenders, n)
	errs := make(chan error, senders)
	start := time.Now()
	for j := range senders {
		go func() { errs <- paceUDPFrom(addr, ls, j, senders, n, rate/float64(senders), start) }()
	}
	for range senders {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

func paceUDPFrom(addr string, ls *lineSet, first, step, n int, rate float64, start time.Time) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	pc := ipv4.NewPacketConn(c.(*net.UDPConn))
	msgs := make([]ipv4.Message, udpSendBatch)
	for i := range msgs {
		msgs[i].Buffers = make([][]byte, 1)
	}
	mine := (n - first + step - 1) / step
	sent := 0
	for sent < mine {
		due := int(rate*time.Since(start).Seconds()) + 1
		if due <= sent {
			// Ahead of the rate by (sent-due)/rate.
			if ahead := time.Duration(float64(sent-due) / rate * float64(time.Second)); ahead > 50*time.Microsecond {
				time.Sleep(ahead)
			}
			continue
		}
		k := min(due-sent, udpSendBatch, mine-sent)
		for i := range k {
			msgs[i].Buffers[0] = ls.line(first + (sent+i)*step)
		}
		m, err := pc.WriteBatch(msgs[:k], 0)
		if err != nil && !errors.Is(err, syscall.ENOBUFS) && !errors.Is(err, syscall.EAGAIN) {
			return fmt.Errorf("sending: %w", err)
		}
		sent += m
	}
	return nil
}

// udpResult is one receiver's account of one paced run.
type udpResult struct {
	sent, counted int
	// kernel is the socket's drop count (/proc/net/udp); dropped the
	// exporter's messages_total{result="dropped"} (SO_RXQ_OVFL).
	kernel, dropped int
	rate            float64 // achieved by the sender
}

func (r udpResult) lossPct() float64 { return 100 * float64(r.sent-r.counted) / float64(r.sent) }

// settle waits until count() reaches want or stops moving for quiet.
func settle(count func() int, want int, quiet time.Duration) int {
	last, since := -1, time.Now()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		n := count()
		if n >= want {
			return n
		}
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > quiet {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
	return count()
}

// exporterProc is the exporter as a user runs it (serve), its metrics
// read from /metrics.
type exporterProc struct {
	cmd *exec.Cmd
	web string
	out bytes.Buffer
}

// startExporter runs the exporter with args (and its web listener on a
// free port) and waits until /metrics answers.
func startExporter(b *testing.B, bin string, args ...string) *exporterProc {
	b.Helper()
	e := &exporterProc{web: "127.0.0.1:" + strconv.Itoa(freePort(b, "tcp"))}
	e.cmd = exec.Command(bin, append([]string{"serve", "--web.listen-address=" + e.web, "--log.level=warn"}, args...)...)
	e.cmd.Stdout, e.cmd.Stderr = &e.out, &e.out
	if err := e.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := e.messages(); err == nil {
			return e
		}
		if time.Now().After(deadline) {
			e.stop()
			b.Fatalf("the exporter did not answer on %s in 20s:\n%s", e.web, e.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// messages returns vsphere_audit_syslog_messages_total by "transport/result".
func (e *exporterProc) messages() (map[string]int, error) {
	resp, err := http.Get("http://" + e.web + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, l := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(l, "vsphere_audit_syslog_messages_total{") {
			continue
		}
		v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
		if err != nil {
			continue
		}
		out[labelValue(l, "transport")+"/"+labelValue(l, "result")] = int(v)
	}
	return out, nil
}

func labelValue(sample, name string) string {
	_, rest, ok := strings.Cut(sample, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// received is what the exporter counted as received on transport: parsed,
// unparsed, oversize or empty (not dropped).
func (e *exporterProc) received(transport string) int {
	m, err := e.messages()
	if err != nil {
		return -1
	}
	return m[transport+"/parsed"] + m[transport+"/unparsed"] + m[transport+"/oversize"] + m[transport+"/empty"]
}

// profile starts a CPU profile of the exporter of length d (from its
// /debug/pprof) to be written to path, and returns the function that waits
// for it; with path empty it does nothing.
func (e *exporterProc) profile(b *testing.B, path string, d time.Duration) func() {
	if path == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", e.web, max(1, int(d.Seconds()))))
		if err != nil {
			b.Errorf("profiling the exporter: %v", err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if err := os.WriteFile(path, body, 0o644); err != nil {
			b.Errorf("profiling the exporter: %v", err)
		}
	}()
	return func() { <-done }
}

func (e *exporterProc) stop() {
	e.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { e.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		e.cmd.Process.Kill()
		<-done
	}
}

// udpExporter runs one paced run against the exporter process, UDP only,
// its defaults otherwise (--syslog.udp.readers, --syslog.udp.receive-buffer)
// but for the journal (off: this is the receiver's measure).
// bin is the exporter's binary; with profile set, the exporter's CPU
// profile of the run is written there.
func udpExporter(b *testing.B, bin string, ls *lineSet, n int, rate float64, profile string) udpResult {
	port := freePort(b, "udp")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := append([]string{"--syslog.udp.listen-address=" + addr, "--syslog.tcp.listen-address=", "--journal.path="}, strings.Fields(os.Getenv("BENCH_UDP_EXPORTER_ARGS"))...)
	e := startExporter(b, bin, args...)
	defer e.stop()
	prof := e.profile(b, profile, time.Duration(float64(n)/rate*float64(time.Second)))
	d := paceUDP(b, addr, ls, n, rate)
	prof()
	settle(func() int { return e.received("udp") + kernelUDPDrops(port) }, n, time.Second)
	// The kernel reports its drop count with the next datagram: one more,
	// once the buffer is empty, carries the final count.
	paceUDP(b, addr, ls, 1, 1)
	got := settle(func() int { return e.received("udp") }, n+1-kernelUDPDrops(port), time.Second) - 1
	m, _ := e.messages()
	return udpResult{sent: n, counted: got, kernel: kernelUDPDrops(port), dropped: m["udp/dropped"], rate: float64(n) / d.Seconds()}
}

// udpRsyslog runs one paced run against rsyslogd (imudp -> omfile).
func udpRsyslog(b *testing.B, ls *lineSet, n int, rate float64) udpResult {
	r := startRsyslog(b, "imudp")
	defer r.stop()
	d := paceUDP(b, r.addr(), ls, n, rate)
	got := settle(r.count, n, 1500*time.Millisecond)
	return udpResult{sent: n, counted: got, kernel: kernelUDPDrops(r.port), dropped: -1, rate: float64(n) / d.Seconds()}
}

// udpSeconds is how long each paced run lasts (BENCH_UDP_SECONDS, 3 by
// default), at most the whole corpus.
func udpSeconds() float64 {
	if s, err := strconv.ParseFloat(os.Getenv("BENCH_UDP_SECONDS"), 64); err == nil && s > 0 {
		return s
	}
	return 3
}

// BenchmarkUDPLoss sends the corpus as datagrams over loopback at paced
// rates of 100k, 200k and 400k msg/s (udpSeconds each, at most the whole
// corpus) to the exporter's syslog collector and to a real rsyslogd
// (imudp -> omfile, its defaults but for the socket buffer: the exporter's
// 8 MiB), each a process of its own, interleaved,
// and reports each one's
// loss: the exporter's messages counted against those sent, beside the
// kernel's count for the socket (/proc/net/udp) and the exporter's own
// `dropped` count, which must agree; rsyslog's lines written against
// those sent. Best (least loss) of 2 runs each. Goal (issue 15): 0 loss
// at 200k msg/s with the default readers.
//
// BENCH_PROFILE_DIR set: the exporter's CPU profile of its best run at
// 200k msg/s is written there (udp-exporter.cpu.pprof). BENCH_BASELINE_EXPORTER
// set to another build of the exporter: it runs too, interleaved, and its
// loss is printed beside (a before and after of a change).
// BENCH_UDP_EXPORTER_ARGS: more flags for both exporters (say, the same
// effective --syslog.udp.receive-buffer for a build that could not force
// it).
func BenchmarkUDPLoss(b *testing.B) {
	ls := loadLines(b, corpus(b))
	startRsyslog(b, "imudp").stop() // fails (CI) or skips now when rsyslogd is missing
	bin := exporterBinary(b)
	baseline := os.Getenv("BENCH_BASELINE_EXPORTER")
	for i := 0; i < b.N; i++ {
		for _, rate := range []float64{100000, 200000, 400000} {
			n := min(ls.len(), int(rate*udpSeconds()))
			var exp, rs, base udpResult
			for k := 0; k < 2; k++ {
				profile := ""
				if dir := os.Getenv("BENCH_PROFILE_DIR"); dir != "" && rate == 200000 {
					profile = filepath.Join(dir, fmt.Sprintf("udp-exporter-%d.cpu.pprof", k))
				}
				e := udpExporter(b, bin, ls, n, rate, profile)
				if baseline != "" {
					if r := udpExporter(b, baseline, ls, n, rate, ""); k == 0 || r.sent-r.counted < base.sent-base.counted {
						base = r
					}
				}
				if k == 0 || e.sent-e.counted < exp.sent-exp.counted {
					exp = e
				}
				if e.sent-e.counted != e.kernel || e.dropped != e.kernel {
					b.Errorf("%.0fk msg/s: the exporter lost %d (sent %d, counted %d), the kernel dropped %d, the exporter counted %d dropped: they must agree",
						rate/1000, e.sent-e.counted, e.sent, e.counted, e.kernel, e.dropped)
				}
				r := udpRsyslog(b, ls, n, rate)
				if k == 0 || r.sent-r.counted < rs.sent-rs.counted {
					rs = r
				}
			}
			tag := strconv.Itoa(int(rate/1000)) + "k"
			b.ReportMetric(exp.lossPct(), "exporter_loss_pct_"+tag)
			b.ReportMetric(rs.lossPct(), "rsyslog_loss_pct_"+tag)
			note := ""
			if exp.rate < 0.95*rate || rs.rate < 0.95*rate {
				note = fmt.Sprintf(" (the sender reached only %.0f/%.0f msg/s of %.0f here)", exp.rate, rs.rate, rate)
			}
			verdict := ""
			if rate == 200000 {
				switch {
				case exp.sent != exp.counted:
					verdict = ": MISS (goal: 0 loss at 200k msg/s)"
				case exp.rate < 0.95*rate:
					verdict = ": MISS (goal: 0 loss at 200k msg/s; 0 lost, but the sender did not reach the rate: not shown)"
				default:
					verdict = ": PASS (goal: 0 loss at 200k msg/s)"
				}
			}
			if baseline != "" {
				b.Logf("UDP %s msg/s: baseline exporter (%s) lost %d (%.2f%%; kernel drops %d), sender at %.0f msg/s",
					tag, baseline, base.sent-base.counted, base.lossPct(), base.kernel, base.rate)
			}
			b.Logf("UDP %s msg/s, %d datagrams: exporter lost %d (%.2f%%; kernel drops %d, counted dropped %d), sender at %.0f msg/s; rsyslog lost %d (%.2f%%; kernel drops %d), sender at %.0f msg/s%s%s",
				tag, n, exp.sent-exp.counted, exp.lossPct(), exp.kernel, exp.dropped, exp.rate,
				rs.sent-rs.counted, rs.lossPct(), rs.kernel, rs.rate, note, verdict)
		}
	}
}

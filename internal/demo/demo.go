// Package demo feeds a realistic, endless stream of ESXi and vCenter syslog
// into the exporter's own listeners, so that a newcomer sees every metric
// family move without a vSphere farm.
package demo

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"
)

// DefaultTemplates is the built-in demo stream (stream.txt): message templates in the
// shapes of testdata/corpus, one per line.
//
//go:embed stream.txt
var DefaultTemplates string

// Options configure the stream.
type Options struct {
	Rate     float64  // messages per second (default 20)
	UDP, TCP net.Addr // where to send; either may be nil
	// Templates overrides the embedded stream (testdata/demo/stream.txt).
	Templates string
	Seed      uint64
}

type template struct {
	weight int
	lines  []string // sent together, in order (one fact logged by several lines)
}

// Stream produces demo messages.
type Stream struct {
	o     Options
	log   *slog.Logger
	tmpls []template
	total int
	rnd   *rand.Rand
	n     int
}

var (
	esxHosts  = []string{"esx01.lab.local", "esx02.lab.local", "esx03.lab.local", "esx04.lab.local"}
	admins    = []string{"administrator@vsphere.local", "alice@corp.example", "bob@corp.example"}
	hostUsers = []string{"root", "admin", "svc-backup"}
	adminIPs  = []string{"10.20.0.15", "10.20.0.23", "10.20.0.31"}
	badIPs    = []string{"203.0.113.7", "198.51.100.23", "192.0.2.99"}
	vms       = []string{"web01", "web02", "db01", "jump01", "dc01"}
)

// ParseTemplates reads "WEIGHT<TAB>LINE|LINE..." templates.
func ParseTemplates(s string) ([]template, error) {
	var out []template
	for i, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(l, "\r")
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		w, body, ok := strings.Cut(l, "\t")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n <= 0 {
			return nil, fmt.Errorf("demo stream line %d: want WEIGHT<TAB>TEMPLATE", i+1)
		}
		out = append(out, template{weight: n, lines: strings.Split(body, "|")})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("demo stream: no templates")
	}
	return out, nil
}

// New returns a stream.
func New(o Options, logger *slog.Logger) *Stream {
	if o.Rate <= 0 {
		o.Rate = 20
	}
	if o.Templates == "" {
		o.Templates = DefaultTemplates
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	t, err := ParseTemplates(o.Templates)
	if err != nil {
		panic(err) // the embedded stream is tested
	}
	s := &Stream{o: o, log: logger, tmpls: t, rnd: rand.New(rand.NewPCG(o.Seed, 1))}
	for _, tm := range t {
		s.total += tm.weight
	}
	return s
}

// Next returns the lines of one randomly chosen template, filled in for now.
func (s *Stream) Next(now time.Time) []string {
	x := s.rnd.IntN(s.total)
	var tm template
	for _, t := range s.tmpls {
		if x < t.weight {
			tm = t
			break
		}
		x -= t.weight
	}
	s.n++
	pick := func(a []string) string { return a[s.rnd.IntN(len(a))] }
	esx := pick(esxHosts)
	esx2 := pick(esxHosts)
	for esx2 == esx {
		esx2 = pick(esxHosts)
	}
	r := strings.NewReplacer(
		"{ts}", now.UTC().Format("2006-01-02T15:04:05.000Z"),
		"{ts-10m}", now.Add(-10*time.Minute).UTC().Format("2006-01-02T15:04:05.000Z"),
		"{ts-9m}", now.Add(-9*time.Minute).UTC().Format("2006-01-02T15:04:05.000Z"),
		"{nxts-9m}", now.Add(-9*time.Minute).UTC().Format(time.DateTime),
		"{esx}", esx, "{esx2}", esx2, "{vc}", "vcsa.lab.local", "{vcip}", "10.20.0.5",
		"{tid}", strconv.Itoa(2099000+s.rnd.IntN(900)), "{pid}", strconv.Itoa(1050000+s.rnd.IntN(9000)),
		"{n}", strconv.Itoa(100000+s.n),
		"{opid}", fmt.Sprintf("%04x-%04x", s.rnd.IntN(65536), s.rnd.IntN(65536)),
		"{sid}", fmt.Sprintf("52%06x", s.rnd.IntN(1<<24)),
		"{admin}", pick(admins), "{hostuser}", pick(hostUsers),
		"{ip}", pick(adminIPs), "{badip}", pick(badIPs), "{vm}", pick(vms),
	)
	out := make([]string, len(tm.lines))
	for i, l := range tm.lines {
		out[i] = r.Replace(l)
	}
	return out
}

// Run sends the stream until ctx is cancelled: groups alternate between
// UDP and TCP (octet-counting framing), reconnecting TCP as needed.
func (s *Stream) Run(ctx context.Context) error {
	var udp, tcp net.Conn
	defer func() {
		if udp != nil {
			udp.Close()
		}
		if tcp != nil {
			tcp.Close()
		}
	}()
	interval := time.Duration(float64(time.Second) / s.o.Rate)
	t := time.NewTicker(interval)
	defer t.Stop()
	useTCP := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			lines := s.Next(now)
			useTCP = !useTCP && s.o.TCP != nil || s.o.UDP == nil
			var err error
			if useTCP {
				if tcp == nil {
					if tcp, err = net.Dial("tcp", s.o.TCP.String()); err != nil {
						s.log.Warn("demo: cannot connect", "err", err)
						tcp = nil
						continue
					}
				}
				var b strings.Builder
				for _, l := range lines {
					fmt.Fprintf(&b, "%d %s", len(l), l)
				}
				if _, err = tcp.Write([]byte(b.String())); err != nil {
					tcp.Close()
					tcp = nil
				}
			} else {
				if udp == nil {
					if udp, err = net.Dial("udp", s.o.UDP.String()); err != nil {
						s.log.Warn("demo: cannot open UDP socket", "err", err)
						udp = nil
						continue
					}
				}
				for _, l := range lines {
					_, _ = udp.Write([]byte(l))
				}
			}
		}
	}
}

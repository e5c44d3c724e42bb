package detect

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
)

// A table that breaks the contract fails in New, naming the rule; before,
// each of these compiled and then panicked, dropped lines, or lost fields
// at run time.
func TestContract(t *testing.T) {
	prog := []string{"p"}
	for _, c := range []struct {
		name  string
		table Table
		err   string
	}{
		{"five captures", Table{Name: "t", Programs: prog, Rules: []Rule{{Name: "r", Kind: audit.KindLogin,
			Pattern: "a {user} b {client_ip} c {vm} d {host} e {command}"}}}, "rule t/r: pattern \"a {user} b {client_ip} c {vm} d {host} e {command}\" has 5 captures, at most 4"},
		{"capture not a field", Table{Name: "t", Programs: prog, Rules: []Rule{{Name: "r", Kind: audit.KindLogin,
			Pattern: "a {who} b"}}}, "capture {who} is not an event field"},
		{"group not a field", Table{Name: "t", Programs: prog, Rules: []Rule{{Name: "r", Kind: audit.KindLogin, Prefix: "Permission ",
			Re: regexp.MustCompile(`^Permission for (?P<principal>\S+)`)}}}, `rule t/r: group "principal" of Re is not an event field`},
		{"regex rule behind a gate", Table{Name: "t", Programs: prog, Prefixes: []string{"Event "}, Rules: []Rule{
			{Name: "gated", Kind: audit.KindLogin, Prefix: "Event "},
			{Name: "r", Kind: audit.KindLogin, Re: regexp.MustCompile(`logged in`)}}}, "rule t/r: a Re without a Prefix, Prefixes or Contains: the quick filter would drop its lines"},
		{"no literal, no gate", Table{Name: "t", Programs: prog, Rules: []Rule{{Name: "r", Fn: func(*Input, *audit.Event) bool { return true }}}},
			"rule t/r: no literal"},
		{"unknown kind", Table{Name: "t", Programs: prog, Rules: []Rule{{Name: "r", Kind: "logon", Prefix: "x"}}}, `rule t/r: unknown kind "logon"`},
		{"no kind", Table{Name: "t", Programs: prog, Rules: []Rule{{Name: "r", Prefix: "x"}}}, "rule t/r: no Kind and no Fn"},
		{"twice", Table{Name: "t", Programs: prog, Rules: []Rule{{Name: "r", Kind: audit.KindLogin, Prefix: "x"}, {Name: "r", Kind: audit.KindLogin, Prefix: "y"}}},
			"rule t/r: listed twice"},
		{"ID without Prepare", Table{Name: "t", Programs: prog, Prefixes: []string{"x"}, Rules: []Rule{{Name: "r", Kind: audit.KindLogin, ID: "X"}}},
			"ID is set but the table has no Prepare step"},
		{"unreachable table", Table{Name: "t", Rules: []Rule{{Name: "r", Kind: audit.KindLogin, Prefix: "x"}}}, "no Programs and no Sniff"},
		{"pattern starting with a capture", Table{Name: "t", Programs: prog, Rules: []Rule{{Name: "r", Kind: audit.KindLogin, Pattern: "{user} logged in"}}},
			"starts with a capture"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tb := c.table
			_, err := New(&tb)
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("New: %v, want an error containing %q", err, c.err)
			}
		})
	}
	if _, err := New(); err != nil {
		t.Fatalf("the built-in tables: %v", err)
	}
}

// The quick filter and Classify agree: a regex rule behind a table's own
// literal is reached both in a unit test and live.
func TestClassifyAppliesQuickFilter(t *testing.T) {
	c, err := New(&Table{Name: "t", Programs: []string{"p"}, Prefixes: []string{"Event "}, Rules: []Rule{
		{Name: "event", ID: "", Kind: audit.KindLogin, Prefix: "Event "},
		{Name: "other", Kind: audit.KindLogout, Contains: "logged out", Re: regexp.MustCompile(`(?P<user>\S+) logged out`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &logline.Record{Program: "p", Body: "root logged out"}
	if !c.Candidate("p", "", rec.Body) {
		t.Fatal("Candidate rejects a line its rule matches")
	}
	evs := c.Classify(rec, nil)
	if len(evs) != 1 || evs[0].Kind != audit.KindLogout || evs[0].User != "root" {
		t.Fatalf("Classify = %+v", evs)
	}
	rec = &logline.Record{Program: "p", Body: "nothing here"}
	if c.Candidate("p", "", rec.Body) || len(c.Classify(rec, nil)) != 0 {
		t.Fatal("a line no rule matches passes")
	}
}

// corpusLines reads every message of testdata/corpus.
func corpusLines(t testing.TB) []string {
	files, err := filepath.Glob("../../testdata/corpus/*.log")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	var out []string
	for _, fn := range files {
		fh, err := os.Open(fn)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if l := sc.Text(); l != "" && l[0] != '#' {
				out = append(out, l)
			}
		}
		fh.Close()
	}
	return out
}

// classifyCorpus classifies the corpus as replay does, joining a
// multi-line message's "-->" continuation lines to it as package
// reassembly would.
func classifyCorpus(t testing.TB, c *Classifier) []audit.Event {
	p := logline.NewParser(logline.Options{Year: 2024, Now: func() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }})
	var out []audit.Event
	var pending *logline.Record
	for _, l := range corpusLines(t) {
		rec, err := p.Parse([]byte(l))
		if err != nil {
			continue
		}
		// Join "-->" continuation lines the way package reassembly does.
		if rec.Continuation && pending != nil && rec.Host == pending.Host {
			pending.Body += "\n" + rec.Body
			continue
		}
		if pending != nil {
			out = c.Classify(pending, out)
			pending = nil
		}
		if c.NeedsContinuation(&rec) {
			r := rec
			pending = &r
			continue
		}
		out = c.Classify(&rec, out)
	}
	if pending != nil {
		out = c.Classify(pending, out)
	}
	return out
}

// Every rule matches at least one line of testdata/: a rule nobody can
// show a line for is either dead or untested.
func TestEveryRuleHasALine(t *testing.T) {
	c := MustNew()
	seen := map[string]bool{}
	for _, e := range classifyCorpus(t, c) {
		seen[e.Rule] = true
		if i := strings.IndexByte(e.Rule, '/'); i > 0 && (strings.HasPrefix(e.Rule[i+1:], "com.vmware.") || strings.HasPrefix(e.Rule[i+1:], "esx.")) {
			seen[e.Rule[:i]+"/EventEx"] = true
		}
	}
	var missing []string
	for _, tb := range Default() {
		for _, r := range tb.Rules {
			name := tb.Name + "/" + r.Name
			if !seen[name] {
				missing = append(missing, name)
			}
		}
	}
	sort.Strings(missing)
	// vpxd's EventEx and ExtendedEvent rules name the id they found
	// (vpxd/esx.audit.ssh.session.opened): seen above as EventEx.
	var left []string
	for _, m := range missing {
		if m == "vpxd/ExtendedEvent" && seen["vpxd/EventEx"] {
			continue
		}
		left = append(left, m)
	}
	if len(left) > 0 {
		t.Errorf("%d rules match no line of testdata/corpus (add a real line, or a marked synthetic one to synthetic.log):\n  %s", len(left), strings.Join(left, "\n  "))
	}
}

// The quick filter never drops a line that would classify: over the corpus
// and over random mutations of it (seed logged), Candidate(program, body)
// is true for every record Classify turns into an event.
func TestQuickFilterNeverDropsAnEvent(t *testing.T) {
	c := MustNew()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("DETECT_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("DETECT_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (set DETECT_SEED to replay)", seed)
	rnd := rand.New(rand.NewPCG(seed, 1))
	p := logline.NewParser(logline.Options{Year: 2024})
	check := func(line string) {
		rec, err := p.Parse([]byte(line))
		if err != nil {
			return
		}
		if n := len(c.Classify(&rec, nil)); n > 0 && !c.Candidate(rec.Program, rec.SDID, rec.Body) {
			t.Errorf("quick filter drops a line that gives %d events: %q", n, line)
		}
	}
	for _, l := range corpusLines(t) {
		check(l)
		for i := 0; i < 5; i++ {
			b := []byte(l)
			for j := 0; j < 3; j++ {
				k := rnd.IntN(len(b))
				b[k] = byte(rnd.IntN(256))
			}
			check(string(b))
		}
	}
}

// FuzzQuickFilter: if the quick filter skips a message, classifying it
// yields nothing.
func FuzzQuickFilter(f *testing.F) {
	for _, l := range corpusLines(f) {
		f.Add(l)
	}
	c := MustNew()
	p := logline.NewParser(logline.Options{Year: 2024})
	f.Fuzz(func(t *testing.T, line string) {
		rec, err := p.Parse([]byte(line))
		if err != nil {
			return
		}
		if !c.Candidate(rec.Program, rec.SDID, rec.Body) {
			if evs := c.Classify(&rec, nil); len(evs) > 0 {
				t.Fatalf("skipped by the quick filter, yet classifies to %+v", evs)
			}
		}
	})
}

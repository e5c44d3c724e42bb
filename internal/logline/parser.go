package logline

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	syslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"
)

// ErrEmpty is returned for an empty or blank line.
var ErrEmpty = errors.New("empty message")

// Options configure a Parser.
type Options struct {
	// Year is used for BSD timestamps ("Jan  2 10:11:12"), which carry none.
	// Zero means: the current year, or the previous one when the date would
	// lie more than a day in the future.
	Year int
	// Location interprets timestamps that carry no zone. Nil means UTC.
	Location *time.Location
	// Now supplies the time for messages without a usable timestamp.
	// Nil means time.Now.
	Now func() time.Time
}

// Parser parses log messages. A Parser is not safe for concurrent use: give
// each goroutine (each connection, each UDP reader) its own.
type Parser struct {
	raw   []byte // the message being parsed, for go-syslog
	opts  Options
	p3164 syslog.Machine
	p5424 syslog.Machine
	// params is where records' Params come from.
	params paramChunk
}

// NewParser returns a Parser with the given options.
func NewParser(o Options) *Parser {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var year rfc3164.YearOperator = rfc3164.CurrentYear{}
	if o.Year != 0 {
		year = rfc3164.Year{YYYY: o.Year}
	}
	return &Parser{
		opts: o,
		p3164: rfc3164.NewParser(rfc3164.WithRFC3339(), rfc3164.WithSecondFractions(),
			rfc3164.WithYear(year), rfc3164.WithLocaleTimezone(o.Location), rfc3164.WithBestEffort()),
		p5424: rfc5424.NewParser(rfc5424.WithBestEffort()),
	}
}

// Parse parses one message. It accepts RFC 5424 and RFC 3164 (with BSD or
// RFC 3339 timestamps), with or without <PRI>, ESXi's unquoted structured
// data, and the line formats that rsyslog and ESXi write to files. A line
// that has no recognizable header is returned whole as the Body, with
// Format "msg", so that content rules can still look at it.
func (p *Parser) Parse(line []byte) (Record, error) {
	line = trimLineBytes(line)
	var rec Record
	if len(line) == 0 {
		return rec, ErrEmpty
	}
	// view aliases line: it is only looked at. Records keep either
	// go-syslog's own strings or substrings of an owned copy.
	view := trimLine(unsafe.String(&line[0], len(line)))
	p.raw = line
	if view == "" {
		return rec, ErrEmpty
	}
	if view[0] == '<' {
		if rest, ok := skipPRI(view); ok {
			if isVersion5424(rest) {
				if !p.parse5424(view, &rec) {
					rec = Record{}
					s := strings.Clone(view)
					rest, _ := skipPRI(s)
					p.lenient5424(rest[strings.IndexByte(rest, ' ')+1:], &rec)
				}
			} else if !p.parse3164(view, &rec) {
				rec = Record{}
				rest, _ := skipPRI(strings.Clone(view))
				p.parseNoPRI(rest, &rec)
			}
			finish(&rec, &p.params)
			if rec.Time.IsZero() {
				rec.Time = p.opts.Now()
			}
			return rec, nil
		}
	}
	p.parseNoPRI(strings.Clone(view), &rec)
	finish(&rec, &p.params)
	if rec.Time.IsZero() {
		rec.Time = p.opts.Now()
	}
	return rec, nil
}

// trimLine strips line endings, a literal trailing "\n" (as found in JSON
// exports of syslog lines) and surrounding blanks.
func trimLine(s string) string {
	for len(s) > 0 {
		c := s[len(s)-1]
		if c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == 0 {
			s = s[:len(s)-1]
			continue
		}
		if strings.HasSuffix(s, `\n`) {
			s = s[:len(s)-2]
			continue
		}
		break
	}
	return trimLeftBlanks(s)
}

// trimLeftBlanks is strings.TrimLeft(s, " \t") without building its set of
// bytes per call.
func trimLeftBlanks(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

// trimLineBytes strips line endings and blanks at the end, as trimLine does.
func trimLineBytes(b []byte) []byte {
	for len(b) > 0 {
		c := b[len(b)-1]
		if c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == 0 {
			b = b[:len(b)-1]
			continue
		}
		break
	}
	return b
}

// bytesOf returns s as bytes: the raw line when s is all of it (no copy).
func (p *Parser) bytesOf(s string) []byte {
	if len(s) == len(p.raw) {
		return p.raw
	}
	return []byte(s)
}

// skipPRI returns what follows "<N>".
func skipPRI(s string) (string, bool) {
	for i := 1; i < len(s) && i <= 4; i++ {
		c := s[i]
		if c == '>' {
			if i == 1 {
				return "", false
			}
			return s[i+1:], true
		}
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return "", false
}

// isVersion5424 reports whether s starts with an RFC 5424 VERSION ("1 ").
func isVersion5424(s string) bool {
	i := 0
	for i < len(s) && i < 3 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i > 0 && i < len(s) && s[i] == ' ' && i+1 < len(s) && (isDigit(s[i+1]) || s[i+1] == '-')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (p *Parser) parse5424(s string, rec *Record) bool {
	m, err := p.p5424.Parse(p.bytesOf(s))
	if err != nil || m == nil {
		return false
	}
	msg, ok := m.(*rfc5424.SyslogMessage)
	if !ok {
		return false
	}
	if msg.Timestamp != nil {
		rec.Time = msg.Timestamp.UTC()
	}
	rec.Host = str(msg.Hostname)
	rec.App = str(msg.Appname)
	rec.PID = str(msg.ProcID)
	rec.Format = "rfc5424"
	if msg.StructuredData != nil {
		// go-syslog returns a map: take the elements in the order they
		// appear in the message.
		sd := *msg.StructuredData
		ids := make([]string, 0, len(sd))
		for id := range sd {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return strings.Index(s, "["+ids[i]) < strings.Index(s, "["+ids[j]) })
		for _, id := range ids {
			if rec.SDID == "" && id != "meta" {
				rec.SDID = id
			}
			keys := make([]string, 0, len(sd[id]))
			for k := range sd[id] {
				keys = append(keys, k)
			}
			el := s[strings.Index(s, "["+id):]
			sort.Slice(keys, func(i, j int) bool {
				return strings.Index(el, " "+keys[i]+"=") < strings.Index(el, " "+keys[j]+"=")
			})
			for _, k := range keys {
				rec.Params = append(rec.Params, Param{k, sd[id][k]})
			}
		}
	}
	rec.Body = str(msg.Message)
	return true
}

func (p *Parser) parse3164(s string, rec *Record) bool {
	if h, ok := parse3164Fast(s); ok {
		// Its timestamp is RFC 3339: no year to guess.
		h.fill(s, rec)
		rec.Format = "rfc3164"
		stripColonlessPID(rec)
		return true
	}
	m, err := p.p3164.Parse(p.bytesOf(s))
	if err != nil || m == nil {
		return false
	}
	msg, ok := m.(*rfc3164.SyslogMessage)
	if !ok || msg.Message == nil || msg.Appname == nil || msg.Hostname == nil {
		return false
	}
	// A relay that prepends a BSD header to an ESXi line: the "tag" is the
	// inner RFC 3339 timestamp. Re-parse the inner line.
	if isDigit((*msg.Appname)[0]) {
		return false
	}
	if msg.Timestamp != nil {
		rec.Time = msg.Timestamp.UTC()
		// A BSD timestamp carries no year: go-syslog's CurrentYear uses the
		// wall clock and never looks back; use Options.Now and roll a date
		// that would lie in the future back a year, as the no-PRI path does.
		if p.opts.Year == 0 {
			if rest, ok := skipPRI(s); ok && len(rest) > 0 && !isDigit(rest[0]) {
				now := p.opts.Now().In(p.opts.Location)
				t := msg.Timestamp.In(p.opts.Location)
				t = time.Date(now.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), p.opts.Location)
				if t.After(now.Add(24 * time.Hour)) {
					t = t.AddDate(-1, 0, 0)
				}
				rec.Time = t.UTC()
			}
		}
	}
	rec.Host = *msg.Hostname
	rec.App = *msg.Appname
	rec.PID = str(msg.ProcID)
	rec.Body = *msg.Message
	stripColonlessPID(rec)
	rec.Format = "rfc3164"
	return true
}

// stripColonlessPID: for a tag without its colon ("vpxd[51702] Event
// [...]", from rsyslog and syslog-ng relays) go-syslog leaves "51702] " in
// front of the message; take it off.
func stripColonlessPID(rec *Record) {
	if pid := rec.PID; pid != "" && strings.HasPrefix(rec.Body, pid) && strings.HasPrefix(rec.Body[len(pid):], "] ") {
		rec.Body = rec.Body[len(pid)+2:]
	}
}

// parseNoPRI handles everything that does not start with a valid PRI: the
// file formats of rsyslog and ESXi, RFC 5424 without PRI, and bare messages.
func (p *Parser) parseNoPRI(s string, rec *Record) {
	s = strings.TrimLeft(s, " ")
	if s == "" {
		return
	}
	// vCenter SSO files: "[2017-06-16T12:45:16.392Z vghetto.local ... INFO ] [IdentityManager] ..."
	if s[0] == '[' {
		if t, n, ok := parseRFC3339Prefix(s[1:], p.opts.Location); ok && n > 0 {
			rec.Time = t
			rec.Body = s
			rec.Format = "bracketed"
			return
		}
	}
	if t, n, ok := p.parseBSDStamp(s); ok {
		rec.Time = t
		rest := strings.TrimLeft(s[n:], " ")
		host, after := token(rest)
		after = strings.TrimLeft(after, " ")
		// A relay that prepends its own header to an ESXi line.
		if _, _, ok := parseRFC3339Prefix(after, p.opts.Location); ok {
			p.parseNoPRI(after, rec)
			return
		}
		rec.Host = host
		rec.Format = "bsd"
		parseTag(after, rec)
		return
	}
	t, n, ok := parseRFC3339Prefix(s, p.opts.Location)
	if !ok {
		t, n, ok = parseDateSpaceTime(s, p.opts.Location)
	}
	if !ok {
		rec.Body = s
		rec.Format = "msg"
		return
	}
	rec.Time = t
	rest := s[n:]
	// ESXi 7 vobd.log: "2023-02-13T16:22:22.897Z: [UserLevelCorrelator] ..."
	if strings.HasPrefix(rest, ": ") {
		rec.App = "vobd"
		rec.Body = rest[2:]
		rec.Format = "esxi-vobd-file"
		return
	}
	rest = strings.TrimLeft(rest, " ")
	tok, after := token(rest)
	switch {
	case isSeverityToken(tok): // ESXi 8 file: "In(166) Hostd[1050748]: ..."
		rec.Level = strings.TrimSuffix(tok, "+")
		rec.Continuation = strings.HasSuffix(tok, "+")
		rec.Format = "esxi8-file"
		parseTag(strings.TrimLeft(after, " "), rec)
	case isLevelWord(tok) && strings.IndexByte(firstToken(strings.TrimLeft(after, " ")), '[') > 0:
		// ESXi 6/7 hostd.log or vCenter: "info hostd[2099631] [Originator@6876 ...] text"
		rec.Level = tok
		after = strings.TrimLeft(after, " ")
		tag, body := token(after)
		if i := strings.Index(tag, "]["); i > 0 {
			tag, body = after[:i+1], after[i+1:]
		}
		rec.App, rec.PID = splitTag(strings.TrimSuffix(tag, ":"))
		rec.Body = body
		rec.Format = "esxi-level-file"
	case strings.HasSuffix(tok, ":") && tok != ":":
		// No host: "sshd[1234]: msg" (ESXi auth.log, shell.log).
		rec.Format = "file"
		parseTag(rest, rec)
	case tok == "":
		rec.Format = "file"
	case tok[0] == '[' || tok[0] == '{':
		// vCenter service files: "2017-06-16T16:31:34.653Z [tomcat-exec-65 INFO ...] ..." and
		// the SSO audit file: "2019-04-06T12:08:50.250Z {"user":...}".
		rec.Format = "file"
		rec.Body = rest
	default:
		rec.Host = tok
		after = strings.TrimLeft(after, " ")
		next := firstToken(after)
		if strings.HasSuffix(next, ":") || !p.lenientHeaderless5424(after, rec) {
			rec.Format = "rfc3339-host"
			parseTag(after, rec)
		}
	}
}

// lenientHeaderless5424 parses "APP PROCID MSGID SD MSG" (RFC 5424 fields
// after HOSTNAME) when PROCID and MSGID look right.
func (p *Parser) lenientHeaderless5424(s string, rec *Record) bool {
	app, r1 := token(s)
	procid, r2 := token(strings.TrimLeft(r1, " "))
	msgid, r3 := token(strings.TrimLeft(r2, " "))
	if app == "" || procid == "" || msgid == "" {
		return false
	}
	if !(procid == "-" || allDigits(procid)) || !(msgid == "-" || !strings.ContainsAny(msgid, "[]:=")) {
		return false
	}
	r3 = strings.TrimPrefix(r3, " ")
	if !(strings.HasPrefix(r3, "-") || strings.HasPrefix(r3, "[")) {
		return false
	}
	rec.App = app
	if procid != "-" {
		rec.PID = procid
	}
	rec.Format = "rfc5424-nopri"
	rec.Body = parseSDField(r3, rec, &p.params)
	return true
}

// lenient5424 parses "TIMESTAMP HOSTNAME APP PROCID MSGID SD MSG" where SD
// may carry ESXi's unquoted values.
func (p *Parser) lenient5424(s string, rec *Record) {
	ts, rest := token(s)
	if ts != "-" {
		if t, _, ok := parseRFC3339Prefix(ts, p.opts.Location); ok {
			rec.Time = t
		}
	}
	host, rest := token(strings.TrimPrefix(rest, " "))
	if host != "-" {
		rec.Host = host
	}
	if !p.lenientHeaderless5424(strings.TrimPrefix(rest, " "), rec) {
		rec.Body = rest
	}
	rec.Format = "rfc5424-lenient"
}

// parseSDField consumes an RFC 5424 STRUCTURED-DATA field ("-" or one or more
// elements) and returns the MSG that follows.
func parseSDField(s string, rec *Record, pc *paramChunk) string {
	if strings.HasPrefix(s, "-") {
		return strings.TrimPrefix(s[1:], " ")
	}
	return strings.TrimPrefix(consumeSD(s, true, rec, pc), " ")
}

// parseTag splits "app[pid]: msg" or "app: msg", and the colon-less
// "app[pid] msg" that rsyslog and syslog-ng relays write for vpxd
// ("vc01 vpxd[51702] Event [...]"); without a tag the whole string is the
// body.
func parseTag(s string, rec *Record) {
	tok, rest := token(s)
	if len(tok) > 1 && strings.HasSuffix(tok, ":") && !strings.HasPrefix(tok, "[") {
		rec.App, rec.PID = splitTag(tok[:len(tok)-1])
		rec.Body = strings.TrimPrefix(rest, " ")
		return
	}
	if app, pid, ok := colonlessTag(tok); ok && rest != "" {
		rec.App, rec.PID = app, pid
		rec.Body = strings.TrimPrefix(rest, " ")
		return
	}
	rec.Body = s
}

// colonlessTag reports whether tok is a tag "app[pid]" without its colon:
// a valid program name and a decimal process id.
func colonlessTag(tok string) (app, pid string, ok bool) {
	i := strings.IndexByte(tok, '[')
	if i <= 0 || len(tok) < i+3 || tok[len(tok)-1] != ']' {
		return "", "", false
	}
	app, pid = tok[:i], tok[i+1:len(tok)-1]
	if !validTag(app) || !allDigits(pid) || isDigit(app[0]) {
		return "", "", false
	}
	return app, pid, true
}

// splitTag splits "app[pid]" into app and pid.
func splitTag(tag string) (string, string) {
	if i := strings.IndexByte(tag, '['); i > 0 && strings.HasSuffix(tag, "]") {
		return tag[:i], tag[i+1 : len(tag)-1]
	}
	return tag, ""
}

// token returns the first space-delimited token and the rest (starting at the space).
func token(s string) (string, string) {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

func firstToken(s string) string {
	t, _ := token(s)
	return t
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// isSeverityToken matches ESXi 8's "In(166)", "Wa(164)", "No(13)" with an
// optional "+" line marker.
func isSeverityToken(t string) bool {
	t = strings.TrimSuffix(t, "+")
	if len(t) < 5 || t[2] != '(' || t[len(t)-1] != ')' {
		return false
	}
	switch t[:2] {
	case "Em", "Al", "Cr", "Er", "Wa", "No", "In", "Db":
		return allDigits(t[3 : len(t)-1])
	}
	return false
}

func isLevelWord(t string) bool {
	switch t {
	case "info", "verbose", "warning", "error", "trivia", "panic", "critical",
		"INFO", "WARN", "WARNING", "ERROR", "DEBUG", "TRACE":
		return true
	}
	return false
}

// cutLevelWord returns the first token of b and the rest (as token does)
// when that token is a level word (isLevelWord).
func cutLevelWord(b string) (tok, rest string, ok bool) {
	// Every level word starts with a letter; most bodies start with "[",
	// and need no scan for the end of the token.
	if b == "" || !(b[0] >= 'a' && b[0] <= 'z' || b[0] >= 'A' && b[0] <= 'Z') {
		return "", "", false
	}
	tok, rest = token(b)
	return tok, rest, isLevelWord(tok)
}

var months = map[string]time.Month{
	"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
	"Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}

// parseBSDStamp parses "Mmm dd hh:mm:ss" (day padded with a space or not).
func (p *Parser) parseBSDStamp(s string) (time.Time, int, bool) {
	if len(s) < 14 || s[3] != ' ' {
		return time.Time{}, 0, false
	}
	mon, ok := months[s[:3]]
	if !ok {
		return time.Time{}, 0, false
	}
	i := 4
	if s[i] == ' ' {
		i++
	}
	day := 0
	for i < len(s) && isDigit(s[i]) && day < 100 {
		day = day*10 + int(s[i]-'0')
		i++
	}
	if day < 1 || day > 31 || i+9 > len(s) || s[i] != ' ' {
		return time.Time{}, 0, false
	}
	i++
	hh, mm, ss, ok := hms(s[i : i+8])
	if !ok {
		return time.Time{}, 0, false
	}
	i += 8
	year := p.opts.Year
	if year == 0 {
		now := p.opts.Now().In(p.opts.Location)
		year = now.Year()
		if time.Date(year, mon, day, hh, mm, ss, 0, p.opts.Location).After(now.Add(24 * time.Hour)) {
			year--
		}
	}
	return time.Date(year, mon, day, hh, mm, ss, 0, p.opts.Location).UTC(), i, true
}

func hms(s string) (int, int, int, bool) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, 0, 0, false
	}
	for _, i := range []int{0, 1, 3, 4, 6, 7} {
		if !isDigit(s[i]) {
			return 0, 0, 0, false
		}
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), int(s[3]-'0')*10 + int(s[4]-'0'), int(s[6]-'0')*10 + int(s[7]-'0'), true
}

// parseRFC3339Prefix parses an RFC 3339 timestamp at the start of s (with
// or without fractional seconds and zone; no zone means loc) and returns
// the number of bytes consumed.
func parseRFC3339Prefix(s string, loc *time.Location) (time.Time, int, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' {
		return time.Time{}, 0, false
	}
	return parseISO(s, loc)
}

// parseDateSpaceTime parses "2022-04-01 00:41:48".
func parseDateSpaceTime(s string, loc *time.Location) (time.Time, int, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' {
		return time.Time{}, 0, false
	}
	return parseISO(s, loc)
}

func parseISO(s string, loc *time.Location) (time.Time, int, bool) {
	for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9} {
		if !isDigit(s[i]) {
			return time.Time{}, 0, false
		}
	}
	year, _ := strconv.Atoi(s[0:4])
	mon := int(s[5]-'0')*10 + int(s[6]-'0')
	day := int(s[8]-'0')*10 + int(s[9]-'0')
	hh, mm, ss, ok := hms(s[11:])
	if !ok || mon < 1 || mon > 12 || day < 1 || day > 31 {
		return time.Time{}, 0, false
	}
	i := 19
	nsec := 0
	if i < len(s) && s[i] == '.' {
		i++
		digits := 0
		for i < len(s) && isDigit(s[i]) {
			if digits < 9 {
				nsec = nsec*10 + int(s[i]-'0')
				digits++
			}
			i++
		}
		for ; digits < 9 && digits > 0; digits++ {
			nsec *= 10
		}
	}
	zone := loc
	if i < len(s) {
		switch s[i] {
		case 'Z', 'z':
			zone = time.UTC
			i++
		case '+', '-':
			if i+6 <= len(s) && s[i+3] == ':' && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+4]) && isDigit(s[i+5]) {
				off := (int(s[i+1]-'0')*10+int(s[i+2]-'0'))*3600 + (int(s[i+4]-'0')*10+int(s[i+5]-'0'))*60
				if s[i] == '-' {
					off = -off
				}
				zone = fixedZone(off)
				i += 6
			}
		}
	}
	return time.Date(year, time.Month(mon), day, hh, mm, ss, nsec, zone).UTC(), i, true
}

var utcZone = time.UTC

func fixedZone(off int) *time.Location {
	if off == 0 {
		return utcZone
	}
	return time.FixedZone("", off)
}

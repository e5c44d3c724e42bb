package logline

import (
	"strings"
	"time"
)

// header3164 is what parse3164Fast found: the timestamp and where the
// fields lie in the message (byte offsets; pidEnd == pidStart when the tag
// has no PID).
type header3164 struct {
	t                  time.Time
	hostStart, hostEnd int
	appEnd             int
	pidStart, pidEnd   int
	msgStart           int
}

// parse3164Fast parses the header nearly every ESXi and vCenter line has,
//
//	<PRI>YYYY-MM-DDThh:mm:ss[.ffffff](Z|±hh:mm) HOST APP[PID]: MSG
//	<PRI>YYYY-MM-DDThh:mm:ss[.ffffff](Z|±hh:mm) HOST APP: MSG
//
// without go-syslog. Why a hand-written path: go-syslog's rfc3164 machine
// copies every field into a string of its own, returns pointers to them
// and parses the timestamp with time.Parse, about a quarter of a replay's
// CPU and most of its allocations. This accepts only a strict subset of
// what that machine (with the options NewParser gives it) parses without
// error, and finds the same fields: a PRI of 0 to 191 without leading
// zeros, no blanks around the timestamp other than one space after it, a
// host of letters, digits and ".-_", a tag of letters, digits and "._/-"
// (not starting with a digit, at most 48 bytes), a decimal PID, and a
// message of visible characters (go-syslog's print, tab and 0x80-0xFF).
// Anything else returns ok false and goes to go-syslog.
// TestParse3164FastMatchesGoSyslog and FuzzParse3164Fast compare the two.
func parse3164Fast(s string) (h header3164, ok bool) {
	// PRI: "0" or 1..191 without a leading zero.
	if len(s) < 3 || s[0] != '<' {
		return h, false
	}
	i, pri := 1, 0
	for i < len(s) && i <= 4 && isDigit(s[i]) {
		pri = pri*10 + int(s[i]-'0')
		i++
	}
	if i == 1 || i > 4 || i >= len(s) || s[i] != '>' || pri > 191 || (s[1] == '0' && i > 2) {
		return h, false
	}
	i++
	t, n, ok := rfc3339Stamp(s[i:])
	if !ok {
		return h, false
	}
	i += n
	if i >= len(s) || s[i] != ' ' {
		return h, false
	}
	i++
	h.t = t
	// HOST: go-syslog takes graph{1,255} without ':'; this path takes a
	// plainer set, which no other part of the header could also match.
	h.hostStart = i
	for i < len(s) && isHostByte(s[i]) {
		i++
	}
	h.hostEnd = i
	if n := h.hostEnd - h.hostStart; n == 0 || n > 255 || i >= len(s) || s[i] != ' ' ||
		(n == 1 && s[h.hostStart] == '-') {
		return h, false
	}
	i++
	// APP: go-syslog's tag is (print -- [ :\[]){1,48}.
	appStart := i
	for i < len(s) && isTagByte(s[i]) {
		i++
	}
	h.appEnd = i
	if n := h.appEnd - appStart; n == 0 || n > 48 || isDigit(s[appStart]) || (n == 1 && s[appStart] == '-') || i >= len(s) {
		return h, false
	}
	if s[i] == '[' {
		i++
		h.pidStart = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		h.pidEnd = i
		if h.pidEnd == h.pidStart || i >= len(s) || s[i] != ']' {
			return h, false
		}
		i++
	} else {
		h.pidStart, h.pidEnd = i, i
	}
	if i+1 >= len(s) || s[i] != ':' || s[i+1] != ' ' {
		return h, false
	}
	i += 2
	// MSG: go-syslog's visible+ (print, tab and 0x80-0xFF), to the end.
	if i >= len(s) {
		return h, false
	}
	h.msgStart = i
	return h, visible(s[i:])
}

// visible reports whether every byte of s is in go-syslog's visible set
// (print 0x20-0x7e, tab and 0x80-0xff). It looks at eight bytes at a time
// (the scan of the message was a tenth of a replay's parse otherwise):
// a word with no byte below 0x20 and none equal to 0x7f is all visible;
// a word with one is looked at byte by byte (a tab is visible).
func visible(s string) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		del := w ^ 0x7f*lo
		// (x - n*lo) &^ x & hi is not zero when some byte of x is below n (n <= 0x80).
		if (w-0x20*lo)&^w&hi == 0 && (del-lo)&^del&hi == 0 {
			continue
		}
		if !visibleBytes(s[i : i+8]) {
			return false
		}
	}
	return visibleBytes(s[i:])
}

func visibleBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func isHostByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
}

func isTagByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '/'
}

// rfc3339Stamp parses the timestamp go-syslog's rfc3164 machine accepts
// with WithRFC3339 (common.rl's fulldate "T" fulltime: a fraction of one
// to six digits, "Z" or a numeric offset) and that time.Parse(RFC3339)
// then accepts (the day exists in its month), as the instant time.Parse
// would give; n is its length.
func rfc3339Stamp(s string) (t time.Time, n int, ok bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return t, 0, false
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if !isDigit(s[i]) {
			return t, 0, false
		}
	}
	num := func(i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }
	year := num(0)*100 + num(2)
	month, day, hour, min, sec := num(5), num(8), num(11), num(14), num(17)
	if month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) || hour > 23 || min > 59 || sec > 59 {
		return t, 0, false
	}
	i, nsec := 19, 0
	if s[i] == '.' {
		i++
		digits := 0
		for i < len(s) && isDigit(s[i]) {
			if digits == 6 {
				return t, 0, false // go-syslog takes at most six
			}
			nsec = nsec*10 + int(s[i]-'0')
			digits++
			i++
		}
		if digits == 0 {
			return t, 0, false
		}
		for ; digits < 9; digits++ {
			nsec *= 10
		}
	}
	if i >= len(s) {
		return t, 0, false
	}
	off := 0
	switch s[i] {
	case 'Z':
		i++
	case '+', '-':
		if i+6 > len(s) || s[i+3] != ':' || !isDigit(s[i+1]) || !isDigit(s[i+2]) || !isDigit(s[i+4]) || !isDigit(s[i+5]) {
			return t, 0, false
		}
		hh, mm := num(i+1), num(i+4)
		if hh > 23 || mm > 59 {
			return t, 0, false
		}
		off = (hh*60 + mm) * 60
		if s[i] == '-' {
			off = -off
		}
		i += 6
	default:
		return t, 0, false
	}
	// time.Date's instant, without its normalization of out-of-range fields
	// (there are none here).
	unix := daysFromCivil(year, month, day)*86400 + int64(hour*3600+min*60+sec-off)
	return time.Unix(unix, int64(nsec)).UTC(), i, true
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d of the
// proleptic Gregorian calendar (H. Hinnant's days_from_civil).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400                     // [0, 399]
	mp := (m + 9) % 12                     // March is 0
	doy := (153*mp+2)/5 + d - 1            // [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy // [0, 146096]
	return int64(era)*146097 + int64(doe) - 719468
}

// daysIn is the number of days of month m in year y.
func daysIn(m time.Month, y int) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// fill sets rec's fields from h, as substrings of one copy of s (the
// line's buffer is reused; go-syslog made a copy of each field).
func (h *header3164) fill(s string, rec *Record) {
	owned := strings.Clone(s[h.hostStart:])
	at := func(i, j int) string { return owned[i-h.hostStart : j-h.hostStart] }
	rec.Time = h.t.UTC()
	rec.Host = at(h.hostStart, h.hostEnd)
	rec.App = at(h.hostEnd+1, h.appEnd)
	rec.PID = at(h.pidStart, h.pidEnd)
	rec.Body = at(h.msgStart, len(s))
}

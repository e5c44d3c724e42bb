package syslog

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func frames(t *testing.T, input string, max int) (msgs []string, skipped int, err error) {
	t.Helper()
	fr, _, err := newFrameReader(bufio.NewReaderSize(strings.NewReader(input), 16), max)
	if err != nil {
		return nil, 0, err
	}
	for {
		m, s, e := fr.Next()
		skipped += s
		if e != nil {
			if e == io.EOF {
				e = nil
			}
			return msgs, skipped, e
		}
		if m != nil {
			msgs = append(msgs, string(m))
		}
	}
}

func TestFraming(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		max     int
		want    []string
		skipped int
		err     error
	}{
		{name: "octet counting", in: "5 <1>ab4 <2>c", max: 100, want: []string{"<1>ab", "<2>c"}},
		{name: "octet counting with stray LF between frames", in: "5 <1>ab\n4 <2>c\n", max: 100, want: []string{"<1>ab", "<2>c"}},
		{name: "octet counting keeps embedded newlines", in: "7 <1>a\n-b", max: 100, want: []string{"<1>a\n-b"}},
		{name: "LF framing", in: "<1>first\n<2>second\r\n<3>last-without-lf", max: 100, want: []string{"<1>first\n", "<2>second\r\n", "<3>last-without-lf"}},
		{name: "LF framing longer than the buffer", in: "<1>" + strings.Repeat("x", 40) + "\n<2>y\n", max: 100, want: []string{"<1>" + strings.Repeat("x", 40) + "\n", "<2>y\n"}},
		{name: "LF oversize line is skipped, the next one kept", in: "<1>" + strings.Repeat("x", 200) + "\n<2>y\n", max: 50, want: []string{"<2>y\n"}, skipped: 1},
		// The size limit (here 40, the reader's buffer 16), the trailer not counted.
		{name: "LF at the limit", in: strings.Repeat("x", 40) + "\n<2>y\n", max: 40, want: []string{strings.Repeat("x", 40) + "\n", "<2>y\n"}},
		{name: "CR LF at the limit", in: strings.Repeat("x", 40) + "\r\n<2>y\n", max: 40, want: []string{strings.Repeat("x", 40) + "\r\n", "<2>y\n"}},
		{name: "LF over the limit by one", in: strings.Repeat("x", 41) + "\n<2>y\n", max: 40, want: []string{"<2>y\n"}, skipped: 1},
		{name: "CR LF over the limit by one", in: strings.Repeat("x", 41) + "\r\n<2>y\n", max: 40, want: []string{"<2>y\n"}, skipped: 1},
		{name: "short LF over the limit by one", in: strings.Repeat("x", 11) + "\n<2>y\n", max: 10, want: []string{"<2>y\n"}, skipped: 1},
		{name: "short LF at the limit", in: strings.Repeat("x", 10) + "\n<2>y\n", max: 10, want: []string{strings.Repeat("x", 10) + "\n", "<2>y\n"}},
		{name: "octet at the limit", in: "10 <1>" + strings.Repeat("x", 7), max: 10, want: []string{"<1>" + strings.Repeat("x", 7)}},
		{name: "octet over the limit by one closes", in: "11 <1>" + strings.Repeat("x", 8), max: 10, err: ErrTooLong},
		{name: "octet length over the limit closes", in: "500 <1>x", max: 100, err: ErrTooLong},
		{name: "garbage after a frame closes", in: "5 <1>abGARBAGE", max: 100, want: []string{"<1>ab"}, err: ErrFraming},
		{name: "truncated frame closes", in: "50 <1>ab", max: 100, err: ErrFraming},
		{name: "absurd first length is not octet counting", in: "1234567890123 <1>x", max: 100, want: []string{"1234567890123 <1>x"}},
		{name: "absurd later length closes", in: "5 <1>ab1234567890123 <1>x", max: 100, want: []string{"<1>ab"}, err: ErrFraming},
		// Octet counting only when the digits are followed by a space and "<".
		{name: "first line without PRI starting with a timestamp is LF", in: "2024-05-02T10:00:00Z esx01 app: one\n<2>two\n", max: 100, want: []string{"2024-05-02T10:00:00Z esx01 app: one\n", "<2>two\n"}},
		{name: "first line of digits and a space, no PRI, is LF", in: "123 not a frame\n<2>two\n", max: 100, want: []string{"123 not a frame\n", "<2>two\n"}},
		{name: "first line of digits only is LF", in: "42\n", max: 100, want: []string{"42\n"}},
		{name: "short stream of digits and a space is LF", in: "42 ", max: 100, want: []string{"42 "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, skipped, err := frames(t, tc.in, tc.max)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("messages = %q, want %q", got, tc.want)
			}
			if skipped != tc.skipped {
				t.Errorf("skipped = %d, want %d", skipped, tc.skipped)
			}
		})
	}
}

package syslog

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// fuzzChunkReader hands out its data in pieces whose sizes come, in turn, from
// sizes (1 to 256 bytes each), as a TCP stream arrives in segments.
type fuzzChunkReader struct {
	data  []byte
	sizes []byte
	i     int
}

func (r *fuzzChunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(r.data)
	if len(r.sizes) > 0 {
		n = int(r.sizes[r.i%len(r.sizes)]) + 1
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// fuzzFramed is what a frame reader made of a stream: each message with the
// count of oversize messages skipped before it, and how the stream ended.
type fuzzFramed struct {
	msgs    []string
	skipped []int
	end     string // "eof", "oversize", "framing" or the error
	framing string
}

// fuzzReadFrames reads a whole stream as the server does, through a
// buffered reader of size buf.
func fuzzReadFrames(t *testing.T, r io.Reader, buf, max int) fuzzFramed {
	t.Helper()
	var out fuzzFramed
	fr, framing, err := newFrameReader(bufio.NewReaderSize(r, buf), max)
	out.framing = framing
	for err == nil {
		var msg []byte
		var skipped int
		msg, skipped, err = fr.Next()
		if err != nil {
			if skipped > 0 {
				out.skipped = append(out.skipped, skipped)
				out.msgs = append(out.msgs, "") // the skips before the end
			}
			break
		}
		out.msgs = append(out.msgs, string(msg))
		out.skipped = append(out.skipped, skipped)
	}
	switch {
	case errors.Is(err, io.EOF):
		out.end = "eof"
	case errors.Is(err, ErrTooLong):
		out.end = "oversize"
	case errors.Is(err, ErrFraming):
		out.end = "framing"
	default:
		out.end = err.Error()
	}
	return out
}

// fuzzMessageLen is the size the limit applies to: the message without its
// trailer (LF or CR LF; octet-counted frames have none).
func fuzzMessageLen(framing, m string) int {
	if framing == "octet-counting" {
		return len(m)
	}
	switch {
	case len(m) >= 2 && m[len(m)-2:] == "\r\n":
		return len(m) - 2
	case len(m) >= 1 && m[len(m)-1] == '\n':
		return len(m) - 1
	}
	return len(m)
}

// FuzzFrameReader reads a stream with both framings' readers, once in one
// piece through the server's 64 KiB buffer and once in chunks of fuzzed
// sizes through a small buffer: the same messages, skips and end come out
// whatever the chunking and buffer, and no message is over the size limit.
func FuzzFrameReader(f *testing.F) {
	for _, s := range fuzzFramingSeeds(f) {
		f.Add(s, []byte{0, 6, 255, 2}, uint16(100))
		f.Add(s, []byte{}, uint16(4096))
	}
	f.Fuzz(func(t *testing.T, stream, sizes []byte, limit uint16) {
		max := 1 + int(limit)%8192
		whole := fuzzReadFrames(t, bytes.NewReader(stream), 64<<10, max)
		// bufio's smallest buffer, and one near the limit.
		for _, buf := range []int{16, max/2 + 16} {
			chunked := fuzzReadFrames(t, &fuzzChunkReader{data: stream, sizes: sizes}, buf, max)
			if chunked.framing != whole.framing || chunked.end != whole.end ||
				!slices.Equal(chunked.msgs, whole.msgs) || !slices.Equal(chunked.skipped, whole.skipped) {
				t.Fatalf("limit %d, buffer %d, chunks %v:\nchunked %+v\nwhole   %+v", max, buf, sizes, chunked, whole)
			}
		}
		for _, m := range whole.msgs {
			if n := fuzzMessageLen(whole.framing, m); n > max {
				t.Fatalf("%s message of %d bytes over the limit %d: %q", whole.framing, n, max, m)
			}
		}
	})
}

// fuzzFramingSeeds are streams of real messages (testdata/corpus), LF-fuzzFramed
// and octet-counted, and the edge cases of TestFraming.
func fuzzFramingSeeds(f *testing.F) [][]byte {
	seeds := [][]byte{
		[]byte("5 <1>ab4 <2>c"),
		[]byte("5 <1>ab\n4 <2>c\n"),
		[]byte("<1>first\n<2>second\r\n<3>last-without-lf"),
		[]byte("123 not a frame\n<2>two\n"),
		[]byte("42 "),
		[]byte("5 <1>abGARBAGE"),
		[]byte("50 <1>ab"),
		append(bytes.Repeat([]byte("x"), 100), "\r\n<2>y\n"...),
	}
	files, err := filepath.Glob("../../testdata/corpus/*-wire.log")
	if err != nil || len(files) == 0 {
		f.Fatalf("no corpus in ../../testdata/corpus: %v", err)
	}
	for _, fn := range files {
		b, err := os.ReadFile(fn)
		if err != nil {
			f.Fatal(err)
		}
		var lf, octet []byte
		for _, l := range bytes.Split(b, []byte("\n")) {
			if len(l) == 0 || l[0] == '#' {
				continue
			}
			if len(lf) < 4096 {
				lf = append(append(lf, l...), '\n')
			}
			if len(octet) < 4096 {
				octet = append(append(strconv.AppendInt(octet, int64(len(l)), 10), ' '), l...)
			}
		}
		seeds = append(seeds, lf, octet)
	}
	return seeds
}

package syslog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Framing errors. Each closes the one connection it happens on.
var (
	ErrFraming = errors.New("framing error")
	ErrTooLong = errors.New("message longer than the size limit")
	// ErrTruncated marks a message cut short by the end (or a failure, or
	// the idle timeout) of its stream; at the end of the stream inside an
	// octet-counted frame it comes with ErrFraming.
	ErrTruncated = errors.New("truncated message")
)

// frameReader yields one syslog message at a time from a TCP stream.
type frameReader interface {
	// Next returns the next message. The slice is valid until the next call.
	// skipped reports messages discarded for their size (LF framing can
	// resynchronize at the next line): a line is reported as soon as it
	// passes the limit, alone, with a nil msg and skipped 1.
	Next() (msg []byte, skipped int, err error)
}

// newFrameReader detects the framing from the first bytes (RFC 6587): an
// octet count is digits, a space and the message's "<" ("123 <14>1 ...");
// anything else is non-transparent framing with LF as the trailer, so a
// first line without PRI that starts with a digit (a bare timestamp, "123
// apples") is read as a line, not taken for a frame length.
func newFrameReader(br *bufio.Reader, max int) (frameReader, string, error) {
	octet, err := octetCounted(br)
	if err != nil {
		return nil, "", err
	}
	if octet {
		return &octetReader{br: br, max: max, buf: make([]byte, 0, 4096)}, "octet-counting", nil
	}
	return &lfReader{br: br, max: max}, "non-transparent", nil
}

// octetCounted peeks at the first bytes, no more than it needs to decide:
// a sender's first message may be shorter than a full length prefix.
func octetCounted(br *bufio.Reader) (bool, error) {
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			if len(b) > 0 && errors.Is(err, io.EOF) {
				return false, nil // a short last line
			}
			return false, err
		}
		c := b[n-1]
		switch {
		case n == 1:
			if c < '1' || c > '9' {
				return false, nil
			}
		case c >= '0' && c <= '9':
			if n > 9 { // longer than octetReader accepts
				return false, nil
			}
		case c == ' ':
			b, err := br.Peek(n + 1)
			if len(b) < n+1 {
				if len(b) > 0 && errors.Is(err, io.EOF) {
					return false, nil
				}
				return false, err
			}
			return b[n] == '<', nil
		default:
			return false, nil
		}
	}
}

// octetReader reads RFC 5425 / RFC 6587 §3.4.1 frames: MSG-LEN SP SYSLOG-MSG.
type octetReader struct {
	br  *bufio.Reader
	max int
	buf []byte
}

func (r *octetReader) Next() ([]byte, int, error) {
	n := 0
	digits := 0
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			if err == io.EOF && digits > 0 {
				return nil, 0, fmt.Errorf("%w: %w: stream ended inside a frame length", ErrFraming, ErrTruncated)
			}
			if digits > 0 {
				return nil, 0, fmt.Errorf("%w: inside a frame length: %w", ErrTruncated, err)
			}
			return nil, 0, err
		}
		if c == ' ' && digits > 0 {
			break
		}
		if (c == '\n' || c == '\r') && digits == 0 {
			continue // a stray trailer between frames
		}
		if c < '0' || c > '9' || digits == 0 && c == '0' {
			return nil, 0, fmt.Errorf("%w: expected a frame length, got %q", ErrFraming, c)
		}
		n = n*10 + int(c-'0')
		digits++
		if digits > 9 {
			return nil, 0, fmt.Errorf("%w: frame length too long", ErrFraming)
		}
	}
	if n > r.max {
		return nil, 0, fmt.Errorf("%w: frame of %d bytes (limit %d)", ErrTooLong, n, r.max)
	}
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	r.buf = r.buf[:n]
	if _, err := io.ReadFull(r.br, r.buf); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, 0, fmt.Errorf("%w: %w: stream ended inside a %d-byte frame", ErrFraming, ErrTruncated, n)
		}
		return nil, 0, fmt.Errorf("%w: inside a %d-byte frame: %w", ErrTruncated, n, err)
	}
	return r.buf, 0, nil
}

// lfReader reads LF-terminated messages (RFC 6587 §3.4.2), with a size
// limit. The limit is the one octetReader applies to a frame: at most max
// bytes of message, the trailer (LF, or CR LF) not counted. A line that
// passes the limit is counted (skipped) as soon as it does, not when its
// LF comes (an endless line would never be), and then discarded up to its
// LF.
type lfReader struct {
	br         *bufio.Reader
	max        int
	long       []byte
	discarding bool // inside a line already counted as too long
}

func (r *lfReader) Next() ([]byte, int, error) {
	if r.discarding {
		if err := r.discardLine(); err != nil {
			return nil, 0, err
		}
		r.discarding = false
	}
	for {
		line, err := r.br.ReadSlice('\n')
		if err == nil {
			if len(r.long)+len(line)-r.trailer(line) > r.max {
				// Too long, its LF already read: counted, nothing to
				// discard.
				r.long = r.long[:0]
				return nil, 1, nil
			}
			if len(r.long) == 0 {
				return line, 0, nil
			}
			r.long = append(r.long, line...)
			out := r.long
			r.long = r.long[:0]
			return out, 0, nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			// +1: this chunk may end in the CR of a CR LF trailer.
			if len(r.long)+len(line) > r.max+1 {
				// Too long: counted now; the rest of the line is
				// discarded up to the next LF at the next call.
				r.long = r.long[:0]
				r.discarding = true
				return nil, 1, nil
			}
			r.long = append(r.long, line...)
			continue
		}
		// EOF: a last message without trailer still counts.
		if len(line) > 0 || len(r.long) > 0 {
			if len(r.long)+len(line) > r.max {
				r.long = r.long[:0]
				return nil, 1, err
			}
			r.long = append(r.long, line...)
			out := r.long
			r.long = r.long[:0]
			if err == io.EOF {
				return out, 0, nil
			}
			return nil, 0, fmt.Errorf("%w: inside a line: %w", ErrTruncated, err)
		}
		return nil, 0, err
	}
}

// trailer returns the length of the trailer of a line ending in LF that
// continues r.long: 1 for LF, 2 for CR LF.
func (r *lfReader) trailer(line []byte) int {
	switch {
	case len(line) >= 2 && line[len(line)-2] == '\r':
		return 2
	case len(line) == 1 && len(r.long) > 0 && r.long[len(r.long)-1] == '\r':
		return 2
	}
	return 1
}

func (r *lfReader) discardLine() error {
	for {
		_, err := r.br.ReadSlice('\n')
		if err == nil {
			return nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}

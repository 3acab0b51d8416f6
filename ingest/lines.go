package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// readBufferSize is the size of the buffered readers of this package.
const readBufferSize = 64 << 10

// lineReader reads lines of bounded length. A longer line is reported as
// too long and skipped: only its first MaxRejectText bytes are kept, so a
// huge line never costs more memory than the bound.
type lineReader struct {
	br  *bufio.Reader
	max int
	buf []byte
	n   int64 // number of the last line returned
}

func newLineReader(r io.Reader, max int, firstLine int64) *lineReader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, readBufferSize)
	}
	return &lineReader{br: br, max: max, n: firstLine - 1}
}

// next returns the next line without its terminator ("\n" or "\r\n") and
// its number. When the line is longer than the bound, tooLong is set and
// line holds only its start. At the end of the input it returns io.EOF.
// The line is valid until the next call.
func (l *lineReader) next() (line []byte, num int64, tooLong bool, err error) {
	l.buf = l.buf[:0]
	got := false
	for {
		frag, e := l.br.ReadSlice('\n')
		got = got || len(frag) > 0
		if !tooLong {
			// Two bytes of slack for the terminator, checked exactly below.
			if len(l.buf)+len(frag) > l.max+2 {
				tooLong = true
				n := min(len(frag), max(0, MaxRejectText-len(l.buf)))
				l.buf = append(l.buf, frag[:n]...)
			} else {
				l.buf = append(l.buf, frag...)
			}
		}
		if errors.Is(e, bufio.ErrBufferFull) {
			continue
		}
		if e != nil && !errors.Is(e, io.EOF) {
			return nil, 0, false, e
		}
		if errors.Is(e, io.EOF) && !got {
			return nil, 0, false, io.EOF
		}
		break
	}
	l.n++
	line = l.buf
	if !tooLong {
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > l.max {
			tooLong = true
			line = line[:min(len(line), MaxRejectText)]
		}
	}
	return line, l.n, tooLong, nil
}

// isBlank reports whether b holds only white space.
func isBlank(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

// lineTracker counts the lines of a stream as it is read, so that a JSON
// decoder reading through it can tell on which line a byte offset is. It
// remembers only the newlines not yet passed by a query, so its memory
// stays bounded by the decoder's read-ahead.
type lineTracker struct {
	r    io.Reader
	off  int64   // bytes read so far
	nl   []int64 // offsets of newlines at or after the last query
	base int64   // newlines before the last query
	last int64   // last offset asked
}

func (t *lineTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	for i, c := range p[:n] {
		if c == '\n' {
			t.nl = append(t.nl, t.off+int64(i))
		}
	}
	t.off += int64(n)
	return n, err
}

// lineAt returns the 1-based line of byte offset off. Offsets must be
// asked in non-decreasing order; an earlier one gets the line of the last.
func (t *lineTracker) lineAt(off int64) int64 {
	off = max(off, t.last)
	t.last = off
	i := 0
	for i < len(t.nl) && t.nl[i] < off {
		i++
	}
	t.base += int64(i)
	t.nl = t.nl[i:]
	return t.base + 1
}

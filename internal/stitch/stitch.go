// Package stitch builds one gzip member (RFC 1952) from runs of plain bytes
// and documents compressed ahead of time, without recompressing the
// documents. A response made of stored documents then costs a copy of
// their compressed bytes, not a compression of their plain text.
//
// It works because a deflate stream (RFC 1951) is a sequence of blocks,
// each starting where the previous one ended: a document compressed on its
// own and ended with a sync flush (a byte-aligned, non-final end) can be
// followed by any other such piece. What gzip needs besides the blocks is
// the CRC-32 and the length of the whole plain text, which Combine computes
// from each piece's CRC-32 and length.
//
// The standard library cannot do this: compress/gzip only compresses, and
// hash/crc32 has no combine; the block framing here is the small part of
// RFC 1951 that concatenation needs. Compression itself is
// github.com/klauspost/compress/flate.
package stitch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// FragmentLevel is the compression level of stored fragments: they are
// compressed once, when a document is written, and sent many times.
const FragmentLevel = 6

// runLevel is the level of plain runs compressed per response.
const runLevel = flate.BestSpeed

// storedRunMax is the longest plain run sent as a stored (uncompressed)
// block; longer runs are compressed. Runs between stored documents are the
// JSON around them (ids, links, context_attributes with up to 10 URLs:
// 0.3 to 2 KB), where building Huffman tables per run costs more time
// than the bytes it saves.
const storedRunMax = 2048

// headerSize is the size of an encoded fragment's header: CRC-32 and plain
// length, 4 bytes each, little endian.
const headerSize = 8

// A Fragment is a document compressed on its own: raw deflate blocks that
// end byte-aligned and are not final, with the CRC-32 (IEEE) and length of
// the plain document.
type Fragment struct {
	CRC     uint32
	Size    uint32
	Deflate []byte
}

var fragmentWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, FragmentLevel) // a valid level never fails
	return w
}}

var runWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, runLevel)
	return w
}}

// Compress appends the encoded fragment of plain to dst and returns the
// extended slice. The encoding is what stores keep and Parse reads: the
// 8-byte header, then the deflate bytes. Documents are limited to 4 GiB.
func Compress(dst, plain []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, crc32.ChecksumIEEE(plain))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(plain)))
	return deflateFlushed(dst, plain, &fragmentWriters)
}

// deflateFlushed appends plain compressed by a writer from pool and ended
// with a sync flush.
func deflateFlushed(dst, plain []byte, pool *sync.Pool) []byte {
	out := appender{b: dst}
	fw := pool.Get().(*flate.Writer)
	fw.Reset(&out)
	fw.Write(plain) // an appender never fails
	fw.Flush()
	fw.Reset(io.Discard)
	pool.Put(fw)
	return out.b
}

// ErrCorrupt is returned by Parse for bytes that are not an encoded
// fragment.
var ErrCorrupt = errors.New("stitch: corrupt fragment")

// Parse reads an encoded fragment. The deflate bytes alias enc. Only the
// framing is checked (a header and at least a sync flush after it); the
// deflate data is trusted, as it was written by Compress.
func Parse(enc []byte) (Fragment, error) {
	if len(enc) < headerSize+len(syncFlush) {
		return Fragment{}, ErrCorrupt
	}
	return Fragment{
		CRC:     binary.LittleEndian.Uint32(enc),
		Size:    binary.LittleEndian.Uint32(enc[4:]),
		Deflate: enc[headerSize:],
	}, nil
}

// syncFlush is the empty stored block a sync flush ends with.
var syncFlush = []byte{0, 0, 0, 0xff, 0xff}

// gzipHeader is a gzip member header: deflate, no flags, no time, unknown
// OS (as compress/gzip writes it).
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// finalBlock is an empty, final stored block: the end of the deflate data.
var finalBlock = []byte{1, 0, 0, 0xff, 0xff}

// A Writer assembles one gzip member in memory. Plain runs and fragments
// are appended in order; Finish ends the member. The zero Writer is not
// ready: call Reset.
type Writer struct {
	out  []byte
	crc  uint32
	size uint32 // plain length modulo 2^32, as gzip's ISIZE
}

// Reset starts a new member in dst (its contents are kept before the
// member).
func (w *Writer) Reset(dst []byte) {
	w.out = append(dst, gzipHeader...)
	w.crc, w.size = 0, 0
}

// Plain appends a run of plain bytes: a stored block when it is short, else
// compressed on the spot.
func (w *Writer) Plain(p []byte) {
	if len(p) == 0 {
		return
	}
	w.crc = crc32.Update(w.crc, crc32.IEEETable, p)
	w.size += uint32(len(p))
	if len(p) > storedRunMax {
		w.out = deflateFlushed(w.out, p, &runWriters)
		return
	}
	w.out = append(w.out, 0, byte(len(p)), byte(len(p)>>8), ^byte(len(p)), ^byte(len(p)>>8))
	w.out = append(w.out, p...)
}

// Fragment appends a fragment's deflate bytes as they are.
func (w *Writer) Fragment(f Fragment) {
	w.crc = Combine(w.crc, f.CRC, int64(f.Size))
	w.size += f.Size
	w.out = append(w.out, f.Deflate...)
}

// Finish ends the member (final block, CRC-32, length) and returns dst with
// the member appended. The Writer must be Reset before it is used again.
func (w *Writer) Finish() []byte {
	w.out = append(w.out, finalBlock...)
	w.out = binary.LittleEndian.AppendUint32(w.out, w.crc)
	w.out = binary.LittleEndian.AppendUint32(w.out, w.size)
	out := w.out
	w.out = nil
	return out
}

// appender is an io.Writer appending to a slice.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// Decompress returns the plain document of an encoded fragment, checking
// its length and CRC-32 against the header.
func Decompress(enc []byte) ([]byte, error) {
	f, err := Parse(enc)
	if err != nil {
		return nil, err
	}
	plain, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(f.Deflate)), int64(f.Size)+1))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) { // a fragment has no final block
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if uint32(len(plain)) != f.Size || crc32.ChecksumIEEE(plain) != f.CRC {
		return nil, ErrCorrupt
	}
	return plain, nil
}

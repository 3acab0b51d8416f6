// Package ssdeep computes ssdeep (CTPH, Kornblum) fuzzy hashes, digest for
// digest equal to the reference ssdeep 2.14 (`ssdeep -b`).
//
// The reference feeds every byte to a rolling hash and to two FNV-style
// piece hashes per candidate block size, and picks one block size at the
// end. Which bytes are trigger points, which block sizes are alive and how
// many characters each one has depend on the rolling hash alone; the piece
// hashes only decide the characters. So Digest works in two passes over the
// sample: the first runs the rolling hash and records, per block size, the
// positions of its trigger points; the second computes the piece hashes of
// the two block sizes the digest uses, and nothing else. Both passes are
// tight loops over the byte slice.
//
// The digest rules (block-size choice, the 63/32-character limits, the
// trailing characters) follow github.com/glaslos/ssdeep v0.4.0 (MIT, see
// LICENSE), the per-byte port of the reference, with one fix: a trailing
// piece hash of value 0 (base64 "A") is kept, as the reference does.
// oracle_test.go keeps that per-byte port as the test oracle.
package ssdeep

import (
	"errors"
	"strconv"
)

// ErrFileTooBig is returned for inputs longer than the largest block size
// can describe (about 206 GB).
var ErrFileTooBig = errors.New("input file length exceeds max processable length")

const (
	rollingWindow     = 7
	blockMin          = 3
	spamSumLength     = 64
	halfspamSumLength = spamSumLength / 2
	hashPrime         = 0x93
	// fnvMul is hashPrime mod 64: the low six bits of h*0x93 and h*19
	// are the same, and multiplying by 19 compiles to two LEAs.
	fnvMul         = hashPrime % 64
	hashInit       = 0x27
	b64String      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	numBlockhashes = 31
	maxTotalSize   = uint64(blockMin) << (numBlockhashes - 1) * spamSumLength
)

// blockTrace is what the rolling-hash pass records about one block size:
// where its trigger points appended a digest character (at most 63) and
// where its last trigger point was. Positions are byte indexes; a piece
// ends at its trigger byte, inclusive.
type blockTrace struct {
	appends [spamSumLength - 1]int
	n       int // characters appended
	last    int // last trigger point, -1 before the first
}

// trace is the outcome of the rolling-hash pass.
type trace struct {
	size         uint64
	iStart, iEnd int // alive block sizes: blockMin<<iStart .. blockMin<<(iEnd-1)
	blocks       [numBlockhashes]blockTrace
	rollSum      uint32 // the rolling hash after the last byte
}

// Digest returns the ssdeep digest of data ("blocksize:hash1:hash2"), as
// the reference tool prints it for a file with these bytes (any size,
// including empty and tiny inputs).
func Digest(data []byte) (string, error) {
	if uint64(len(data)) > maxTotalSize {
		return "", ErrFileTooBig
	}
	t := &trace{size: uint64(len(data)), iEnd: 1}
	for i := range t.blocks {
		t.blocks[i].last = -1
	}
	t.roll(data)
	return t.digest(data), nil
}

// roll is the first pass: the rolling hash over data, calling trigger at
// every trigger point of the smallest alive block size.
func (t *trace) roll(data []byte) {
	var h1, h2, h3 uint32
	// mask is blockMin<<iStart divided by blockMin, minus one: x is a
	// trigger point of the smallest alive block size when x%3 == 0 and
	// x&mask == 0 (3 is odd).
	var mask uint32
	head := min(len(data), rollingWindow)
	for i := 0; i < head; i++ {
		c := uint32(data[i])
		h2 += rollingWindow*c - h1
		h1 += c
		h3 = h3<<5 ^ c
		// x is rolling hash + 1; x == 0 (rolling hash 0xffffffff) is
		// never a trigger point.
		if x := h1 + h2 + h3 + 1; x&mask == 0 && x%blockMin == 0 && x != 0 {
			mask = t.trigger(x, i)
		}
	}
	if len(data) > rollingWindow {
		cur := data[rollingWindow:]
		old := data[:len(cur)]
		for k, b := range cur {
			c, o := uint32(b), uint32(old[k])
			h2 += rollingWindow*c - h1
			h1 += c - o
			h3 = h3<<5 ^ c
			if x := h1 + h2 + h3 + 1; x&mask == 0 && x%blockMin == 0 && x != 0 {
				mask = t.trigger(x, k+rollingWindow)
			}
		}
	}
	t.rollSum = h1 + h2 + h3
}

// trigger records trigger point pos (x = rolling hash + 1) for every alive
// block size it belongs to, and returns the new mask of roll.
func (t *trace) trigger(x uint32, pos int) uint32 {
	for i := t.iStart; i < t.iEnd; i++ {
		// x%3 == 0 here; x is a trigger point of size blockMin<<i when
		// its low i bits are zero too. A trigger point of a block size is
		// one of every smaller size.
		if x&(1<<i-1) != 0 {
			break
		}
		b := &t.blocks[i]
		if b.n == 0 && t.iEnd < numBlockhashes {
			// The first trigger point of the largest alive size brings
			// the next size alive; its piece hashes so far are the same
			// (both run from the first byte).
			t.iEnd++
		}
		b.last = pos
		if b.n < spamSumLength-1 {
			b.appends[b.n] = pos
			b.n++
		} else if t.startBlockFull() {
			t.iStart++
		}
	}
	return 1<<t.iStart - 1
}

// startBlockFull reports whether the smallest alive block size can no
// longer be the digest's: the input is too long for it and the next size
// already has half a digest.
func (t *trace) startBlockFull() bool {
	return t.size > uint64(blockMin)<<t.iStart*spamSumLength &&
		t.blocks[t.iStart+1].n >= halfspamSumLength
}

// digest chooses the block size and computes the two parts of the digest
// (the second pass).
func (t *trace) digest(data []byte) string {
	i := t.iStart
	for uint64(blockMin)<<i*spamSumLength < t.size {
		i++
	}
	if i >= t.iEnd {
		i = t.iEnd - 1
	}
	for i > t.iStart && t.blocks[i].n < halfspamSumLength {
		i--
	}
	// The second part uses the next block size, or the same one when it
	// is the last alive size.
	j := i
	if i < t.iEnd-1 {
		j = i + 1
	}
	final := t.rollSum != 0

	// Part 1: block i's first piece hash is reset after every appended
	// character. Its last character is the hash of the bytes after the
	// last append: up to the end of the input when the rolling hash
	// ended non-zero, else up to the last trigger point, only when the
	// digest is full (63) and that trigger point appended nothing.
	b1 := &t.blocks[i]
	p1 := make([]event, 0, b1.n+1)
	for _, p := range b1.appends[:b1.n] {
		p1 = append(p1, event{p + 1, true})
	}
	switch {
	case final:
		p1 = append(p1, event{len(data), false})
	case b1.n == spamSumLength-1 && b1.last != b1.appends[b1.n-1]:
		p1 = append(p1, event{b1.last + 1, false})
	}

	// Part 2: block j's first 31 characters, then its second piece hash,
	// which is reset with the first only while the digest is shorter than
	// 32 (so it equals the first until then): up to the end of the input,
	// or up to the last trigger point when that one did not reset it.
	b2 := &t.blocks[j]
	k := min(b2.n, halfspamSumLength-1)
	p2 := make([]event, 0, k+1)
	for _, p := range b2.appends[:k] {
		p2 = append(p2, event{p + 1, true})
	}
	switch {
	case final:
		p2 = append(p2, event{len(data), false})
	case b2.n > 0 && b2.last != b2.appends[k-1]:
		p2 = append(p2, event{b2.last + 1, false})
	}

	s1, s2 := pieceHashes(data, p1, p2)
	out := make([]byte, 0, 12+len(s1)+len(s2))
	out = strconv.AppendUint(out, uint64(blockMin)<<i, 10)
	out = append(out, ':')
	out = appendB64(out, s1)
	out = append(out, ':')
	out = appendB64(out, s2)
	return string(out)
}

// event is a point where a piece hash's value is taken (after the byte
// before at), then reset to its initial value when reset is set.
type event struct {
	at    int
	reset bool
}

// pieceHashes runs two piece hashes over data, one per event list (each in
// increasing order), and returns the values taken at their events. The two
// run in the same loop, so their dependency chains overlap.
func pieceHashes(data []byte, ea, eb []event) (va, vb []byte) {
	va = make([]byte, 0, len(ea))
	vb = make([]byte, 0, len(eb))
	ha, hb := uint32(hashInit), uint32(hashInit)
	pos := 0
	for len(ea) > 0 || len(eb) > 0 {
		switch {
		case len(ea) > 0 && len(eb) > 0:
			next := min(ea[0].at, eb[0].at)
			ha, hb = fnv2(ha, hb, data[pos:next])
			pos = next
		case len(ea) > 0:
			ha = fnv(ha, data[pos:ea[0].at])
			pos = ea[0].at
		default:
			hb = fnv(hb, data[pos:eb[0].at])
			pos = eb[0].at
		}
		for len(ea) > 0 && ea[0].at == pos {
			va = append(va, byte(ha%64))
			if ea[0].reset {
				ha = hashInit
			}
			ea = ea[1:]
		}
		for len(eb) > 0 && eb[0].at == pos {
			vb = append(vb, byte(hb%64))
			if eb[0].reset {
				hb = hashInit
			}
			eb = eb[1:]
		}
	}
	return va, vb
}

// fnv is the piece hash: h = (h*0x93 ^ c) mod 64 per byte. Only the low six
// bits of a product or xor depend only on the low six bits of the
// operands, so the state runs unreduced and callers take it mod 64.
func fnv(h uint32, p []byte) uint32 {
	for _, c := range p {
		h = h*fnvMul ^ uint32(c)
	}
	return h
}

// fnv2 is fnv for two states over the same bytes.
func fnv2(ha, hb uint32, p []byte) (uint32, uint32) {
	for _, c := range p {
		ha = ha*fnvMul ^ uint32(c)
		hb = hb*fnvMul ^ uint32(c)
	}
	return ha, hb
}

func appendB64(dst, vals []byte) []byte {
	for _, v := range vals {
		dst = append(dst, b64String[v%64])
	}
	return dst
}

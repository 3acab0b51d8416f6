package analyze

import (
	"math"
	"slices"
)

// TLSH (Trend Micro Locality Sensitive Hash), written after the reference
// implementation (github.com/trendmicro/tlsh, Apache-2.0) and
// github.com/glaslos/tlsh (MIT): 128 buckets, 1-byte checksum, version 1
// digests ("T1" + 70 hex digits).

// tlshPearson is TLSH's Pearson permutation table.
var tlshPearson = [256]byte{
	1, 87, 49, 12, 176, 178, 102, 166, 121, 193, 6, 84, 249, 230, 44, 163,
	14, 197, 213, 181, 161, 85, 218, 80, 64, 239, 24, 226, 236, 142, 38, 200,
	110, 177, 104, 103, 141, 253, 255, 50, 77, 101, 81, 18, 45, 96, 31, 222,
	25, 107, 190, 70, 86, 237, 240, 34, 72, 242, 20, 214, 244, 227, 149, 235,
	97, 234, 57, 22, 60, 250, 82, 175, 208, 5, 127, 199, 111, 62, 135, 248,
	174, 169, 211, 58, 66, 154, 106, 195, 245, 171, 17, 187, 182, 179, 0, 243,
	132, 56, 148, 75, 128, 133, 158, 100, 130, 126, 91, 13, 153, 246, 216, 219,
	119, 68, 223, 78, 83, 88, 201, 99, 122, 11, 92, 32, 136, 114, 52, 10,
	138, 30, 48, 183, 156, 35, 61, 26, 143, 74, 251, 94, 129, 162, 63, 152,
	170, 7, 115, 167, 241, 206, 3, 150, 55, 59, 151, 220, 90, 53, 23, 131,
	125, 173, 15, 238, 79, 95, 89, 16, 105, 137, 225, 224, 217, 160, 37, 123,
	118, 73, 2, 157, 46, 116, 9, 145, 134, 228, 207, 212, 202, 215, 69, 229,
	27, 188, 67, 124, 168, 252, 42, 4, 29, 108, 21, 247, 19, 205, 39, 203,
	233, 40, 186, 147, 198, 192, 155, 33, 164, 191, 98, 204, 165, 180, 117, 76,
	140, 36, 210, 172, 41, 54, 159, 8, 185, 232, 113, 196, 231, 47, 146, 120,
	51, 65, 28, 144, 254, 221, 93, 189, 194, 139, 112, 43, 71, 109, 184, 209,
}

// tlshState is the sliding-window pass of TLSH over the data: 256
// buckets (128 used), the 1-byte checksum and the length.
type tlshState struct {
	buckets  [256]uint32
	checksum byte
	length   int
}

// tlshSalted packs, for each byte value c, TLSH's first lookup for the
// checksum and the six bucket triplets: byte k is T(T(salt_k)^c) for the
// salts 0, 2, 3, 5, 7, 11, 13 (T is tlshPearson).
var tlshSalted = func() (out [256]uint64) {
	for c := range out {
		for k, salt := range []byte{0, 2, 3, 5, 7, 11, 13} {
			out[c] |= uint64(tlshPearson[tlshPearson[salt]^byte(c)]) << (8 * k)
		}
	}
	return out
}()

// tlshFill runs TLSH's window over data: for each byte c0 from the fifth
// on, with c1..c4 the four before it, the checksum step
// T(T(T(T(0)^c0)^c1)^ck) and one count in each of six buckets,
// T(T(T(T(salt)^c0)^x)^y) for salt 2, 3, 5, 7, 11, 13 and the pairs
// (c1,c2), (c1,c3), (c2,c3), (c2,c4), (c1,c4), (c3,c4), T being
// tlshPearson. The first two lookups of each come from one tlshSalted
// load, the window lives in registers and only the checksum is carried
// from byte to byte; every table stays in the L1 cache.
func tlshFill(data []byte) *tlshState {
	st := &tlshState{length: len(data)}
	if len(data) < 5 {
		return st
	}
	t := &tlshPearson
	var b [256]uint32
	var ck byte
	c1, c2, c3, c4 := data[3], data[2], data[1], data[0]
	for _, c0 := range data[4:] {
		a := tlshSalted[c0]
		ck = t[t[byte(a)^c1]^ck]
		b[t[t[byte(a>>8)^c1]^c2]]++
		b[t[t[byte(a>>16)^c1]^c3]]++
		b[t[t[byte(a>>24)^c2]^c3]]++
		b[t[t[byte(a>>32)^c2]^c4]]++
		b[t[t[byte(a>>40)^c1]^c4]]++
		b[t[t[byte(a>>48)^c3]^c4]]++
		c1, c2, c3, c4 = c0, c1, c2, c3
	}
	st.buckets = b
	st.checksum = ck
	return st
}

// filled returns how many of the 128 effective buckets are non-empty.
func (st *tlshState) filled() int {
	n := 0
	for _, c := range st.buckets[:128] {
		if c > 0 {
			n++
		}
	}
	return n
}

// tlshFilledBuckets returns how many of TLSH's 128 effective buckets the
// data fills. The reference refuses to hash (the digest is meaningless)
// unless more than half are non-empty.
func tlshFilledBuckets(data []byte) int { return tlshFill(data).filled() }

// tlshLValue is the reference's log-scale length byte.
func tlshLValue(n int) byte {
	const log1_5, log1_3, log1_1 = 0.4054651, 0.26236426, 0.095310180
	f := math.Log(float64(n))
	var l float64
	switch {
	case n <= 656:
		l = math.Floor(f / log1_5)
	case n <= 3199:
		l = math.Floor(f/log1_3 - 8.72777)
	default:
		l = math.Floor(f/log1_1 - 62.5472)
	}
	return byte(int(l) % 255)
}

func swapNibbles(b byte) byte { return b<<4 | b>>4 }

// digest is the TLSH digest: checksum, length and quartile ratios (each
// byte's nibbles swapped as the reference prints them), then 32 bytes of
// 2-bit bucket codes, last bucket group first. ok is false when the
// reference would refuse (too few filled buckets).
func (st *tlshState) digest() (out [35]byte, ok bool) {
	if st.filled() <= 64 {
		return out, false
	}
	var sorted [128]uint32
	copy(sorted[:], st.buckets[:128])
	slices.Sort(sorted[:])
	q1, q2, q3 := sorted[31], sorted[63], sorted[95]
	if q3 == 0 {
		return out, false
	}
	// 32-bit products wrap as in the reference implementation.
	q1r := byte(uint32(float32(q1*100)/float32(q3)) % 16)
	q2r := byte(uint32(float32(q2*100)/float32(q3)) % 16)
	out[0] = swapNibbles(st.checksum)
	out[1] = swapNibbles(tlshLValue(st.length))
	out[2] = q1r<<4 | q2r
	for i := 0; i < 32; i++ {
		var h byte
		for j := 0; j < 4; j++ {
			k := st.buckets[4*i+j]
			switch {
			case k > q3:
				h |= 3 << (2 * j)
			case k > q2:
				h |= 2 << (2 * j)
			case k > q1:
				h |= 1 << (2 * j)
			}
		}
		out[3+31-i] = h
	}
	return out, true
}

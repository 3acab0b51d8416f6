package stitch

// CRC-32 combination, after zlib's crc32_combine: the CRC of A followed by
// B is the CRC of A "shifted" by len(B) zero bytes, xor the CRC of B. The
// shift is a multiplication by x^(8·len(B)) modulo the CRC polynomial,
// computed with a table of x^(2^k) and square-and-multiply, so it costs
// O(log len(B)) polynomial products.

// reflectedPoly is the IEEE CRC-32 polynomial, bit-reflected (hash/crc32's
// IEEE).
const reflectedPoly = 0xedb88320

// xPow2k[k] is x^(2^k) modulo the polynomial, in reflected form.
var xPow2k = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	for k := range t {
		t[k] = p
		p = multModP(p, p)
	}
	return t
}()

// multModP returns a(x)·b(x) modulo the polynomial, both in reflected form
// (the bit 1<<31 is x^0).
func multModP(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
		}
		if b&1 != 0 {
			b = b>>1 ^ reflectedPoly
		} else {
			b >>= 1
		}
	}
	return p
}

// xPowModP returns x^(n·2^k) modulo the polynomial.
func xPowModP(n uint64, k uint) uint32 {
	p := uint32(1) << 31 // x^0
	for ; n != 0; n >>= 1 {
		if n&1 != 0 {
			p = multModP(xPow2k[k&31], p)
		}
		k++
	}
	return p
}

// Combine returns the CRC-32 (IEEE) of A followed by B, given crcA, crcB
// and the length of B in bytes.
func Combine(crcA, crcB uint32, lenB int64) uint32 {
	if lenB <= 0 {
		return crcA
	}
	return multModP(xPowModP(uint64(lenB), 3), crcA) ^ crcB
}

package analyze

import (
	"math/rand/v2"
	"testing"
)

// tlshFillOracle is TLSH's window pass written as the reference states it
// (b_mapping with the salt looked up per call, the window re-read from the
// data): the oracle for tlshFill's register-window loop.
func tlshFillOracle(data []byte) *tlshState {
	mapping := func(salt, a, b, c byte) byte {
		h := tlshPearson[salt]
		h = tlshPearson[h^a]
		h = tlshPearson[h^b]
		return tlshPearson[h^c]
	}
	st := &tlshState{length: len(data)}
	var ck byte
	for i := 4; i < len(data); i++ {
		c0, c1, c2, c3, c4 := data[i], data[i-1], data[i-2], data[i-3], data[i-4]
		ck = mapping(0, c0, c1, ck)
		st.buckets[mapping(2, c0, c1, c2)]++
		st.buckets[mapping(3, c0, c1, c3)]++
		st.buckets[mapping(5, c0, c2, c3)]++
		st.buckets[mapping(7, c0, c2, c4)]++
		st.buckets[mapping(11, c0, c1, c4)]++
		st.buckets[mapping(13, c0, c3, c4)]++
	}
	st.checksum = ck
	return st
}

func checkTLSHFill(t *testing.T, data []byte) {
	t.Helper()
	got, want := tlshFill(data), tlshFillOracle(data)
	if *got != *want {
		t.Fatalf("%d bytes: checksum %d, want %d; buckets differ: %v", len(data), got.checksum, want.checksum, got.buckets != want.buckets)
	}
}

func TestTLSHFillMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 4, 5, 6, 49, 50, 51, 1000, 100000} {
		for _, alpha := range []int{1, 3, 256} {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.IntN(alpha))
			}
			checkTLSHFill(t, b)
		}
	}
}

func FuzzTLSHFill(f *testing.F) {
	seedBinaries(f)
	f.Add([]byte("abcde"))
	f.Fuzz(checkTLSHFill)
}

package analyze

import (
	"bytes"
	"math"
	"testing"
)

func TestStats(t *testing.T) {
	if s := Stats(nil); s.Entropy != 0 || s.Chi2 != -1 {
		t.Fatalf("empty: %+v, want entropy 0 chi2 -1", s)
	}
	one := bytes.Repeat([]byte{7}, 1000)
	if s := Stats(one); s.Entropy != 0 || math.Abs(s.Chi2-255*1000) > 1e-6 {
		t.Fatalf("constant: %+v, want entropy 0 chi2 255000", s)
	}
	all := make([]byte, 512)
	for i := range all {
		all[i] = byte(i)
	}
	if s := Stats(all); math.Abs(s.Entropy-8) > 1e-12 || math.Abs(s.Chi2) > 1e-9 {
		t.Fatalf("uniform: %+v, want entropy 8 chi2 0", s)
	}
	half := append(bytes.Repeat([]byte{0}, 50), bytes.Repeat([]byte{1}, 50)...)
	if s := Stats(half); math.Abs(s.Entropy-1) > 1e-12 {
		t.Fatalf("two values: entropy %v, want 1", s.Entropy)
	}
}

func TestSectionFlags(t *testing.T) {
	for c, want := range map[uint32]string{
		0x60000020: "rx", 0xC0000040: "rw", 0x40000040: "r", 0xE0000020: "rwx", 0: "",
	} {
		if got := sectionFlags(c); got != want {
			t.Errorf("sectionFlags(%#x) = %q, want %q", c, got, want)
		}
	}
}

func TestTLSHRefusals(t *testing.T) {
	if got := TLSH(bytes.Repeat([]byte("a"), 400)); got != "" {
		t.Errorf("400 x 'a': got %q, want no digest (too few buckets)", got)
	}
	if got := TLSH(bytes.Repeat([]byte("ab"), 300)); got != "" {
		t.Errorf("abab...: got %q, want no digest", got)
	}
	rnd := make([]byte, 49)
	for i := range rnd {
		rnd[i] = byte(i*131 + 7)
	}
	if got := TLSH(rnd); got != "" {
		t.Errorf("49 bytes: got %q, want no digest (below 50 bytes)", got)
	}
	var varied []byte
	for i := 0; i < 4096; i++ {
		varied = append(varied, byte(i*2654435761>>13))
	}
	got := TLSH(varied)
	if len(got) != 72 || got[:2] != "T1" || got != string(bytes.ToUpper([]byte(got))) {
		t.Errorf("varied input: got %q, want T1 and 70 upper-case hex digits", got)
	}
}

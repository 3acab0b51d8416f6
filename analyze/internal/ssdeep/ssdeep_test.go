package ssdeep

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// The reference ssdeep 2.14.1 keeps a final block hash of value 0 ("A");
// upstream glaslos/ssdeep v0.4.0 dropped it on this file.
func TestTrailingZeroTailKept(t *testing.T) {
	p := filepath.Join(runtime.GOROOT(), "src", "debug", "elf", "testdata", "go-relocation-test-gcc620-sparc64.obj")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("Go toolchain test file not present: %v", err)
	}
	got, err := Digest(data)
	if err != nil {
		t.Fatal(err)
	}
	// Output of `ssdeep -b` (ssdeep 2.14.1) on the same file.
	const want = "96:5athBkmgs5MyKsrBEBvgP/X9BnZ3ZPx7mMMSJlwXs8LjwSkoXogp9UXhTSiGqUTA:Atsmg6P9avgL"
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

// Tiny inputs get a digest, as from `ssdeep -b` (2.14.1) on files with
// these bytes.
func TestTinyInputs(t *testing.T) {
	for in, want := range map[string]string{"": "3::", "abc": "3:uG:uG"} {
		got, err := Digest([]byte(in))
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
}

// oracleInputs are inputs that reach the digest's corner cases: empty and
// tiny inputs, inputs without any trigger point (zeros), inputs whose
// rolling hash ends at 0 (seven trailing zero bytes: the digest then uses
// the recorded tails), full 63-character digests, skewed byte
// distributions, and real binaries.
func oracleInputs(t testing.TB) map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int, alphabet int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(alphabet))
		}
		return b
	}
	in := map[string][]byte{
		"empty":   nil,
		"one":     {'a'},
		"seven":   []byte("abcdefg"),
		"eight":   []byte("abcdefgh"),
		"zeros":   make([]byte, 100000),
		"pattern": bytes.Repeat([]byte("filetrail "), 5000),
	}
	for _, n := range []int{3, 50, 100, 189, 190, 1000, 4096, 4097, 20000, 100000, 300000, 1 << 20} {
		for _, alpha := range []int{2, 16, 256} {
			r := random(n, alpha)
			in["random-"+strconv.Itoa(n)+"-"+strconv.Itoa(alpha)] = r
			in["random-"+strconv.Itoa(n)+"-"+strconv.Itoa(alpha)+"-zero-end"] = append(append([]byte{}, r...), make([]byte, 7)...)
		}
	}
	for _, sub := range []string{"pe", "elf"} {
		ps, _ := filepath.Glob(filepath.Join(runtime.GOROOT(), "src", "debug", sub, "testdata", "*"))
		for _, p := range ps {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			in["goroot-"+filepath.Base(p)] = b
			in["goroot-"+filepath.Base(p)+"-zero-end"] = append(b, make([]byte, 7)...)
		}
	}
	return in
}

// TestMatchesOracle checks the two-pass Digest against the per-byte port
// of the reference on inputs that reach every branch of the digest.
func TestMatchesOracle(t *testing.T) {
	tails := 0
	for name, data := range oracleInputs(t) {
		want, err := oracleDigest(data)
		if err != nil {
			t.Fatalf("%s: oracle: %v", name, err)
		}
		got, err := Digest(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want {
			t.Errorf("%s (%d bytes): got %s\nwant %s", name, len(data), got, want)
		}
		if bytes.HasSuffix(data, make([]byte, 7)) && len(data) > 7 {
			tails++
		}
	}
	if tails == 0 {
		t.Fatal("no input with a zero rolling hash at the end")
	}
}

// FuzzDigest compares Digest with the oracle on arbitrary inputs.
func FuzzDigest(f *testing.F) {
	for _, data := range oracleInputs(f) {
		if len(data) <= 64<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, err := oracleDigest(data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Digest(data)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%d bytes: got %s\nwant %s", len(data), got, want)
		}
	})
}

// BenchmarkDigest measures Digest on 16 MB of skewed random bytes.
func BenchmarkDigest(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 16<<20)
	for i := range data {
		data[i] = byte(rng.IntN(64))
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Digest(data); err != nil {
			b.Fatal(err)
		}
	}
}

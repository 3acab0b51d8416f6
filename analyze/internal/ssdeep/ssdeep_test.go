package ssdeep

import (
	"os"
	"path/filepath"
	"runtime"
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
	Force = true
	got, err := FuzzyBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	// Output of `ssdeep -b` (ssdeep 2.14.1) on the same file.
	const want = "96:5athBkmgs5MyKsrBEBvgP/X9BnZ3ZPx7mMMSJlwXs8LjwSkoXogp9UXhTSiGqUTA:Atsmg6P9avgL"
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

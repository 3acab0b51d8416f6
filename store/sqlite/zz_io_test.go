package sqlite

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestZZIO(t *testing.T) {
	s := openTemp(t)
	for i := 0; i < 41; i++ {
		st := time.Now()
		if _, err := s.Apply(t.Context(), benchBatch("io", i*1000, 1000)); err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			b, _ := os.ReadFile("/proc/self/io")
			t.Logf("batch %d: %v %s", i, time.Since(st), strings.ReplaceAll(string(b), "\n", " "))
		}
	}
}

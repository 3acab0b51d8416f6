package analyze

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkAnalyze measures the full attribute set in-process over the
// files FILETRAIL_BENCH_DIR holds (default: the project's test binaries),
// reporting MB/s; -v logs the time of each pass.
func BenchmarkAnalyze(b *testing.B) {
	dir := os.Getenv("FILETRAIL_BENCH_DIR")
	if dir == "" {
		dir = "../testdata/binaries"
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*"))
	var files [][]byte
	var total int64
	for _, p := range paths {
		d, err := os.ReadFile(p)
		if err != nil || len(d) == 0 {
			continue
		}
		files = append(files, d)
		total += int64(len(d))
	}
	if len(files) == 0 {
		b.Skip("no files")
	}
	b.SetBytes(total)
	per := map[string]time.Duration{}
	for b.Loop() {
		for _, d := range files {
			t0 := time.Now()
			HashBytes(d)
			per["hashes"] += time.Since(t0)
			s := &sample{data: d}
			for _, p := range passes {
				t0 := time.Now()
				runPass(s, p)
				per[p.name] += time.Since(t0)
			}
		}
	}
	for k, v := range per {
		b.Logf("%-14s %v", k, v)
	}
}

package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFitRecoversCoefficients(t *testing.T) {
	const a, b = 700.0, 28_000.0
	xs := [][2]float64{{3000, 3000}, {30000, 30000}, {300000, 30000}}
	var ys []float64
	for _, x := range xs {
		ys = append(ys, a*x[0]+b*x[1])
	}
	ga, gb, ok := fit(xs, ys)
	if !ok || math.Abs(ga-a) > 1e-6*a || math.Abs(gb-b) > 1e-6*b {
		t.Fatalf("fit = %v, %v, %v; want %v, %v", ga, gb, ok, a, b)
	}
	// Every file with a report: a and b cannot be told apart.
	if _, _, ok := fit([][2]float64{{600, 599}, {3000, 2999}}, []float64{1, 2}); ok {
		t.Fatal("fit claims a result from points with the same report share")
	}
}

func TestCategory(t *testing.T) {
	for object, want := range map[string]string{
		"edges": "edge", "edges_by_ip": "edge", "evidence indexes": "edge",
		"files": "file", "sqlite_autoindex_files_1": "file", "facts": "file", "file_facts indexes": "file", "file_names": "file", "hashes": "file",
		"ips": "ip", "ip_stats": "ip", "api_keys": "other", "quota_counters indexes": "other",
	} {
		if got := category(object); got != want {
			t.Errorf("category(%q) = %q, want %q", object, got, want)
		}
	}
}

func TestRender(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "results.jsonl")
	lines := []string{
		`{"kind":"ingest","store":"sqlite","size":1000,"load":"1 1 1","grow":{"From":0,"To":1000,"reports":300,"report_seconds":1,"sightings":1000,"sighting_seconds":0.5}}`,
		`{"kind":"bytes","store":"sqlite","size":1000,"object":"edges","bytes":500000}`,
		`{"kind":"bytes","store":"sqlite","size":1000,"object":"files","bytes":900000}`,
		`{"kind":"counts","store":"sqlite","size":1000,"files":300,"edges":1000,"reports":300,"ips":100,"evidence":1000,"store_bytes":2000000}`,
		`{"kind":"skipped","store":"sqlite","size":10000,"reason":"too slow"}`,
		`{"kind":"page","store":"sqlite","size":1000,"scenario":"big-first-l10","limit":10,"items":10,"page_bytes":2048,"loaded":{"duration_us":2000000,"requests":4000,"latency_us":{"p50":1500,"p99":9000}},"server_cpu_s":2,"alone":{"duration_us":1000000,"requests":900,"latency_us":{"p50":1000,"p99":2000}}}`,
	}
	if err := os.WriteFile(res, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := render(res, "", &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| sqlite | 1,000 | 1,000 | 2000 | 300 | 300 |",                                      // 1000 sightings in 0.5 s
		"| sqlite | 10,000 | not measured: too slow |",                                       // skipped size
		"| 0.5 MB | 500 | 0.9 MB | 3000 |",                                                   // bytes per edge and per file
		"| big-first-l10 | 10 | 2.0 | – | 2000 | 1.50 | 9.00 | 0.50 | – | 1.00 | 2.00 | 0 |", // 4000 pages in 2 s, 2 CPU s
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

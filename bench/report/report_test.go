package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseScenario(t *testing.T) {
	for name, want := range map[string]Scenario{
		"first-l10":    {Page: "first", Limit: 10},
		"deep-l40-gz":  {Page: "deep", Limit: 40, Gzip: true},
		"random-l1-gz": {Page: "random", Limit: 1, Gzip: true},
	} {
		got, err := ParseScenario(name)
		want.Name = name
		if err != nil || got.Page != want.Page || got.Limit != want.Limit || got.Gzip != want.Gzip {
			t.Errorf("ParseScenario(%q) = %+v, %v; want %+v", name, got, err, want)
		}
		if back, _ := ParseScenario(strings.TrimSuffix(got.PageFile(), ".json")); !got.Gzip && back.Name != name {
			t.Errorf("page file %s does not name scenario %s", got.PageFile(), name)
		}
	}
	for _, bad := range []string{"", "first", "first-l", "first-lx", "-l10", "first-l0-gz"} {
		if _, err := ParseScenario(bad); err == nil {
			t.Errorf("ParseScenario(%q): no error", bad)
		}
	}
}

type run struct {
	server, scenario string
	requests         int64
	seconds          float64
	p50, p99         int64
	statusErrors     int64
}

func (r run) line() string {
	return fmt.Sprintf(`{"server":"%s","scenario":"%s","duration_us":%d,"requests":%d,"bytes":1,"errors":{"connect":0,"read":0,"write":0,"status":%d,"timeout":0},"latency_us":{"mean":1.0,"p50":%d,"p90":1,"p99":%d,"max":1}}`,
		r.server, r.scenario, int64(r.seconds*1e6), r.requests, r.statusErrors, r.p50, r.p99)
}

func writeRun(t *testing.T, runs []run, pages map[string]int) (dir, manifest string) {
	t.Helper()
	dir = t.TempDir()
	var lines []string
	for _, r := range runs {
		lines = append(lines, r.line())
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "results.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "info.env"), []byte("date=2030-01-02T03:04:05Z\ndeep_after=500000\nthreads=2\nconnections=32\nduration=10s\nwarmup=2s\nrss_interval=0.5\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "rss.tsv"), []byte("20000\t8000\t12000\n90000\t40000\t50000\n70000\t45000\t25000\n123\n"+"hwm 95000\n"), 0o644))
	must(os.Mkdir(filepath.Join(dir, "pages"), 0o755))
	for name, size := range pages {
		must(os.WriteFile(filepath.Join(dir, "pages", name), make([]byte, size), 0o644))
	}
	manifest = filepath.Join(dir, "store.db.manifest.json")
	must(os.WriteFile(manifest, []byte(`{"fingerprint":"abc","params":{"seed":1,"big_ips":1,"big_edges":1000000,"small_ips":20000,"small_max_edges":10000,"small_zipf_s":1.5,"files":1000000},"complete":true,"big_ips":["198.18.0.1"],"files":1000000,"big_edges_total":1000000,"small_edges_total":61234,"doc_bytes_min":12600,"doc_bytes_max":18200,"doc_bytes_avg":15100,"seconds":1234.5,"store_bytes":3221225472}`), 0o644))
	return dir, manifest
}

func TestLoadAndWrite(t *testing.T) {
	runs := []run{
		{"filetrail", "first-l10", 30000, 10, 900, 4000, 0},
		{"nginx", "first-l10", 300000, 10, 100, 800, 0},
		{"filetrail", "deep-l10", 24000, 10, 1100, 5000, 0},
		{"nginx", "deep-l10", 310000, 10, 100, 700, 0},
		{"filetrail", "first-l10-gz", 5000, 10, 6000, 9000, 7},
		{"nginx", "first-l10-gz", 600000, 10, 50, 300, 0},
	}
	dir, manifest := writeRun(t, runs, map[string]int{"first-l10.json": 150123, "deep-l10.json": 150456, "first-l10.json.gz": 30777})
	r, err := Load(dir, manifest)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Scenarios) != 3 {
		t.Fatalf("%d scenarios, want 3", len(r.Scenarios))
	}
	for i, s := range r.Scenarios {
		ft, ng := runs[2*i], runs[2*i+1]
		want := (float64(ft.requests) / ft.seconds) / (float64(ng.requests) / ng.seconds)
		if math.Abs(s.Ratio()-want) > 1e-9 {
			t.Errorf("%s: ratio %v, want %v", s.Name, s.Ratio(), want)
		}
	}
	if r.Scenarios[0].Bytes != 150123 || r.Scenarios[2].Bytes != 30777 {
		t.Errorf("page bytes %d, %d: not read from the page files", r.Scenarios[0].Bytes, r.Scenarios[2].Bytes)
	}
	dc := r.DeepCosts()
	if len(dc) != 1 || dc[0].Limit != 10 || dc[0].Gzip {
		t.Fatalf("deep costs = %+v, want the one identity limit-10 pair", dc)
	}
	if want := (30000.0 / 10) / (24000.0 / 10); math.Abs(dc[0].Cost()-want) > 1e-9 {
		t.Errorf("deep cost %v, want %v", dc[0].Cost(), want)
	}
	if m := r.Memory; m.Samples != 3 || m.IdleRSS != 20000 || m.MaxRSS != 90000 || m.MaxAnon != 45000 || m.MaxFil != 50000 || m.HWM != 95000 {
		t.Errorf("memory = %+v", m)
	}

	r.Command = "BENCH_EDGES=1000000 bench/run.sh"
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"`BENCH_EDGES=1000000 bench/run.sh`",
		"| first-l10 | 150,123 | 3,000 | 30,000 | 0.10 | 0.90 ms / 4.00 ms | 0.10 ms / 0.80 ms | 0 / 0 |",
		"| 10 | identity | 3,000 | 2,400 | 1.25 | 0.90 ms / 1.10 ms |",
		"first-l10-gz on filetrail (7 errors)",
		"after item 500,000",
		"1,000,000 edges",
		"61,234 edges",
		"3072.0 MiB on disk when seeded",
		"| first-l10: filetrail ≥ 0.5 × nginx | 0.10 | no |",
		"| deep-l10: deep page ≤ 1.2 × first page | 1.25 | no |",
		"| resident memory while serving < 150 MB | 97.3 MB | yes |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestLoadRejectsUnknownServerAndMissingPage(t *testing.T) {
	dir, manifest := writeRun(t, []run{{"apache", "first-l10", 1, 1, 1, 1, 0}}, map[string]int{"first-l10.json": 1})
	if _, err := Load(dir, manifest); err == nil || !strings.Contains(err.Error(), "apache") {
		t.Errorf("unknown server: err = %v", err)
	}
	dir, manifest = writeRun(t, []run{{"nginx", "deep-l40", 1, 1, 1, 1, 0}}, nil)
	if _, err := Load(dir, manifest); err == nil {
		t.Error("missing page file: no error")
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{3 << 30: "3072.0 MiB", 34590326784: "32.2 GiB", 1 << 20: "1.0 MiB"} {
		if got := size(n); got != want {
			t.Errorf("size(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestNum(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 1000000: "1,000,000"} {
		if got := num(n); got != want {
			t.Errorf("num(%d) = %q, want %q", n, got, want)
		}
	}
}

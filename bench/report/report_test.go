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
		"first-l10":     {Page: "first", Limit: 10},
		"deep-l40-gz":   {Page: "deep", Limit: 40, Gzip: true},
		"random-l1-gz":  {Page: "random", Limit: 1, Gzip: true},
		"random-l10":    {Page: "random", Limit: 10},
		"first-l100-gz": {Page: "first", Limit: 100, Gzip: true},
	} {
		got, err := ParseScenario(name)
		if err != nil || got.Name != name || got.Page != want.Page || got.Limit != want.Limit || got.Gzip != want.Gzip {
			t.Errorf("ParseScenario(%q) = %+v, %v; want %+v", name, got, err, want)
		}
	}
	for _, bad := range []string{"", "first", "first-l", "first-lx", "-l10", "first-l0-gz"} {
		if _, err := ParseScenario(bad); err == nil {
			t.Errorf("ParseScenario(%q): no error", bad)
		}
	}
}

func TestPageFiles(t *testing.T) {
	for name, want := range map[string]string{
		"first-l10":     "first-l10.json",
		"deep-l40-gz":   "deep-l40.json.gz",
		"random-l10":    "random-l10/*.json",
		"random-l40-gz": "random-l40/*.json.gz",
	} {
		s, _ := ParseScenario(name)
		if got := s.PageFiles(); got != want {
			t.Errorf("%s: PageFiles() = %q, want %q", name, got, want)
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

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeRun writes a run directory: the wrk results, info.env, the RSS
// samples of both filetrail servers, page files of the given sizes (names
// may hold a directory) and a store manifest.
func writeRun(t *testing.T, runs []run, pages map[string]int) (dir, manifest string) {
	t.Helper()
	dir = t.TempDir()
	var lines []string
	for _, r := range runs {
		lines = append(lines, r.line())
	}
	must(t, os.WriteFile(filepath.Join(dir, "results.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "info.env"), []byte("date=2030-01-02T03:04:05Z\ndeep_after=500000\nthreads=2\nconnections=32\nduration=10s\nwarmup=2s\nrss_interval=0.5\nrandom_ips=1000\ncache_defaults=--response-cache-mib=32 --response-cache-ttl=1s\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "rss-filetrail.tsv"), []byte("20000\t8000\t12000\n90000\t40000\t50000\n70000\t45000\t25000\n123\n"+"hwm 95000\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "rss-filetrail-nocache.tsv"), []byte("20000\t8000\t12000\n150000\t140000\t10000\nhwm 160000\n"), 0o644))
	for name, size := range pages {
		path := filepath.Join(dir, "pages", name)
		must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		must(t, os.WriteFile(path, make([]byte, size), 0o644))
	}
	manifest = filepath.Join(dir, "store.db.manifest.json")
	must(t, os.WriteFile(manifest, []byte(`{"fingerprint":"abc","params":{"seed":1,"big_ips":1,"big_edges":1000000,"small_ips":20000,"small_max_edges":10000,"small_zipf_s":1.5,"files":1000000},"complete":true,"big_ips":["198.18.0.1"],"files":1000000,"big_edges_total":1000000,"small_edges_total":61234,"doc_bytes_min":12600,"doc_bytes_max":18200,"doc_bytes_avg":15100,"seconds":1234.5,"store_bytes":3221225472}`), 0o644))
	return dir, manifest
}

// rate is pages/s of a run.
func (r run) rate() float64 { return float64(r.requests) / r.seconds }

func TestLoadAndWrite(t *testing.T) {
	runs := []run{
		{"filetrail", "first-l10", 60000, 10, 500, 2000, 0},
		{"filetrail-nocache", "first-l10", 30000, 10, 900, 4000, 0},
		{"go-static", "first-l10", 80000, 10, 200, 1000, 0},
		{"nginx", "first-l10", 100000, 10, 100, 800, 0},
		{"filetrail", "deep-l10", 55000, 10, 600, 2500, 0},
		{"filetrail-nocache", "deep-l10", 24000, 10, 1100, 5000, 0},
		{"go-static", "deep-l10", 90000, 10, 150, 900, 0},
		{"nginx", "deep-l10", 110000, 10, 100, 700, 0},
		{"filetrail", "first-l10-gz", 5000, 10, 6000, 9000, 7},
		{"filetrail-nocache", "first-l10-gz", 4000, 10, 7000, 9500, 0},
		{"go-static", "first-l10-gz", 300000, 10, 80, 500, 0},
		{"nginx", "first-l10-gz", 600000, 10, 50, 300, 0},
		{"filetrail", "random-l10", 40000, 10, 700, 3000, 0},
		{"nginx", "random-l10", 70000, 10, 150, 900, 0},
	}
	dir, manifest := writeRun(t, runs, map[string]int{
		"first-l10.json": 150123, "deep-l10.json": 150456, "first-l10.json.gz": 30777,
		"random-l10/1.json": 1 << 20, "random-l10/2.json": 3<<20 + 1, "random-l10/2.json.gz": 99999,
	})
	r, err := Load(dir, manifest)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Scenarios) != 4 {
		t.Fatalf("%d scenarios, want 4", len(r.Scenarios))
	}
	byName := map[string]run{}
	for _, x := range runs {
		byName[x.server+" "+x.scenario] = x
	}
	for _, s := range r.Scenarios {
		for _, v := range Variants {
			ft, ok := byName[v+" "+s.Name]
			want := 0.0
			if ok {
				want = ft.rate() / byName["nginx "+s.Name].rate()
			}
			if math.Abs(s.Ratio(v)-want) > 1e-9 {
				t.Errorf("%s: %s ratio %v, want %v", s.Name, v, s.Ratio(v), want)
			}
			want = 0
			if gs, found := byName["go-static "+s.Name]; ok && found {
				want = ft.rate() / gs.rate()
			}
			if math.Abs(s.Over(v, GoStatic)-want) > 1e-9 {
				t.Errorf("%s: %s over go-static %v, want %v", s.Name, v, s.Over(v, GoStatic), want)
			}
		}
	}
	if s := r.Scenarios[0]; s.Bytes != 150123 || s.Pages != 1 {
		t.Errorf("first-l10: %d bytes in %d pages, want 150123 in 1", s.Bytes, s.Pages)
	}
	if s := r.Scenarios[3]; s.Name != "random-l10" || s.Bytes != 2<<20+1 || s.Pages != 2 {
		t.Errorf("%s: %d bytes in %d pages, want random-l10's mean 2 MiB + 1 of 2 plain pages", s.Name, s.Bytes, s.Pages)
	}
	dc := r.DeepCosts()
	if len(dc) != 1 || dc[0].Limit != 10 || dc[0].Gzip {
		t.Fatalf("deep costs = %+v, want the one plain limit-10 pair", dc)
	}
	if want := 60000.0 / 55000; math.Abs(dc[0].Cost(Filetrail)-want) > 1e-9 {
		t.Errorf("filetrail deep cost %v, want %v", dc[0].Cost(Filetrail), want)
	}
	if want := 30000.0 / 24000; math.Abs(dc[0].Cost(NoCache)-want) > 1e-9 {
		t.Errorf("nocache deep cost %v, want %v", dc[0].Cost(NoCache), want)
	}
	if m := r.Memory[Filetrail]; m.Samples != 3 || m.IdleRSS != 20000 || m.MaxRSS != 90000 || m.MaxAnon != 45000 || m.MaxFil != 50000 || m.HWM != 95000 {
		t.Errorf("filetrail memory = %+v", m)
	}
	if m := r.Memory[NoCache]; m.Samples != 2 || m.HWM != 160000 {
		t.Errorf("nocache memory = %+v", m)
	}
	if r.Ingest.Ran {
		t.Errorf("ingest = %+v without an ingest directory", r.Ingest)
	}

	r.Command = "BENCH_EDGES=1000000 bench/run.sh"
	r.Others = []Other{{What: "PostgreSQL", Command: "`bench/postgres.sh`", Title: "PERFORMANCE-postgres.md", Link: "PERFORMANCE-postgres.md"}}
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"`BENCH_EDGES=1000000 bench/run.sh`",
		"--response-cache-mib=32 --response-cache-ttl=1s",
		"| first-l10 | 150,123 | 6,000 | 3,000 | 8,000 | 10,000 | 0.60 | 0.30 | 0.80 | 0.75 | 0.50 ms / 2.00 ms | 0.90 ms / 4.00 ms | 0.20 ms / 1.00 ms | 0.10 ms / 0.80 ms | 0 / 0 / 0 / 0 |",
		"| random-l10 | mean 2,097,153 | 4,000 | — | — | 7,000 | 0.57 | — | — | — |",
		"random-l10 on go-static (missing run)",
		"| 10 | plain | 6,000 / 5,500 | 1.09 | 3,000 / 2,400 | 1.25 | 0.90 ms / 1.10 ms | 0.91 |",
		"first-l10-gz on filetrail (7 errors)",
		"random-l10 on filetrail-nocache (missing run)",
		"after item 500,000",
		"1,000 small IPs",
		"1,000,000 edges",
		"61,234 edges",
		"3072.0 MiB on disk when seeded",
		"| first-l10 (plain, first page, limit 10): pages/s ≥ 0.5 × nginx | 0.60 — met | 0.30 — **not met** |",
		"| first-l10-gz (gzip, first page, limit 10): pages/s ≥ 0.5 × nginx | 0.01 — **not met** | 0.01 — **not met** |",
		"| random-l10 (plain, random page, limit 10): pages/s ≥ 0.5 × nginx | 0.57 — met | not measured in this run |",
		"| deep-l10: deep page ≤ 1.2 × first page (first ÷ deep pages/s) | 1.09 — met | 1.25 — **not met** |",
		"| resident memory while serving < 150 MB (peak of RSS samples and VmHWM) | 97.3 MB — met | 163.8 MB — **not met** |",
		"| ingest of sightings ≥ 0.5 × the sqlite3 CLI loading the same rows | not measured in this run | — |",
		"| filetrail | 3 | 19.5 MiB | 87.9 MiB | 43.9 MiB | 48.8 MiB | 92.8 MiB |",
		"Not measured in this run (`bench/ingest.sh` absent",
		"Working sets of the random scenarios (distinct pages × mean page bytes), to compare with the size of filetrail's response cache (--response-cache-mib=32 --response-cache-ttl=1s): random-l10 4.0 MiB.",
		"| PostgreSQL | [PERFORMANCE-postgres.md](PERFORMANCE-postgres.md) | `bench/postgres.sh` |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// Scenarios without limit-10 or deep runs give no such targets.
	if strings.Contains(out, "deep-l10-gz:") {
		t.Errorf("a deep-cost target for a scenario that was not run:\n%s", out)
	}
}

func TestLoadRejectsBadRuns(t *testing.T) {
	dir, manifest := writeRun(t, []run{{"apache", "first-l10", 1, 1, 1, 1, 0}}, map[string]int{"first-l10.json": 1})
	if _, err := Load(dir, manifest); err == nil || !strings.Contains(err.Error(), "apache") {
		t.Errorf("unknown server: err = %v", err)
	}
	dir, manifest = writeRun(t, []run{{"nginx", "first-l10", 1, 1, 1, 1, 0}, {"nginx", "first-l10", 2, 1, 1, 1, 0}}, map[string]int{"first-l10.json": 1})
	if _, err := Load(dir, manifest); err == nil || !strings.Contains(err.Error(), "two runs") {
		t.Errorf("two runs of one server: err = %v", err)
	}
	dir, manifest = writeRun(t, []run{{"nginx", "deep-l40", 1, 1, 1, 1, 0}}, nil)
	if _, err := Load(dir, manifest); err == nil {
		t.Error("missing page file: no error")
	}
	dir, manifest = writeRun(t, []run{{"nginx", "random-l40-gz", 1, 1, 1, 1, 0}}, map[string]int{"random-l40/1.json": 1})
	if _, err := Load(dir, manifest); err == nil {
		t.Error("random scenario without gzip page files: no error")
	}
}

func TestOtherReportsLinksRelativeToTheReport(t *testing.T) {
	root := t.TempDir()
	docs := filepath.Join(root, "docs")
	must(t, os.MkdirAll(docs, 0o755))
	for _, f := range []string{"PERFORMANCE-postgres.md", "RELIABILITY.md", "ANALYSIS.md"} {
		must(t, os.WriteFile(filepath.Join(docs, f), nil, 0o644))
	}
	links := func(outDir string) map[string]string {
		m := map[string]string{}
		for _, o := range OtherReports(docs, outDir) {
			m[o.Title] = o.Link
		}
		return m
	}
	got := links(docs)
	if len(got) != 3 || got["PERFORMANCE-postgres.md"] != "PERFORMANCE-postgres.md" || got["RELIABILITY.md"] != "RELIABILITY.md#soak" || got["ANALYSIS.md"] != "ANALYSIS.md" {
		t.Errorf("links from docs/ = %v", got)
	}
	if got := links(filepath.Join(root, "bench", "out")); got["RELIABILITY.md"] != "../../docs/RELIABILITY.md#soak" {
		t.Errorf("links from bench/out/ = %v", got)
	}
	// A dedicated analysis performance report is preferred when present.
	must(t, os.WriteFile(filepath.Join(docs, "PERFORMANCE-analysis.md"), nil, 0o644))
	if got := links(docs); got["PERFORMANCE-analysis.md"] != "PERFORMANCE-analysis.md" || got["ANALYSIS.md"] != "" {
		t.Errorf("links with PERFORMANCE-analysis.md = %v", got)
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

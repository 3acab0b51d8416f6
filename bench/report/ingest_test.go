package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const ingestMD = `# Ingest

| Size | Rows |
|---|--:|
| small | 1,000 |

Some text.

| Loader | seconds | sightings/s | peak RSS |
|:---|--:|--:|--:|
| sqlite3 CLI (one transaction) | 2.0 | **50,000** | 10 MB |
| ` + "`filetrail ingest`" + ` | 4.0 | 25,000 sightings/s | 60 MB |
| filetrail ingest, second pass | 1.0 | 99,999 | 60 MB |
`

// ingestRuns is the layout bench/ingest.sh writes: one row per run, a rate
// column per loader; the median run by ratio is run 3 (0.50).
const ingestRuns = `## SQLite

| Run | ` + "`ingest`" + ` wall | Sightings/s | Peak RSS | ` + "`sqlite3`" + ` CLI load | Sightings/s (equivalent) | Store size | Ratio (CLI / ingest) | Load average before |
|---:|---:|---:|---:|---:|---:|---:|---:|---|
| 1 | 10.0 s | 5000 | 60 MiB | 2.0 s | 25000 | 30 MiB | **0.20** | 1.0 2.0 3.0 |
| 2 | 2.0 s | 25,000 | 60 MiB | 2.0 s | 25000 | 30 MiB | **1.00** | 1.0 2.0 3.0 |
| 3 | 4.0 s | 12500 | 60 MiB | 2.0 s | 25000 | 30 MiB | **0.50** | 1.0 2.0 3.0 |

## PostgreSQL

| Way of loading | Wall | Sightings/s | Peak RSS (filetrail) |
|---|---:|---:|---:|
| ` + "`filetrail ingest --store postgres://...`" + ` | 9 s | 1 | 60 MiB |
| ` + "`psql`" + ` restoring | 1 s | 9 | |
`

func TestParseIngestTable(t *testing.T) {
	for name, c := range map[string]struct {
		md   string
		want IngestTable
	}{
		"rows":    {ingestMD, IngestTable{Filetrail: 25000, SQLite: 50000, Unit: "sightings/s", Runs: 1}},
		"columns": {ingestRuns, IngestTable{Filetrail: 12500, SQLite: 25000, Unit: "Sightings/s", Runs: 3}},
	} {
		got, ok := ParseIngestTable(c.md)
		if !ok || got != c.want {
			t.Errorf("%s: ParseIngestTable = %+v, %v; want %+v", name, got, ok, c.want)
		}
	}
	for _, md := range []string{
		"",
		"| Loader | seconds |\n|---|--:|\n| sqlite3 | 1 |\n| filetrail | 2 |\n",                     // no rate column
		"| Loader | rows/s |\n|---|--:|\n| sqlite3 | 100 |\n\n| filetrail | 50 |\n",                 // rows in two tables
		"| Loader | rows/s |\n|---|--:|\n| sqlite3 | 100 |\n| filetrail | not measured |\n",         // no number
		"| ingest wall | rows/s | psql load | rows/s |\n|---|--:|--:|--:|\n| 1 s | 5 | 1 s | 5 |\n", // no sqlite3 column
	} {
		if got, ok := ParseIngestTable(md); ok {
			t.Errorf("ParseIngestTable(%q) = %+v: want no figures", md, got)
		}
	}
}

func TestLoadIngest(t *testing.T) {
	in, err := LoadIngest(filepath.Join(t.TempDir(), "absent"))
	if err != nil || in.Ran || in.Ratio() != 0 {
		t.Errorf("absent dir: %+v, %v", in, err)
	}
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "a.md"), []byte("no table here\n"), 0o644))
	in, err = LoadIngest(dir)
	if err != nil || !in.Ran || in.Ratio() != 0 || !strings.Contains(in.Problem, "no table") {
		t.Errorf("dir without figures: %+v, %v", in, err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "b.md"), []byte(ingestRuns), 0o644))
	in, err = LoadIngest(dir)
	if err != nil || in.Source != "b.md" || in.Ratio() != 0.5 || in.Runs != 3 {
		t.Errorf("dir with the table: %+v, %v", in, err)
	}

	r := &Report{Ingest: in, Info: map[string]string{"ingest_args": "INGEST_SMOKE=1"}}
	var b strings.Builder
	must(t, r.Write(&b))
	for _, want := range []string{
		"| ingest of sightings ≥ 0.5 × the sqlite3 CLI loading the same rows | 0.50 — met | — |",
		"| filetrail ingest | 12,500 |\n| sqlite3 CLI | 25,000 |",
		"the run with the median ratio of 3 runs",
		"settings: `INGEST_SMOKE=1`",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// Outcome is how one measured figure fares against a target.
type Outcome struct {
	Measured string // the figure, formatted
	Met      bool
}

// Target is one performance goal and how the run fared. A PerServer
// target has an outcome per filetrail variant (Filetrail, NoCache); one
// that is not about a server (ingest) has its one outcome under the empty
// key. A missing outcome was not measured.
type Target struct {
	Name      string
	PerServer bool
	By        map[string]Outcome
}

// The goals.
const (
	GoalRatio     = 0.5   // filetrail pages/s ≥ GoalRatio × nginx's, at limit 10
	GoalDeepCost  = 1.2   // deep page ≤ GoalDeepCost × first page
	GoalRSSBytes  = 150e6 // resident memory while serving
	GoalIngestVsC = 0.5   // filetrail ingest ≥ GoalIngestVsC × the sqlite3 CLI
)

// Targets checks the run against the performance goals: limit-10 pages at
// no less than half nginx's rate (identity and gzip, every page kind run),
// deep pages costing at most 1.2 times the first page, resident memory
// under 150 MB, each for both filetrail variants; and ingestion of
// sightings at no less than half the sqlite3 CLI's rate (that row is
// present even when ingestion was not measured, with no outcome).
func (r *Report) Targets() []Target {
	var out []Target
	for _, gz := range []bool{false, true} {
		for _, s := range r.Scenarios {
			if s.Limit != 10 || s.Gzip != gz {
				continue
			}
			t := Target{Name: fmt.Sprintf("%s (%s, %s page, limit 10): pages/s ≥ %.1f × nginx", s.Name, either(gz, "gzip", "plain"), s.Page, GoalRatio), PerServer: true, By: map[string]Outcome{}}
			for _, v := range Variants {
				if x := s.Ratio(v); x > 0 {
					t.By[v] = Outcome{Measured: fmt.Sprintf("%.2f", x), Met: x >= GoalRatio}
				}
			}
			out = append(out, t)
		}
	}
	for _, d := range r.DeepCosts() {
		t := Target{Name: fmt.Sprintf("%s: deep page ≤ %.1f × first page (first ÷ deep pages/s)", d.Deep.Name, GoalDeepCost), PerServer: true, By: map[string]Outcome{}}
		for _, v := range Variants {
			if c := d.Cost(v); c > 0 {
				t.By[v] = Outcome{Measured: fmt.Sprintf("%.2f", c), Met: c <= GoalDeepCost}
			}
		}
		out = append(out, t)
	}
	mem := Target{Name: fmt.Sprintf("resident memory while serving < %.0f MB (peak of RSS samples and VmHWM)", GoalRSSBytes/1e6), PerServer: true, By: map[string]Outcome{}}
	for _, v := range Variants {
		if m, ok := r.Memory[v]; ok && m.Samples > 0 {
			mem.By[v] = Outcome{Measured: fmt.Sprintf("%.1f MB", float64(m.PeakBytes())/1e6), Met: m.PeakBytes() < GoalRSSBytes}
		}
	}
	out = append(out, mem)
	ing := Target{Name: fmt.Sprintf("ingest of sightings ≥ %.1f × the sqlite3 CLI loading the same rows", GoalIngestVsC), By: map[string]Outcome{}}
	if x := r.Ingest.Ratio(); x > 0 {
		ing.By[""] = Outcome{Measured: fmt.Sprintf("%.2f", x), Met: x >= GoalIngestVsC}
	}
	out = append(out, ing)
	return out
}

// cell renders an outcome as a table cell.
func (o Outcome) cell() string {
	return o.Measured + either(o.Met, " — met", " — **not met**")
}

// Other is another measurement's report, linked from the generated one.
type Other struct {
	What, Command string
	// Link is the report's path relative to the generated report; Title
	// its file name.
	Link, Title string
}

// others are the measurements with their own reports: candidate file names
// (the first that exists is linked, with its anchor), what they measure and
// the command that makes them.
var others = []struct {
	files         []string
	anchor        string
	what, command string
}{
	{[]string{"PERFORMANCE-postgres.md"}, "", "PostgreSQL store: ingest through `Apply` next to a plain `COPY` of the same rows; 1,000,000-edge pages next to SQLite", "`bench/postgres.sh`"},
	{[]string{"PERFORMANCE-ingest.md"}, "", "Ingestion at full size: native sightings next to the `sqlite3` CLI (and `psql`) loading the same rows; sensor logs (Suricata EVE) from 10 MB to 1 GB of input", "`bench/ingest.sh` (sensor logs: see the report)"},
	{[]string{"RELIABILITY.md"}, "#soak", "Soak: mixed reads and ingestion, latency percentiles, memory", "`FILETRAIL_SOAK_SECONDS=120 go test -run TestSoak -v ./reliability/`"},
	{[]string{"PERFORMANCE-analysis.md", "ANALYSIS.md"}, "", "Static analysis of samples next to the scripted reference pipeline", "`bench/analysis.sh`"},
	{[]string{"SCALE.md"}, "", "Cost curve: ingest rate, bytes per table and pages as the store grows, cluster projection", "`bench/scale.sh`"},
}

// OtherReports lists the other measurements whose report is in docsDir,
// with links relative to outDir (the directory of the generated report); a
// measurement without a report file is left out.
func OtherReports(docsDir, outDir string) []Other {
	var out []Other
	for _, o := range others {
		for _, f := range o.files {
			path := filepath.Join(docsDir, f)
			if _, err := os.Stat(path); err != nil {
				continue
			}
			link, err := filepath.Rel(outDir, path)
			if err != nil {
				link = path
			}
			out = append(out, Other{What: o.what, Command: o.command, Title: f, Link: filepath.ToSlash(link) + o.anchor})
			break
		}
	}
	return out
}

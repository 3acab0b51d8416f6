// Command report writes docs/PERFORMANCE.md from the files a bench/run.sh
// run leaves in its run directory:
//
//	results.jsonl       one JSON line per wrk run (bench/wrk/report.lua)
//	info.env            key=value lines: versions, wrk settings, date
//	rss-SERVER.tsv      each filetrail server's memory samples while it served (kB)
//	pages/              the exact response bytes of each page (NAME.json,
//	                    NAME.json.gz; random-lN/K.json(.gz) per small IP)
//	ingest/             optional: what bench/ingest.sh left (see LoadIngest)
//	warnings.md         optional: problems the run script saw (Markdown)
//
// and the manifest of the seeded store (seed gen writes it).
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/filetrail/filetrail/bench/dataset"
)

func main() {
	runDir := flag.String("run", "", "run directory written by bench/run.sh (required)")
	manifest := flag.String("manifest", "", "manifest of the seeded store (required)")
	command := flag.String("command", "bench/run.sh", "the command that produced the run")
	out := flag.String("out", "docs/PERFORMANCE.md", "report to write")
	docs := flag.String("docs", "docs", "directory of the other reports, for the links")
	flag.Parse()
	if *runDir == "" || *manifest == "" {
		flag.Usage()
		os.Exit(2)
	}
	r, err := Load(*runDir, *manifest)
	if err == nil {
		r.Command = *command
		r.Machine = ReadMachine()
		r.Others = OtherReports(*docs, filepath.Dir(*out))
		var f *os.File
		if f, err = os.Create(*out); err == nil {
			err = r.Write(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// Result is one wrk run, as bench/wrk/report.lua prints it.
type Result struct {
	Server     string `json:"server"`
	Scenario   string `json:"scenario"`
	DurationUS int64  `json:"duration_us"`
	Requests   int64  `json:"requests"`
	Bytes      int64  `json:"bytes"`
	Errors     struct {
		Connect, Read, Write, Status, Timeout int64
	} `json:"errors"`
	Latency struct {
		Mean float64 `json:"mean"`
		P50  int64   `json:"p50"`
		P90  int64   `json:"p90"`
		P99  int64   `json:"p99"`
		Max  int64   `json:"max"`
	} `json:"latency_us"`
}

// PagesPerSecond is the completed requests per second.
func (r Result) PagesPerSecond() float64 {
	if r.DurationUS <= 0 {
		return 0
	}
	return float64(r.Requests) * 1e6 / float64(r.DurationUS)
}

// ErrorCount is every failed request: socket errors, timeouts and non-2xx/3xx
// answers.
func (r Result) ErrorCount() int64 {
	e := r.Errors
	return e.Connect + e.Read + e.Write + e.Status + e.Timeout
}

// The servers of a run: filetrail with its default settings (response
// cache on), the same binary and store with the cache off, Go's net/http
// sending the same bytes from memory (bench/staticserve), and nginx sending
// them from files.
const (
	Filetrail = "filetrail"
	NoCache   = "filetrail-nocache"
	GoStatic  = "go-static"
	Nginx     = "nginx"
)

// Servers lists the servers in report order; Variants are the filetrail
// ones.
var (
	Servers  = []string{Filetrail, NoCache, GoStatic, Nginx}
	Variants = []string{Filetrail, NoCache}
)

// Scenario is one page (or, for random, one list of pages) the servers were
// asked for.
type Scenario struct {
	Name  string // e.g. deep-l40-gz
	Page  string // first, deep or random
	Limit int
	Gzip  bool
	// Bytes is the size of the response body; for random, the mean over
	// its Pages pages.
	Bytes int64
	Pages int
	// Runs are the wrk runs by server; a missing server has none.
	Runs map[string]*Result
}

// ParseScenario splits a scenario name PAGE-lLIMIT[-gz].
func ParseScenario(name string) (Scenario, error) {
	s := Scenario{Name: name, Runs: map[string]*Result{}}
	rest, gz := strings.CutSuffix(name, "-gz")
	s.Gzip = gz
	page, lim, ok := strings.Cut(rest, "-l")
	n, err := strconv.Atoi(lim)
	if !ok || err != nil || page == "" || n < 1 {
		return s, fmt.Errorf("bad scenario name %q (want PAGE-lLIMIT[-gz])", name)
	}
	s.Page, s.Limit = page, n
	return s, nil
}

// PageFiles are the files, under the run's pages/ directory, holding the
// scenario's response bodies: one file, or for random the glob of its
// per-IP files.
func (s Scenario) PageFiles() string {
	f := fmt.Sprintf("%s-l%d.json", s.Page, s.Limit)
	if s.Page == "random" {
		f = fmt.Sprintf("%s-l%d/*.json", s.Page, s.Limit)
	}
	if s.Gzip {
		f += ".gz"
	}
	return f
}

// pageBytes returns the mean size of the scenario's page files and their
// number.
func pageBytes(pagesDir string, s Scenario) (int64, int, error) {
	files, err := filepath.Glob(filepath.Join(pagesDir, s.PageFiles()))
	if err != nil {
		return 0, 0, err
	}
	if len(files) == 0 {
		return 0, 0, fmt.Errorf("scenario %s: no page file %s in %s", s.Name, s.PageFiles(), pagesDir)
	}
	var total int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return 0, 0, err
		}
		total += fi.Size()
	}
	return (total + int64(len(files))/2) / int64(len(files)), len(files), nil
}

// Memory is what one process's RSS samples say, in kB.
type Memory struct {
	Samples                 int
	IdleRSS                 int64 // first sample, before load
	MaxRSS, MaxAnon, MaxFil int64
	HWM                     int64 // VmHWM at the end
}

// PeakBytes is the larger of the highest sample and VmHWM, in bytes.
func (m Memory) PeakBytes() int64 { return max(m.MaxRSS, m.HWM) * 1024 }

// Report is everything PERFORMANCE.md shows.
type Report struct {
	Scenarios []Scenario
	Manifest  dataset.Manifest
	Info      map[string]string
	// Memory is each filetrail variant's, by server name.
	Memory  map[string]Memory
	Ingest  Ingest
	Command string
	Machine Machine
	// Others are the reports of the other measurements, linked from this one.
	Others []Other
	// Warnings are what the run script found wrong (warnings.md), if anything.
	Warnings string
}

// Load reads a run directory and the store's manifest.
func Load(runDir, manifestPath string) (*Report, error) {
	r := &Report{Memory: map[string]Memory{}}
	raw, err := os.ReadFile(manifestPath)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &r.Manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", manifestPath, err)
	}
	if r.Info, err = readEnv(filepath.Join(runDir, "info.env")); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(runDir, "results.jsonl"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	results, err := ReadResults(f)
	if err != nil {
		return nil, err
	}
	if r.Scenarios, err = Combine(results); err != nil {
		return nil, err
	}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if s.Bytes, s.Pages, err = pageBytes(filepath.Join(runDir, "pages"), *s); err != nil {
			return nil, err
		}
	}
	if w, err := os.ReadFile(filepath.Join(runDir, "warnings.md")); err == nil {
		r.Warnings = string(w)
	}
	for _, v := range Variants {
		rf, err := os.Open(filepath.Join(runDir, "rss-"+v+".tsv"))
		if err != nil {
			continue
		}
		m, err := ReadMemory(rf)
		rf.Close()
		if err != nil {
			return nil, err
		}
		r.Memory[v] = m
	}
	if r.Ingest, err = LoadIngest(filepath.Join(runDir, "ingest")); err != nil {
		return nil, err
	}
	return r, nil
}

// ReadResults reads the JSON lines of wrk runs; other lines are an error.
func ReadResults(rd io.Reader) ([]Result, error) {
	var out []Result
	sc := bufio.NewScanner(rd)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("results line %d: %w", n, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// Combine groups the runs of each scenario by server, in the order the
// scenarios first appear. A server outside Servers, or a second run of the
// same server and scenario, is an error.
func Combine(results []Result) ([]Scenario, error) {
	var out []Scenario
	index := map[string]int{}
	for _, r := range results {
		i, ok := index[r.Scenario]
		if !ok {
			s, err := ParseScenario(r.Scenario)
			if err != nil {
				return nil, err
			}
			i = len(out)
			index[r.Scenario] = i
			out = append(out, s)
		}
		if !slices.Contains(Servers, r.Server) {
			return nil, fmt.Errorf("scenario %s: unknown server %q", r.Scenario, r.Server)
		}
		if out[i].Runs[r.Server] != nil {
			return nil, fmt.Errorf("scenario %s: two runs of %s", r.Scenario, r.Server)
		}
		out[i].Runs[r.Server] = &r
	}
	if len(out) == 0 {
		return nil, errors.New("no results")
	}
	return out, nil
}

// ReadMemory reads "VmRSS RssAnon RssFile" samples (kB, tab-separated, one
// line each; the first taken before any load) and a final "hwm N" line.
func ReadMemory(rd io.Reader) (Memory, error) {
	var m Memory
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "hwm" {
			m.HWM, _ = strconv.ParseInt(f[1], 10, 64)
			continue
		}
		if len(f) != 3 {
			continue // a sample cut short by the process ending
		}
		var v [3]int64
		for i := range f {
			v[i], _ = strconv.ParseInt(f[i], 10, 64)
		}
		if m.Samples == 0 {
			m.IdleRSS = v[0]
		}
		m.Samples++
		m.MaxRSS, m.MaxAnon, m.MaxFil = max(m.MaxRSS, v[0]), max(m.MaxAnon, v[1]), max(m.MaxFil, v[2])
	}
	return m, sc.Err()
}

func readEnv(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for line := range strings.Lines(string(raw)) {
		if k, v, ok := strings.Cut(strings.TrimRight(line, "\n"), "="); ok {
			env[k] = v
		}
	}
	return env, nil
}

// Machine describes the computer the run was on.
type Machine struct {
	CPUs     int
	CPUModel string
	MemoryKB int64
	Kernel   string
}

// ReadMachine reads the machine's description from /proc.
func ReadMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), CPUModel: "unknown"}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(raw)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(raw)) {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				m.MemoryKB, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(raw))
	}
	return m
}

// Rate is server's pages/s in the scenario, 0 when it has no run.
func (s Scenario) Rate(server string) float64 {
	if r := s.Runs[server]; r != nil {
		return r.PagesPerSecond()
	}
	return 0
}

// Ratio is server's pages/s over nginx's for the scenario, 0 when a run is
// missing.
func (s Scenario) Ratio(server string) float64 { return s.Over(server, Nginx) }

// Over is server's pages/s over peer's for the scenario, 0 when a run is
// missing.
func (s Scenario) Over(server, peer string) float64 {
	if s.Rate(server) == 0 || s.Rate(peer) == 0 {
		return 0
	}
	return s.Rate(server) / s.Rate(peer)
}

// DeepCost pairs a deep scenario with the first-page scenario of the same
// limit and encoding: how many times more a deep page costs a filetrail
// variant (first pages/s over deep pages/s).
type DeepCost struct {
	Limit       int
	Gzip        bool
	First, Deep Scenario
}

// Cost is server's first pages/s ÷ its deep pages/s (1.0: a deep page costs
// the same), 0 when a run is missing.
func (d DeepCost) Cost(server string) float64 {
	if d.First.Rate(server) == 0 || d.Deep.Rate(server) == 0 {
		return 0
	}
	return d.First.Rate(server) / d.Deep.Rate(server)
}

// DeepCosts lists the deep/first pairs present, by limit then encoding.
func (r *Report) DeepCosts() []DeepCost {
	var out []DeepCost
	for _, d := range r.Scenarios {
		if d.Page != "deep" {
			continue
		}
		for _, f := range r.Scenarios {
			if f.Page == "first" && f.Limit == d.Limit && f.Gzip == d.Gzip {
				out = append(out, DeepCost{Limit: d.Limit, Gzip: d.Gzip, First: f, Deep: d})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b DeepCost) int {
		if c := cmp.Compare(a.Limit, b.Limit); c != 0 {
			return c
		}
		return cmp.Compare(btoi(a.Gzip), btoi(b.Gzip))
	})
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

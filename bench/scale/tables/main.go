// Command tables renders the results of bench/scale.sh (results.jsonl) as
// the markdown tables of docs/SCALE.md: ingest per increment, bytes per
// edge and per file at each size, and page figures.
//
// Bytes are split by table: an edge costs its rows and index entries in
// the edge tables (edges, evidence and their indexes); a file costs its
// rows in the file tables (files, reports/facts, names, hashes and their
// indexes). The file tables' bytes are fitted, over the sizes of a store,
// as a·files + b·reports (least squares): a is a file with only the
// document its sightings build, b what a real VirusTotal report adds.
//
// Usage:
//
//	tables -results results.jsonl [-info info.env] > tables.md
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

func main() {
	results := flag.String("results", "", "results.jsonl of a bench/scale.sh run (required)")
	info := flag.String("info", "", "info.env of the run (optional)")
	flag.Parse()
	if *results == "" {
		fmt.Fprintln(os.Stderr, "usage: tables -results results.jsonl [-info info.env]")
		os.Exit(2)
	}
	if err := render(*results, *info, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tables:", err)
		os.Exit(1)
	}
}

type wrkResult struct {
	DurationUS float64 `json:"duration_us"`
	Requests   float64 `json:"requests"`
	Errors     struct {
		Connect, Read, Write, Status, Timeout int
	} `json:"errors"`
	Latency struct {
		Mean          float64 `json:"mean"`
		P50, P90, P99 float64
		Max           float64
	} `json:"latency_us"`
}

func (w wrkResult) perSecond() float64 { return w.Requests / (w.DurationUS / 1e6) }

func (w wrkResult) errors() int {
	e := w.Errors
	return e.Connect + e.Read + e.Write + e.Status + e.Timeout
}

type line struct {
	Kind   string `json:"kind"`
	Store  string `json:"store"`
	Size   int    `json:"size"`
	Load   string `json:"load"`
	Reason string `json:"reason"`
	// ingest
	Grow *struct {
		From, To        int
		Reports         int     `json:"reports"`
		ReportSeconds   float64 `json:"report_seconds"`
		Sightings       int     `json:"sightings"`
		SightingSeconds float64 `json:"sighting_seconds"`
		DocBytesAvg     int     `json:"doc_bytes_avg"`
	} `json:"grow"`
	// bytes
	Object string `json:"object"`
	Bytes  int64  `json:"bytes"`
	// counts
	Files, Edges, Reports, IPs, Evidence int64
	StoreBytes                           int64 `json:"store_bytes"`
	// page
	Scenario    string    `json:"scenario"`
	Items       int       `json:"items"`
	PageBytes   int       `json:"page_bytes"`
	DeepAfter   int       `json:"deep_after"`
	Connections int       `json:"connections"`
	ServerCPU   float64   `json:"server_cpu_s"`
	PGCPU       float64   `json:"pg_cpu_s"`
	Loaded      wrkResult `json:"loaded"`
	Alone       wrkResult `json:"alone"`
}

// category is what a table or index belongs to: "edge", "file", "ip" or
// "other".
func category(object string) string {
	o := strings.TrimSuffix(object, " indexes")
	o = strings.TrimPrefix(o, "sqlite_autoindex_")
	switch {
	case strings.HasPrefix(o, "edges"), strings.HasPrefix(o, "evidence"):
		return "edge"
	case strings.HasPrefix(o, "files"), strings.HasPrefix(o, "file_"), strings.HasPrefix(o, "facts"), strings.HasPrefix(o, "hashes"):
		return "file"
	case strings.HasPrefix(o, "ip"):
		return "ip"
	}
	return "other"
}

type point struct {
	store                string
	size                 int
	counts               line
	edge, file, ip, rest int64
}

func render(results, info string, w io.Writer) error {
	f, err := os.Open(results)
	if err != nil {
		return err
	}
	defer f.Close()
	var lines []line
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("%s: %w", results, err)
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if info != "" {
		raw, err := os.ReadFile(info)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, "Run:")
		fmt.Fprintln(w)
		for _, kv := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			k, v, _ := strings.Cut(kv, "=")
			fmt.Fprintf(w, "- %s: `%s`\n", k, v)
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintln(w, "#### Ingest (the increment that reached each size)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Store | Edges | New sightings | Sightings/s | New reports | Reports/s | Load after |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|")
	for _, l := range lines {
		switch l.Kind {
		case "ingest":
			g := l.Grow
			rep := "–"
			if g.Reports > 0 {
				rep = fmt.Sprintf("%.0f", float64(g.Reports)/g.ReportSeconds)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %.0f | %s | %s | %s |\n", l.Store, num(l.Size), num(g.Sightings),
				float64(g.Sightings)/g.SightingSeconds, num(g.Reports), rep, l.Load)
		case "skipped":
			fmt.Fprintf(w, "| %s | %s | not measured: %s | | | | |\n", l.Store, num(l.Size), l.Reason)
		}
	}
	fmt.Fprintln(w)

	// Bytes.
	var points []*point
	find := func(store string, size int) *point {
		for _, p := range points {
			if p.store == store && p.size == size {
				return p
			}
		}
		p := &point{store: store, size: size}
		points = append(points, p)
		return p
	}
	for _, l := range lines {
		switch l.Kind {
		case "bytes":
			p := find(l.Store, l.Size)
			switch category(l.Object) {
			case "edge":
				p.edge += l.Bytes
			case "file":
				p.file += l.Bytes
			case "ip":
				p.ip += l.Bytes
			default:
				p.rest += l.Bytes
			}
		case "counts":
			find(l.Store, l.Size).counts = l
		}
	}
	fmt.Fprintln(w, "#### Bytes")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Edge tables: edges, evidence and their indexes. File tables: files, reports (SQLite `facts`, PostgreSQL `file_facts`), names, hashes and their indexes. PostgreSQL sizes are `pg_table_size` (heap, TOAST, free space map) + `pg_indexes_size` after `VACUUM ANALYZE`; SQLite's are `dbstat` pages.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Store | Edges | Files | of them with a report | IPs | Store bytes | Edge tables | Bytes/edge | File tables | Bytes/file (all) | IP table |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, p := range points {
		c := p.counts
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %.0f | %s | %.0f | %s |\n", p.store, num(int(c.Edges)), num(int(c.Files)), num(int(c.Reports)),
			num(int(c.IPs)), mb(c.StoreBytes), mb(p.edge), div(p.edge, c.Edges), mb(p.file), div(p.file, c.Files), mb(p.ip))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "File tables fitted over the sizes as a·files + b·reports (least squares):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Store | a: bytes per file without a report | b: bytes a report adds | a + b: bytes per file with a report | Points |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, store := range stores(points) {
		var xs [][2]float64
		var ys []float64
		for _, p := range points {
			if p.store == store {
				xs = append(xs, [2]float64{float64(p.counts.Files), float64(p.counts.Reports)})
				ys = append(ys, float64(p.file))
			}
		}
		a, b, ok := fit(xs, ys)
		if !ok {
			fmt.Fprintf(w, "| %s | (needs two sizes with different report shares) | | | %d |\n", store, len(xs))
			continue
		}
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.0f | %d |\n", store, a, b, a+b, len(xs))
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "#### Pages over HTTP")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "`big-first`: the big IP's first page; `big-deep`: its page after `deep after` items; `small`: the first page of random small IPs, cycled. Loaded: wrk at the given connections (pages/s, latency); CPU per page: CPU seconds of `filetrail serve` and of all PostgreSQL processes during the loaded run, over its pages. Alone: one connection.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Store | Edges | Scenario | Items | Page KB | Deep after | Pages/s | p50 ms | p99 ms | Server CPU ms/page | PG CPU ms/page | Alone p50 ms | Alone p99 ms | Errors |")
	fmt.Fprintln(w, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, l := range lines {
		if l.Kind != "page" {
			continue
		}
		deep := "–"
		if strings.HasPrefix(l.Scenario, "big-deep") {
			deep = num(l.DeepAfter)
		}
		pgcpu := "–"
		if l.Store == "postgres" {
			pgcpu = fmt.Sprintf("%.2f", l.PGCPU*1e3/l.Loaded.Requests)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %.1f | %s | %.0f | %.2f | %.2f | %.2f | %s | %.2f | %.2f | %d |\n",
			l.Store, num(l.Size), l.Scenario, l.Items, float64(l.PageBytes)/1024, deep, l.Loaded.perSecond(),
			l.Loaded.Latency.P50/1e3, l.Loaded.Latency.P99/1e3, l.ServerCPU*1e3/l.Loaded.Requests, pgcpu,
			l.Alone.Latency.P50/1e3, l.Alone.Latency.P99/1e3, l.Loaded.errors()+l.Alone.errors())
	}
	return nil
}

func stores(ps []*point) []string {
	var out []string
	for _, p := range ps {
		if !slices.Contains(out, p.store) {
			out = append(out, p.store)
		}
	}
	return out
}

// fit solves y ≈ a·x0 + b·x1 by least squares; ok is false when the
// points do not determine a and b.
func fit(xs [][2]float64, ys []float64) (a, b float64, ok bool) {
	var s00, s01, s11, s0y, s1y float64
	for i, x := range xs {
		s00 += x[0] * x[0]
		s01 += x[0] * x[1]
		s11 += x[1] * x[1]
		s0y += x[0] * ys[i]
		s1y += x[1] * ys[i]
	}
	// The share of files with a report must differ well between the points
	// (by a quarter), or noise decides a and b.
	lo, hi := 1.0, 0.0
	for _, x := range xs {
		if x[0] > 0 {
			lo, hi = min(lo, x[1]/x[0]), max(hi, x[1]/x[0])
		}
	}
	det := s00*s11 - s01*s01
	if len(xs) < 2 || hi-lo < 0.25 || det == 0 {
		return 0, 0, false
	}
	return (s0y*s11 - s1y*s01) / det, (s1y*s00 - s0y*s01) / det, true
}

func div(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

// num formats n with thousands separators.
func num(n int) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 && s[0] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

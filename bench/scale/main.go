// Command scale grows a filetrail store through a series of sizes, for
// bench/scale.sh, which measures the store at each size.
//
// The dataset at size E (edges) is a deterministic function of E, the
// largest size of the series (-max) and the model flags:
//
//   - one big IP (198.18.0.1) holds E/10 edges: it serves files 0, 1, 2, …
//     in rank order (rank 0 newest), at distinct times, so the cursor
//     after any position is known (bench/dataset.CursorAfter);
//   - small IPs (198.19.x.y, then IPv6) hold the rest: small IP k serves
//     1 + Zipf(2) distinct files (at most 1,000), drawn uniformly from the
//     files the dataset has when the edge is added (about 3 edges per file:
//     -files-per-edge), at random times within the big IP's span;
//   - files 0 … min(files, -doc-files)-1 carry a real VirusTotal report
//     (bench/dataset: a template from testdata/vt-file-objects under the
//     file's own hashes, 10–20 KB of attributes); the other files carry only
//     the document their sightings build (hashes, name, a few hundred
//     bytes). The big IP's first files are report files, so its first page
//     and its deep page (DeepAfter) serve full documents.
//
// Growing from size A to size B applies exactly the facts of size B that
// size A lacks: the reports first (timed on their own), then the
// sightings, in batches, through the store's Apply (the path of `filetrail
// ingest`), one batch at a time.
//
// Usage:
//
//	scale grow -store DSN -from A -to B -max M [model flags]   grow; prints one JSON line
//	scale plan -at E -max M [-small N] [model flags]             the page scenarios at size E
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/bench/dataset"
	"github.com/filetrail/filetrail/ingest"
	"github.com/filetrail/filetrail/store/postgres"
	"github.com/filetrail/filetrail/store/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage: scale grow|plan [flags] (see -h)")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	fs := flag.NewFlagSet("scale "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	mf := modelFlags(fs)
	switch args[0] {
	case "grow":
		dsn := fs.String("store", "", "store DSN: a SQLite file path or postgres://… (required)")
		from := fs.Int("from", 0, "size the store holds now (edges)")
		to := fs.Int("to", 0, "size to grow to (edges)")
		batch := fs.Int("batch", 1000, "records per Apply (reports: also at most ingest.DefaultBatchBytes of documents)")
		if err := fs.Parse(args[1:]); err != nil {
			return errUsage
		}
		m, err := mf()
		if err != nil {
			return err
		}
		if *dsn == "" || *from < 0 || *to <= *from || *to > m.max || *batch < 1 {
			return fmt.Errorf("%w: grow needs -store, 0 <= -from < -to <= -max and a positive -batch", errUsage)
		}
		st, err := openStore(ctx, *dsn)
		if err != nil {
			return err
		}
		res, err := grow(ctx, m, st, *from, *to, *batch, stderr)
		if err == nil {
			err = verify(ctx, m, st, *to)
		}
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(res)
	case "plan":
		at := fs.Int("at", 0, "size (edges)")
		n := fs.Int("small", 200, "random small IPs to list")
		if err := fs.Parse(args[1:]); err != nil {
			return errUsage
		}
		m, err := mf()
		if err != nil {
			return err
		}
		if *at < 1 || *at > m.max || *n < 0 {
			return fmt.Errorf("%w: plan needs 1 <= -at <= -max and -small >= 0", errUsage)
		}
		return plan(m, *at, *n, stdout)
	}
	return errUsage
}

// model is the dataset of the series (see the package comment).
type model struct {
	d            *dataset.Dataset
	max          int     // edges at the largest size
	bigShare     float64 // share of the edges on the big IP
	filesPerEdge float64 // files per edge
	docCap       int     // most files with a real report
	span         int64   // seconds over which sightings spread
}

func modelFlags(fs *flag.FlagSet) func() (model, error) {
	var (
		m     model
		seed  uint64
		tdir  string
		minDB int
	)
	fs.IntVar(&m.max, "max", 0, "edges at the largest size of the series (fixes the dataset's times; required)")
	fs.Float64Var(&m.bigShare, "big-share", 0.1, "share of the edges held by the big IP (0 < x < 1)")
	fs.Float64Var(&m.filesPerEdge, "files-per-edge", 0.3, "files per edge (0 < x <= 1)")
	fs.IntVar(&m.docCap, "doc-files", 30_000, "files with a real VirusTotal report (at most; the first ones)")
	fs.Uint64Var(&seed, "seed", 1, "random seed")
	fs.StringVar(&tdir, "templates", "testdata/vt-file-objects", "directory of VT file objects (*.json)")
	fs.IntVar(&minDB, "min-doc-bytes", 10_240, "pad smaller reports up to this many bytes")
	return func() (model, error) {
		if m.max < 10 || m.bigShare <= 0 || m.bigShare >= 1 || m.filesPerEdge <= 0 || m.filesPerEdge > 1 || m.docCap < 0 {
			return m, fmt.Errorf("%w: -max >= 10, 0 < -big-share < 1, 0 < -files-per-edge <= 1, -doc-files >= 0", errUsage)
		}
		bigMax := m.big(m.max)
		p := dataset.Params{Seed: seed, BigIPs: 1, BigEdges: bigMax, Files: max(m.files(m.max), bigMax, 1), MinDocBytes: minDB}
		d, err := dataset.NewDataset(p, tdir)
		if err != nil {
			return m, err
		}
		m.d = d
		m.span = int64(bigMax+1) * 4
		return m, nil
	}
}

// big is the big IP's edges at size e.
func (m model) big(e int) int { return int(float64(e) * m.bigShare) }

// small is the small IPs' edges at size e.
func (m model) small(e int) int { return e - m.big(e) }

// files is the number of files the dataset draws from at size e (none at
// size 0, at least one after).
func (m model) files(e int) int {
	if e <= 0 {
		return 0
	}
	return max(1, int(math.Ceil(float64(e)*m.filesPerEdge)))
}

// docs is the number of files with a real report at size e.
func (m model) docs(e int) int { return min(m.files(e), m.docCap) }

// deepAfter is the position of the big IP's deep page at size e: half-way
// down its list, but within its report files so that the page serves full
// documents.
func (m model) deepAfter(e int) int {
	return max(1, min(m.big(e)/2, m.docs(e)-40))
}

// smallIP is one small IP's edges: its address and its sightings, the
// first of them being small edge number start of the series.
type smallIP struct {
	k, start int
	edges    []filetrail.Sighting
}

// smallIPs yields the small IPs in order, each with its full list of
// sightings when full is true (else only its start and size, in edges of
// a nil-filled slice), until the series' small edges reach limit.
func (m model) smallIPs(limit int, full bool) iter.Seq[smallIP] {
	return func(yield func(smallIP) bool) {
		start := 0
		for k := 0; start < limit; k++ {
			r := rand.New(rand.NewPCG(m.d.P.Seed^0x5ca1e, uint64(k)))
			n := 1 + int(rand.NewZipf(r, 2, 1, 999).Uint64())
			ip := smallIP{k: k, start: start, edges: make([]filetrail.Sighting, n)}
			if full {
				addr := dataset.SmallIP(k)
				seen := make(map[int]bool, n)
				for j := range n {
					// Files the dataset has when this edge is added.
					total := float64(start+j+1) / (1 - m.bigShare)
					bound := max(int(math.Ceil(total*m.filesPerEdge)), 2*n)
					i := r.IntN(bound)
					for seen[i] {
						i = r.IntN(bound)
					}
					seen[i] = true
					ip.edges[j] = m.d.Sighting(addr, i, dataset.BaseTime+r.Int64N(m.span))
				}
			}
			if !yield(ip) {
				return
			}
			start += n
		}
	}
}

// sightings yields the sightings that take the store from size from to
// size to: the big IP's new ranks and the small IPs' new edges, mixed in
// the proportion of the model.
func (m model) sightings(from, to int) iter.Seq[filetrail.Sighting] {
	return func(yield func(filetrail.Sighting) bool) {
		bigFrom, bigTo := m.big(from), m.big(to)
		smallFrom, smallTo := m.small(from), m.small(to)
		small, stop := iter.Pull(func(yield func(filetrail.Sighting) bool) {
			for ip := range m.smallIPs(smallTo, true) {
				for j, s := range ip.edges {
					g := ip.start + j
					if g >= smallFrom && g < smallTo && !yield(s) {
						return
					}
				}
			}
		})
		defer stop()
		// Interleave: the big IP's next rank whenever it is behind its
		// share of the increment.
		nb, ns := bigTo-bigFrom, smallTo-smallFrom
		ib, is := 0, 0
		for ib < nb || is < ns {
			if ib < nb && (is >= ns || ib*ns <= is*nb) {
				if !yield(m.d.BigSighting(0, bigFrom+ib)) {
					return
				}
				ib++
				continue
			}
			s, ok := small()
			if !ok {
				return
			}
			if !yield(s) {
				return
			}
			is++
		}
	}
}

// growResult is what grow prints: the increment and how long Apply took.
type growResult struct {
	From, To        int
	BigEdges        int     `json:"big_edges"`
	SmallEdges      int     `json:"small_edges"`
	Reports         int     `json:"reports"`
	ReportSeconds   float64 `json:"report_seconds"`
	Sightings       int     `json:"sightings"`
	SightingSeconds float64 `json:"sighting_seconds"`
	DocBytesAvg     int     `json:"doc_bytes_avg"`
	Batch           int     `json:"batch"`
}

func grow(ctx context.Context, m model, st filetrail.Store, from, to, batch int, log io.Writer) (growResult, error) {
	res := growResult{From: from, To: to, BigEdges: m.big(to), SmallEdges: m.small(to), Batch: batch}
	apply := func(b *filetrail.Batch) (time.Duration, error) {
		t0 := time.Now()
		_, err := st.Apply(ctx, b)
		return time.Since(t0), err
	}
	// Reports.
	var docBytes int64
	var spent time.Duration
	b := &filetrail.Batch{}
	flush := func() error {
		d, err := apply(b)
		spent += d
		b = &filetrail.Batch{}
		return err
	}
	var pending int
	for i := m.docs(from); i < m.docs(to); i++ {
		f := m.d.Fact(i)
		docBytes += int64(len(f.Attributes))
		pending += len(f.Attributes)
		b.Files = append(b.Files, f)
		res.Reports++
		// As filetrail ingest: a batch also ends at its size limit.
		if len(b.Files) == batch || pending >= ingest.DefaultBatchBytes {
			pending = 0
			if err := flush(); err != nil {
				return res, fmt.Errorf("apply reports: %w", err)
			}
		}
	}
	if len(b.Files) > 0 {
		if err := flush(); err != nil {
			return res, fmt.Errorf("apply reports: %w", err)
		}
	}
	res.ReportSeconds = spent.Seconds()
	if res.Reports > 0 {
		res.DocBytesAvg = int(docBytes / int64(res.Reports))
		fmt.Fprintf(log, "scale: %d reports in %.1fs (%.0f/s)\n", res.Reports, res.ReportSeconds, float64(res.Reports)/res.ReportSeconds)
	}
	// Sightings.
	spent = 0
	last := time.Now()
	for s := range m.sightings(from, to) {
		b.Sightings = append(b.Sightings, s)
		res.Sightings++
		if len(b.Sightings) == batch {
			if err := flush(); err != nil {
				return res, fmt.Errorf("apply sightings: %w", err)
			}
			if time.Since(last) > 30*time.Second {
				last = time.Now()
				fmt.Fprintf(log, "scale: %d/%d sightings, %.0f/s\n", res.Sightings, to-from, float64(res.Sightings)/spent.Seconds())
			}
		}
	}
	if len(b.Sightings) > 0 {
		if err := flush(); err != nil {
			return res, fmt.Errorf("apply sightings: %w", err)
		}
	}
	res.SightingSeconds = spent.Seconds()
	if want := to - from; res.Sightings != want {
		return res, fmt.Errorf("generated %d sightings for %d new edges", res.Sightings, want)
	}
	fmt.Fprintf(log, "scale: %d sightings in %.1fs (%.0f/s)\n", res.Sightings, res.SightingSeconds, float64(res.Sightings)/res.SightingSeconds)
	return res, nil
}

// verify checks that the store agrees with the model at size e: the big
// IP's count, its first item and the item after the deep cursor.
func verify(ctx context.Context, m model, st filetrail.EvidenceReader, e int) error {
	ip := dataset.BigIP(0)
	sum, err := st.IPSummary(ctx, ip)
	if err != nil {
		return err
	}
	if sum.FileCount != int64(m.big(e)) {
		return fmt.Errorf("verify: big IP %s has %d files, want %d", ip, sum.FileCount, m.big(e))
	}
	first, err := st.DownloadedFiles(ctx, ip, filetrail.PageRequest{Limit: 1}, filetrail.WithoutAttributes)
	if err != nil {
		return err
	}
	if len(first.Items) != 1 || first.Items[0].FileID != m.d.Hashes(0).SHA256 {
		return fmt.Errorf("verify: the first item of %s is not file 0", ip)
	}
	p := m.deepAfter(e)
	if p >= m.big(e) {
		return nil
	}
	c, err := m.d.CursorAfter(0, p)
	if err != nil {
		return err
	}
	deep, err := st.DownloadedFiles(ctx, ip, filetrail.PageRequest{Limit: 1, After: &c}, filetrail.WithoutAttributes)
	if err != nil {
		return err
	}
	if len(deep.Items) != 1 || deep.Items[0].FileID != m.d.Hashes(p).SHA256 {
		return fmt.Errorf("verify: the item after position %d of %s is not file %d", p, ip, p)
	}
	return nil
}

// plan prints the page scenarios at size e, one "key value" per line: the
// big IP, its edges, the deep position and cursor, then n random small IPs
// (each "small ADDRESS EDGES"), among those whose edges are all in.
func plan(m model, e, n int, w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "big %s\nbig_edges %d\nfiles %d\ndocs %d\n", dataset.BigIP(0), m.big(e), m.files(e), m.docs(e))
	if p := m.deepAfter(e); p < m.big(e) {
		c, err := m.d.CursorAfter(0, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "deep_after %d\ndeep_cursor %s\n", p, c.Encode())
	}
	var ips []smallIP
	limit := m.small(e)
	for ip := range m.smallIPs(limit, false) {
		if ip.start+len(ip.edges) <= limit {
			ips = append(ips, smallIP{k: ip.k, start: len(ip.edges)})
		}
	}
	r := rand.New(rand.NewPCG(m.d.P.Seed, uint64(e)))
	r.Shuffle(len(ips), func(i, j int) { ips[i], ips[j] = ips[j], ips[i] })
	for _, ip := range ips[:min(n, len(ips))] {
		fmt.Fprintf(&b, "small %s %d\n", dataset.SmallIP(ip.k), ip.start)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// openStore opens a SQLite file or a postgres:// DSN.
func openStore(ctx context.Context, dsn string) (filetrail.Store, error) {
	l := strings.ToLower(dsn)
	if strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://") {
		return postgres.Open(ctx, dsn)
	}
	return sqlite.Open(ctx, strings.TrimPrefix(dsn, "sqlite:"))
}

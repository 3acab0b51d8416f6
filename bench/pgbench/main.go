// Command pgbench measures page latency of one IP's downloaded_files on
// PostgreSQL next to SQLite holding the same data: the first page and a deep
// page (reached with a cursor), limit 10 and 40, with attributes, read
// through the store (DownloadedFiles) and through HTTP (vtapi on a loopback
// listener, net/http client). bench/postgres.sh runs it and writes the
// report.
//
// The dataset is one IP serving Edges files, seeded with sightings only
// (no file reports), so each file document holds the few attributes a
// sighting gives (names, size, hashes). File j is seen once, at
// BaseTime+j, so the list order (newest first) is j = Edges-1 … 0 and the
// cursor after any number of items is known without walking the list.
//
// Usage:
//
//	pgbench -pg DSN -seed-pg -sqlite PATH -edges N [-batch B] [-deep-after N]
//	        [-limits 10,40] [-iters N] [-http-iters N] -out PAGES.md
//
// -pg names a database that exists; with -seed-pg the database must be
// empty and is seeded first. The SQLite store at -sqlite is reused when
// PATH.done records the same dataset, else rebuilt. Seeding of the two
// stores runs concurrently. The markdown tables go to -out; progress and
// seeding rates go to stderr.
package main

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/store/postgres"
	"github.com/filetrail/filetrail/store/sqlite"
	"github.com/filetrail/filetrail/vtapi"
)

// BaseTime is the SeenAt of file 0.
const BaseTime int64 = 1_700_000_000

// benchIP serves every file of the dataset.
var benchIP = netip.MustParseAddr("198.51.100.7")

type config struct {
	pgDSN      string
	seedPG     bool
	sqlitePath string
	edges      int
	batch      int
	deepAfter  int
	limits     []int
	iters      int
	httpIters  int
	out        string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pgbench:", err)
		os.Exit(1)
	}
}

func run() error {
	var c config
	var limits string
	flag.StringVar(&c.pgDSN, "pg", "", "PostgreSQL DSN of the page database (required)")
	flag.BoolVar(&c.seedPG, "seed-pg", false, "seed the (empty) PostgreSQL database first")
	flag.StringVar(&c.sqlitePath, "sqlite", "", "SQLite store path (required; rebuilt unless PATH.done matches)")
	flag.IntVar(&c.edges, "edges", 1_000_000, "files served by the IP")
	flag.IntVar(&c.batch, "batch", 5000, "sightings per Apply while seeding")
	flag.IntVar(&c.deepAfter, "deep-after", 0, "items before the deep page (0: 80% of edges)")
	flag.StringVar(&limits, "limits", "10,40", "page sizes, comma-separated")
	flag.IntVar(&c.iters, "iters", 2000, "timed store reads per scenario")
	flag.IntVar(&c.httpIters, "http-iters", 1000, "timed HTTP requests per scenario")
	flag.StringVar(&c.out, "out", "", "markdown output file (required)")
	flag.Parse()
	if c.pgDSN == "" || c.sqlitePath == "" || c.out == "" {
		return errors.New("-pg, -sqlite and -out are required")
	}
	for _, f := range strings.Split(limits, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > filetrail.MaxPageLimit {
			return fmt.Errorf("-limits: %q is not a page size 1..%d", f, filetrail.MaxPageLimit)
		}
		c.limits = append(c.limits, n)
	}
	if c.deepAfter == 0 {
		c.deepAfter = c.edges * 8 / 10
	}
	maxLimit := slices.Max(c.limits)
	if c.edges < 2 || c.deepAfter < 1 || c.deepAfter+maxLimit > c.edges || c.iters < 1 || c.httpIters < 1 || c.batch < 1 {
		return fmt.Errorf("bad sizes: edges %d, deep-after %d, largest limit %d, iters %d, http-iters %d, batch %d (need deep-after+limit <= edges)",
			c.edges, c.deepAfter, maxLimit, c.iters, c.httpIters, c.batch)
	}
	ctx := context.Background()

	pg, err := postgres.Open(ctx, c.pgDSN)
	if err != nil {
		return fmt.Errorf("open PostgreSQL: %w", err)
	}
	defer pg.Close()
	marker := c.sqlitePath + ".done"
	want := fmt.Sprintf("edges=%d ip=%s base=%d\n", c.edges, benchIP, BaseTime)
	seedLite := true
	if got, err := os.ReadFile(marker); err == nil && string(got) == want {
		seedLite = false
	} else {
		for _, suffix := range []string{"", "-wal", "-shm", ".done"} {
			if err := os.Remove(c.sqlitePath + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	lite, err := sqlite.Open(ctx, c.sqlitePath)
	if err != nil {
		return fmt.Errorf("open SQLite: %w", err)
	}
	defer lite.Close()

	var seeds []seedResult
	var mu sync.Mutex
	var wg sync.WaitGroup
	var seedErr error
	seed := func(name string, s filetrail.Store) {
		defer wg.Done()
		r, err := seedStore(ctx, name, s, c.edges, c.batch)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			seedErr = errors.Join(seedErr, fmt.Errorf("seed %s: %w", name, err))
			return
		}
		seeds = append(seeds, r)
	}
	if c.seedPG {
		wg.Add(1)
		go seed("PostgreSQL", pg)
	}
	if seedLite {
		wg.Add(1)
		go seed("SQLite", lite)
	}
	wg.Wait()
	if seedErr != nil {
		return seedErr
	}
	if seedLite {
		if err := os.WriteFile(marker, []byte(want), 0o644); err != nil {
			return err
		}
	}

	stores := []namedStore{{"PostgreSQL", pg}, {"SQLite", lite}}
	for _, st := range stores {
		if err := checkStore(ctx, st, c.edges, c.deepAfter); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	fmt.Fprintln(os.Stderr, "pgbench: both stores hold the dataset; measuring")

	var rows []result
	for _, lim := range c.limits {
		for _, pos := range positions(c) {
			for _, st := range stores {
				r, err := measureStore(ctx, st, pos, lim, c.iters)
				if err != nil {
					return err
				}
				rows = append(rows, r)
				fmt.Fprintf(os.Stderr, "pgbench: %s\n", r.line())
			}
		}
	}
	httpRows, same, err := measureHTTP(ctx, c, stores)
	if err != nil {
		return err
	}
	rows = append(rows, httpRows...)
	return os.WriteFile(c.out, []byte(render(c, seeds, rows, same)), 0o644)
}

type namedStore struct {
	name string
	s    filetrail.Store
}

// fileHashes returns file j's sha256 and md5 (hex).
func fileHashes(j int) (sha, md string) {
	label := "pgbench-" + strconv.Itoa(j)
	s := sha256.Sum256([]byte(label))
	m := md5.Sum([]byte(label))
	return hex.EncodeToString(s[:]), hex.EncodeToString(m[:])
}

// sighting returns the one sighting of file j.
func sighting(j int) filetrail.Sighting {
	sha, md := fileHashes(j)
	return filetrail.Sighting{IP: benchIP, SHA256: sha, MD5: md,
		URL: fmt.Sprintf("http://%s/d/%d.exe", benchIP, j), FileName: fmt.Sprintf("%d.exe", j),
		Size: int64(1000 + j), SeenAt: BaseTime + int64(j), Source: "bench"}
}

// cursorAfter returns the cursor after the first n items of the list
// (n >= 1): the n-th item is file edges-n.
func cursorAfter(edges, n int) *filetrail.Cursor {
	j := edges - n
	sha, _ := fileHashes(j)
	return &filetrail.Cursor{Kind: filetrail.CursorFiles, Time: BaseTime + int64(j), ID: sha}
}

type seedResult struct {
	store    string
	edges    int
	batch    int
	duration time.Duration
}

// seedStore applies the dataset's sightings in batches of batch records.
func seedStore(ctx context.Context, name string, s filetrail.Store, edges, batch int) (seedResult, error) {
	start := time.Now()
	last := start
	for i := 0; i < edges; i += batch {
		b := &filetrail.Batch{}
		for j := i; j < min(i+batch, edges); j++ {
			b.Sightings = append(b.Sightings, sighting(j))
		}
		if _, err := s.Apply(ctx, b); err != nil {
			return seedResult{}, err
		}
		if time.Since(last) > 30*time.Second {
			last = time.Now()
			done := min(i+batch, edges)
			fmt.Fprintf(os.Stderr, "pgbench: seeding %s: %d/%d sightings, %.0f/s\n", name, done, edges, float64(done)/time.Since(start).Seconds())
		}
	}
	r := seedResult{store: name, edges: edges, batch: batch, duration: time.Since(start)}
	fmt.Fprintf(os.Stderr, "pgbench: seeded %s: %d sightings in %s (%.0f/s)\n", name, edges, r.duration.Round(time.Second), float64(edges)/r.duration.Seconds())
	return r, nil
}

// checkStore verifies that the store holds the dataset and that the
// computed deep cursor is the one the store hands out.
func checkStore(ctx context.Context, st namedStore, edges, deepAfter int) error {
	sum, err := st.s.IPSummary(ctx, benchIP)
	if err != nil {
		return err
	}
	if sum.FileCount != int64(edges) {
		return fmt.Errorf("IP %s has %d files, want %d (stale or partial store?)", benchIP, sum.FileCount, edges)
	}
	p, err := st.s.DownloadedFiles(ctx, benchIP, filetrail.PageRequest{Limit: 1}, filetrail.WithoutAttributes)
	if err != nil {
		return err
	}
	if sha, _ := fileHashes(edges - 1); len(p.Items) != 1 || p.Items[0].FileID != sha {
		return fmt.Errorf("first item is not file %d", edges-1)
	}
	// The page of one item after deepAfter-1 items must be file
	// edges-deepAfter and end at the computed cursor.
	req := filetrail.PageRequest{Limit: 1}
	if deepAfter > 1 {
		req.After = cursorAfter(edges, deepAfter-1)
	}
	p, err = st.s.DownloadedFiles(ctx, benchIP, req, filetrail.WithoutAttributes)
	if err != nil {
		return err
	}
	want := cursorAfter(edges, deepAfter)
	if len(p.Items) != 1 || p.Items[0].FileID != want.ID || p.Next == nil || *p.Next != *want {
		return fmt.Errorf("item %d is not file %d or its cursor differs from the computed one", deepAfter, edges-deepAfter)
	}
	return nil
}

type position struct {
	name  string
	after *filetrail.Cursor
	first int // index j of the page's first file
}

func positions(c config) []position {
	return []position{
		{"first", nil, c.edges - 1},
		{fmt.Sprintf("deep (after %d items)", c.deepAfter), cursorAfter(c.edges, c.deepAfter), c.edges - c.deepAfter - 1},
	}
}

type result struct {
	via, store, page string
	limit            int
	n                int
	lat              []time.Duration // sorted
	bytes            int             // HTTP body size
}

func (r result) pct(p float64) time.Duration {
	i := int(p*float64(len(r.lat))+0.5) - 1
	return r.lat[max(0, min(i, len(r.lat)-1))]
}

func (r result) mean() time.Duration {
	var t time.Duration
	for _, d := range r.lat {
		t += d
	}
	return t / time.Duration(len(r.lat))
}

func (r result) line() string {
	return fmt.Sprintf("%s %s %s limit %d: p50 %s p99 %s (n=%d)", r.via, r.store, r.page, r.limit, ms(r.pct(0.5)), ms(r.pct(0.99)), r.n)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }

// warmup is how many untimed reads precede each scenario's timed ones.
func warmup(n int) int { return min(50, max(1, n/10)) }

func measureStore(ctx context.Context, st namedStore, pos position, limit, iters int) (result, error) {
	req := filetrail.PageRequest{Limit: limit, After: pos.after}
	wantFirst, _ := fileHashes(pos.first)
	read := func() error {
		p, err := st.s.DownloadedFiles(ctx, benchIP, req, filetrail.WithAttributes)
		if err != nil {
			return err
		}
		if len(p.Items) != limit || p.Items[0].FileID != wantFirst || len(p.Items[0].Attributes) == 0 {
			return fmt.Errorf("%s %s page: %d items, want %d starting at file %d with attributes", st.name, pos.name, len(p.Items), limit, pos.first)
		}
		return nil
	}
	for range warmup(iters) {
		if err := read(); err != nil {
			return result{}, err
		}
	}
	lat := make([]time.Duration, 0, iters)
	for range iters {
		t := time.Now()
		if err := read(); err != nil {
			return result{}, err
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	return result{via: "store", store: st.name, page: pos.name, limit: limit, n: iters, lat: lat}, nil
}

// measureHTTP serves each store with vtapi on a loopback listener and
// times GET downloaded_files pages with a net/http client. It reports
// whether both stores answered every page with the same bytes.
func measureHTTP(ctx context.Context, c config, stores []namedStore) ([]result, bool, error) {
	bodies := map[string][]byte{}
	same := true
	var rows []result
	for _, st := range stores {
		secret := filetrail.NewSecret()
		k := filetrail.Key{ID: "pgbench-" + secret[:16], Name: "pgbench-" + secret[:16], SecretHash: filetrail.HashSecret(secret),
			Premium: true, CreatedAt: time.Now().Unix()}
		if err := st.s.CreateKey(ctx, k); err != nil {
			return nil, false, fmt.Errorf("%s: create key: %w", st.name, err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, false, err
		}
		base := "http://" + ln.Addr().String()
		srv := &http.Server{Handler: vtapi.New(st.s, vtapi.Options{PublicURL: "http://filetrail.bench"})}
		go func() { _ = srv.Serve(ln) }()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: time.Minute}
		for _, lim := range c.limits {
			for _, pos := range positions(c) {
				url := fmt.Sprintf("%s/api/v3/ip_addresses/%s/downloaded_files?limit=%d", base, benchIP, lim)
				if pos.after != nil {
					url += "&cursor=" + pos.after.Encode()
				}
				r, body, err := measureURL(client, url, secret, c.httpIters)
				if err != nil {
					_ = srv.Close()
					return nil, false, fmt.Errorf("%s %s limit %d: %w", st.name, pos.name, lim, err)
				}
				r.store, r.page, r.limit = st.name, pos.name, lim
				wantFirst, _ := fileHashes(pos.first)
				if !strings.Contains(string(body), `"id":"`+wantFirst+`"`) && !strings.Contains(string(body), `"id": "`+wantFirst+`"`) {
					_ = srv.Close()
					return nil, false, fmt.Errorf("%s %s limit %d: body lacks file %d", st.name, pos.name, lim, pos.first)
				}
				key := fmt.Sprintf("%s/%d", pos.name, lim)
				if prev, ok := bodies[key]; ok && string(prev) != string(body) {
					same = false
				}
				bodies[key] = body
				rows = append(rows, r)
				fmt.Fprintf(os.Stderr, "pgbench: %s\n", r.line())
			}
		}
		_ = srv.Close()
	}
	return rows, same, nil
}

func measureURL(client *http.Client, url, secret string, iters int) (result, []byte, error) {
	var body []byte
	get := func() error {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("x-apikey", secret)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, b)
		}
		body = b
		return nil
	}
	for range warmup(iters) {
		if err := get(); err != nil {
			return result{}, nil, err
		}
	}
	lat := make([]time.Duration, 0, iters)
	for range iters {
		t := time.Now()
		if err := get(); err != nil {
			return result{}, nil, err
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	if !json.Valid(body) {
		return result{}, nil, errors.New("response is not JSON")
	}
	return result{via: "HTTP", n: iters, lat: lat, bytes: len(body)}, body, nil
}

// render writes the markdown tables: seeding, then page latency with
// PostgreSQL and SQLite side by side.
func render(c config, seeds []seedResult, rows []result, same bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#### Page latency, %d edges\n\n", c.edges)
	fmt.Fprintf(&b, "One client, one request at a time; each figure is over %d timed store reads or %d timed HTTP requests, after %d (store) / %d (HTTP) untimed warm-up reads. Pages carry attributes (the full `downloaded_files` form). The deep page is the one after %d items (page %d at limit 40, page %d at limit 10), reached with its cursor.\n\n",
		c.iters, c.httpIters, warmup(c.iters), warmup(c.httpIters), c.deepAfter, c.deepAfter/40+1, c.deepAfter/10+1)
	b.WriteString("| Via | Page | Limit | PostgreSQL p50 | PostgreSQL p99 | PostgreSQL mean | SQLite p50 | SQLite p99 | SQLite mean | PG p50 / SQLite p50 | Body bytes |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	find := func(via, store, page string, limit int) (result, bool) {
		for _, r := range rows {
			if r.via == via && r.store == store && r.page == page && r.limit == limit {
				return r, true
			}
		}
		return result{}, false
	}
	for _, via := range []string{"store", "HTTP"} {
		for _, pos := range positions(c) {
			for _, lim := range c.limits {
				p, ok1 := find(via, "PostgreSQL", pos.name, lim)
				s, ok2 := find(via, "SQLite", pos.name, lim)
				if !ok1 || !ok2 {
					continue
				}
				size := "–"
				if via == "HTTP" {
					size = strconv.Itoa(p.bytes)
				}
				fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %.2f× | %s |\n", via, pos.name, lim,
					ms(p.pct(0.5)), ms(p.pct(0.99)), ms(p.mean()), ms(s.pct(0.5)), ms(s.pct(0.99)), ms(s.mean()),
					float64(p.pct(0.5))/float64(s.pct(0.5)), size)
			}
		}
	}
	if same {
		b.WriteString("\nThrough HTTP, PostgreSQL and SQLite answered every page above with byte-identical bodies.\n")
	} else {
		b.WriteString("\n**Through HTTP, PostgreSQL and SQLite answered some page with different bodies.**\n")
	}
	if len(seeds) > 0 {
		b.WriteString("\n#### Seeding of the page stores (this run)\n\n")
		b.WriteString("| Store | Sightings | Batch | Time | Sightings/s |\n|---|---:|---:|---:|---:|\n")
		slices.SortFunc(seeds, func(x, y seedResult) int { return strings.Compare(x.store, y.store) })
		for _, s := range seeds {
			fmt.Fprintf(&b, "| %s | %d | %d | %s | %.0f |\n", s.store, s.edges, s.batch, s.duration.Round(time.Second), float64(s.edges)/s.duration.Seconds())
		}
		if len(seeds) == 2 {
			b.WriteString("\nBoth stores were seeded at the same time (concurrently), so each rate is depressed by the other.\n")
		}
	}
	return b.String()
}

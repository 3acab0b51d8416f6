package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/store/postgres"
	"github.com/filetrail/filetrail/store/sqlite"
)

// Sizes of the benchmarks, small by default so that `go test -bench .`
// stays quick; bench/ sets them larger through the environment.
//
//	FILETRAIL_BENCH_SIGHTINGS  sightings ingested by BenchmarkApply and BenchmarkPlainCopy (20000)
//	FILETRAIL_BENCH_BATCH      records per batch (2000)
//	FILETRAIL_BENCH_EDGES      edges of the big IP in BenchmarkPage (20000)
func benchSize(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// rebatch puts the workload's records in batches of size records.
func rebatch(w workload, size int) []*filetrail.Batch {
	var out []*filetrail.Batch
	cur := &filetrail.Batch{}
	flush := func() {
		if cur.Len() >= size {
			out = append(out, cur)
			cur = &filetrail.Batch{}
		}
	}
	for _, b := range w.batches {
		for _, s := range b.Sightings {
			cur.Sightings = append(cur.Sightings, s)
			flush()
		}
		for _, f := range b.Files {
			cur.Files = append(cur.Files, f)
			flush()
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur)
	}
	return out
}

func countSightings(bs []*filetrail.Batch) int {
	n := 0
	for _, b := range bs {
		n += len(b.Sightings)
	}
	return n
}

// BenchmarkApply ingests a workload into an empty database with each way
// of writing sets of rows (arrays, copy), and into SQLite as the peer, and
// reports sightings per second.
func BenchmarkApply(b *testing.B) {
	n := benchSize(b, "FILETRAIL_BENCH_SIGHTINGS", 20000)
	w := newWorkload(b, 3, n, max(n/10, 10), max(n/100, 4))
	batches := rebatch(w, benchSize(b, "FILETRAIL_BENCH_BATCH", 2000))
	sightings := countSightings(batches)
	for _, mode := range []string{"arrays", "copy", "sqlite"} {
		b.Run(mode, func(b *testing.B) {
			var elapsed time.Duration
			for i := range b.N {
				b.StopTimer()
				var s filetrail.Store
				switch mode {
				case "sqlite": // the peer: the same batches into the embedded store
					lite, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), fmt.Sprintf("apply-%d.db", i)))
					if err != nil {
						b.Fatal(err)
					}
					s = lite
				case "copy":
					pg := openStore(b)
					postgres.UseCopyForTest(pg)
					s = pg
				default:
					s = openStore(b)
				}
				b.StartTimer()
				start := time.Now()
				for _, batch := range batches {
					if _, err := s.Apply(b.Context(), batch); err != nil {
						b.Fatal(err)
					}
				}
				elapsed += time.Since(start)
				b.StopTimer()
				s.Close()
			}
			b.ReportMetric(float64(sightings*b.N)/elapsed.Seconds(), "sightings/s")
		})
	}
}

// ingestTables are the tables an Apply writes.
var ingestTables = []string{"ip_stats", "edges", "evidence", "files", "file_facts", "file_names", "hashes"}

// BenchmarkPlainCopy is BenchmarkApply's peer: it loads the rows that
// ingesting the same workload leaves in the tables, with one plain COPY per
// table into the same (emptied) tables. It reports the same sightings per
// second, as if the workload had been ingested that fast.
func BenchmarkPlainCopy(b *testing.B) {
	n := benchSize(b, "FILETRAIL_BENCH_SIGHTINGS", 20000)
	w := newWorkload(b, 3, n, max(n/10, 10), max(n/100, 4))
	batches := rebatch(w, benchSize(b, "FILETRAIL_BENCH_BATCH", 2000))
	sightings := countSightings(batches)
	s := openStore(b)
	defer s.Close()
	for _, batch := range batches {
		if _, err := s.Apply(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	ctx := b.Context()
	conn, err := postgres.PoolForTest(s).Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	pc := conn.Conn().PgConn()
	data := map[string][]byte{}
	rows := 0
	for _, t := range ingestTables {
		var buf bytes.Buffer
		tag, err := pc.CopyTo(ctx, &buf, "COPY "+t+" TO STDOUT")
		if err != nil {
			b.Fatal(err)
		}
		data[t] = buf.Bytes()
		rows += int(tag.RowsAffected())
	}
	b.ResetTimer()
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		for _, t := range ingestTables {
			if _, err := pc.Exec(ctx, "TRUNCATE "+t).ReadAll(); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		if _, err := pc.Exec(ctx, "BEGIN").ReadAll(); err != nil {
			b.Fatal(err)
		}
		for _, t := range ingestTables {
			if _, err := pc.CopyFrom(ctx, bytes.NewReader(data[t]), "COPY "+t+" FROM STDIN"); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := pc.Exec(ctx, "COMMIT").ReadAll(); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(sightings*b.N)/elapsed.Seconds(), "sightings/s")
	b.ReportMetric(float64(rows*b.N)/elapsed.Seconds(), "rows/s")
}

// BenchmarkPage reads the first page and a deep page (90% down) of the
// downloaded_files of one IP with many edges, 40 items with attributes, on
// PostgreSQL and on SQLite loaded with the same batches.
func BenchmarkPage(b *testing.B) {
	edges := benchSize(b, "FILETRAIL_BENCH_EDGES", 20000)
	ip := netip.MustParseAddr("198.51.100.7")
	var batches []*filetrail.Batch
	for i := 0; i < edges; i += 5000 {
		batch := &filetrail.Batch{}
		for j := i; j < min(i+5000, edges); j++ {
			h := labelHashes(fmt.Sprintf("page-%d", j))
			batch.Sightings = append(batch.Sightings, filetrail.Sighting{IP: ip, SHA256: h.SHA256, MD5: h.MD5,
				URL: fmt.Sprintf("http://198.51.100.7/d/%d.exe", j), FileName: fmt.Sprintf("%d.exe", j), Size: int64(1000 + j),
				SeenAt: 1_700_000_000 + int64(j/3), Source: "bench"})
		}
		batches = append(batches, batch)
	}
	pg := openStore(b)
	defer pg.Close()
	lite, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "page.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer lite.Close()
	for _, s := range []filetrail.Store{pg, lite} {
		for _, batch := range batches {
			if _, err := s.Apply(b.Context(), batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	var total int64
	for _, t := range ingestTables {
		var n int64
		if err := postgres.PoolForTest(pg).QueryRow(b.Context(), `SELECT pg_total_relation_size($1::regclass)`, t).Scan(&n); err != nil {
			b.Fatal(err)
		}
		total += n
		b.Logf("%-10s %8.1f KiB", t, float64(n)/1024)
	}
	b.Logf("PostgreSQL: %d edges in %.1f MiB, %.0f bytes per edge (tables and indexes)", edges, float64(total)/(1<<20), float64(total)/float64(edges))

	// The cursor 90% down the list, found by walking the pages once.
	var deep *filetrail.Cursor
	req := filetrail.PageRequest{Limit: filetrail.MaxPageLimit}
	for seen := 0; seen < edges*9/10; {
		p, err := pg.DownloadedFiles(b.Context(), ip, req, filetrail.WithoutAttributes)
		if err != nil || p.Next == nil {
			b.Fatalf("walking to the deep page: %v", err)
		}
		seen += len(p.Items)
		req.After, deep = p.Next, p.Next
	}
	for _, st := range []struct {
		name string
		s    filetrail.Store
	}{{"postgres", pg}, {"sqlite", lite}} {
		for _, pos := range []struct {
			name  string
			after *filetrail.Cursor
		}{{"first", nil}, {"deep", deep}} {
			b.Run(st.name+"/"+pos.name, func(b *testing.B) {
				ctx := context.Background()
				for range b.N {
					p, err := st.s.DownloadedFiles(ctx, ip, filetrail.PageRequest{Limit: filetrail.MaxPageLimit, After: pos.after}, filetrail.WithAttributes)
					if err != nil || len(p.Items) != filetrail.MaxPageLimit {
						b.Fatalf("page: %d items, %v", len(p.Items), err)
					}
				}
			})
		}
	}
}

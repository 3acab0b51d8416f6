// Command seed builds the benchmark store: real VirusTotal file documents
// (the templates in testdata/vt-file-objects) under derived hashes, served
// by a few big IPs with a million files each and many small IPs with a
// power-law handful. It writes through the store's own Apply in large
// batches, and is deterministic: the same flags give the same facts.
//
// Usage:
//
//	seed gen -out PATH [dataset flags]       build the store (reused when PATH.manifest.json matches)
//	seed cursor -after P [dataset flags]     print the cursor after the first P items of big IP 0
//	seed ip [-big J]                         print the address of big IP J
//	seed small -n N [dataset flags]          print N small IPs, sampled: "K ADDRESS EDGES" lines
//
// The dataset flags are listed by `seed gen -h`.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/bench/dataset"
	"github.com/filetrail/filetrail/store/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage: seed gen|cursor|ip|small [flags] (see -h)")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	fs := flag.NewFlagSet("seed "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "gen":
		dp := datasetFlags(fs)
		out := fs.String("out", "", "store file to create (required)")
		batch := fs.Int("batch", 500, "files per transaction")
		workers := fs.Int("workers", 2, "concurrent Apply calls")
		force := fs.Bool("force", false, "overwrite an existing file that is not a seeded store")
		if err := fs.Parse(args[1:]); err != nil {
			return errUsage
		}
		if *out == "" || *batch < 1 || *workers < 1 {
			return fmt.Errorf("%w: gen needs -out and a positive -batch and -workers", errUsage)
		}
		d, err := dp()
		if err != nil {
			return err
		}
		return generate(ctx, d, *out, *batch, *workers, *force, stderr)
	case "cursor":
		dp := datasetFlags(fs)
		after := fs.Int("after", 0, "items already read (1..edges-1)")
		big := fs.Int("big", 0, "which big IP")
		if err := fs.Parse(args[1:]); err != nil {
			return errUsage
		}
		d, err := dp()
		if err != nil {
			return err
		}
		if *big < 0 || *big >= d.P.BigIPs {
			return fmt.Errorf("-big must be 0..%d", d.P.BigIPs-1)
		}
		c, err := d.CursorAfter(*big, *after)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, c.Encode())
		return err
	case "ip":
		big := fs.Int("big", 0, "which big IP")
		if err := fs.Parse(args[1:]); err != nil {
			return errUsage
		}
		_, err := fmt.Fprintln(stdout, dataset.BigIP(*big))
		return err
	case "small":
		dp := datasetFlags(fs)
		n := fs.Int("n", 1000, "small IPs to list (all of them when there are fewer)")
		if err := fs.Parse(args[1:]); err != nil {
			return errUsage
		}
		if *n < 1 {
			return fmt.Errorf("%w: small needs -n >= 1", errUsage)
		}
		d, err := dp()
		if err != nil {
			return err
		}
		return listSmall(d, *n, stdout)
	}
	return errUsage
}

// listSmall writes n small IPs of the dataset, sampled without repetition by
// a generator seeded from the dataset seed (the same flags list the same
// IPs, in the same order), one "K ADDRESS EDGES" line each: the IP's index,
// its address and how many files it serves.
func listSmall(d *dataset.Dataset, n int, w io.Writer) error {
	ks := rand.New(rand.NewPCG(d.P.Seed, 0x5a11)).Perm(d.P.SmallIPs)
	bw := bufio.NewWriter(w)
	for _, k := range ks[:min(n, len(ks))] {
		fmt.Fprintf(bw, "%d %s %d\n", k, dataset.SmallIP(k), len(d.SmallSightings(k)))
	}
	return bw.Flush()
}

// datasetFlags registers the dataset flags on fs and returns the function
// that builds the dataset once fs is parsed.
func datasetFlags(fs *flag.FlagSet) func() (*dataset.Dataset, error) {
	var p dataset.Params
	fs.Uint64Var(&p.Seed, "seed", 1, "random seed")
	fs.IntVar(&p.BigEdges, "edges", 1_000_000, "files served by each big IP")
	fs.IntVar(&p.BigIPs, "big-ips", 1, "IPs serving -edges files each")
	fs.IntVar(&p.SmallIPs, "small-ips", 10_000, "IPs serving a power-law handful of files each")
	fs.IntVar(&p.SmallMaxEdges, "small-max", 1_000, "most files of a small IP (capped at -files)")
	fs.Float64Var(&p.SmallZipfS, "zipf", 2, "Zipf exponent of the small IPs' file counts (> 1)")
	fs.IntVar(&p.Files, "files", 0, "distinct file documents (0: same as -edges)")
	fs.IntVar(&p.MinDocBytes, "min-doc-bytes", 10_240, "pad smaller documents up to this many bytes")
	templates := fs.String("templates", "testdata/vt-file-objects", "directory of VT file objects (*.json)")
	return func() (*dataset.Dataset, error) {
		if p.Files == 0 {
			p.Files = max(p.BigEdges, 1)
		}
		p.SmallMaxEdges = min(p.SmallMaxEdges, p.Files)
		return dataset.NewDataset(p, *templates)
	}
}

func writeManifest(path string, m dataset.Manifest) error {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := dataset.ManifestPath(path) + ".tmp"
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, dataset.ManifestPath(path))
}

func removeStore(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm", dataset.ManifestPath(path)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// generate seeds the store at path, unless a complete store of the same
// dataset is already there.
func generate(ctx context.Context, d *dataset.Dataset, path string, batch, workers int, force bool, log io.Writer) error {
	if _, err := os.Stat(path); err == nil {
		m, merr := dataset.ReadManifest(path)
		switch {
		case merr == nil && m.Complete && m.Fingerprint == d.Fingerprint():
			fmt.Fprintf(log, "seed: reusing %s (dataset %s)\n", path, m.Fingerprint)
			return nil
		case merr != nil && !force:
			return fmt.Errorf("%s exists and is not a seeded store (no manifest): remove it or pass -force", path)
		}
		fmt.Fprintf(log, "seed: %s holds another or an unfinished dataset: rebuilding\n", path)
	}
	if err := removeStore(path); err != nil {
		return err
	}
	m := dataset.Manifest{Fingerprint: d.Fingerprint(), Params: d.P, StoreSchema: sqlite.LatestSchemaVersion(), Files: d.P.Files, GoVersion: runtime.Version()}
	for j := range d.P.BigIPs {
		m.BigIPs = append(m.BigIPs, dataset.BigIP(j).String())
	}
	if err := writeManifest(path, m); err != nil {
		return err
	}
	start := time.Now()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	stats, err := load(ctx, d, s, batch, workers, log)
	if err == nil {
		err = verify(ctx, d, s)
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	m.Complete = true
	m.BigEdges, m.SmallEdges = stats.bigEdges, stats.smallEdges
	m.DocBytesMin, m.DocBytesMax = stats.docMin, stats.docMax
	m.DocBytesAvg = int(stats.docTotal / int64(max(stats.docs, 1)))
	m.Seconds = time.Since(start).Seconds()
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			m.StoreBytes += fi.Size()
		}
	}
	fmt.Fprintf(log, "seed: done in %.0fs: %d files, %d big-IP edges, %d small-IP edges, %.1f MB\n",
		m.Seconds, m.Files, m.BigEdges, m.SmallEdges, float64(m.StoreBytes)/1e6)
	return writeManifest(path, m)
}

type loadStats struct {
	bigEdges, smallEdges int
	docs                 int
	docMin, docMax       int
	docTotal             int64
}

// load generates the batches on one goroutine and applies them on workers
// goroutines.
func load(ctx context.Context, d *dataset.Dataset, s filetrail.EvidenceWriter, batch, workers int, log io.Writer) (loadStats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan *filetrail.Batch, 2)
	var st loadStats
	st.docMin = int(^uint(0) >> 1)
	go func() {
		defer close(batches)
		send := func(b *filetrail.Batch) bool {
			select {
			case batches <- b:
				return true
			case <-ctx.Done():
				return false
			}
		}
		// Files, each with its big-IP sightings: a file's report and its
		// edges land in one transaction.
		for lo := 0; lo < d.P.Files; lo += batch {
			b := &filetrail.Batch{}
			for i := lo; i < min(lo+batch, d.P.Files); i++ {
				f := d.Fact(i)
				n := len(f.Attributes)
				st.docs++
				st.docTotal += int64(n)
				st.docMin, st.docMax = min(st.docMin, n), max(st.docMax, n)
				b.Files = append(b.Files, f)
				if i < d.P.BigEdges {
					for j := range d.P.BigIPs {
						b.Sightings = append(b.Sightings, d.BigSighting(j, i))
					}
				}
			}
			if !send(b) {
				return
			}
		}
		b := &filetrail.Batch{}
		for k := range d.P.SmallIPs {
			b.Sightings = append(b.Sightings, d.SmallSightings(k)...)
			if len(b.Sightings) >= batch*4 || k == d.P.SmallIPs-1 {
				if !send(b) {
					return
				}
				b = &filetrail.Batch{}
			}
		}
	}()
	// Apply validates and prepares a batch before it takes the store's
	// single writer, so two appliers keep both of them busy.
	var (
		mu                 sync.Mutex
		files, sightings   int
		firstErr           error
		wg                 sync.WaitGroup
		start, lastLogTime = time.Now(), time.Now()
	)
	for range workers {
		wg.Go(func() {
			for b := range batches {
				if _, err := s.Apply(ctx, b); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("apply: %w", err)
					}
					mu.Unlock()
					cancel()
					continue // drain
				}
				mu.Lock()
				files += len(b.Files)
				sightings += len(b.Sightings)
				if time.Since(lastLogTime) > 10*time.Second {
					lastLogTime = time.Now()
					el := time.Since(start).Seconds()
					fmt.Fprintf(log, "seed: %d/%d files, %d sightings, %.0f files/s, %.0fs\n", files, d.P.Files, sightings, float64(files)/el, el)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return loadStats{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return loadStats{}, err
	}
	// The generator closed the channel: its writes to st are visible.
	st.bigEdges = d.P.BigIPs * d.P.BigEdges
	st.smallEdges = sightings - st.bigEdges
	return st, nil
}

// verify checks the store agrees with the dataset's model of it: each big
// IP's count, and that the cursor built by CursorAfter lands where a client
// following pages would be.
func verify(ctx context.Context, d *dataset.Dataset, s filetrail.EvidenceReader) error {
	for j := range d.P.BigIPs {
		sum, err := s.IPSummary(ctx, dataset.BigIP(j))
		if err != nil {
			return err
		}
		if sum.FileCount != int64(d.P.BigEdges) {
			return fmt.Errorf("verify: big IP %s has %d files, want %d", dataset.BigIP(j), sum.FileCount, d.P.BigEdges)
		}
	}
	if d.P.BigIPs == 0 || d.P.BigEdges < 3 {
		return nil
	}
	first, err := s.DownloadedFiles(ctx, dataset.BigIP(0), filetrail.PageRequest{Limit: 2}, filetrail.WithoutAttributes)
	if err != nil {
		return err
	}
	want, _ := d.CursorAfter(0, 2)
	if len(first.Items) != 2 || first.Items[0].FileID != d.Hashes(0).SHA256 || first.Next == nil || *first.Next != want {
		return fmt.Errorf("verify: first page of %s does not match the dataset model", dataset.BigIP(0))
	}
	p := d.P.BigEdges / 2
	c, _ := d.CursorAfter(0, p)
	deep, err := s.DownloadedFiles(ctx, dataset.BigIP(0), filetrail.PageRequest{Limit: 1, After: &c}, filetrail.WithoutAttributes)
	if err != nil {
		return err
	}
	if len(deep.Items) != 1 || deep.Items[0].FileID != d.Hashes(p).SHA256 || deep.Items[0].FirstSeen != d.BigSeenAt(0, p) {
		return fmt.Errorf("verify: page after item %d of %s does not match the dataset model", p, dataset.BigIP(0))
	}
	return nil
}

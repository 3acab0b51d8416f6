package sqlite

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"net/netip"
	"testing"

	"github.com/filetrail/filetrail"
)

var benchEdges = flag.Int("bench.edges", 200_000, "edges of the IP that BenchmarkDownloadedFiles pages through")

// benchHash is a distinct sha256 for each n.
func benchHash(seed string, n int) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	sum := sha256.Sum256(append([]byte(seed), b[:]...))
	return hex.EncodeToString(sum[:])
}

// benchBatch is a batch of n sightings of distinct files (numbered from
// first) on 50 IPs, each with a URL, a name and a size.
func benchBatch(seed string, first, n int) *filetrail.Batch {
	b := &filetrail.Batch{Sightings: make([]filetrail.Sighting, n)}
	for i := range n {
		k := first + i
		b.Sightings[i] = filetrail.Sighting{
			IP:       netip.AddrFrom4([4]byte{10, 1, byte(k % 50), 1}),
			URL:      fmt.Sprintf("http://dl.example/%d/payload.exe", k%1000),
			SHA256:   benchHash(seed, k),
			Size:     int64(1000 + k%5000),
			FileName: "payload.exe",
			SeenAt:   1_700_000_000 + int64(k%86400),
			Source:   "suricata",
		}
	}
	return b
}

// BenchmarkApply applies batches of 1000 sightings of new files (new edges,
// new files) and reports sightings per second.
func BenchmarkApply(b *testing.B) {
	s := openTemp(b)
	const batch = 1000
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Apply(b.Context(), benchBatch("apply", i*batch, batch)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "sightings/s")
}

// BenchmarkApplyRepeat re-applies the same 1000 sightings: existing edges
// and files, nothing new.
func BenchmarkApplyRepeat(b *testing.B) {
	s := openTemp(b)
	const batch = 1000
	bt := benchBatch("repeat", 0, batch)
	if _, err := s.Apply(b.Context(), bt); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Apply(b.Context(), bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "sightings/s")
}

// BenchmarkDownloadedFiles reads a 40-item page, with attributes, of an IP
// with -bench.edges edges: the first page, one in the middle and the last
// (reached with a cursor, as a client iterating would).
func BenchmarkDownloadedFiles(b *testing.B) {
	s := openTemp(b)
	ip := netip.MustParseAddr("192.0.2.77")
	const batch = 5000
	for first := 0; first < *benchEdges; first += batch {
		bt := benchBatch("deep", first, min(batch, *benchEdges-first))
		for i := range bt.Sightings {
			bt.Sightings[i].IP = ip
			bt.Sightings[i].SeenAt = 1_600_000_000 + int64(first+i)
		}
		if _, err := s.Apply(b.Context(), bt); err != nil {
			b.Fatal(err)
		}
	}
	// Edge k has first_seen 1_600_000_000+k: the newest come first, and
	// the cursor of edge k starts the page of edges k-1, k-2, ...
	at := func(k int) *filetrail.Cursor {
		return &filetrail.Cursor{Kind: filetrail.CursorFiles, Time: 1_600_000_000 + int64(k), ID: benchHash("deep", k)}
	}
	for _, c := range []struct {
		name  string
		after *filetrail.Cursor
	}{{"first", nil}, {"middle", at(*benchEdges / 2)}, {"last", at(filetrail.MaxPageLimit)}} {
		b.Run(c.name, func(b *testing.B) {
			req := filetrail.PageRequest{Limit: filetrail.MaxPageLimit, After: c.after}
			for b.Loop() {
				p, err := s.DownloadedFiles(b.Context(), ip, req, filetrail.WithAttributes)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Items) != filetrail.MaxPageLimit || p.Count != int64(*benchEdges) {
					b.Fatalf("page of %d items, count %d", len(p.Items), p.Count)
				}
			}
		})
	}
}

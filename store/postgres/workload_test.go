package postgres_test

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/filetrail/filetrail"
)

// workload is a reproducible set of batches: sightings of files by IPs
// (IPv4, IPv6, IPv4-mapped IPv6, none), files first known by md5 or sha1
// then linked to their sha256, and file facts of every origin, some of
// them real VirusTotal reports.
type workload struct {
	batches []*filetrail.Batch
	ips     []netip.Addr
	files   []filetrail.Hashes
}

// labelHashes returns the real hashes of label's bytes.
func labelHashes(label string) filetrail.Hashes {
	s256 := sha256.Sum256([]byte(label))
	s1 := sha1.Sum([]byte(label))
	m := md5.Sum([]byte(label))
	return filetrail.Hashes{SHA256: hex.EncodeToString(s256[:]), SHA1: hex.EncodeToString(s1[:]), MD5: hex.EncodeToString(m[:])}
}

// vtReports returns the attributes of the real VT file reports in testdata.
func vtReports(t testing.TB) []json.RawMessage {
	t.Helper()
	paths, err := filepath.Glob("../../testdata/vt-file-objects/*.json")
	if err != nil {
		t.Fatal(err)
	}
	report := regexp.MustCompile(`/[0-9a-f]{64}\.json$`)
	var out []json.RawMessage
	for _, p := range paths {
		if !report.MatchString(p) {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Data struct {
				Attributes json.RawMessage `json:"attributes"`
			} `json:"data"`
		}
		if err := json.Unmarshal(b, &doc); err != nil || len(doc.Data.Attributes) == 0 {
			t.Fatalf("%s: not a VT file object: %v", p, err)
		}
		out = append(out, doc.Data.Attributes)
	}
	if len(out) < 2 {
		t.Fatalf("found %d VT file reports in testdata/vt-file-objects, want at least 2", len(out))
	}
	return out
}

// newWorkload builds a workload of about n sightings over nFiles files and
// nIPs IPs, from seed.
func newWorkload(t testing.TB, seed uint64, n, nFiles, nIPs int) workload {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	reports := vtReports(t)
	var w workload
	for i := range nIPs {
		switch i % 4 {
		case 0, 1:
			w.ips = append(w.ips, netip.AddrFrom4([4]byte{198, 51, byte(i / 250), byte(i%250 + 1)}))
		case 2:
			w.ips = append(w.ips, netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i+1)))
		case 3:
			w.ips = append(w.ips, netip.MustParseAddr(fmt.Sprintf("::ffff:203.0.113.%d", i%250+1))) // stored unmapped
		}
	}
	for i := range nFiles {
		w.files = append(w.files, labelHashes(fmt.Sprintf("file-%d-%d", seed, i)))
	}
	sources := []string{"suricata", "zeek", "cowrie", ""}
	// hashesSeen is which hashes a record of file i carries: the first
	// third of the files appear by md5 only, the next third by sha1 only,
	// until a later record links them.
	hashesSeen := func(i int) filetrail.Hashes {
		h := w.files[i]
		switch {
		case i%3 == 0 && rng.IntN(4) != 0:
			return filetrail.Hashes{MD5: h.MD5}
		case i%3 == 1 && rng.IntN(4) != 0:
			return filetrail.Hashes{SHA1: h.SHA1, MD5: h.MD5}
		case rng.IntN(3) == 0:
			return h
		}
		return filetrail.Hashes{SHA256: h.SHA256}
	}
	const t0 = 1_700_000_000
	var b *filetrail.Batch
	for i := 0; i < n; i++ {
		if b == nil || rng.IntN(40) == 0 {
			b = &filetrail.Batch{}
			w.batches = append(w.batches, b)
		}
		fi := rng.IntN(nFiles)
		h := hashesSeen(fi)
		if rng.IntN(25) == 0 {
			// A fact about the file: a real report, or a sensor hint.
			var f filetrail.FileFact
			switch rng.IntN(3) {
			case 0:
				f = filetrail.FileFact{Hashes: w.files[fi], Origin: filetrail.OriginReport, Source: "vt", Attributes: reports[rng.IntN(len(reports))]}
			case 1:
				f = filetrail.FileFact{Hashes: h, Origin: filetrail.OriginHint, Source: sources[rng.IntN(3)],
					Attributes: json.RawMessage(fmt.Sprintf(`{"magic":"data %d","tags":["t%d"],"last_modification_date":%d}`, rng.IntN(3), rng.IntN(4), t0+rng.IntN(1000)))}
			default:
				f = filetrail.FileFact{Hashes: w.files[fi], Origin: filetrail.OriginAnalysis, Source: "filetrail",
					Attributes: json.RawMessage(fmt.Sprintf(`{"size":%d,"type_tag":"peexe","creation_date":%d.7}`, 1000+fi, t0-rng.IntN(5000)))}
			}
			b.Files = append(b.Files, f)
			continue
		}
		sg := filetrail.Sighting{
			SHA256: h.SHA256, SHA1: h.SHA1, MD5: h.MD5,
			URL:      fmt.Sprintf("http://host%d.example/p/%d", rng.IntN(5), rng.IntN(15)),
			Source:   sources[rng.IntN(len(sources))],
			SeenAt:   int64(t0 + rng.IntN(100_000)),
			Size:     int64(rng.IntN(3) * (1000 + fi)),
			FileName: []string{"", "a.exe", "setup.exe", fmt.Sprintf("f%d.bin", fi)}[rng.IntN(4)],
		}
		if rng.IntN(12) != 0 {
			sg.IP = w.ips[rng.IntN(len(w.ips))]
		}
		if rng.IntN(8) == 0 {
			sg.URL = ""
		}
		b.Sightings = append(b.Sightings, sg)
	}
	return w
}

// shuffled returns the workload's batches in another order, each applied
// twice, with the records of each batch shuffled too.
func (w workload) shuffled(seed uint64) []*filetrail.Batch {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []*filetrail.Batch
	for _, b := range w.batches {
		c := &filetrail.Batch{Sightings: append([]filetrail.Sighting(nil), b.Sightings...), Files: append([]filetrail.FileFact(nil), b.Files...)}
		rng.Shuffle(len(c.Sightings), func(i, j int) { c.Sightings[i], c.Sightings[j] = c.Sightings[j], c.Sightings[i] })
		rng.Shuffle(len(c.Files), func(i, j int) { c.Files[i], c.Files[j] = c.Files[j], c.Files[i] })
		out = append(out, c, c)
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

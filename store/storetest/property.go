package storetest

import (
	"fmt"
	"math/rand"
	"sync"
	"testing"

	"github.com/filetrail/filetrail"
)

// corpus is a random set of records about a universe of files and IPs.
type corpus struct {
	sightings []filetrail.Sighting
	facts     []filetrail.FileFact
	ips       []string // every IP that may appear, and one that never does
	hashes    []string // every hash of every file of the universe
}

// propertyIPs are the IPs of generated sightings; the first is hot, the last
// never used. "" is a sighting without IP.
var propertyIPs = []string{"192.0.2.1", "192.0.2.10", "192.0.2.2", "2001:db8::1", "2001:db8::a", "198.51.100.7", "", "203.0.113.99"}

// generate makes a random corpus from rng. Each file of the universe
// reveals, record by record, a random non-empty subset of its hashes; a
// fifth of the files never reveal their sha256. Times are drawn from a
// small set so that first_seen ties are common; some edges get more than
// MaxEdgeURLs distinct URLs; facts of the same origin and source compete.
func generate(rng *rand.Rand, nFiles, nSightings, nFacts int) corpus {
	type file struct {
		h       filetrail.Hashes
		no256   bool
		size    int64
		nameSet []string
	}
	files := make([]file, nFiles)
	var c corpus
	for i := range files {
		h := hashesOf(fmt.Sprintf("file %d of %d", i, rng.Int63()))
		files[i] = file{h: h, no256: rng.Intn(5) == 0, size: int64(1000 + rng.Intn(5000)),
			nameSet: []string{"", fmt.Sprintf("f%d.exe", i), fmt.Sprintf("f%d.bin", i), "setup.exe"}}
		c.hashes = append(c.hashes, h.SHA256, h.SHA1, h.MD5)
	}
	c.ips = []string{}
	for _, ip := range propertyIPs {
		if ip != "" {
			c.ips = append(c.ips, ip)
		}
	}
	subset := func(f file) filetrail.Hashes {
		for {
			var h filetrail.Hashes
			if !f.no256 && rng.Intn(2) == 0 {
				h.SHA256 = f.h.SHA256
			}
			if rng.Intn(3) == 0 {
				h.SHA1 = f.h.SHA1
			}
			if rng.Intn(3) == 0 {
				h.MD5 = f.h.MD5
			}
			if !h.IsZero() {
				return h
			}
		}
	}
	sources := []string{"suricata", "zeek", "cowrie", "", "urlhaus"}
	for range nSightings {
		f := files[rng.Intn(nFiles)]
		ip := propertyIPs[rng.Intn(len(propertyIPs)-1)]
		if rng.Intn(2) == 0 {
			ip = propertyIPs[0]
		}
		url := ""
		if rng.Intn(8) != 0 {
			url = fmt.Sprintf("http://dl%d.example/p/%d", rng.Intn(2), rng.Intn(14))
		}
		s := sighting(ip, subset(f), url, sources[rng.Intn(len(sources))], t0+int64(rng.Intn(40))*3600)
		s.FileName = f.nameSet[rng.Intn(len(f.nameSet))]
		if rng.Intn(2) == 0 {
			s.Size = f.size + int64(rng.Intn(2))
		}
		c.sightings = append(c.sightings, s)
	}
	factSources := []string{"vt", "lab", "sensor"}
	for range nFacts {
		i := rng.Intn(nFiles)
		date := t0 + int64(rng.Intn(5))*86400
		attrs := fmt.Sprintf(`{"magic":"PE32 v%d","size":%d,"names":["n%d.exe","common.exe"],"tags":["t%d"],`+
			`"last_analysis_date":%d,"last_analysis_stats":{"malicious":%d},"times_submitted":%d,"first_submission_date":%d,"type_tag":"t%d"}`,
			rng.Intn(3), files[i].size, rng.Intn(3), rng.Intn(4), date, rng.Intn(60), rng.Intn(9), date-int64(rng.Intn(3))*86400, rng.Intn(2))
		c.facts = append(c.facts, fact(subset(files[i]), filetrail.Origin(1+rng.Intn(3)), factSources[rng.Intn(len(factSources))], attrs))
	}
	return c
}

// scrambled returns the corpus's records shuffled, each repeated one to
// three times, in batches of random size mixing sightings and facts.
func (c corpus) scrambled(rng *rand.Rand) []*filetrail.Batch {
	type rec struct {
		s *filetrail.Sighting
		f *filetrail.FileFact
	}
	var recs []rec
	for i := range c.sightings {
		for range 1 + rng.Intn(3) {
			recs = append(recs, rec{s: &c.sightings[i]})
		}
	}
	for i := range c.facts {
		for range 1 + rng.Intn(3) {
			recs = append(recs, rec{f: &c.facts[i]})
		}
	}
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	var bs []*filetrail.Batch
	for len(recs) > 0 {
		n := min(len(recs), 1+rng.Intn(60))
		b := &filetrail.Batch{}
		for _, r := range recs[:n] {
			if r.s != nil {
				b.Sightings = append(b.Sightings, *r.s)
			} else {
				b.Files = append(b.Files, *r.f)
			}
		}
		bs = append(bs, b)
		recs = recs[n:]
	}
	return bs
}

// testProperty: a random corpus ingested in order, and the same corpus
// shuffled, duplicated and split into random batches, give byte-identical
// reads, equal to the reference model's.
func testProperty(t *testing.T, open Opener) {
	for _, seed := range []int64{1, 2, 3, 4, 5} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			c := generate(rng, 70, 500, 80)

			inOrder := open(t)
			apply(t, inOrder, &filetrail.Batch{Sightings: c.sightings, Files: c.facts})
			buildModel(t, c.sightings, c.facts).check(t, inOrder)

			scrambled := open(t)
			apply(t, scrambled, c.scrambled(rng)...)
			sameSnapshot(t, "in order vs scrambled", snapshot(t, inOrder, c.ips, c.hashes), snapshot(t, scrambled, c.ips, c.hashes))
		})
	}
}

// testConcurrentApply: the scrambled batches of a corpus applied by several
// goroutines at once leave the same state as the reference model.
func testConcurrentApply(t *testing.T, open Opener) {
	rng := rand.New(rand.NewSource(7))
	c := generate(rng, 50, 300, 60)
	s := open(t)
	batches := c.scrambled(rng)
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(batches); i += workers {
				if _, err := s.Apply(t.Context(), batches[i]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Apply: %v", err)
	}
	buildModel(t, c.sightings, c.facts).check(t, s)
}

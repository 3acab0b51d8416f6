package vtapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/vtapi"
)

// TestShuffledDuplicatedIngestGivesIdenticalPages checks, through the HTTP
// API, that the output is a pure function of the set of facts: one store
// fed a corpus once in order and another fed the same corpus shuffled, with
// every record repeated up to three times and cut into random batches,
// answer every request byte for byte the same.
func TestShuffledDuplicatedIngestGivesIdenticalPages(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			corpus := propertyCorpus(t, rng)

			inOrder := &fixture{store: openTestStore(t)}
			t.Cleanup(func() { inOrder.store.Close() })
			applyAll(t, inOrder.store, corpus.records, len(corpus.records))

			var shuffled []any
			for _, r := range corpus.records {
				for range 1 + rng.Intn(3) {
					shuffled = append(shuffled, r)
				}
			}
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			again := &fixture{store: openTestStore(t)}
			t.Cleanup(func() { again.store.Close() })
			applyAll(t, again.store, shuffled, 1+rng.Intn(40))

			a, b := snapshotAPI(t, inOrder, corpus), snapshotAPI(t, again, corpus)
			if len(a) != len(b) {
				t.Fatalf("%d responses in order, %d shuffled", len(a), len(b))
			}
			for i := range a {
				if a[i].url != b[i].url || !bytes.Equal(a[i].body, b[i].body) {
					t.Fatalf("response %d differs:\n%s\n%s\n---\n%s\n%s", i, a[i].url, a[i].body, b[i].url, b[i].body)
				}
			}
			if len(a) < 50 {
				t.Fatalf("only %d responses compared", len(a))
			}
		})
	}
}

// corpus is a set of facts and the IPs and hashes they are about.
type corpus struct {
	records []any // filetrail.Sighting or filetrail.FileFact
	ips     []netip.Addr
	hashes  []string
}

// propertyCorpus is a random set of facts about a few IPs and files: real VT
// reports, synthetic files, and files first sighted by md5 only and linked to
// their sha256 by other sightings.
func propertyCorpus(t *testing.T, rng *rand.Rand) corpus {
	var c corpus
	for i := range 4 {
		c.ips = append(c.ips, netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}))
	}
	c.ips = append(c.ips, netip.MustParseAddr("2001:db8::44"))
	type file struct{ h filetrail.Hashes }
	var files []file
	for _, r := range loadReports(t) {
		files = append(files, file{filetrail.Hashes{SHA256: r.SHA256, SHA1: r.SHA1, MD5: r.MD5}})
		c.records = append(c.records, filetrail.FileFact{Hashes: filetrail.Hashes{SHA256: r.SHA256},
			Origin: filetrail.OriginReport, Source: reportSrc, Attributes: r.Attributes})
	}
	for i := range 40 {
		sha := syntheticHash(1000 + i)
		files = append(files, file{filetrail.Hashes{SHA256: sha, MD5: sha[:32]}})
	}
	for _, f := range files {
		c.hashes = append(c.hashes, f.h.SHA256, f.h.MD5)
	}
	sources := []string{"suricata", "zeek", "cowrie"}
	for range 400 {
		f := files[rng.Intn(len(files))]
		h := filetrail.Hashes{SHA256: f.h.SHA256}
		switch rng.Intn(4) {
		case 0: // md5 only: its own file until linked
			h = filetrail.Hashes{MD5: f.h.MD5}
		case 1: // links md5 and sha256
			h = f.h
		}
		ip := c.ips[rng.Intn(len(c.ips))]
		if rng.Intn(10) == 0 {
			ip = netip.Addr{} // no server IP: evidence about the file only
		}
		c.records = append(c.records, filetrail.Sighting{IP: ip, SHA256: h.SHA256, MD5: h.MD5,
			URL:      fmt.Sprintf("http://%s/%d", ip, rng.Intn(20)),
			FileName: fmt.Sprintf("name%d.bin", rng.Intn(5)),
			SeenAt:   baseTime + int64(rng.Intn(5000)), Source: sources[rng.Intn(len(sources))]})
	}
	// Every file's md5 is linked to its sha256 at least once, so both
	// stores end with the same identities whatever the order.
	for _, f := range files {
		c.records = append(c.records, filetrail.Sighting{SHA256: f.h.SHA256, MD5: f.h.MD5, SeenAt: baseTime, Source: "link"})
	}
	return c
}

// applyAll applies records in batches of at most size.
func applyAll(t *testing.T, st filetrail.Store, records []any, size int) {
	t.Helper()
	for start := 0; start < len(records); start += size {
		var b filetrail.Batch
		for _, r := range records[start:min(start+size, len(records))] {
			switch r := r.(type) {
			case filetrail.Sighting:
				b.Sightings = append(b.Sightings, r)
			case filetrail.FileFact:
				b.Files = append(b.Files, r)
			}
		}
		if _, err := st.Apply(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
	}
}

type fetched struct {
	url  string
	body []byte
}

// snapshotAPI fetches, in a fixed order, every page of every list of the
// corpus (full and descriptor forms, several limits), every IP object with
// its embedded relationship, and every file by each of its hashes. Links
// are made on a fixed public URL so the two servers can be compared.
func snapshotAPI(t *testing.T, f *fixture, c corpus) []fetched {
	t.Helper()
	srv := httptest.NewServer(vtapi.New(f.store, vtapi.Options{PublicURL: "https://filetrail.test"}))
	t.Cleanup(srv.Close)
	key := f.newKey(t, true, filetrail.Quota{})
	var out []fetched
	get := func(path string) []byte {
		r := do(t, "GET", srv.URL+path, key)
		if r.Status != 200 && r.Status != 404 {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		out = append(out, fetched{path, r.Body})
		return r.Body
	}
	walk := func(first string) {
		for path := first; path != ""; {
			var page struct {
				Links struct{ Next string } `json:"links"`
			}
			if err := json.Unmarshal(get(path), &page); err != nil {
				t.Fatal(err)
			}
			path = ""
			if page.Links.Next != "" {
				path = page.Links.Next[len("https://filetrail.test"):]
			}
		}
	}
	for _, ip := range c.ips {
		get("/api/v3/ip_addresses/" + ip.String() + "?relationships=downloaded_files")
		walk("/api/v3/ip_addresses/" + ip.String() + "/downloaded_files?limit=7")
		walk("/api/v3/ip_addresses/" + ip.String() + "/relationships/downloaded_files?limit=40")
	}
	for _, h := range c.hashes {
		get("/api/v3/files/" + h)
		walk("/api/v3/files/" + h + "/itw_ips?limit=3")
	}
	return out
}

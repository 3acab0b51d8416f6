package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/filetrail/filetrail"
)

// testWeakHashIsItsOwnFile: a file known only by md5 or only by sha1 is a
// file of its own, whose id is that hash.
func testWeakHashIsItsOwnFile(t *testing.T, open Opener) {
	s := open(t)
	h := hashesOf("weak")
	apply(t, s, sightings(sighting("192.0.2.1", only(h, "md5"), "u", "s", t0), sighting("192.0.2.1", only(h, "sha1"), "u", "s", t0+1)))
	for _, id := range []string{h.MD5, h.SHA1} {
		f := getFile(t, s, id)
		if f.ID != id || f.IPCount != 1 {
			t.Errorf("File(%s) = {%s, IPCount %d}, want itself with 1 IP", id, f.ID, f.IPCount)
		}
	}
	if got := fileIDs(allFiles(t, s, "192.0.2.1", 10, filetrail.WithoutAttributes)); !slices.Equal(got, []string{h.SHA1, h.MD5}) {
		t.Errorf("DownloadedFiles = %v, want [sha1 md5]", got)
	}
	_, err := s.File(t.Context(), h.SHA256)
	wantCode(t, err, filetrail.CodeNotFound, "File(unlinked sha256)")
}

// mergeFixture is a file seen first by md5 only (on two IPs) and by sha256
// only (on one of them), then linked by a fact.
type mergeFixture struct {
	h                         filetrail.Hashes
	md5Only, sha256Only, link *filetrail.Batch
}

func newMergeFixture() mergeFixture {
	h := hashesOf("merge")
	m1 := sighting("192.0.2.1", only(h, "md5"), "http://a/1", "zeek", t0+100)
	m1.FileName = "from-md5.exe"
	m2 := sighting("192.0.2.2", only(h, "md5"), "http://b/1", "suricata", t0+150)
	s1 := sighting("192.0.2.1", only(h, "sha256"), "http://a/2", "cowrie", t0+200)
	s1.FileName = "from-sha256.exe"
	return mergeFixture{
		h:          h,
		md5Only:    sightings(m1, m2),
		sha256Only: &filetrail.Batch{Sightings: []filetrail.Sighting{s1}, Files: []filetrail.FileFact{fact(only(h, "sha256"), filetrail.OriginReport, "vt", `{"magic":"PE32","names":["report.exe"]}`)}},
		link:       facts(fact(only(h, "sha256", "md5"), filetrail.OriginHint, "zeek", `{"mime_type":"application/x-dosexec"}`)),
	}
}

func (m mergeFixture) all() []*filetrail.Batch {
	return []*filetrail.Batch{m.md5Only, m.sha256Only, m.link}
}

func (m mergeFixture) model(t testing.TB) *model {
	ss, fs := m.records()
	return buildModel(t, ss, fs)
}

func (m mergeFixture) records() ([]filetrail.Sighting, []filetrail.FileFact) {
	var ss []filetrail.Sighting
	var fs []filetrail.FileFact
	for _, b := range m.all() {
		ss = append(ss, b.Sightings...)
		fs = append(fs, b.Files...)
	}
	return ss, fs
}

// testMergeIntoSHA256: when a fact links an md5-only file to a sha256,
// everything is merged under the sha256, without double counting the IP
// that served both.
func testMergeIntoSHA256(t *testing.T, open Opener) {
	s := open(t)
	m := newMergeFixture()
	h := m.h
	apply(t, s, m.md5Only, m.sha256Only)
	if n := summary(t, s, "192.0.2.1").FileCount; n != 2 {
		t.Fatalf("before the link, 192.0.2.1 has %d files, want 2 (md5-only and sha256)", n)
	}
	apply(t, s, m.link)

	for _, hash := range []string{h.MD5, h.SHA256} {
		f := getFile(t, s, hash)
		if f.ID != h.SHA256 || f.IPCount != 2 {
			t.Errorf("File(%s) = {%s, IPCount %d}, want {%s, 2}", hash, f.ID, f.IPCount, h.SHA256)
		}
		var attrs struct {
			Names []string `json:"names"`
			MD5   string   `json:"md5"`
			Magic string   `json:"magic"`
		}
		if err := json.Unmarshal(f.Attributes, &attrs); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(attrs.Names, []string{"from-md5.exe", "from-sha256.exe", "report.exe"}) || attrs.MD5 != h.MD5 || attrs.Magic != "PE32" {
			t.Errorf("File(%s) attributes %s: want names, md5 and magic of both", hash, f.Attributes)
		}
		if ips := ipTexts(allIPs(t, s, hash, 1)); !slices.Equal(ips, []string{"192.0.2.2", "192.0.2.1"}) {
			t.Errorf("ITWIPs(%s) = %v, want [192.0.2.2 192.0.2.1]", hash, ips)
		}
	}
	for ip, want := range map[string]filetrail.IPSummary{
		"192.0.2.1": {IP: addr("192.0.2.1"), FileCount: 1, FirstSeen: t0 + 100, LastSeen: t0 + 200},
		"192.0.2.2": {IP: addr("192.0.2.2"), FileCount: 1, FirstSeen: t0 + 150, LastSeen: t0 + 150},
	} {
		if got := summary(t, s, ip); got != want {
			t.Errorf("IPSummary(%s) = %+v, want %+v", ip, got, want)
		}
		edges := allFiles(t, s, ip, 5, filetrail.WithAttributes)
		if len(edges) != 1 || edges[0].FileID != h.SHA256 {
			t.Errorf("DownloadedFiles(%s) = %v, want [%s]", ip, fileIDs(edges), h.SHA256)
		}
	}
	edge := allFiles(t, s, "192.0.2.1", 5, filetrail.WithoutAttributes)[0]
	want := edgeContext(filetrail.Evidence{URL: "http://a/1", Source: "zeek", FirstSeen: t0 + 100, LastSeen: t0 + 100},
		filetrail.Evidence{URL: "http://a/2", Source: "cowrie", FirstSeen: t0 + 200, LastSeen: t0 + 200})
	if edge.FirstSeen != t0+100 || edge.LastSeen != t0+200 || !sameJSON(edge.Context, want) {
		t.Errorf("merged edge = (%d, %d, %s), want (%d, %d, %s)", edge.FirstSeen, edge.LastSeen, edge.Context, t0+100, t0+200, want)
	}
	m.model(t).check(t, s)
}

// testMergeArrivalOrder: the link arriving first, last, or in the middle,
// and sightings that carry both hashes, give identical reads.
func testMergeArrivalOrder(t *testing.T, open Opener) {
	m := newMergeFixture()
	ips := []string{"192.0.2.1", "192.0.2.2"}
	hashes := []string{m.h.SHA256, m.h.SHA1, m.h.MD5}
	orders := map[string][]*filetrail.Batch{
		"link first":  {m.link, m.sha256Only, m.md5Only},
		"link middle": {m.md5Only, m.link, m.sha256Only},
		"link last":   {m.sha256Only, m.md5Only, m.link},
	}
	var ref []byte
	for _, name := range []string{"link last", "link first", "link middle"} {
		s := open(t)
		apply(t, s, orders[name]...)
		snap := snapshot(t, s, ips, hashes)
		if ref == nil {
			ref = snap
			m.model(t).check(t, s)
			continue
		}
		sameSnapshot(t, name+" vs link last", ref, snap)
	}
}

// testMergeChain: md5-only and sha1-only files merge under the sha1 when
// linked, then under the sha256.
func testMergeChain(t *testing.T, open Opener) {
	s := open(t)
	h := hashesOf("chain")
	apply(t, s, sightings(
		sighting("192.0.2.1", only(h, "md5"), "u1", "s", t0+1),
		sighting("192.0.2.2", only(h, "sha1"), "u2", "s", t0+2),
		sighting("192.0.2.1", only(h, "sha1"), "u3", "s", t0+3),
	))
	var ss []filetrail.Sighting
	var fs []filetrail.FileFact
	step := func(b *filetrail.Batch, wantID string, wantIPs int64) {
		t.Helper()
		apply(t, s, b)
		ss, fs = append(ss, b.Sightings...), append(fs, b.Files...)
		for _, hash := range []string{h.MD5, h.SHA1} {
			if f := getFile(t, s, hash); f.ID != wantID || f.IPCount != wantIPs {
				t.Fatalf("File(%s) = {%s, IPCount %d}, want {%s, %d}", hash, f.ID, f.IPCount, wantID, wantIPs)
			}
		}
		if n := summary(t, s, "192.0.2.1").FileCount; n != 1 {
			t.Fatalf("192.0.2.1 has %d files, want 1", n)
		}
	}
	ss = append(ss, sighting("192.0.2.1", only(h, "md5"), "u1", "s", t0+1),
		sighting("192.0.2.2", only(h, "sha1"), "u2", "s", t0+2), sighting("192.0.2.1", only(h, "sha1"), "u3", "s", t0+3))
	step(facts(fact(only(h, "sha1", "md5"), filetrail.OriginHint, "zeek", `{}`)), h.SHA1, 2)
	step(sightings(sighting("192.0.2.3", only(h, "sha256", "sha1"), "u4", "s", t0+4)), h.SHA256, 3)
	buildModel(t, ss, fs).check(t, s)
}

// testMergeInOneBatch: the records of a merge in one batch read the same as
// in separate batches.
func testMergeInOneBatch(t *testing.T, open Opener) {
	m := newMergeFixture()
	ss, fs := m.records()
	one := open(t)
	apply(t, one, &filetrail.Batch{Sightings: ss, Files: fs})
	sep := open(t)
	apply(t, sep, m.all()...)
	ips := []string{"192.0.2.1", "192.0.2.2"}
	hashes := []string{m.h.SHA256, m.h.MD5}
	sameSnapshot(t, "one batch vs three", snapshot(t, sep, ips, hashes), snapshot(t, one, ips, hashes))
}

// conflictDeadline bounds the conflicting-link test: a store whose merges
// form a cycle loops forever, and the test must fail rather than hang.
const conflictDeadline = time.Minute

// testConflictingLinks: sha1-only files A and B, B also known by md5 x. A
// record linking A's sha1 to x conflicts with B (two sha1s): B is not merged
// into A, the link to x keeps the first file it named, and later records of
// either sha1 find their own file. In both arrival orders, in separate
// batches and in one, every read terminates and each hash names the file
// it was first linked to.
func testConflictingLinks(t *testing.T, open Opener) {
	a, b := hashesOf("conflict A"), hashesOf("conflict B")
	sa, sb, x := only(a, "sha1"), only(b, "sha1"), only(b, "md5")
	ax := filetrail.Hashes{SHA1: a.SHA1, MD5: b.MD5}
	bx := filetrail.Hashes{SHA1: b.SHA1, MD5: b.MD5}
	type want struct {
		file string
		ips  int64
	}
	cases := []struct {
		name    string
		batches [][]filetrail.Sighting
		want    map[string]want // hash → its file and that file's IP count
	}{{
		name: "B linked to x first",
		batches: [][]filetrail.Sighting{
			{sighting("192.0.2.1", sa, "u1", "s", t0+1), sighting("192.0.2.2", bx, "u2", "s", t0+2)},
			{sighting("192.0.2.3", ax, "u3", "s", t0+3)},
			{sighting("192.0.2.4", sb, "u4", "s", t0+4)},
		},
		want: map[string]want{a.SHA1: {a.SHA1, 2}, b.SHA1: {b.SHA1, 2}, x.MD5: {b.SHA1, 2}},
	}, {
		name: "A linked to x first",
		batches: [][]filetrail.Sighting{
			{sighting("192.0.2.1", ax, "u1", "s", t0+1)},
			{sighting("192.0.2.2", bx, "u2", "s", t0+2)},
			{sighting("192.0.2.3", sb, "u3", "s", t0+3), sighting("192.0.2.4", x, "u4", "s", t0+4)},
		},
		want: map[string]want{a.SHA1: {a.SHA1, 2}, b.SHA1: {b.SHA1, 2}, x.MD5: {a.SHA1, 2}},
	}}
	for _, tc := range cases {
		for _, oneBatch := range []bool{false, true} {
			batches := tc.batches
			if oneBatch {
				batches = [][]filetrail.Sighting{slices.Concat(tc.batches...)}
			}
			t.Run(fmt.Sprintf("%s/one batch %v", tc.name, oneBatch), func(t *testing.T) {
				s := open(t)
				ctx, cancel := context.WithTimeout(t.Context(), conflictDeadline)
				defer cancel()
				type read struct {
					file filetrail.File
					err  error
				}
				done := make(chan map[string]read, 1)
				failed := make(chan error, 1)
				go func() {
					for i, b := range batches {
						if _, err := s.Apply(ctx, sightings(b...)); err != nil {
							failed <- fmt.Errorf("Apply(batch %d): %w", i, err)
							return
						}
					}
					reads := map[string]read{}
					for hash := range tc.want {
						f, err := s.File(ctx, hash)
						reads[hash] = read{f, err}
					}
					done <- reads
				}()
				var reads map[string]read
				select {
				case reads = <-done:
				case err := <-failed:
					t.Fatal(err)
				case <-ctx.Done():
					t.Fatalf("Apply and File did not finish within %v: %v", conflictDeadline, ctx.Err())
				}
				for hash, w := range tc.want {
					r := reads[hash]
					if r.err != nil {
						t.Errorf("File(%s): %v", hash, r.err)
						continue
					}
					if r.file.ID != w.file || r.file.IPCount != w.ips {
						t.Errorf("File(%s) = {%s, IPCount %d}, want {%s, %d}", hash, r.file.ID, r.file.IPCount, w.file, w.ips)
					}
				}
				for _, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"} {
					if n := summary(t, s, ip).FileCount; n != 1 {
						t.Errorf("IPSummary(%s).FileCount = %d, want 1", ip, n)
					}
				}
			})
		}
	}
}

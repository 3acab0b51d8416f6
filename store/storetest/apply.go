package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/filetrail/filetrail"
)

// testEdgesFromSightings: sightings of (IP, file) make one edge whose
// first_seen is the minimum and last_seen the maximum, whatever the order
// and batching.
func testEdgesFromSightings(t *testing.T, open Opener) {
	s := open(t)
	a, b := hashesOf("a"), hashesOf("b")
	apply(t, s, sightings(sighting("192.0.2.1", a, "http://x/a", "zeek", t0+50)))
	apply(t, s, sightings(sighting("192.0.2.1", a, "http://x/a", "zeek", t0+10), sighting("192.0.2.1", b, "http://x/b", "zeek", t0+20)))
	apply(t, s, sightings(sighting("192.0.2.1", a, "http://x/a2", "zeek", t0+30)))

	got := allFiles(t, s, "192.0.2.1", 10, filetrail.WithoutAttributes)
	want := []filetrail.FileEdge{
		{FileID: b.SHA256, FirstSeen: t0 + 20, LastSeen: t0 + 20},
		{FileID: a.SHA256, FirstSeen: t0 + 10, LastSeen: t0 + 50},
	}
	if len(got) != len(want) {
		t.Fatalf("edges %v, want %v", fileIDs(got), fileIDs(want))
	}
	for i := range want {
		if got[i].FileID != want[i].FileID || got[i].FirstSeen != want[i].FirstSeen || got[i].LastSeen != want[i].LastSeen {
			t.Errorf("edge %d = (%s, %d, %d), want (%s, %d, %d)", i, got[i].FileID, got[i].FirstSeen, got[i].LastSeen, want[i].FileID, want[i].FirstSeen, want[i].LastSeen)
		}
	}
	sum := summary(t, s, "192.0.2.1")
	if sum.FileCount != 2 || sum.FirstSeen != t0+10 || sum.LastSeen != t0+50 || sum.IP != addr("192.0.2.1") {
		t.Errorf("IPSummary = %+v, want 2 files seen %d..%d", sum, t0+10, t0+50)
	}
}

// testEdgeContext: an edge's context is EdgeContext of its evidence: the
// most recent distinct URLs (at most MaxEdgeURLs) and the sorted sources.
func testEdgeContext(t *testing.T, open Opener) {
	s := open(t)
	h := hashesOf("ctx")
	var batch filetrail.Batch
	var ev []filetrail.Evidence
	for i := range 12 {
		url := fmt.Sprintf("http://x/%02d", i)
		src := []string{"zeek", "suricata", ""}[i%3]
		at := t0 + int64(i)*10
		batch.Sightings = append(batch.Sightings, sighting("192.0.2.7", h, url, src, at))
		ev = append(ev, filetrail.Evidence{URL: url, Source: src, FirstSeen: at, LastSeen: at})
	}
	// URL 00 seen again, last: it becomes the most recent; an empty URL
	// counts as evidence but is never listed.
	batch.Sightings = append(batch.Sightings, sighting("192.0.2.7", h, "http://x/00", "zeek", t0+500), sighting("192.0.2.7", h, "", "cowrie", t0+1))
	ev[0].LastSeen = t0 + 500
	ev = append(ev, filetrail.Evidence{Source: "cowrie", FirstSeen: t0 + 1, LastSeen: t0 + 1})
	// Split the batch to check the evidence is merged across batches.
	apply(t, s, &filetrail.Batch{Sightings: batch.Sightings[7:]}, &filetrail.Batch{Sightings: batch.Sightings[:7]})

	got := allFiles(t, s, "192.0.2.7", 1, filetrail.WithoutAttributes)
	if len(got) != 1 {
		t.Fatalf("edges %v, want one", fileIDs(got))
	}
	if want := edgeContext(ev...); !sameJSON(got[0].Context, want) {
		t.Fatalf("context\n got %s\nwant %s", got[0].Context, want)
	}
	var ctx struct {
		URLs    []string `json:"urls"`
		Sources []string `json:"sources"`
	}
	if err := json.Unmarshal(got[0].Context, &ctx); err != nil {
		t.Fatalf("context %s: %v", got[0].Context, err)
	}
	if len(ctx.URLs) != filetrail.MaxEdgeURLs || ctx.URLs[0] != "http://x/00" || ctx.URLs[1] != "http://x/11" || slices.Contains(ctx.URLs, "http://x/01") {
		t.Errorf("urls %v: want the %d most recent, http://x/00 first", ctx.URLs, filetrail.MaxEdgeURLs)
	}
	if !slices.Equal(ctx.Sources, []string{"cowrie", "suricata", "zeek"}) {
		t.Errorf("sources %v, want [cowrie suricata zeek]", ctx.Sources)
	}
	ips := allIPs(t, s, h.SHA256, 5)
	if len(ips) != 1 || !sameJSON(ips[0].Context, got[0].Context) || ips[0].FirstSeen != t0 || ips[0].LastSeen != t0+500 {
		t.Errorf("ITWIPs = %+v, want the same edge", ips)
	}
}

// testCounts: FileCount, page Counts and IPCount follow the edges and do not
// change when the same facts are applied again.
func testCounts(t *testing.T, open Opener) {
	s := open(t)
	a, b, c := hashesOf("a"), hashesOf("b"), hashesOf("c")
	batch := sightings(
		sighting("192.0.2.1", a, "u1", "s", t0), sighting("192.0.2.1", b, "u1", "s", t0+1), sighting("192.0.2.1", c, "u2", "s", t0+2),
		sighting("192.0.2.2", a, "u3", "s", t0+3), sighting("2001:db8::1", a, "u4", "s", t0+4), sighting("192.0.2.1", a, "u5", "s", t0+5),
	)
	check := func() {
		t.Helper()
		for ip, n := range map[string]int64{"192.0.2.1": 3, "192.0.2.2": 1, "2001:db8::1": 1} {
			if got := summary(t, s, ip).FileCount; got != n {
				t.Errorf("IPSummary(%s).FileCount = %d, want %d", ip, got, n)
			}
			p, err := s.DownloadedFiles(t.Context(), addr(ip), filetrail.PageRequest{Limit: 1}, filetrail.WithoutAttributes)
			if err != nil || p.Count != n {
				t.Errorf("DownloadedFiles(%s).Count = %d (%v), want %d", ip, p.Count, err, n)
			}
		}
		for h, n := range map[string]int64{a.SHA256: 3, b.SHA256: 1, c.MD5: 1} {
			if got := getFile(t, s, h).IPCount; got != n {
				t.Errorf("File(%s).IPCount = %d, want %d", h, got, n)
			}
			p, err := s.ITWIPs(t.Context(), h, filetrail.PageRequest{Limit: 1})
			if err != nil || p.Count != n {
				t.Errorf("ITWIPs(%s).Count = %d (%v), want %d", h, p.Count, err, n)
			}
		}
	}
	apply(t, s, batch)
	check()
	apply(t, s, batch, sightings(batch.Sightings[2:4]...))
	check()
}

// testApplyResult: NewEdges and NewFiles count what did not exist before.
func testApplyResult(t *testing.T, open Opener) {
	s := open(t)
	a, b := hashesOf("a"), hashesOf("b")
	first := sightings(sighting("192.0.2.1", a, "u", "s", t0), sighting("192.0.2.1", b, "u", "s", t0), sighting("192.0.2.2", a, "u", "s", t0))
	if r := apply(t, s, first); r != (filetrail.ApplyResult{NewEdges: 3, NewFiles: 2}) {
		t.Errorf("first Apply = %+v, want 3 new edges, 2 new files", r)
	}
	if r := apply(t, s, first); r != (filetrail.ApplyResult{}) {
		t.Errorf("repeated Apply = %+v, want nothing new", r)
	}
	if r := apply(t, s, sightings(sighting("192.0.2.3", b, "u", "s", t0-5))); r != (filetrail.ApplyResult{NewEdges: 1}) {
		t.Errorf("Apply of a new edge = %+v, want 1 new edge", r)
	}
	if r := apply(t, s, facts(fact(hashesOf("c"), filetrail.OriginReport, "vt", `{"size":1}`))); r != (filetrail.ApplyResult{NewFiles: 1}) {
		t.Errorf("Apply of a new file's fact = %+v, want 1 new file", r)
	}
}

// testSightingWithoutIP: a sighting with no IP makes no edge but its file
// name and in-the-wild dates reach the file's attributes.
func testSightingWithoutIP(t *testing.T, open Opener) {
	s := open(t)
	h := hashesOf("noip")
	s1 := sighting("", h, "http://host.example/a", "zeek", t0+9)
	s1.FileName, s1.Size = "a.exe", 77
	s2 := sighting("", h, "", "zeek", t0+5)
	s2.FileName = "b.exe"
	if r := apply(t, s, sightings(s1, s2)); r.NewEdges != 0 || r.NewFiles != 1 {
		t.Errorf("Apply = %+v, want no edge and one file", r)
	}
	f := getFile(t, s, h.SHA256)
	want := filetrail.MergeFile(h, nil, filetrail.FileHints{Names: []string{"a.exe", "b.exe"}, Size: 77, FirstSeen: t0 + 5, LastSeen: t0 + 9})
	if f.ID != h.SHA256 || f.IPCount != 0 || !sameJSON(f.Attributes, want) {
		t.Fatalf("File = {%s, %d, %s}\nwant {%s, 0, %s}", f.ID, f.IPCount, f.Attributes, h.SHA256, want)
	}
	if ips := allIPs(t, s, h.MD5, 10); len(ips) != 0 {
		t.Errorf("ITWIPs = %v, want none", ipTexts(ips))
	}
}

// testMappedIPv6: an IPv4-mapped IPv6 sighting is an edge of the IPv4 address.
func testMappedIPv6(t *testing.T, open Opener) {
	s := open(t)
	h := hashesOf("mapped")
	apply(t, s, sightings(sighting("::ffff:192.0.2.5", h, "u", "s", t0)))
	if n := summary(t, s, "192.0.2.5").FileCount; n != 1 {
		t.Errorf("IPSummary(192.0.2.5).FileCount = %d, want 1", n)
	}
	ips := allIPs(t, s, h.SHA256, 10)
	if len(ips) != 1 || ips[0].IP.String() != "192.0.2.5" {
		t.Errorf("ITWIPs = %v, want [192.0.2.5]", ipTexts(ips))
	}
}

// invalidRecords are records that ValidateSighting or ValidateFileFact (or
// NewStoredFact) refuse.
func invalidRecords() map[string]*filetrail.Batch {
	h := hashesOf("bad")
	noHash := sighting("192.0.2.1", filetrail.Hashes{}, "u", "s", t0)
	badHash := sighting("192.0.2.1", filetrail.Hashes{MD5: "xyz"}, "u", "s", t0)
	wrongLen := sighting("192.0.2.1", filetrail.Hashes{SHA256: h.MD5}, "u", "s", t0)
	noTime := sighting("192.0.2.1", h, "u", "s", 0)
	negSize := sighting("192.0.2.1", h, "u", "s", t0)
	negSize.Size = -1
	return map[string]*filetrail.Batch{
		"sighting without hash":          sightings(noHash),
		"sighting with bad hash":         sightings(badHash),
		"sighting with misplaced hash":   sightings(wrongLen),
		"sighting without time":          sightings(noTime),
		"sighting with negative size":    sightings(negSize),
		"fact without hash":              facts(fact(filetrail.Hashes{}, filetrail.OriginReport, "vt", `{}`)),
		"fact with unknown origin":       facts(fact(h, 9, "vt", `{}`)),
		"fact with array attributes":     facts(fact(h, filetrail.OriginReport, "vt", `[1]`)),
		"fact with malformed attributes": facts(fact(h, filetrail.OriginReport, "vt", `{"a":`)),
	}
}

// testInvalidRecords: each invalid record gives InvalidArgument.
func testInvalidRecords(t *testing.T, open Opener) {
	s := open(t)
	for name, b := range invalidRecords() {
		_, err := s.Apply(t.Context(), b)
		wantCode(t, err, filetrail.CodeInvalidArgument, name)
	}
}

// testInvalidBatchAppliesNothing: a batch with one invalid record changes
// nothing, whatever the valid records before it.
func testInvalidBatchAppliesNothing(t *testing.T, open Opener) {
	s := open(t)
	old, fresh := hashesOf("old"), hashesOf("fresh")
	apply(t, s, sightings(sighting("192.0.2.1", old, "u", "s", t0)))
	ips := []string{"192.0.2.1", "192.0.2.2"}
	hashes := []string{old.SHA256, old.MD5, fresh.SHA256, fresh.MD5}
	before := snapshot(t, s, ips, hashes)
	for name, bad := range invalidRecords() {
		b := &filetrail.Batch{
			Sightings: append([]filetrail.Sighting{
				sighting("192.0.2.1", old, "u2", "s2", t0-100),
				sighting("192.0.2.2", fresh, "u", "s", t0),
				sighting("192.0.2.1", only(fresh, "md5"), "u", "s", t0+1),
			}, bad.Sightings...),
			Files: append([]filetrail.FileFact{fact(only(old, "sha256", "md5"), filetrail.OriginAnalysis, "lab", `{"magic":"x"}`)}, bad.Files...),
		}
		_, err := s.Apply(t.Context(), b)
		wantCode(t, err, filetrail.CodeInvalidArgument, name)
		sameSnapshot(t, "after "+name, before, snapshot(t, s, ips, hashes))
	}
}

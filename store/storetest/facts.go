package storetest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/internal/stitch"
)

// storedFacts prepares facts as a store keeps them.
func storedFacts(t testing.TB, fs ...filetrail.FileFact) []filetrail.StoredFact {
	t.Helper()
	out := make([]filetrail.StoredFact, len(fs))
	for i, f := range fs {
		sf, err := filetrail.NewStoredFact(f)
		if err != nil {
			t.Fatalf("NewStoredFact: %v", err)
		}
		out[i] = sf
	}
	return out
}

func attribute(t testing.TB, attrs json.RawMessage, name string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(attrs, &m); err != nil {
		t.Fatalf("attributes %s: %v", attrs, err)
	}
	return string(m[name])
}

// testFactPrecedence: analysis beats report beats hint, whatever the order.
func testFactPrecedence(t *testing.T, open Opener) {
	h := hashesOf("precedence")
	hint := fact(h, filetrail.OriginHint, "zeek", `{"magic":"hint","type_tag":"hint"}`)
	report := fact(h, filetrail.OriginReport, "vt", `{"magic":"report","type_tag":"report","reputation":5}`)
	analysis := fact(h, filetrail.OriginAnalysis, "lab", `{"magic":"analysis"}`)
	for _, order := range [][]filetrail.FileFact{{hint, report, analysis}, {analysis, report, hint}, {report, analysis, hint}} {
		s := open(t)
		for _, f := range order {
			apply(t, s, facts(f))
		}
		attrs := getFile(t, s, h.SHA256).Attributes
		if got := attribute(t, attrs, "magic"); got != `"analysis"` {
			t.Errorf("magic = %s, want the analysis's", got)
		}
		if got := attribute(t, attrs, "type_tag"); got != `"report"` {
			t.Errorf("type_tag = %s, want the report's (analysis has none)", got)
		}
	}
}

// testFactSupersedes: of two facts with the same origin and source, the
// superseding one is kept, whatever the order; the other has no effect.
func testFactSupersedes(t *testing.T, open Opener) {
	h := hashesOf("supersede")
	older := fact(h, filetrail.OriginReport, "vt", `{"magic":"old","last_analysis_date":1700000000,"reputation":1}`)
	newer := fact(h, filetrail.OriginReport, "vt", `{"magic":"new","last_analysis_date":1700086400}`)
	// Same evidence time: the greater digest wins.
	tieA := fact(h, filetrail.OriginReport, "vt", `{"magic":"tie-a","last_analysis_date":1700172800}`)
	tieB := fact(h, filetrail.OriginReport, "vt", `{"magic":"tie-b","last_analysis_date":1700172800}`)
	sf := storedFacts(t, tieA, tieB)
	tieWinner := tieA
	if sf[1].Supersedes(sf[0]) {
		tieWinner = tieB
	}
	for _, c := range []struct {
		name   string
		facts  []filetrail.FileFact
		winner filetrail.FileFact
	}{
		{"older then newer", []filetrail.FileFact{older, newer}, newer},
		{"newer then older", []filetrail.FileFact{newer, older}, newer},
		{"tie a then b", []filetrail.FileFact{tieA, tieB}, tieWinner},
		{"tie b then a", []filetrail.FileFact{tieB, tieA}, tieWinner},
		{"tie in one batch", []filetrail.FileFact{tieB, older, tieA}, tieWinner},
	} {
		s := open(t)
		if c.name == "tie in one batch" {
			apply(t, s, facts(c.facts...))
		} else {
			for _, f := range c.facts {
				apply(t, s, facts(f))
			}
		}
		want := filetrail.MergeFile(h, storedFacts(t, c.winner), filetrail.FileHints{})
		if got := getFile(t, s, h.SHA256).Attributes; !sameJSON(got, want) {
			t.Errorf("%s: attributes\n got %s\nwant %s", c.name, got, want)
		}
	}
}

// testFactsMergeFile: a file's attributes are MergeFile of its facts (one
// per origin and source) and its sighting hints.
func testFactsMergeFile(t *testing.T, open Opener) {
	s := open(t)
	h := hashesOf("mergefile")
	fs := []filetrail.FileFact{
		fact(only(h, "sha256", "md5"), filetrail.OriginReport, "vt", `{"names":["a.exe"],"tags":["peexe"],"first_submission_date":1600000000,"last_analysis_date":1700000000,"last_analysis_stats":{"malicious":3},"size":10}`),
		fact(only(h, "sha256"), filetrail.OriginReport, "other", `{"names":["b.exe"],"tags":["signed"],"first_submission_date":1500000000,"last_analysis_date":1700100000,"last_analysis_stats":{"malicious":5},"times_submitted":4}`),
		fact(only(h, "sha1", "sha256"), filetrail.OriginAnalysis, "lab", `{"magic":"PE32+","creation_date":"1650000000","ssdeep":"3:abc"}`),
		fact(only(h, "md5"), filetrail.OriginHint, "zeek", `{"magic":"data","mime_type":"application/octet-stream","id":"dropped","bad_date":"x"}`),
	}
	s1 := sighting("192.0.2.1", only(h, "md5"), "u", "zeek", t0+10)
	s1.FileName, s1.Size = "dl.exe", 10
	s2 := sighting("", only(h, "sha1"), "u", "zeek", t0+90)
	s2.FileName = "c.exe"
	apply(t, s, facts(fs[2], fs[3]), sightings(s1, s2), facts(fs[0], fs[1]))

	want := filetrail.MergeFile(h, storedFacts(t, fs...), filetrail.FileHints{Names: []string{"dl.exe", "c.exe"}, Size: 10, FirstSeen: t0 + 10, LastSeen: t0 + 90})
	for _, hash := range []string{h.SHA256, h.SHA1, h.MD5} {
		f := getFile(t, s, hash)
		if f.ID != h.SHA256 || !sameJSON(f.Attributes, want) {
			t.Errorf("File(%s) = %s %s\nwant %s %s", hash, f.ID, f.Attributes, h.SHA256, want)
		}
	}
	edges := allFiles(t, s, "192.0.2.1", 1, filetrail.WithAttributes)
	if len(edges) != 1 || !sameJSON(edges[0].Attributes, want) {
		t.Errorf("DownloadedFiles attributes = %v, want the file's", edges)
	}
	// The compressed copy is written with the document and holds exactly
	// its bytes.
	p, err := s.DownloadedFiles(t.Context(), addr("192.0.2.1"), filetrail.PageRequest{Limit: 1}, filetrail.WithCompressedAttributes)
	if err != nil || len(p.Items) != 1 {
		t.Fatalf("DownloadedFiles compressed: %d items, %v", len(p.Items), err)
	}
	if it := p.Items[0]; it.Attributes != nil || it.CompressedAttributes == nil {
		t.Fatalf("DownloadedFiles compressed: item has text %q and %d compressed bytes, want the compressed copy only", it.Attributes, len(it.CompressedAttributes))
	}
	if plain, err := stitch.Decompress(p.Items[0].CompressedAttributes); err != nil || !bytes.Equal(plain, edges[0].Attributes) {
		t.Errorf("compressed copy decompresses to %q (%v), want the document's exact bytes %q", plain, err, edges[0].Attributes)
	}
}

package filetrail

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"testing"
)

func TestEdgeContext(t *testing.T) {
	var ev []Evidence
	for i := 0; i < 12; i++ {
		ev = append(ev, Evidence{URL: fmt.Sprintf("http://192.0.2.1/f%02d", i), Source: []string{"zeek", "cowrie"}[i%2], FirstSeen: int64(100 + i), LastSeen: int64(200 + i)})
	}
	ev = append(ev, Evidence{URL: "", Source: "", FirstSeen: 50, LastSeen: 60})
	first, last, ctx := EdgeContext(ev)
	if first != 50 || last != 211 {
		t.Fatalf("first, last = %d, %d; want 50, 211", first, last)
	}
	var got struct {
		FirstSeen, LastSeen int64
		URLs                []string `json:"urls"`
		Sources             []string `json:"sources"`
	}
	if err := json.Unmarshal(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.URLs) != MaxEdgeURLs || got.URLs[0] != "http://192.0.2.1/f11" || got.URLs[9] != "http://192.0.2.1/f02" {
		t.Errorf("urls = %v; want the 10 most recent, newest first", got.URLs)
	}
	if !reflect.DeepEqual(got.Sources, []string{"cowrie", "zeek"}) {
		t.Errorf("sources = %v", got.Sources)
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		rng.Shuffle(len(ev), func(a, b int) { ev[a], ev[b] = ev[b], ev[a] })
		if _, _, again := EdgeContext(ev); string(again) != string(ctx) {
			t.Fatalf("EdgeContext depends on order:\n%s\n%s", ctx, again)
		}
	}
}

func mustFact(t *testing.T, origin Origin, source, attrs string) StoredFact {
	t.Helper()
	f, err := NewStoredFact(FileFact{Origin: origin, Source: source, Attributes: json.RawMessage(attrs)})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestNewStoredFactCleans(t *testing.T) {
	f := mustFact(t, OriginReport, "vt", `{"id":"x","type":"file","error":1,"size": 10, "last_analysis_date": 1700000000.7, "creation_date": "yesterday", "names":["a"]}`)
	if string(f.Attributes) != `{"last_analysis_date":1700000000,"names":["a"],"size":10}` {
		t.Errorf("attributes = %s", f.Attributes)
	}
	if f.EvidenceTime != 1700000000 || len(f.Digest) != 64 {
		t.Errorf("evidence time %d, digest %q", f.EvidenceTime, f.Digest)
	}
	for _, bad := range []string{`[]`, `null`, `"x"`, `{`} {
		if _, err := NewStoredFact(FileFact{Attributes: json.RawMessage(bad)}); ErrorCode(err) != CodeInvalidArgument {
			t.Errorf("NewStoredFact(%s) error = %v", bad, err)
		}
	}
}

func TestMergeFile(t *testing.T) {
	h := Hashes{SHA256: "ddecc35aa198f401948c73a0d53fd93c4ecb770198ad7db308de026745c56b71", MD5: "d41d8cd98f00b204e9800998ecf8427e"}
	facts := []StoredFact{
		mustFact(t, OriginHint, "sensor", `{"magic":"hint magic","type_tag":"hint","names":["hint.exe"]}`),
		mustFact(t, OriginReport, "vt-old", `{"magic":"old report","last_analysis_date":100,"last_analysis_stats":{"malicious":1},"first_submission_date":90,"last_submission_date":100,"times_submitted":2,"tags":["peexe"]}`),
		mustFact(t, OriginReport, "vt-new", `{"magic":"new report","last_analysis_date":200,"last_analysis_stats":{"malicious":5},"first_submission_date":95,"last_submission_date":150,"times_submitted":1,"tags":["signed"],"size":55296}`),
		mustFact(t, OriginAnalysis, "filetrail", `{"magic":"PE32 executable","ssdeep":"3:abc"}`),
	}
	hints := FileHints{Names: []string{"b.exe", "a.exe", "b.exe"}, Size: 1, FirstSeen: 80, LastSeen: 300}
	got := MergeFile(h, facts, hints)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"magic":                  `"PE32 executable"`, // analysis beats reports and hints
		"type_tag":               `"hint"`,            // only a hint has it
		"ssdeep":                 `"3:abc"`,
		"last_analysis_date":     `200`, // the newest scan
		"last_analysis_stats":    `{"malicious":5}`,
		"first_submission_date":  `90`,
		"last_submission_date":   `150`,
		"times_submitted":        `2`,
		"tags":                   `["peexe","signed"]`,
		"names":                  `["a.exe","b.exe","hint.exe"]`,
		"meaningful_name":        `"a.exe"`,
		"size":                   `55296`, // a report beats the sightings' size
		"first_seen_itw_date":    `80`,
		"last_seen_itw_date":     `300`,
		"last_modification_date": `300`,
		"sha256":                 `"` + h.SHA256 + `"`,
		"md5":                    `"` + h.MD5 + `"`,
	}
	for name, v := range want {
		if string(m[name]) != v {
			t.Errorf("%s = %s, want %s", name, m[name], v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("got %d attributes, want %d: %s", len(m), len(want), got)
	}
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 20; i++ {
		rng.Shuffle(len(facts), func(a, b int) { facts[a], facts[b] = facts[b], facts[a] })
		rng.Shuffle(len(hints.Names), func(a, b int) { hints.Names[a], hints.Names[b] = hints.Names[b], hints.Names[a] })
		if again := MergeFile(h, facts, hints); string(again) != string(got) {
			t.Fatalf("MergeFile depends on order:\n%s\n%s", got, again)
		}
	}
}

func TestSupersedesIsTotal(t *testing.T) {
	a := mustFact(t, OriginReport, "vt", `{"last_analysis_date":5,"x":1}`)
	b := mustFact(t, OriginReport, "vt", `{"last_analysis_date":5,"x":2}`)
	c := mustFact(t, OriginReport, "vt", `{"last_analysis_date":6}`)
	if a.Supersedes(b) == b.Supersedes(a) {
		t.Error("equal evidence time: exactly one must supersede the other")
	}
	if !c.Supersedes(a) || a.Supersedes(c) {
		t.Error("newer evidence must supersede")
	}
	if a.Supersedes(a) {
		t.Error("a fact must not supersede itself")
	}
}

func TestValidateSighting(t *testing.T) {
	ok := Sighting{MD5: "D41D8CD98F00B204E9800998ECF8427E", SeenAt: 1}
	s, err := ValidateSighting(ok)
	if err != nil || s.MD5 != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Fatalf("ValidateSighting = %+v, %v", s, err)
	}
	for name, bad := range map[string]Sighting{
		"no hash":    {SeenAt: 1},
		"bad hash":   {SHA256: "abc", SeenAt: 1},
		"md5 as sha": {SHA1: ok.MD5, SeenAt: 1},
		"no time":    {MD5: ok.MD5},
		"neg size":   {MD5: ok.MD5, SeenAt: 1, Size: -1},
	} {
		if _, err := ValidateSighting(bad); ErrorCode(err) != CodeInvalidArgument {
			t.Errorf("%s: error = %v", name, err)
		}
	}
}

package main

import (
	"flag"
	"io"
	"testing"

	"github.com/filetrail/filetrail/bench/dataset"
)

func testModel(t *testing.T, args ...string) model {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	mf := modelFlags(fs)
	if err := fs.Parse(append([]string{"-templates", "../../testdata/vt-file-objects"}, args...)); err != nil {
		t.Fatal(err)
	}
	m, err := mf()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type edgeKey struct {
	ip, sha string
}

func collect(m model, from, to int) []edgeKey {
	var out []edgeKey
	for s := range m.sightings(from, to) {
		out = append(out, edgeKey{s.IP.String(), s.SHA256})
	}
	return out
}

// Growing in steps gives the same edges as growing at once, each edge
// once, with the big IP's share as the model says.
func TestSightingsIncrementsCompose(t *testing.T) {
	m := testModel(t, "-max", "20000")
	whole := collect(m, 0, 20000)
	var steps []edgeKey
	for _, r := range [][2]int{{0, 1000}, {1000, 7777}, {7777, 20000}} {
		part := collect(m, r[0], r[1])
		if len(part) != r[1]-r[0] {
			t.Fatalf("increment %v: %d sightings, want %d", r, len(part), r[1]-r[0])
		}
		steps = append(steps, part...)
	}
	if len(whole) != 20000 {
		t.Fatalf("0..20000: %d sightings", len(whole))
	}
	count := func(es []edgeKey) map[edgeKey]int {
		c := map[edgeKey]int{}
		for _, e := range es {
			c[e]++
		}
		return c
	}
	cw, cs := count(whole), count(steps)
	if len(cw) != len(whole) {
		t.Fatalf("%d distinct (ip, file) edges among %d sightings: an edge is repeated", len(cw), len(whole))
	}
	for e, n := range cw {
		if cs[e] != n {
			t.Fatalf("edge %v: %d times grown at once, %d grown in steps", e, n, cs[e])
		}
	}
	big := 0
	for e := range cw {
		if e.ip == dataset.BigIP(0).String() {
			big++
		}
	}
	if big != m.big(20000) || big != 2000 {
		t.Fatalf("big IP holds %d edges, want %d", big, m.big(20000))
	}
}

// The plan's small IPs hold edges only inside the size, and the deep page
// stays within the report files.
func TestPlan(t *testing.T) {
	m := testModel(t, "-max", "100000", "-doc-files", "3000")
	if p := m.deepAfter(100000); p != 3000-40 {
		t.Fatalf("deep after %d, want %d (report files end at 3000)", p, 3000-40)
	}
	if p := m.deepAfter(10000); p != 500 {
		t.Fatalf("deep after %d at 10,000 edges, want half of the big IP's 1,000", p)
	}
	var w countingWriter
	if err := plan(m, 10000, 50, &w); err != nil {
		t.Fatal(err)
	}
	if w.lines != 6+50 {
		t.Fatalf("plan printed %d lines, want 6 + 50 small IPs", w.lines)
	}
}

type countingWriter struct{ lines int }

func (c *countingWriter) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' {
			c.lines++
		}
	}
	return len(p), nil
}

func TestModelSizes(t *testing.T) {
	m := model{bigShare: 0.1, filesPerEdge: 0.3, docCap: 30000}
	for _, c := range []struct{ e, big, small, files, docs int }{
		{0, 0, 0, 0, 0},
		{10_000, 1000, 9000, 3000, 3000},
		{1_000_000, 100_000, 900_000, 300_000, 30_000},
	} {
		if m.big(c.e) != c.big || m.small(c.e) != c.small || m.files(c.e) != c.files || m.docs(c.e) != c.docs {
			t.Errorf("size %d: big %d small %d files %d docs %d, want %+v", c.e, m.big(c.e), m.small(c.e), m.files(c.e), m.docs(c.e), c)
		}
	}
}

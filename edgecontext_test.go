package filetrail

import (
	"cmp"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// edgeContextOracle is the straightforward EdgeContext (maps, then
// json.Marshal of a struct) that the fast one must match byte for byte.
func edgeContextOracle(ev []Evidence) (first, last int64, ctx json.RawMessage) {
	if len(ev) == 0 {
		return 0, 0, json.RawMessage(`{}`)
	}
	first, last = ev[0].FirstSeen, ev[0].LastSeen
	urlLast := map[string]int64{}
	sources := map[string]bool{}
	for _, e := range ev {
		first, last = min(first, e.FirstSeen), max(last, e.LastSeen)
		if e.URL != "" {
			urlLast[e.URL] = max(urlLast[e.URL], e.LastSeen)
		}
		if e.Source != "" {
			sources[e.Source] = true
		}
	}
	urls := make([]string, 0, len(urlLast))
	for u := range urlLast {
		urls = append(urls, u)
	}
	slices.SortFunc(urls, func(a, b string) int {
		if c := cmp.Compare(urlLast[b], urlLast[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	if len(urls) > MaxEdgeURLs {
		urls = urls[:MaxEdgeURLs]
	}
	out, _ := json.Marshal(struct {
		FirstSeen int64    `json:"first_seen"`
		LastSeen  int64    `json:"last_seen"`
		URLs      []string `json:"urls"`
		Sources   []string `json:"sources"`
	}{first, last, urls, sortedKeys(sources)})
	return first, last, out
}

// TestEdgeContextMatchesOracle compares EdgeContext with the oracle on
// random evidence: repeated URLs and sources, empty ones, more URLs than
// are kept, equal times, and URLs that need escaping.
func TestEdgeContextMatchesOracle(t *testing.T) {
	urls := []string{"", "http://192.0.2.1/a", "http://192.0.2.1/b?x=1&y=2", "http://h/<p>", "http://h/\"q\"", "http://h/é", "http://h/\u2028", "http://h/\x7f", "http://h/\\", "http://h/\xff", "http://h/\t"}
	for i := range 14 {
		urls = append(urls, "http://198.51.100.7/f"+string(rune('a'+i)))
	}
	sources := []string{"", "zeek", "cowrie", "suricata", "a&b"}
	rng := rand.New(rand.NewPCG(7, 7))
	for n := range 2000 {
		ev := make([]Evidence, 1+rng.IntN(30))
		for i := range ev {
			f := int64(rng.IntN(50))
			ev[i] = Evidence{URL: urls[rng.IntN(len(urls))], Source: sources[rng.IntN(len(sources))], FirstSeen: f, LastSeen: f + int64(rng.IntN(5))}
		}
		wf, wl, want := edgeContextOracle(ev)
		gf, gl, got := EdgeContext(ev)
		if gf != wf || gl != wl || string(got) != string(want) {
			t.Fatalf("case %d: EdgeContext = %d, %d, %s; want %d, %d, %s", n, gf, gl, got, wf, wl, want)
		}
	}
	if _, _, got := EdgeContext(nil); string(got) != "{}" {
		t.Errorf("EdgeContext(nil) = %s", got)
	}
}

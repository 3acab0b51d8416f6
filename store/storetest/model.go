package storetest

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/filetrail/filetrail"
)

// model is a reference implementation of the merging rules, in memory and
// written for clarity: what a store must answer after ingesting a set of
// records, in any order and repetition. It assumes no hash is linked to two
// different files of the same hash kind (no conflicting links).
type model struct {
	ids   map[string]string // hash → file id
	files map[string]*modelFile
	ips   map[string]*modelIP
}

type modelFile struct {
	hashes filetrail.Hashes
	facts  map[factSlot]filetrail.StoredFact
	hints  filetrail.FileHints
	attrs  json.RawMessage
	ips    []filetrail.IPEdge // sorted as ITWIPs returns them
}

type factSlot struct {
	origin filetrail.Origin
	source string
}

type modelIP struct {
	summary filetrail.IPSummary
	files   []filetrail.FileEdge // sorted as DownloadedFiles returns them, with attributes
}

// buildModel computes the expected state after ingesting ss and fs. The
// records must be valid.
func buildModel(t testing.TB, ss []filetrail.Sighting, fs []filetrail.FileFact) *model {
	t.Helper()
	// File identity: the hashes linked by records form components; a
	// component's id is its strongest hash.
	parent := map[string]string{}
	var find func(string) string
	find = func(h string) string {
		if p, ok := parent[h]; ok && p != h {
			r := find(p)
			parent[h] = r
			return r
		}
		parent[h] = h
		return h
	}
	union := func(h filetrail.Hashes) {
		var prev string
		for _, x := range []string{h.SHA256, h.SHA1, h.MD5} {
			if x == "" {
				continue
			}
			r := find(x)
			if prev != "" && r != prev {
				// keep the stronger root
				if len(r) > len(prev) {
					parent[prev] = r
				} else {
					parent[r] = prev
					r = prev
				}
			}
			prev = r
		}
	}
	for _, s := range ss {
		union(s.Hashes())
	}
	for _, f := range fs {
		union(f.Hashes)
	}
	m := &model{ids: map[string]string{}, files: map[string]*modelFile{}, ips: map[string]*modelIP{}}
	fileOf := func(h filetrail.Hashes) *modelFile {
		id := find(h.Strongest())
		f := m.files[id]
		if f == nil {
			f = &modelFile{facts: map[factSlot]filetrail.StoredFact{}}
			m.files[id] = f
		}
		for _, x := range []string{h.SHA256, h.SHA1, h.MD5} {
			if x != "" {
				m.ids[x] = id
			}
		}
		f.hashes = unionOf(f.hashes, h)
		return f
	}
	type edge struct{ ip, file string }
	evidence := map[edge]map[[2]string]filetrail.Evidence{}
	names := map[string]map[string]bool{}
	for _, s := range ss {
		f := fileOf(s.Hashes())
		id := m.ids[s.Hashes().Strongest()]
		if names[id] == nil {
			names[id] = map[string]bool{}
		}
		if s.FileName != "" {
			names[id][s.FileName] = true
		}
		f.hints.Size = max(f.hints.Size, s.Size)
		if f.hints.FirstSeen == 0 || s.SeenAt < f.hints.FirstSeen {
			f.hints.FirstSeen = s.SeenAt
		}
		f.hints.LastSeen = max(f.hints.LastSeen, s.SeenAt)
		if !s.IP.IsValid() {
			continue
		}
		k := edge{s.IP.Unmap().String(), id}
		if evidence[k] == nil {
			evidence[k] = map[[2]string]filetrail.Evidence{}
		}
		ek := [2]string{s.URL, s.Source}
		e, ok := evidence[k][ek]
		if !ok {
			e = filetrail.Evidence{URL: s.URL, Source: s.Source, FirstSeen: s.SeenAt, LastSeen: s.SeenAt}
		}
		e.Merge(filetrail.Evidence{FirstSeen: s.SeenAt, LastSeen: s.SeenAt})
		evidence[k][ek] = e
	}
	for _, ff := range fs {
		f := fileOf(ff.Hashes)
		sf, err := filetrail.NewStoredFact(ff)
		if err != nil {
			t.Fatalf("model: %v", err)
		}
		slot := factSlot{sf.Origin, sf.Source}
		if old, ok := f.facts[slot]; !ok || sf.Supersedes(old) {
			f.facts[slot] = sf
		}
	}
	for id, f := range m.files {
		for n := range names[id] {
			f.hints.Names = append(f.hints.Names, n)
		}
		var stored []filetrail.StoredFact
		for _, sf := range f.facts {
			stored = append(stored, sf)
		}
		f.attrs = filetrail.MergeFile(f.hashes, stored, f.hints)
	}
	for k, evs := range evidence {
		var ev []filetrail.Evidence
		for _, e := range evs {
			ev = append(ev, e)
		}
		first, last, ctx := filetrail.EdgeContext(ev)
		ip := m.ips[k.ip]
		if ip == nil {
			ip = &modelIP{summary: filetrail.IPSummary{IP: addr(k.ip), FirstSeen: first, LastSeen: last}}
			m.ips[k.ip] = ip
		}
		ip.summary.FileCount++
		ip.summary.FirstSeen = min(ip.summary.FirstSeen, first)
		ip.summary.LastSeen = max(ip.summary.LastSeen, last)
		f := m.files[k.file]
		ip.files = append(ip.files, filetrail.FileEdge{FileID: k.file, FirstSeen: first, LastSeen: last, Context: ctx, Attributes: f.attrs})
		f.ips = append(f.ips, filetrail.IPEdge{IP: addr(k.ip), FirstSeen: first, LastSeen: last, Context: ctx})
	}
	for _, ip := range m.ips {
		slices.SortFunc(ip.files, func(a, b filetrail.FileEdge) int {
			return cmp.Or(cmp.Compare(b.FirstSeen, a.FirstSeen), strings.Compare(b.FileID, a.FileID))
		})
	}
	for _, f := range m.files {
		slices.SortFunc(f.ips, func(a, b filetrail.IPEdge) int {
			return cmp.Or(cmp.Compare(b.FirstSeen, a.FirstSeen), strings.Compare(b.IP.String(), a.IP.String()))
		})
	}
	return m
}

func unionOf(h, o filetrail.Hashes) filetrail.Hashes {
	h.SHA256 = cmp.Or(h.SHA256, o.SHA256)
	h.SHA1 = cmp.Or(h.SHA1, o.SHA1)
	h.MD5 = cmp.Or(h.MD5, o.MD5)
	return h
}

// check compares every read of s with the model: the summary and all pages
// of every IP (with and without attributes), every file by each of its
// hashes, and all pages of its itw_ips.
func (m *model) check(t testing.TB, s filetrail.Store) {
	t.Helper()
	for ipText, want := range m.ips {
		if got := summary(t, s, ipText); got != want.summary {
			t.Fatalf("IPSummary(%s) = %+v, want %+v", ipText, got, want.summary)
		}
		for _, limit := range []int{3, filetrail.MaxPageLimit} {
			got := allFiles(t, s, ipText, limit, filetrail.AttributeForm(limit%2+1)) // text or compressed
			if len(got) != len(want.files) {
				t.Fatalf("DownloadedFiles(%s, limit %d): %d items %v, want %d %v", ipText, limit, len(got), fileIDs(got), len(want.files), fileIDs(want.files))
			}
			for i := range got {
				g, w := got[i], want.files[i]
				if g.FileID != w.FileID || g.FirstSeen != w.FirstSeen || g.LastSeen != w.LastSeen {
					t.Fatalf("DownloadedFiles(%s) item %d = (%s, %d, %d), want (%s, %d, %d)", ipText, i, g.FileID, g.FirstSeen, g.LastSeen, w.FileID, w.FirstSeen, w.LastSeen)
				}
				if !sameJSON(g.Context, w.Context) {
					t.Fatalf("DownloadedFiles(%s) item %s context\n got %s\nwant %s", ipText, g.FileID, g.Context, w.Context)
				}
				if !sameJSON(g.Attributes, w.Attributes) {
					t.Fatalf("DownloadedFiles(%s) item %s attributes\n got %s\nwant %s", ipText, g.FileID, g.Attributes, w.Attributes)
				}
			}
		}
	}
	for hash, id := range m.ids {
		f := m.files[id]
		got := getFile(t, s, hash)
		if got.ID != id || got.IPCount != int64(len(f.ips)) || !sameJSON(got.Attributes, f.attrs) {
			t.Fatalf("File(%s) = {%s, IPCount %d, %s}\nwant {%s, IPCount %d, %s}", hash, got.ID, got.IPCount, got.Attributes, id, len(f.ips), f.attrs)
		}
		ips := allIPs(t, s, hash, 2)
		if len(ips) != len(f.ips) {
			t.Fatalf("ITWIPs(%s): %v, want %v", hash, ipTexts(ips), ipTexts(f.ips))
		}
		for i := range ips {
			g, w := ips[i], f.ips[i]
			if g.IP != w.IP || g.FirstSeen != w.FirstSeen || g.LastSeen != w.LastSeen || !sameJSON(g.Context, w.Context) {
				t.Fatalf("ITWIPs(%s) item %d = %+v, want %+v", hash, i, g, w)
			}
		}
	}
}

package dataset

import (
	"bytes"
	"cmp"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/filetrail/filetrail"
)

const templates = "../../testdata/vt-file-objects"

func small() Params {
	return Params{Seed: 7, BigIPs: 2, BigEdges: 60, SmallIPs: 300, SmallMaxEdges: 60, SmallZipfS: 1.5, Files: 80, MinDocBytes: 10240}
}

func mustDataset(t *testing.T, p Params) *Dataset {
	t.Helper()
	d, err := NewDataset(p, templates)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDeterministic(t *testing.T) {
	a, b := mustDataset(t, small()), mustDataset(t, small())
	if a.Fingerprint() != b.Fingerprint() {
		t.Fatal("same params, different fingerprints")
	}
	for i := range 10 {
		if !bytes.Equal(a.Document(i), b.Document(i)) {
			t.Fatalf("document %d differs between two runs", i)
		}
	}
	for k := range 20 {
		if !slices.Equal(a.SmallSightings(k), b.SmallSightings(k)) {
			t.Fatalf("sightings of small IP %d differ between two runs", k)
		}
	}
	p := small()
	p.Seed++
	c := mustDataset(t, p)
	if c.Fingerprint() == a.Fingerprint() || c.Hashes(0) == a.Hashes(0) {
		t.Fatal("another seed gave the same dataset")
	}
}

func TestDocumentsAreRealSizeValidFacts(t *testing.T) {
	for _, minBytes := range []int{10240, 30000} {
		p := small()
		p.MinDocBytes = minBytes
		d := mustDataset(t, p)
		seen := map[string]bool{}
		for i := range 12 { // three rounds over the four templates
			f, err := filetrail.ValidateFileFact(d.Fact(i))
			if err != nil {
				t.Fatalf("fact %d: %v", i, err)
			}
			if _, err := filetrail.NewStoredFact(f); err != nil {
				t.Fatalf("fact %d: %v", i, err)
			}
			if n := len(f.Attributes); n < minBytes {
				t.Errorf("document %d has %d bytes, want >= %d", i, n, minBytes)
			}
			var attrs struct {
				SHA256, SHA1, MD5 string
				Names             []string
			}
			if err := json.Unmarshal(f.Attributes, &attrs); err != nil {
				t.Fatal(err)
			}
			h := d.Hashes(i)
			if attrs.SHA256 != h.SHA256 || attrs.SHA1 != h.SHA1 || attrs.MD5 != h.MD5 {
				t.Errorf("document %d carries hashes %s/%s/%s, want %+v", i, attrs.SHA256, attrs.SHA1, attrs.MD5, h)
			}
			if !slices.Contains(attrs.Names, d.FileName(i)) {
				t.Errorf("document %d names %v lack its download name %s", i, attrs.Names, d.FileName(i))
			}
			for _, v := range []string{h.SHA256, h.SHA1, h.MD5} {
				if seen[v] {
					t.Fatalf("hash %s derived twice", v)
				}
				seen[v] = true
			}
		}
	}
}

// Each document is its template with only the file's own hashes and names
// changed: every other attribute is kept, value for value.
func TestDocumentsKeepTemplateAttributes(t *testing.T) {
	d := mustDataset(t, small())
	all, _ := filepath.Glob(filepath.Join(templates, "*.json"))
	slices.Sort(all)
	var paths []string // the file reports; error bodies are not templates
	for _, path := range all {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := fileAttributes(raw); ok {
			paths = append(paths, path)
		}
	}
	if len(paths) != len(d.templates) || len(paths) == 0 {
		t.Fatalf("%d template files, %d templates", len(paths), len(d.templates))
	}
	for i, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Data struct {
				Attributes map[string]json.RawMessage
			}
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatal(err)
		}
		doc := d.Document(i)
		var got map[string]json.RawMessage
		if err := json.Unmarshal(doc, &got); err != nil {
			t.Fatalf("document %d is not JSON: %v", i, err)
		}
		if len(got) != len(body.Data.Attributes) {
			t.Errorf("document %d has %d attributes, template %d", i, len(got), len(body.Data.Attributes))
		}
		for name, want := range body.Data.Attributes {
			if slices.Contains(ownAttributes, name) {
				continue
			}
			var w, g bytes.Buffer
			_ = json.Compact(&w, want)
			_ = json.Compact(&g, got[name])
			if !bytes.Equal(w.Bytes(), g.Bytes()) {
				t.Errorf("document %d: attribute %s changed", i, name)
			}
		}
		// Sorted keys, compact: re-encoding the map gives the same bytes.
		again, _ := json.Marshal(got)
		if !bytes.Equal(again, doc) {
			t.Errorf("document %d is not compact with sorted keys", i)
		}
	}
}

func TestHashesDistinctAndWellFormed(t *testing.T) {
	d := mustDataset(t, small())
	seen := map[string]bool{}
	for i := range 20000 {
		h := d.Hashes(i)
		if filetrail.HashKindOf(h.SHA256) != filetrail.HashSHA256 || filetrail.HashKindOf(h.SHA1) != filetrail.HashSHA1 || filetrail.HashKindOf(h.MD5) != filetrail.HashMD5 {
			t.Fatalf("file %d: malformed hashes %+v", i, h)
		}
		if seen[h.SHA256] {
			t.Fatalf("file %d: sha256 repeats", i)
		}
		seen[h.SHA256] = true
	}
}

// The cursors CursorAfter builds must be the ones a store hands out when a
// client reads the big IP's list in the documented order (newest first by
// first_seen, ties by id descending).
func TestCursorAfterMatchesListOrder(t *testing.T) {
	d := mustDataset(t, small())
	for j := range d.P.BigIPs {
		var edges []filetrail.Sighting
		for r := range d.P.BigEdges {
			s := d.BigSighting(j, r)
			if s.IP != BigIP(j) {
				t.Fatalf("big sighting (%d, %d) is from %s", j, r, s.IP)
			}
			edges = append(edges, s)
		}
		sorted := slices.Clone(edges)
		slices.Reverse(sorted)
		slices.SortFunc(sorted, func(a, b filetrail.Sighting) int {
			if c := cmp.Compare(b.SeenAt, a.SeenAt); c != 0 {
				return c
			}
			return strings.Compare(b.SHA256, a.SHA256)
		})
		for p := 1; p < d.P.BigEdges; p++ {
			if sorted[p-1].SHA256 != d.Hashes(p-1).SHA256 {
				t.Fatalf("big IP %d: item %d of the ordered list is not file %d", j, p-1, p-1)
			}
			c, err := d.CursorAfter(j, p)
			if err != nil {
				t.Fatal(err)
			}
			want := filetrail.Cursor{Kind: filetrail.CursorFiles, Time: sorted[p-1].SeenAt, ID: sorted[p-1].SHA256}
			if c != want {
				t.Fatalf("big IP %d: cursor after %d = %+v, want %+v", j, p, c, want)
			}
			back, err := filetrail.DecodeCursor(filetrail.CursorFiles, c.Encode())
			if err != nil || back != c {
				t.Fatalf("cursor %q does not decode to itself: %v", c.Encode(), err)
			}
		}
	}
	for _, p := range []int{0, -1, small().BigEdges} {
		if _, err := d.CursorAfter(0, p); err == nil {
			t.Errorf("cursor after %d: no error", p)
		}
	}
}

func TestSmallIPsPowerLaw(t *testing.T) {
	p := small()
	p.SmallIPs, p.Files, p.SmallMaxEdges = 3000, 5000, 1000
	d := mustDataset(t, p)
	ips := map[string]bool{}
	ones, biggest := 0, 0
	for k := range p.SmallIPs {
		ss := d.SmallSightings(k)
		if len(ss) < 1 || len(ss) > p.SmallMaxEdges {
			t.Fatalf("small IP %d has %d files", k, len(ss))
		}
		files := map[string]bool{}
		for _, s := range ss {
			if _, err := filetrail.ValidateSighting(s); err != nil {
				t.Fatalf("small IP %d: %v", k, err)
			}
			if s.IP != ss[0].IP || files[s.SHA256] {
				t.Fatalf("small IP %d: sightings of another IP or a repeated file", k)
			}
			files[s.SHA256] = true
		}
		if ips[ss[0].IP.String()] {
			t.Fatalf("small IP %d repeats address %s", k, ss[0].IP)
		}
		ips[ss[0].IP.String()] = true
		if len(ss) == 1 {
			ones++
		}
		biggest = max(biggest, len(ss))
	}
	if ones < p.SmallIPs/4 || biggest < 50 {
		t.Errorf("not a power law: %d of %d IPs with one file, largest %d", ones, p.SmallIPs, biggest)
	}
}

func TestSmallIPAddressesBeyondIPv4Block(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range []int{0, 1, 65533, 65534, 65535, 65536, 1 << 20} {
		a := SmallIP(k)
		if !a.IsValid() || seen[a.String()] {
			t.Fatalf("small IP %d: %s invalid or repeated", k, a)
		}
		if _, err := filetrail.ParseIP(a.String()); err != nil {
			t.Fatal(err)
		}
		seen[a.String()] = true
	}
}

func TestParamsValidate(t *testing.T) {
	for name, mod := range map[string]func(*Params){
		"files below edges": func(p *Params) { p.Files = p.BigEdges - 1 },
		"zipf too flat":     func(p *Params) { p.SmallZipfS = 1 },
		"small max zero":    func(p *Params) { p.SmallMaxEdges = 0 },
		"negative edges":    func(p *Params) { p.BigEdges = -1 },
	} {
		p := small()
		mod(&p)
		if _, err := NewDataset(p, templates); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestTemplatesSkipNonFileObjects(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("error.json", `{"error": {"code": "NotFoundError", "message": "x"}}`)
	if _, err := NewDataset(small(), dir); err == nil {
		t.Fatal("a directory without file objects gave no error")
	}
	write("bare.json", `{"type": "file", "id": "x", "attributes": {"size": 3, "names": ["a.txt"], "type_extension": "txt"}}`)
	d, err := NewDataset(small(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.templates) != 1 || !strings.HasSuffix(d.FileName(0), ".txt") {
		t.Fatalf("templates = %d, name %s", len(d.templates), d.FileName(0))
	}
	if n := len(d.Document(0)); n < small().MinDocBytes {
		t.Fatalf("small template padded to %d bytes only", n)
	}
}

func BenchmarkFact(b *testing.B) {
	d, err := NewDataset(small(), templates)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		d.Fact(i)
	}
}

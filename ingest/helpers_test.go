package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/ingest"
)

// collector is a Sink that keeps what a reader produced.
type collector struct {
	records []ingest.Record
	rejects []ingest.Reject
}

func (c *collector) Record(_ context.Context, r ingest.Record) error {
	r.Raw = nil // only valid during the call
	c.records = append(c.records, r)
	return nil
}

func (c *collector) Reject(r ingest.Reject) { c.rejects = append(c.rejects, r) }

func (c *collector) files() []filetrail.FileFact {
	var out []filetrail.FileFact
	for _, r := range c.records {
		if r.File != nil {
			out = append(out, *r.File)
		}
	}
	return out
}

func (c *collector) sightings() []filetrail.Sighting {
	var out []filetrail.Sighting
	for _, r := range c.records {
		if r.Sighting != nil {
			out = append(out, *r.Sighting)
		}
	}
	return out
}

// read runs the named format's reader over input.
func read(t *testing.T, format, input string, opts ingest.ReaderOptions) *collector {
	t.Helper()
	f, err := ingest.LookupFormat(format)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	if err := f.NewReader(opts).Read(context.Background(), strings.NewReader(input), c); err != nil {
		t.Fatalf("Read: %v", err)
	}
	return c
}

// vtReport is one real VT file report from testdata.
type vtReport struct {
	name   string
	body   []byte // the file as published: a pretty-printed GET /files body
	object []byte // its data member, pretty-printed as in the file
	attrs  []byte // its data.attributes member
	sha256 string
	sha1   string
	md5    string
}

// loadReports reads the four real file reports of testdata/vt-file-objects.
func loadReports(t testing.TB) []vtReport {
	t.Helper()
	paths, err := filepath.Glob("../testdata/vt-file-objects/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []vtReport
	for _, p := range paths {
		if filetrail.HashKindOf(strings.TrimSuffix(filepath.Base(p), ".json")) != filetrail.HashSHA256 {
			continue // error bodies and other samples
		}
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		var obj struct {
			Attributes json.RawMessage `json:"attributes"`
		}
		if err := json.Unmarshal(doc.Data, &obj); err != nil {
			t.Fatal(err)
		}
		var h struct{ SHA256, SHA1, MD5 string }
		if err := json.Unmarshal(obj.Attributes, &h); err != nil {
			t.Fatal(err)
		}
		out = append(out, vtReport{name: filepath.Base(p), body: body, object: doc.Data, attrs: obj.Attributes, sha256: h.SHA256, sha1: h.SHA1, md5: h.MD5})
	}
	if len(out) != 4 {
		t.Fatalf("found %d real reports in testdata, want 4", len(out))
	}
	return out
}

func compact(t testing.TB, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func indent(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// lineOf returns the 1-based line of the first occurrence of needle in s,
// or of the last occurrence of open before it when open is not empty.
func lineOf(t *testing.T, s, needle, open string) int64 {
	t.Helper()
	i := strings.Index(s, needle)
	if i < 0 {
		t.Fatalf("%q not in input", needle)
	}
	if open != "" {
		i = strings.LastIndex(s[:i], open)
	}
	return int64(strings.Count(s[:i], "\n") + 1)
}

func reasons(rs []ingest.Reject) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Reason)
	}
	return out
}

func lines(rs []ingest.Reject) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.Line)
	}
	return out
}

func sortedIDs(fs []filetrail.FileFact) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.SHA256)
	}
	slices.Sort(out)
	return out
}

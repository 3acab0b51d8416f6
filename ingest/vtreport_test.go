package ingest_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/ingest"
)

// TestVTReportForms reads the real reports in every form the reader
// accepts and checks that each gives exactly its file fact.
func TestVTReportForms(t *testing.T) {
	reps := loadReports(t)
	var objects, bodiesCompact, objectsCompact []string
	for _, r := range reps {
		objects = append(objects, string(r.object))
		bodiesCompact = append(bodiesCompact, compact(t, r.body))
		objectsCompact = append(objectsCompact, compact(t, r.object))
	}
	page := `{"data": [` + strings.Join(objects, ",\n") + `], "meta": {"count": 4}, "links": {"self": "https://vt.example/api/v3/files?limit=10"}}`
	concatenated := ""
	for _, r := range reps {
		concatenated += string(r.body) + "\n"
	}
	forms := map[string]string{
		"page pretty":                  indent(t, []byte(page)),
		"page compact":                 compact(t, []byte(page)),
		"page compact then blank line": "\n\n" + compact(t, []byte(page)) + "\n\n",
		"GET bodies NDJSON":            strings.Join(bodiesCompact, "\n") + "\n",
		"bare objects NDJSON CRLF":     strings.Join(objectsCompact, "\r\n"),
		"pretty bodies concatenated":   concatenated,
		"bare objects pretty":          strings.Join(objects, "\n"),
	}
	for name, input := range forms {
		t.Run(name, func(t *testing.T) {
			c := read(t, "vt", input, ingest.ReaderOptions{})
			if len(c.rejects) != 0 {
				t.Fatalf("rejects: %+v", c.rejects)
			}
			checkFacts(t, reps, c.files(), "vt-report")
			if n := len(c.sightings()); n != 0 {
				t.Errorf("%d sightings from reports without an IP page", n)
			}
		})
	}
	for _, r := range reps {
		t.Run("single pretty "+r.name[:8], func(t *testing.T) {
			c := read(t, "vt", string(r.body), ingest.ReaderOptions{Source: "vt-import"})
			if len(c.rejects) != 0 {
				t.Fatalf("rejects: %+v", c.rejects)
			}
			checkFacts(t, []vtReport{r}, c.files(), "vt-import")
			if got, want := c.records[0].Line, lineOf(t, string(r.body), `"data"`, ""); got != want {
				t.Errorf("record line %d, want %d (where the file object starts)", got, want)
			}
		})
	}
}

// checkFacts checks that facts are the file facts of reps, in order.
func checkFacts(t *testing.T, reps []vtReport, facts []filetrail.FileFact, source string) {
	t.Helper()
	if len(facts) != len(reps) {
		t.Fatalf("got %d file facts, want %d", len(facts), len(reps))
	}
	for i, r := range reps {
		f := facts[i]
		if f.SHA256 != r.sha256 || f.SHA1 != r.sha1 || f.MD5 != r.md5 {
			t.Errorf("fact %d hashes %+v, want %s/%s/%s", i, f.Hashes, r.sha256, r.sha1, r.md5)
		}
		if f.Origin != filetrail.OriginReport || f.Source != source {
			t.Errorf("fact %d origin %d source %q", i, f.Origin, f.Source)
		}
		if !sameJSON(t, f.Attributes, r.attrs) {
			t.Errorf("fact %d attributes differ from the report's", i)
		}
	}
}

// TestVTRejects checks the real VT error bodies and a non-file object are
// rejected with their reasons, and that in NDJSON a bad line costs only
// itself.
func TestVTRejects(t *testing.T) {
	reps := loadReports(t)
	for name, want := range map[string]string{
		"not_found.json": ingest.ReasonVTError, // reported where the document starts
		"wrong_key.json": ingest.ReasonVTError,
		"rescan.json":    ingest.ReasonNotFile, // reported where the object starts
	} {
		body, err := os.ReadFile("../testdata/vt-file-objects/" + name)
		if err != nil {
			t.Fatal(err)
		}
		c := read(t, "vt", string(body), ingest.ReaderOptions{})
		wantLine := int64(1)
		if want == ingest.ReasonNotFile {
			wantLine = lineOf(t, string(body), `"data"`, "")
		}
		if len(c.records) != 0 || len(c.rejects) != 1 || c.rejects[0].Reason != want || c.rejects[0].Line != wantLine {
			t.Errorf("%s: records %d, rejects %+v; want one %q at line %d", name, len(c.records), c.rejects, want, wantLine)
		}
		if want == ingest.ReasonVTError && !strings.Contains(c.rejects[0].Detail, "Error") {
			t.Errorf("%s: detail %q does not name the VT error code", name, c.rejects[0].Detail)
		}
	}

	notFound, _ := os.ReadFile("../testdata/vt-file-objects/not_found.json")
	input := strings.Join([]string{
		compact(t, reps[0].body),
		`{"data": {"type": "file", "id": "` + reps[1].sha256 + `", "attributes": {`, // cut short
		compact(t, reps[1].body),
		compact(t, notFound),
		`[1, 2]`,
		``,
		`{"data": {"type": "url", "id": "x", "attributes": {}}}`,
		`{"data": {"type": "file", "id": "` + reps[2].md5 + `", "attributes": {"sha256": "` + reps[3].sha256 + `"}}}`,
		`{"data": {"type": "file", "id": "not-a-hash", "attributes": {}}}`,
		`{"data": {"type": "file", "attributes": []}}`,
		`{"data": {"type": "file", "id": "` + reps[2].sha256 + `"}}`,
		`{"hello": "world"}`,
		compact(t, reps[2].body),
	}, "\n")
	c := read(t, "vt", input, ingest.ReaderOptions{})
	if got, want := sortedIDs(c.files()), []string{reps[0].sha256, reps[1].sha256, reps[2].sha256, reps[3].sha256}; !slices.Equal(got, want) {
		// Line 8 is a valid (if odd) fact: an md5 id with a sha256 attribute.
		t.Errorf("facts %v, want %v", got, want)
	}
	wantReasons := []string{ingest.ReasonMalformedJSON, ingest.ReasonVTError, ingest.ReasonNotObject, ingest.ReasonNotFile, ingest.ReasonHashMismatch, ingest.ReasonNotObject, ingest.ReasonNoAttributes, ingest.ReasonNotVT}
	if got := reasons(c.rejects); !slices.Equal(got, wantReasons) {
		t.Errorf("reasons %q, want %q", got, wantReasons)
	}
	if got, want := lines(c.rejects), []int64{2, 4, 5, 7, 9, 10, 11, 12}; !slices.Equal(got, want) {
		t.Errorf("reject lines %v, want %v", got, want)
	}
	for _, r := range c.rejects {
		if r.Text == "" || len(r.Text) > ingest.MaxRejectText+3 {
			t.Errorf("line %d: reject text %q not the truncated line", r.Line, r.Text)
		}
	}
}

// TestVTPrettyPageLines checks the line numbers of items of a pretty page
// and that a syntax error ends the document with a reject at its line,
// keeping what came before.
func TestVTPrettyPageLines(t *testing.T) {
	reps := loadReports(t)
	page := indent(t, []byte(`{"data": [`+string(reps[0].object)+`, {"type": "url", "id": "u1", "attributes": {"url": "http://a.test/"}}, `+string(reps[1].object)+`]}`))
	c := read(t, "vt", page, ingest.ReaderOptions{})
	if len(c.files()) != 2 || len(c.rejects) != 1 {
		t.Fatalf("files %d rejects %+v", len(c.files()), c.rejects)
	}
	if got, want := c.rejects[0].Line, lineOf(t, page, `"type": "url"`, "{"); got != want {
		t.Errorf("reject line %d, want %d", got, want)
	}
	if got, want := c.records[1].Line, lineOf(t, page, `"sha256": "`+reps[1].sha256+`"`, "\n    {"); got != want+1 {
		t.Errorf("second file at line %d, want %d", got, want+1)
	}

	// Cut the page inside the third item: the first two stay.
	cut := indent(t, []byte(`{"data": [`+string(reps[0].object)+`, `+string(reps[1].object)+`, `+string(reps[2].object)+`]}`))
	i := strings.Index(cut, reps[2].sha256)
	cut = cut[:strings.LastIndex(cut[:i], "\n")] + "\n  oops\n" + strings.Repeat("}\n", 3)
	c = read(t, "vt", cut, ingest.ReaderOptions{})
	if got := sortedIDs(c.files()); !slices.Equal(got, sortedIDs([]filetrail.FileFact{{Hashes: filetrail.Hashes{SHA256: reps[0].sha256}}, {Hashes: filetrail.Hashes{SHA256: reps[1].sha256}}})) {
		t.Errorf("facts before the error: %v", got)
	}
	if len(c.rejects) != 1 || c.rejects[0].Reason != ingest.ReasonMalformedJSON {
		t.Fatalf("rejects %+v, want one malformed JSON", c.rejects)
	}
	if got, want := c.rejects[0].Line, lineOf(t, cut, "oops", ""); got != want {
		t.Errorf("syntax error reported at line %d, want %d", got, want)
	}
}

// TestVTResync checks that after malformed JSON in a streamed input the
// reader resumes at the next document or NDJSON line.
func TestVTResync(t *testing.T) {
	reps := loadReports(t)
	// NDJSON whose first line is broken: read as a stream, the other lines
	// still count.
	ndjson := strings.Join([]string{`{"data": {"type": "file", "attributes": {`, compact(t, reps[0].body), `{"data": [}`, compact(t, reps[1].body)}, "\n")
	c := read(t, "vt", ndjson, ingest.ReaderOptions{})
	if got := sortedIDs(c.files()); !slices.Equal(got, sortedIDs([]filetrail.FileFact{{Hashes: filetrail.Hashes{SHA256: reps[0].sha256}}, {Hashes: filetrail.Hashes{SHA256: reps[1].sha256}}})) {
		t.Errorf("facts %v", got)
	}
	if !slices.Equal(lines(c.rejects), []int64{2, 3}) || !slices.Equal(reasons(c.rejects), []string{ingest.ReasonMalformedJSON, ingest.ReasonMalformedJSON}) {
		// Line 1 is cut short: the decoder sees the error where line 2
		// starts, inside the unfinished object.
		t.Errorf("rejects %+v", c.rejects)
	}
	if !strings.Contains(c.rejects[0].Detail, "in the value starting at line 1") {
		t.Errorf("the first reject does not say where the broken value starts: %q", c.rejects[0].Detail)
	}
	if got := []int64{c.records[0].Line, c.records[1].Line}; !slices.Equal(got, []int64{2, 4}) {
		t.Errorf("record lines %v, want [2 4]", got)
	}

	// Three pretty documents, the second broken: the third is still read.
	broken := string(reps[1].body)
	broken = broken[:len(broken)/2] + "\n  ]]\n"
	docs := string(reps[0].body) + "\n" + broken + "\n" + string(reps[2].body)
	c = read(t, "vt", docs, ingest.ReaderOptions{})
	if got := sortedIDs(c.files()); !slices.Equal(got, sortedIDs([]filetrail.FileFact{{Hashes: filetrail.Hashes{SHA256: reps[0].sha256}}, {Hashes: filetrail.Hashes{SHA256: reps[2].sha256}}})) {
		t.Errorf("facts %v", got)
	}
	if len(c.rejects) != 1 || c.rejects[0].Line != lineOf(t, docs, "  ]]", "") {
		t.Errorf("rejects %+v, want one at line %d", c.rejects, lineOf(t, docs, "  ]]", ""))
	}
	third := len(reps[0].body) + 1 + len(broken) + 1
	if got, want := c.records[1].Line, int64(strings.Count(docs[:third], "\n")+2); got != want {
		t.Errorf("third document's file at line %d, want %d", got, want)
	}
}

// TestVTDownloadedFilesRoundTrip checks that a filetrail downloaded_files
// page gives back sightings on its IP, whether links comes before or after
// the items, for full and descriptor pages.
func TestVTDownloadedFilesRoundTrip(t *testing.T) {
	reps := loadReports(t)
	ctx0 := `"context_attributes": {"first_seen": 1379288677, "last_seen": 1379288691, "urls": ["http://a.test/x", "http://a.test/y"], "sources": ["zeek"]}`
	ctx1 := `"context_attributes": {"first_seen": 1313161162, "last_seen": 1313161162, "urls": [], "sources": ["suricata", "zeek"]}`
	item0 := `{"type": "file", "id": "` + reps[0].sha256 + `", "attributes": ` + string(reps[0].attrs) + `, ` + ctx0 + `}`
	item1 := `{"type": "file", "id": "` + reps[1].sha256 + `", "attributes": ` + string(reps[1].attrs) + `, ` + ctx1 + `}`
	desc0 := `{"type": "file", "id": "` + reps[0].sha256 + `", ` + ctx0 + `}`
	for _, tc := range []struct {
		name      string
		links     string
		items     string
		linkFirst bool
		ip        string
		files     int
	}{
		{"full, links last", "https://h.test/api/v3/ip_addresses/192.0.2.10/downloaded_files?limit=10", item0 + "," + item1, false, "192.0.2.10", 2},
		{"full, links first", "https://h.test/api/v3/ip_addresses/192.0.2.10/downloaded_files", item0 + "," + item1, true, "192.0.2.10", 2},
		{"descriptors, IPv6 escaped", "http://h.test/api/v3/ip_addresses/2001%3Adb8%3A%3A1/relationships/downloaded_files?limit=2", desc0 + `,{"type":"file","id":"` + reps[1].sha256 + `",` + ctx1 + `}`, false, "2001:db8::1", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := `{"data": [` + tc.items + `], "meta": {"count": 2}, "links": {"self": "` + tc.links + `"}}`
			if tc.linkFirst {
				doc = `{"links": {"self": "` + tc.links + `"}, "meta": {"count": 2}, "data": [` + tc.items + `]}`
			}
			for _, input := range []string{indent(t, []byte(doc)), compact(t, []byte(doc))} {
				c := read(t, "vt", input, ingest.ReaderOptions{})
				if len(c.rejects) != 0 {
					t.Fatalf("rejects %+v", c.rejects)
				}
				if len(c.files()) != tc.files {
					t.Errorf("%d file facts, want %d", len(c.files()), tc.files)
				}
				want := []string{
					// item 0: one source, two urls, two times
					fmt.Sprintf("%s %s http://a.test/x 1379288677 zeek", tc.ip, reps[0].sha256),
					fmt.Sprintf("%s %s http://a.test/x 1379288691 zeek", tc.ip, reps[0].sha256),
					fmt.Sprintf("%s %s http://a.test/y 1379288677 zeek", tc.ip, reps[0].sha256),
					fmt.Sprintf("%s %s http://a.test/y 1379288691 zeek", tc.ip, reps[0].sha256),
					// item 1: two sources, no url, one time
					fmt.Sprintf("%s %s  1313161162 suricata", tc.ip, reps[1].sha256),
					fmt.Sprintf("%s %s  1313161162 zeek", tc.ip, reps[1].sha256),
				}
				var got []string
				for _, s := range c.sightings() {
					got = append(got, fmt.Sprintf("%s %s %s %d %s", s.IP, s.SHA256, s.URL, s.SeenAt, s.Source))
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("sightings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}

	// The same items in a page that is not an IP's downloaded_files give no
	// sightings, and descriptors there are rejects.
	doc := `{"data": [` + item0 + `,` + desc0 + `], "links": {"self": "https://h.test/api/v3/files/` + reps[0].sha256 + `/similar_files"}}`
	c := read(t, "vt", doc, ingest.ReaderOptions{})
	if len(c.sightings()) != 0 || len(c.files()) != 1 || !slices.Equal(reasons(c.rejects), []string{ingest.ReasonNoAttributes}) {
		t.Errorf("other page: sightings %d files %d rejects %+v", len(c.sightings()), len(c.files()), c.rejects)
	}
}

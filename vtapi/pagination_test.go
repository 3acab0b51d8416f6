package vtapi_test

import (
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/vtapi"
)

var (
	sharedOnce    sync.Once
	sharedFixture *fixture
)

// shared returns a fixture for tests that only read evidence. Its store
// lives until the test binary exits.
func shared(t testing.TB) *fixture {
	sharedOnce.Do(func() { sharedFixture = newFixture(&keepAlive{TB: t}) })
	if sharedFixture == nil {
		t.Fatal("shared fixture failed")
	}
	return sharedFixture
}

// keepAlive runs a fixture's setup under t but never cleans up: the
// fixture outlives the test that first asked for it.
type keepAlive struct{ testing.TB }

func (k *keepAlive) Cleanup(func()) {}

func (k *keepAlive) TempDir() string {
	dir, err := os.MkdirTemp("", "vtapi-test-")
	if err != nil {
		k.Fatal(err)
	}
	sharedDirs = append(sharedDirs, dir)
	return dir
}

// sharedDirs are removed by TestMain when every test is done.
var sharedDirs []string

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedFixture != nil {
		sharedFixture.store.Close()
	}
	for _, d := range sharedDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

func downloadedPath(ip string) string { return "/api/v3/ip_addresses/" + ip + "/downloaded_files" }

// walk follows links.next from first to the end, checking on every page
// the invariants of API.md §4, and returns the pages.
func walk(t *testing.T, e *env, first string, key string) []collection {
	t.Helper()
	var pages []collection
	next := e.srv.URL + first
	for next != "" {
		r := do(t, http.MethodGet, next, key)
		var c collection
		wantOK(t, r, &c)
		if c.Data == nil {
			t.Fatalf("%s: data is not an array: %s", next, r.Body)
		}
		if c.Meta.Count == nil {
			t.Fatalf("%s: meta.count missing", next)
		}
		if (c.Meta.Cursor != "") != (c.Links.Next != "") {
			t.Fatalf("%s: cursor %q and links.next %q must come together", next, c.Meta.Cursor, c.Links.Next)
		}
		if c.Meta.Cursor != "" && len(c.Data) == 0 {
			t.Fatalf("%s: empty page with a cursor", next)
		}
		// self replays this very page, byte for byte.
		if again := do(t, http.MethodGet, c.Links.Self, key); string(again.Body) != string(r.Body) {
			t.Fatalf("GET links.self %s gave another page:\n%s\nwant\n%s", c.Links.Self, again.Body, r.Body)
		}
		if c.Links.Next != "" {
			checkNextLink(t, e, next, c)
		}
		pages = append(pages, c)
		next = c.Links.Next
		if len(pages) > 1000 {
			t.Fatal("pagination does not end")
		}
	}
	return pages
}

// checkNextLink checks links.next: absolute, on the server, same endpoint,
// cursor = meta.cursor and the effective limit.
func checkNextLink(t *testing.T, e *env, requested string, c collection) {
	t.Helper()
	n, err := url.Parse(c.Links.Next)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := url.Parse(requested)
	self, _ := url.Parse(c.Links.Self)
	if n.Scheme+"://"+n.Host != e.srv.URL || n.Path != req.Path {
		t.Fatalf("links.next %s is not the absolute URL of %s", c.Links.Next, requested)
	}
	if got := n.Query().Get("cursor"); got != c.Meta.Cursor {
		t.Fatalf("links.next cursor %q, meta.cursor %q", got, c.Meta.Cursor)
	}
	if n.Query().Get("limit") != self.Query().Get("limit") || n.Query().Get("limit") == "" {
		t.Fatalf("links.next %s does not carry the effective limit of self %s", c.Links.Next, c.Links.Self)
	}
}

func itemIDs(pages ...collection) []string {
	var ids []string
	for _, p := range pages {
		for _, it := range p.Data {
			ids = append(ids, it.ID)
		}
	}
	return ids
}

func TestPaginationWalksEveryItemOnceInOrder(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	want := f.ids(bigIP)
	for _, limit := range []int{1, 7, 10, 40, bigCount / 5} { // 50 is not accepted: above 40
		if limit > filetrail.MaxPageLimit {
			continue
		}
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			pages := walk(t, e, downloadedPath(bigIP.String())+"?limit="+strconv.Itoa(limit), e.premium)
			if got := itemIDs(pages...); !slices.Equal(got, want) {
				t.Fatalf("walk with limit %d: %d items, want %d in order (first-seen desc, id desc)", limit, len(got), len(want))
			}
			for i, p := range pages {
				if *p.Meta.Count != bigCount {
					t.Fatalf("page %d: meta.count %d, want the whole list %d", i, *p.Meta.Count, bigCount)
				}
				if i < len(pages)-1 && len(p.Data) != limit {
					t.Fatalf("page %d has %d items, want %d", i, len(p.Data), limit)
				}
			}
			if last := pages[len(pages)-1]; last.Meta.Cursor != "" || last.Links.Next != "" {
				t.Fatal("last page carries a cursor")
			}
		})
	}
}

// When the list length is a multiple of the limit, the last full page
// carries no cursor (no empty page follows).
func TestPaginationExactMultiple(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	n := len(f.edges[reportsIP])
	pages := walk(t, e, downloadedPath(reportsIP.String())+"?limit="+strconv.Itoa(n/2), e.premium)
	if len(pages) != 2 || n%2 != 0 {
		t.Fatalf("%d items with limit %d gave %d pages, want 2", n, n/2, len(pages))
	}
	pages = walk(t, e, downloadedPath(reportsIP.String())+"?limit="+strconv.Itoa(n), e.premium)
	if len(pages) != 1 || len(pages[0].Data) != n {
		t.Fatalf("limit = count: %d pages, want 1 page of %d", len(pages), n)
	}
}

func TestPaginationDefaultsAndLimits(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	path := downloadedPath(bigIP.String())

	var c collection
	wantOK(t, e.get(t, path, e.premium), &c)
	if len(c.Data) != vtapi.DefaultPageLimit || c.Links.Self != e.srv.URL+path+"?limit=10" {
		t.Fatalf("default page: %d items, self %s; want 10 items and ?limit=10", len(c.Data), c.Links.Self)
	}
	for _, limit := range []string{"1", "40", "%2B5", "07"} {
		var c collection
		wantOK(t, e.get(t, path+"?limit="+limit, e.premium), &c)
		n, _ := strconv.Atoi(strings.TrimPrefix(limit, "%2B"))
		if len(c.Data) != n || !strings.HasSuffix(c.Links.Self, "?limit="+strconv.Itoa(n)) {
			t.Fatalf("limit=%s: %d items, self %s", limit, len(c.Data), c.Links.Self)
		}
	}
	for _, limit := range []string{"41", "1000", "99999999999999999999999"} {
		msg := wantError(t, e.get(t, path+"?limit="+limit, e.premium), http.StatusBadRequest, filetrail.CodeBadRequest)
		if msg != "Limit can't be larger than 40" {
			t.Fatalf("limit=%s: message %q", limit, msg)
		}
	}
	for _, limit := range []string{"0", "-1", "-99999999999999999999999", "abc", "1.5", "1e1", "0x10", "%20", "+5"} {
		wantError(t, e.get(t, path+"?limit="+limit, e.premium), http.StatusBadRequest, filetrail.CodeInvalidArgument)
	}
	// A repeated limit: the last one counts, as for the cursor.
	wantOK(t, e.get(t, path+"?limit=50&limit=3", e.premium), &c)
	if len(c.Data) != 3 {
		t.Fatalf("limit=50&limit=3 gave %d items", len(c.Data))
	}
	// Unknown and empty parameters are ignored.
	var plain, extra collection
	wantOK(t, e.get(t, path+"?limit=5", e.premium), &plain)
	wantOK(t, e.get(t, path+"?filter=&limit=5&order=foo&cursor=&x", e.premium), &extra)
	if !slices.Equal(itemIDs(plain), itemIDs(extra)) || extra.Links.Self != plain.Links.Self {
		t.Fatalf("unknown or empty parameters changed the page")
	}
}

func TestCursors(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	path := downloadedPath(bigIP.String())
	var p1, p2 collection
	wantOK(t, e.get(t, path+"?limit=4", e.premium), &p1)
	wantOK(t, e.get(t, path+"?limit=4&cursor="+p1.Meta.Cursor, e.premium), &p2)
	if !slices.Equal(itemIDs(p1, p2), f.ids(bigIP)[:8]) {
		t.Fatal("the cursor does not lead to the next items")
	}
	// Deterministic: the same page gives the same cursor; URL-safe.
	var again collection
	wantOK(t, e.get(t, path+"?limit=4", e.premium), &again)
	if again.Meta.Cursor != p1.Meta.Cursor || url.QueryEscape(p1.Meta.Cursor) != p1.Meta.Cursor {
		t.Fatalf("cursor %q then %q", p1.Meta.Cursor, again.Meta.Cursor)
	}
	// Repeated cursor: the last one wins.
	var rep collection
	wantOK(t, e.get(t, path+"?limit=4&cursor=garbage&cursor="+p1.Meta.Cursor, e.premium), &rep)
	if !slices.Equal(itemIDs(rep), itemIDs(p2)) {
		t.Fatal("with two cursors, the last one did not win")
	}
	// A cursor of one form works on the others: descriptors, embedded.
	var d collection
	wantOK(t, e.get(t, "/api/v3/ip_addresses/"+bigIP.String()+"/relationships/downloaded_files?limit=4&cursor="+p1.Meta.Cursor, e.premium), &d)
	if !slices.Equal(itemIDs(d), itemIDs(p2)) {
		t.Fatal("a cursor of the full list did not work on the descriptor list")
	}
	var obj struct {
		Data struct {
			Relationships map[string]collection `json:"relationships"`
		} `json:"data"`
	}
	wantOK(t, e.get(t, "/api/v3/ip_addresses/"+bigIP.String()+"?relationships=downloaded_files", e.premium), &obj)
	emb := obj.Data.Relationships["downloaded_files"]
	var afterEmb collection
	wantOK(t, e.get(t, path+"?limit=3&cursor="+emb.Meta.Cursor, e.premium), &afterEmb)
	if !slices.Equal(itemIDs(afterEmb), f.ids(bigIP)[vtapi.EmbeddedPageLimit:vtapi.EmbeddedPageLimit+3]) {
		t.Fatal("the embedded relationship's cursor does not work on the full list")
	}

	// Malformed and foreign cursors.
	var itw collection
	wantOK(t, e.get(t, "/api/v3/files/"+f.reports[0].SHA256+"/itw_ips?limit=1", e.premium), &itw)
	if itw.Meta.Cursor == "" {
		t.Fatal("want a file with several IPs in the fixture")
	}
	foreign := itw.Meta.Cursor
	bad := []string{"garbage", "%25%25", p1.Meta.Cursor + "A", strings.ToUpper(p1.Meta.Cursor), foreign, strings.Repeat("A", 300)}
	for _, c := range bad {
		wantError(t, e.get(t, path+"?cursor="+url.QueryEscape(c), e.premium), http.StatusBadRequest, filetrail.CodeInvalidArgument)
	}
	wantError(t, e.get(t, "/api/v3/files/"+f.reports[0].SHA256+"/itw_ips?cursor="+p1.Meta.Cursor, e.premium), http.StatusBadRequest, filetrail.CodeInvalidArgument)
}

func TestEmptyAndUnknownIP(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	for _, p := range []string{downloadedPath(emptyIP.String()), "/api/v3/ip_addresses/" + emptyIP.String() + "/relationships/downloaded_files"} {
		r := e.get(t, p, e.premium)
		var c collection
		wantOK(t, r, &c)
		if c.Data == nil || len(c.Data) != 0 || c.Meta.Count == nil || *c.Meta.Count != 0 || c.Meta.Cursor != "" || c.Links.Next != "" {
			t.Fatalf("%s: %s", p, r.Body)
		}
		if !strings.Contains(string(r.Body), `"data":[]`) {
			t.Fatalf("data must be [] exactly: %s", r.Body)
		}
	}
	var obj struct {
		Data struct {
			Type       string         `json:"type"`
			ID         string         `json:"id"`
			Attributes map[string]any `json:"attributes"`
		} `json:"data"`
	}
	r := e.get(t, "/api/v3/ip_addresses/"+emptyIP.String(), e.public)
	wantOK(t, r, &obj)
	if obj.Data.Type != "ip_address" || obj.Data.ID != emptyIP.String() || obj.Data.Attributes == nil || len(obj.Data.Attributes) != 0 {
		t.Fatalf("unknown IP: %s", r.Body)
	}
}

// Order is newest first by first-seen, ties by id descending; each item
// carries the context of its edge as stored.
func TestDownloadedFilesItems(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	r := e.get(t, downloadedPath(reportsIP.String())+"?limit=40", e.premium)
	var c collection
	wantOK(t, r, &c)
	want := f.edges[reportsIP]
	if len(c.Data) != len(want) {
		t.Fatalf("%d items, want %d", len(c.Data), len(want))
	}
	for i, it := range c.Data {
		w := want[i]
		if it.Type != "file" || it.ID != w.ID {
			t.Fatalf("item %d: %s %s, want file %s", i, it.Type, it.ID, w.ID)
		}
		if it.Links == nil || it.Links.Self != e.srv.URL+"/api/v3/files/"+w.ID {
			t.Fatalf("item %d: links %+v", i, it.Links)
		}
		_, _, ctx := filetrail.EdgeContext(w.Evidence)
		if string(it.ContextAttributes) != string(ctx) {
			t.Fatalf("item %d: context_attributes %s, want %s", i, it.ContextAttributes, ctx)
		}
		stored, err := f.store.File(t.Context(), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(it.Attributes) != string(stored.Attributes) {
			t.Fatalf("item %d: attributes are not the stored document", i)
		}
	}
	var ctx struct {
		URLs    []string `json:"urls"`
		Sources []string `json:"sources"`
	}
	decodeRaw(t, c.Data[len(c.Data)-1].ContextAttributes, &ctx) // report 0: oldest, 12 URLs
	if len(ctx.URLs) != filetrail.MaxEdgeURLs || !slices.Equal(ctx.Sources, []string{"suricata", "zeek"}) {
		t.Fatalf("context of the file seen at 13 URLs by 2 sensors: %+v", ctx)
	}
}

func TestDescriptors(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	full := downloadedPath(bigIP.String())
	rel := "/api/v3/ip_addresses/" + bigIP.String() + "/relationships/downloaded_files"
	for _, tc := range []struct{ path, selfQuery string }{
		{full + "?descriptors_only=true&limit=6", "?limit=6&descriptors_only=true"},
		{full + "?descriptors_only=TRUE&limit=6", "?limit=6&descriptors_only=true"},
		{rel + "?limit=6", "?limit=6"},
		{rel + "?limit=6&descriptors_only=false", "?limit=6"},
	} {
		r := e.get(t, tc.path, e.premium)
		var c collection
		wantOK(t, r, &c)
		base := strings.SplitN(tc.path, "?", 2)[0]
		if c.Links.Self != e.srv.URL+base+tc.selfQuery {
			t.Fatalf("%s: self %s", tc.path, c.Links.Self)
		}
		if !strings.HasPrefix(c.Links.Next, e.srv.URL+base+"?cursor=") || strings.Contains(tc.selfQuery, "descriptors_only") != strings.Contains(c.Links.Next, "descriptors_only=true") {
			t.Fatalf("%s: next %s", tc.path, c.Links.Next)
		}
		var raw struct {
			Data []map[string]any `json:"data"`
		}
		decode(t, r, &raw)
		for i, d := range raw.Data {
			if len(d) != 3 || d["type"] != "file" || d["id"] != f.ids(bigIP)[i] || d["context_attributes"] == nil {
				t.Fatalf("%s: item %d is not a descriptor with context: %v", tc.path, i, d)
			}
		}
		// Following next keeps the descriptor form.
		var n struct {
			Data []map[string]any `json:"data"`
		}
		wantOK(t, do(t, http.MethodGet, c.Links.Next, e.premium), &n)
		if _, hasAttrs := n.Data[0]["attributes"]; hasAttrs {
			t.Fatalf("%s: next page %s has full objects", tc.path, c.Links.Next)
		}
	}
	wantError(t, e.get(t, full+"?descriptors_only=maybe", e.premium), http.StatusBadRequest, filetrail.CodeInvalidArgument)
}

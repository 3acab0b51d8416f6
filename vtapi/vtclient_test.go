package vtapi_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	vt "github.com/VirusTotal/vt-go"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/vtapi"
)

// vtClient is the official client with the given key; the statuses of its
// responses are recorded in rec when rec is not nil.
func vtClient(key string, rec ...*recorder) *vt.Client {
	if len(rec) == 0 {
		return vt.NewClient(key)
	}
	return vt.NewClient(key, vt.WithHTTPClient(&http.Client{Transport: rec[0]}))
}

// recorder is an http.RoundTripper that remembers the last response's
// status and headers.
type recorder struct {
	mu     sync.Mutex
	status int
	header http.Header
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.status, r.header = res.StatusCode, res.Header
		r.mu.Unlock()
	}
	return res, err
}

func (r *recorder) last() (int, http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status, r.header
}

// serverURL is an absolute URL on the test server, for client calls that
// must not depend on the client's global host setting.
func serverURL(e *env, path string) *url.URL {
	u, err := url.Parse(e.srv.URL + path)
	if err != nil {
		panic(err)
	}
	return u
}

// wantVTError checks that the official client saw the VT error code.
// vt-go v1.1.0 returns API errors as vt.Error values (not pointers).
func wantVTError(t testing.TB, err error, code filetrail.Code) {
	t.Helper()
	var ve vt.Error
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T), want a vt.Error %s", err, err, code)
	}
	if ve.Code != string(code) || ve.Message == "" {
		t.Fatalf("vt.Error %+v, want code %s", ve, code)
	}
}

// The official Go client, pointed at the server with vt.SetHost. This test
// is not parallel: SetHost changes the client's global state.
func TestOfficialClient(t *testing.T) {
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	vt.SetHost(e.srv.URL)
	t.Cleanup(func() { vt.SetHost("https://www.virustotal.com") })
	client := vtClient(e.premium)
	want := f.ids(bigIP)

	// Iterators are run to their end rather than closed: in vt-go v1.1.0,
	// Close can race with the iterator's own end and send on a closed
	// channel.
	iterate := func(t *testing.T, opts ...vt.IteratorOption) *vt.Iterator {
		it, err := client.Iterator(vt.URL("ip_addresses/%s/downloaded_files", bigIP), opts...)
		if err != nil {
			t.Fatal(err)
		}
		return it
	}

	t.Run("iterate all pages", func(t *testing.T) {
		it := iterate(t, vt.IteratorBatchSize(7))
		var got []string
		for it.Next() {
			obj := it.Get()
			if obj.Type() != "file" {
				t.Fatalf("item type %q", obj.Type())
			}
			if _, err := obj.GetContextInt64("first_seen"); err != nil {
				t.Fatalf("context first_seen: %v", err)
			}
			got = append(got, obj.ID())
		}
		if err := it.Error(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("iterated %d files, want the %d in order, each once", len(got), len(want))
		}
		if c, ok := it.Meta()["count"].(float64); !ok || int(c) != bigCount {
			t.Fatalf("meta count %v", it.Meta()["count"])
		}
	})

	t.Run("resume from a cursor", func(t *testing.T) {
		// 21 ends a page of 7: its cursor is the next page's link.
		for _, stop := range []int{1, 20, 21, bigCount - 1} {
			it := iterate(t, vt.IteratorBatchSize(7))
			var got []string
			for len(got) < stop && it.Next() {
				got = append(got, it.Get().ID())
			}
			cursor := it.Cursor()
			for it.Next() {
			}
			if cursor == "" {
				t.Fatalf("no cursor after %d items", stop)
			}
			it2 := iterate(t, vt.IteratorBatchSize(7), vt.IteratorCursor(cursor))
			for it2.Next() {
				got = append(got, it2.Get().ID())
			}
			if err := it2.Error(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("stopped after %d, resumed: %d files, want the %d in order", stop, len(got), len(want))
			}
		}
	})

	t.Run("descriptors only", func(t *testing.T) {
		it := iterate(t, vt.IteratorBatchSize(40), vt.IteratorDescriptorsOnly(true))
		var got []string
		for it.Next() {
			if len(it.Get().Attributes()) != 0 {
				t.Fatal("a descriptor with attributes")
			}
			got = append(got, it.Get().ID())
		}
		if it.Error() != nil || !slices.Equal(got, want) {
			t.Fatalf("descriptors: %v, %d of %d", it.Error(), len(got), len(want))
		}
	})

	t.Run("meta count with GetData", func(t *testing.T) {
		var data []map[string]any
		res, err := client.GetData(vt.URL("ip_addresses/%s/relationships/downloaded_files?limit=3", bigIP), &data)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) != 3 || res.Meta["count"] != float64(bigCount) || res.Links.Next == "" {
			t.Fatalf("%d items, meta %v, next %q", len(data), res.Meta, res.Links.Next)
		}
	})

	t.Run("files by any hash", func(t *testing.T) {
		for _, r := range f.reports {
			for _, h := range []string{r.MD5, r.SHA1, r.SHA256, strings.ToUpper(r.SHA1)} {
				obj, err := client.GetObject(vt.URL("files/%s", h))
				if err != nil {
					t.Fatal(err)
				}
				size, err := obj.GetInt64("size")
				if obj.ID() != r.SHA256 || obj.Type() != "file" || err != nil || size <= 0 {
					t.Fatalf("files/%s: %s %s size %d %v", h, obj.Type(), obj.ID(), size, err)
				}
				if obj.Links().Self != e.srv.URL+"/api/v3/files/"+r.SHA256 {
					t.Fatalf("self %s", obj.Links().Self)
				}
				md5, _ := obj.GetString("md5")
				if md5 != r.MD5 {
					t.Fatalf("md5 %q, want %q", md5, r.MD5)
				}
			}
		}
	})

	t.Run("IP object with embedded relationship", func(t *testing.T) {
		obj, err := client.GetObject(vt.URL("ip_addresses/%s?relationships=downloaded_files", bigIP))
		if err != nil {
			t.Fatal(err)
		}
		rel, err := obj.GetRelationship("downloaded_files")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range rel.Objects() {
			got = append(got, o.ID())
		}
		if !slices.Equal(got, want[:vtapi.EmbeddedPageLimit]) {
			t.Fatalf("embedded %d files", len(got))
		}
		if _, err := obj.GetInt64("last_modification_date"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("IPv6 with encoded colons", func(t *testing.T) {
		// vt.URL cannot take raw colons in a relative path: clients encode them.
		obj, err := client.GetObject(vt.URL("ip_addresses/%s", strings.ReplaceAll(reportsV6.String(), ":", "%3A")))
		if err != nil {
			t.Fatal(err)
		}
		if obj.ID() != reportsV6.String() {
			t.Fatalf("id %q", obj.ID())
		}
	})

	t.Run("metadata", func(t *testing.T) {
		md, err := client.GetMetadata()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(md.Relationships["ip_address"], vt.RelationshipMeta{Name: "downloaded_files", Description: "Files downloaded from the IP address."}) {
			t.Fatalf("ip_address relationships %v", md.Relationships["ip_address"])
		}
		if len(md.Relationships["file"]) == 0 || md.Relationships["file"][0].Name != "itw_ips" || md.Engines == nil || !slices.Contains(md.Privileges, "premium") {
			t.Fatalf("metadata %+v", md)
		}
	})

	t.Run("errors", func(t *testing.T) {
		limited := f.newKey(t, true, filetrail.Quota{PerMonth: 1})
		if _, err := vtClient(limited).GetMetadata(); err != nil {
			t.Fatal(err)
		}
		unknown := strings.Repeat("0", 64)
		for _, tc := range []struct {
			key    string
			path   string
			status int
			code   filetrail.Code
		}{
			{e.premium, "ip_addresses/" + bigIP.String() + "/downloaded_files?limit=41", 400, filetrail.CodeBadRequest},
			{e.premium, "files/nothex", 400, filetrail.CodeInvalidArgument},
			{e.premium, "ip_addresses/999.1.1.1", 400, filetrail.CodeInvalidArgument},
			{"", "metadata", 401, filetrail.CodeAuthenticationRequired},
			{filetrail.NewSecret(), "metadata", 401, filetrail.CodeWrongCredentials},
			{e.public, "ip_addresses/" + bigIP.String() + "/downloaded_files", 403, filetrail.CodeForbidden},
			{e.premium, "files/" + unknown, 404, filetrail.CodeNotFound},
			{e.premium, "urls/abc", 404, filetrail.CodeNotFound},
			{limited, "metadata", 429, filetrail.CodeQuotaExceeded},
		} {
			rec := &recorder{}
			_, err := vtClient(tc.key, rec).GetObject(vt.URL("%s", tc.path))
			wantVTError(t, err, tc.code)
			if status, h := rec.last(); status != tc.status || h.Get("Content-Encoding") != "gzip" {
				t.Errorf("%s: status %d, encoding %q; want %d, gzip", tc.path, status, h.Get("Content-Encoding"), tc.status)
			}
		}
		// An iterator reports the error of its first page.
		it, err := vtClient(e.public).Iterator(vt.URL("ip_addresses/%s/downloaded_files", bigIP))
		if err != nil {
			t.Fatal(err)
		}
		for it.Next() {
			t.Fatal("an item for a key without the privilege")
		}
		wantVTError(t, it.Error(), filetrail.CodeForbidden)
		for it.Next() {
		}
	})
}

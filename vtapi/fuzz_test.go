package vtapi_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/vtapi"
)

// FuzzRequest sends arbitrary paths and queries under /api/v3/ with a
// premium key: never a 5xx, always a JSON body of the right type.
func FuzzRequest(f *testing.F) {
	fx := newFixture(f)
	key := fx.newKey(f, true, filetrail.Quota{})
	h := vtapi.New(fx.store, vtapi.Options{})
	sha := fx.reports[0].SHA256
	for _, seed := range []struct{ path, query string }{
		{"ip_addresses/" + bigIP.String() + "/downloaded_files", "limit=5"},
		{"ip_addresses/" + bigIP.String() + "/downloaded_files", "cursor=ZgA&limit=41"},
		{"ip_addresses/2001%3Adb8%3A%3A7/relationships/downloaded_files", "limit=-1"},
		{"ip_addresses/::ffff:1.2.3.4", "relationships=downloaded_files,foo"},
		{"ip_addresses/" + reportsIP.String(), "relationships=downloaded_files"},
		{"files/" + sha, ""},
		{"files/" + sha + "/itw_ips", "descriptors_only=true&limit=%zz"},
		{"files/" + sha + "/relationships/itw_ips", "cursor=aQ&cursor="},
		{"files/../../metrics", ""},
		{"metadata", "x=%00"},
		{"%2e%2e/healthz", ""},
	} {
		f.Add(seed.path, seed.query, false)
		f.Add(seed.path, seed.query, true)
	}
	f.Fuzz(func(t *testing.T, path, query string, gz bool) {
		req, err := http.NewRequest(http.MethodGet, "http://ft.test/api/v3/"+path, nil)
		if err != nil {
			t.Skip("not a request line a client can send")
		}
		req.URL.RawQuery = query
		req.Header.Set("x-apikey", key)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("GET %s?%s: %d %s", path, query, w.Code, w.Body)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("GET %s?%s: Content-Type %q", path, query, ct)
		}
		var body io.Reader = w.Body
		if gz {
			zr, err := gzip.NewReader(w.Body)
			if err != nil {
				t.Fatalf("GET %s?%s: not gzip: %v", path, query, err)
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]json.RawMessage
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("GET %s?%s: %d, body is not a JSON object: %v\n%s", path, query, w.Code, err, raw)
		}
		_, isData := v["data"]
		_, isError := v["error"]
		if (w.Code == 200) != isData || (w.Code != 200) != isError {
			t.Fatalf("GET %s?%s: %d with body %s", path, query, w.Code, raw)
		}
		if w.Code == 200 && strings.Contains(string(raw), "virustotal.com") {
			t.Fatalf("a link to VirusTotal: %s", raw)
		}
	})
}

package web_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/internal/testfixture"
	"github.com/filetrail/filetrail/store/sqlite"
	"github.com/filetrail/filetrail/vtapi"
	"github.com/filetrail/filetrail/web"
)

const reportsDir = "../testdata/vt-file-objects"

// Addresses of the fixture (documentation ranges).
const (
	busyIP  = "198.51.100.23" // served busyCount files, the 4 real reports among them
	otherIP = "2001:db8::5"   // also served two of the real reports
	// peFile is the real .NET PE report (pe_info with sections and
	// resources, signature_info); ddeFile the native PE one.
	peFile  = "417c06700c3e899f0554654102fa064385bf1d3ecec32471ac488096d81bf38c"
	ddeFile = "ddecc35aa198f401948c73a0d53fd93c4ecb770198ad7db308de026745c56b71"
)

const busyCount = 95

// clock is the API's fixed time: 30 s before the end of a minute, so the
// quota-limited key's Retry-After is exactly 30.
var clock = time.Date(2026, 1, 15, 12, 0, 30, 0, time.UTC)

// env is a running filetrail (API and web interface) over a SQLite store
// filled with the fixture.
type env struct {
	srv *httptest.Server
	// Keys: premium and unlimited; valid but not premium; premium with a
	// quota of one request per minute.
	premium, public, limited string
	reports                  map[string]json.RawMessage // sha256 -> VT attributes

	mu       sync.Mutex
	requests []string // API requests served, "path?query"
}

func loadReports(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	out := map[string]json.RawMessage{}
	for _, r := range testfixture.VTReports(t, reportsDir) {
		out[r.SHA256] = r.Attributes
	}
	if len(out) != 4 {
		t.Fatalf("want 4 VT file reports in %s, found %d", reportsDir, len(out))
	}
	return out
}

func hexOf(sum []byte) string { return hex.EncodeToString(sum) }

// fixtureBatch is the evidence: the real reports, each sighted on busyIP
// (and two on otherIP), plus synthetic sightings so that busyIP served
// busyCount files over about two years, from three sources. Every
// seventh synthetic file is known by md5 only.
func fixtureBatch(t *testing.T, reports map[string]json.RawMessage) *filetrail.Batch {
	t.Helper()
	b := &filetrail.Batch{}
	busy, other := netip.MustParseAddr(busyIP), netip.MustParseAddr(otherIP)
	base := time.Date(2024, 1, 3, 8, 0, 0, 0, time.UTC).Unix()
	sources := []string{"zeek", "suricata", "proxy"}
	for i, sha := range slices.Sorted(maps.Keys(reports)) {
		attrs := reports[sha]
		var h filetrail.Hashes // as the VT report reader does: every hash the report names
		if err := json.Unmarshal(attrs, &h); err != nil {
			t.Fatal(err)
		}
		b.Files = append(b.Files, filetrail.FileFact{Hashes: h, Origin: filetrail.OriginReport, Source: "vt-report", Attributes: attrs})
		seen := base + int64(i)*40*86400 + 3600
		b.Sightings = append(b.Sightings, filetrail.Sighting{IP: busy, URL: fmt.Sprintf("http://files.example.test/r/%d/get.php?id=%d", i, i), SHA256: sha, SeenAt: seen, Source: sources[i%3]})
		b.Sightings = append(b.Sightings, filetrail.Sighting{IP: busy, URL: "http://cdn.example.test/payload.bin", SHA256: sha, SeenAt: seen + 86400*5, Source: "zeek"})
		if sha == peFile || sha == ddeFile {
			b.Sightings = append(b.Sightings, filetrail.Sighting{IP: other, URL: "http://[2001:db8::5]/x.exe", SHA256: sha, SeenAt: seen + 7200, Source: "suricata"})
		}
	}
	for n := 0; n < busyCount-len(reports); n++ {
		s := filetrail.Sighting{IP: busy, Size: int64(1000 + n*3517), MIME: "application/x-dosexec", Source: sources[n%3]}
		sum := md5.Sum([]byte(fmt.Sprintf("synthetic file %d", n)))
		s.MD5 = hexOf(sum[:])
		if n%7 != 0 {
			full := sha256.Sum256([]byte(fmt.Sprintf("synthetic file %d", n)))
			s.SHA256 = hexOf(full[:])
		}
		if n%5 != 0 {
			s.FileName = fmt.Sprintf("invoice_%03d.exe", n)
		}
		if n == 11 {
			s.FileName = "=cmd|' /C calc'!A0.xls, \"quoted\"" // a CSV-hostile name
		}
		s.URL = fmt.Sprintf("http://dl%d.example.test/a/%d.exe", n%4, n)
		s.SeenAt = base + int64(n)*7*86400 + int64(n%13)*3600
		b.Sightings = append(b.Sightings, s)
		if n%3 == 0 { // seen again later, from another URL and source
			s2 := s
			s2.URL = fmt.Sprintf("http://mirror.example.test/%d", n)
			s2.Source = sources[(n+1)%3]
			s2.SeenAt = s.SeenAt + 20*86400
			b.Sightings = append(b.Sightings, s2)
		}
	}
	for j, s := range b.Sightings {
		v, err := filetrail.ValidateSighting(s)
		if err != nil {
			t.Fatalf("sighting %d: %v", j, err)
		}
		b.Sightings[j] = v
	}
	for j, f := range b.Files {
		v, err := filetrail.ValidateFileFact(f)
		if err != nil {
			t.Fatalf("file fact %d: %v", j, err)
		}
		b.Files[j] = v
	}
	return b
}

func newKey(t *testing.T, st filetrail.Store, name string, premium bool, q filetrail.Quota) string {
	t.Helper()
	secret := filetrail.NewSecret()
	err := st.CreateKey(context.Background(), filetrail.Key{
		ID: name, Name: name, SecretHash: filetrail.HashSecret(secret),
		Premium: premium, Quota: q, CreatedAt: clock.Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// newEnv opens a fresh SQLite store, applies the fixture, creates the
// keys and serves vtapi and the web interface as `filetrail serve` does.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "filetrail.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{reports: loadReports(t)}
	if _, err := st.Apply(ctx, fixtureBatch(t, e.reports)); err != nil {
		t.Fatal(err)
	}
	e.premium = newKey(t, st, "premium", true, filetrail.Quota{})
	e.public = newKey(t, st, "public", false, filetrail.Quota{})
	e.limited = newKey(t, st, "limited", true, filetrail.Quota{PerMinute: 1})

	apiHandler := vtapi.New(st, vtapi.Options{Now: func() time.Time { return clock }})
	gui := web.Handler(web.Options{})
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, web.Prefix) {
			gui.ServeHTTP(w, r)
			return
		}
		e.mu.Lock()
		e.requests = append(e.requests, r.URL.Path+"?"+r.URL.RawQuery)
		e.mu.Unlock()
		apiHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// apiRequests returns the API requests served so far whose path is p.
func (e *env) apiRequests(p string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, r := range e.requests {
		if strings.HasPrefix(r, p+"?") {
			out = append(out, r)
		}
	}
	return out
}

// getJSON calls the API with the premium key.
func (e *env) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-apikey", e.premium)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// listing follows a list's cursor with the premium key and returns every
// item as sent.
func (e *env) listing(t *testing.T, path string) []json.RawMessage {
	t.Helper()
	var items []json.RawMessage
	cursor := ""
	for {
		q := url.Values{"limit": {"40"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Data []json.RawMessage `json:"data"`
			Meta struct {
				Count  int    `json:"count"`
				Cursor string `json:"cursor"`
			} `json:"meta"`
		}
		e.getJSON(t, path+"?"+q.Encode(), &page)
		items = append(items, page.Data...)
		if page.Meta.Cursor == "" {
			return items
		}
		cursor = page.Meta.Cursor
	}
}

package vtapi_test

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/store/sqlite"
	"github.com/filetrail/filetrail/vtapi"
)

// newFileOn stores a sighting of a new file on ip, newer than every other,
// so that it heads the IP's first page, and returns the file's sha256.
func newFileOn(t *testing.T, st filetrail.Store, ip netip.Addr, name string, at int64) string {
	t.Helper()
	h := syntheticHash(int(at))
	_, err := st.Apply(t.Context(), &filetrail.Batch{Sightings: []filetrail.Sighting{{IP: ip, URL: "http://x/" + name, SHA256: h, FileName: name, SeenAt: at, Source: "zeek"}}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func cacheLookups(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	return metricValue(t, reg, "filetrail_response_cache_lookups_total", map[string]string{"result": result})
}

// A cached page is served until CacheTTL has passed, even when another
// writer changed the store meanwhile; then the fresh page is served.
func TestResponseCacheServesWithinTTL(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	e := newEnv(t, f, vtapi.Options{CacheBytes: 8 << 20, CacheTTL: 5 * time.Second, Registry: reg})
	path := downloadedPath(reportsIP.String()) + "?limit=3"
	first := e.get(t, path, e.premium)
	wantOK(t, first, new(map[string]any))
	e.get(t, path, e.premium, "Accept-Encoding", "gzip") // each encoding is cached apart

	h := newFileOn(t, f.store, reportsIP, "late.exe", baseTime+1_000_000)
	for _, ae := range []string{"", "gzip"} {
		again := e.get(t, path, e.premium, "Accept-Encoding", ae)
		if ae == "gzip" {
			again.Body = gunzip(t, again.Body)
		}
		if !bytes.Equal(again.Body, first.Body) {
			t.Fatalf("within the TTL the page changed:\n%s\nwant the cached\n%s", again.Body, first.Body)
		}
		if bytes.Contains(again.Body, []byte(h)) {
			t.Fatalf("Accept-Encoding %q: the new file shows before the TTL ended", ae)
		}
	}
	if hits, misses := cacheLookups(t, reg, "hit"), cacheLookups(t, reg, "miss"); hits != 2 || misses != 2 {
		t.Errorf("cache hits, misses = %v, %v; want 2, 2", hits, misses)
	}

	e.clock.Add(5 * time.Second)
	if fresh := e.get(t, path, e.premium); !bytes.Contains(fresh.Body, []byte(h)) {
		t.Fatalf("after the TTL the page still lacks the new file:\n%s", fresh.Body)
	}
}

// On a store that counts its changes, a cached page outlives CacheTTL for
// as long as nothing is written, and a write by another process (a second
// handle on the same SQLite file) shows within CacheTTL of the last time
// the store was seen unchanged.
func TestResponseCacheKeepsPagesWhileStoreUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "filetrail.db")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ip := netip.MustParseAddr("203.0.113.9")
	newFileOn(t, st, ip, "first.exe", baseTime)
	reg := prometheus.NewRegistry()
	ttl := 5 * time.Second
	e := newEnv(t, &fixture{store: st}, vtapi.Options{CacheBytes: 8 << 20, CacheTTL: ttl, Registry: reg})
	page := downloadedPath(ip.String())
	first := e.get(t, page, e.premium)
	wantOK(t, first, new(map[string]any))

	e.clock.Add(3 * ttl)
	if again := e.get(t, page, e.premium); !bytes.Equal(again.Body, first.Body) {
		t.Fatalf("the page changed without a write:\n%s\nwant\n%s", again.Body, first.Body)
	}
	if hits, misses := cacheLookups(t, reg, "hit"), cacheLookups(t, reg, "miss"); hits != 1 || misses != 1 {
		t.Errorf("past the TTL without a write: cache hits, misses = %v, %v; want 1, 1", hits, misses)
	}

	other, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	h := newFileOn(t, other, ip, "late.exe", baseTime+1)
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(ttl / 2)
	if got := e.get(t, page, e.premium); bytes.Contains(got.Body, []byte(h)) {
		t.Errorf("the other process's write shows before the TTL ended")
	}
	e.clock.Add(ttl)
	if got := e.get(t, page, e.premium); !bytes.Contains(got.Body, []byte(h)) {
		t.Fatalf("a TTL after the store was last seen unchanged, the page still lacks the other process's file:\n%s", got.Body)
	}
}

// Evidence pushed through the server empties the cache at once.
func TestResponseCacheEmptiedByIngest(t *testing.T) {
	f := newFixture(t)
	var added string
	ingest := func(ctx context.Context, _, _ string, body io.Reader) (any, error) {
		io.Copy(io.Discard, body)
		added = newFileOn(t, f.store, bigIP, "pushed.exe", baseTime+2_000_000)
		return map[string]int{"lines": 1}, nil
	}
	e := newEnv(t, f, vtapi.Options{CacheBytes: 8 << 20, CacheTTL: time.Hour, Ingest: ingest})
	admin := filetrail.NewSecret()
	if err := f.store.CreateKey(t.Context(), filetrail.Key{ID: "adm", Name: "admin", SecretHash: filetrail.HashSecret(admin), Admin: true, Premium: true, CreatedAt: baseTime}); err != nil {
		t.Fatal(err)
	}
	path := downloadedPath(bigIP.String()) + "?limit=5"
	wantOK(t, e.get(t, path, e.premium), new(map[string]any))
	wantOK(t, post(t, e.srv.URL+"/admin/v1/ingest?format=sightings", admin, strings.NewReader("{}\n")), new(map[string]any))
	if got := e.get(t, path, e.premium); !bytes.Contains(got.Body, []byte(added)) {
		t.Fatalf("after a push the page lacks the pushed file:\n%s", got.Body)
	}
}

// What a response depends on besides the store keeps cached responses
// apart: a key without premium never gets the premium view of an object
// (its embedded downloaded_files), another Host gets its own links, and
// errors are never cached.
func TestResponseCacheKeepsViewsApart(t *testing.T) {
	f := newFixture(t)
	e := newEnv(t, f, vtapi.Options{CacheBytes: 8 << 20, CacheTTL: time.Hour})
	obj := "/api/v3/ip_addresses/" + reportsIP.String() + "?relationships=downloaded_files"
	premium := e.get(t, obj, e.premium)
	public := e.get(t, obj, e.public)
	if !bytes.Contains(premium.Body, []byte(`"downloaded_files"`)) || bytes.Contains(public.Body, []byte(`"downloaded_files"`)) {
		t.Fatalf("premium view:\n%s\npublic view:\n%s", premium.Body, public.Body)
	}
	page := downloadedPath(reportsIP.String())
	wantOK(t, e.get(t, page, e.premium), new(map[string]any))
	other := e.get(t, page, e.premium, "Host", "other.example")
	if !bytes.Contains(other.Body, []byte("http://other.example/")) {
		t.Fatalf("a request for another host got links of the first:\n%s", other.Body)
	}
	wantError(t, e.get(t, page, e.public), 403, filetrail.CodeForbidden)

	unknown := netip.MustParseAddr("192.0.2.77")
	if r := e.get(t, downloadedPath(unknown.String()), e.premium); !bytes.Contains(r.Body, []byte(`"count":0`)) {
		t.Fatalf("unknown IP: %s", r.Body)
	}
	missing := "/api/v3/files/" + syntheticHash(int(baseTime+5))
	wantError(t, e.get(t, missing, e.public), 404, filetrail.CodeNotFound)
	newFileOn(t, f.store, unknown, "now.exe", baseTime+5)
	wantOK(t, e.get(t, missing, e.public), new(map[string]any)) // the 404 was not cached
}

// metricValue returns the value of the counter name with the given labels
// in reg, 0 when absent.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range fams {
		if fam.GetName() != name {
			continue
		}
		for _, m := range fam.GetMetric() {
			if hasLabels(m, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// A response served from the cache still counts against the key's quota,
// and a request the cache holds is refused once the quota is used up.
func TestResponseCacheHitsCountAgainstQuota(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	e := newEnv(t, f, vtapi.Options{CacheBytes: 8 << 20, CacheTTL: time.Hour, Registry: reg})
	limited := f.newKey(t, true, filetrail.Quota{PerMinute: 3})
	path := downloadedPath(reportsIP.String())
	wantOK(t, e.get(t, path, e.premium), new(map[string]any)) // cached by an unlimited key
	for range 3 {
		wantOK(t, e.get(t, path, limited), new(map[string]any))
	}
	wantError(t, e.get(t, path, limited), 429, filetrail.CodeQuotaExceeded)
	if hits := cacheLookups(t, reg, "hit"); hits != 4 {
		t.Errorf("cache hits = %v, want 4 (3 admitted, 1 refused after the lookup)", hits)
	}
}

package fastfront_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/internal/fastfront"
	"github.com/filetrail/filetrail/internal/testfixture"
	"github.com/filetrail/filetrail/store/sqlite"
	"github.com/filetrail/filetrail/vtapi"
)

const ip = "198.51.100.7"

// countingCache counts the requests its CachedAnswerer answered.
type countingCache struct {
	vtapi.CachedAnswerer
	answered atomic.Int64
}

func (c *countingCache) CachedAnswer(req *vtapi.CachedRequest) ([]byte, bool, bool) {
	body, gzip, ok := c.CachedAnswerer.CachedAnswer(req)
	if ok {
		c.answered.Add(1)
	}
	return body, gzip, ok
}

// start serves h (with cache, when not nil) on a loopback port and
// returns its base URL; the server is shut down at the end of the test.
func start(t testing.TB, h http.Handler, cache vtapi.CachedAnswerer) string {
	t.Helper()
	return startLogging(t, h, cache, nil)
}

// startLogging is start with the server's log going to logs.
func startLogging(t testing.TB, h http.Handler, cache vtapi.CachedAnswerer, logs io.Writer) string {
	t.Helper()
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := fastfront.New(fastfront.Options{Handler: h, Cache: cache,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second,
		MaxHeaderBytes: 4 << 10, Logger: logger})
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve after Shutdown: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// apiStore is a SQLite store with 30 files served by ip and three keys:
// premium, public (no privilege) and premium with a quota.
func apiStore(t testing.TB) (st filetrail.Store, premium, public, quota string) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ft.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var b filetrail.Batch
	for i := range 30 {
		sum := sha256.Sum256([]byte{byte(i)})
		b.Sightings = append(b.Sightings, filetrail.Sighting{IP: netip.MustParseAddr(ip), URL: fmt.Sprintf("http://%s/f%d.exe", ip, i),
			SHA256: hex.EncodeToString(sum[:]), Size: int64(1000 + i), FileName: fmt.Sprintf("f%d.exe", i), SeenAt: 1700000000 + int64(i), Source: "test"})
	}
	if _, err := s.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	key := func(name string, premium bool, q filetrail.Quota) string {
		secret := filetrail.NewSecret()
		k := filetrail.Key{ID: name, Name: name, SecretHash: filetrail.HashSecret(secret), Premium: premium, Quota: q, CreatedAt: 1700000000}
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		return secret
	}
	return s, key("premium", true, filetrail.Quota{}), key("public", false, filetrail.Quota{}), key("quota", true, filetrail.Quota{PerDay: 1000})
}

// exchange is one raw request and its response, headers without Date.
type exchange struct {
	status int
	header http.Header
	body   []byte
	close  bool // the server closes the connection
}

// rawDo sends req on a fresh connection and reads one response as sent
// (no decompression), its Date header left out.
func rawDo(t testing.TB, base, req string) exchange {
	t.Helper()
	res, body := testfixture.RawExchange(t, base, req)
	res.Header.Del("Date")
	return exchange{res.StatusCode, res.Header, body, res.Close}
}

// Every request gets from fastfront the response net/http gives, byte for
// byte and header for header, whether the cache answers it (the second
// time a cacheable request is sent) or the bridge does.
func TestSameResponsesAsNetHTTP(t *testing.T) {
	st, premium, public, quota := apiStore(t)
	api := vtapi.New(st, vtapi.Options{CacheBytes: 8 << 20, CacheTTL: time.Hour})
	cache := &countingCache{CachedAnswerer: api.(vtapi.CachedAnswerer)}
	front := start(t, api, cache)
	reference := httptest.NewServer(api)
	defer reference.Close()

	list := "/api/v3/ip_addresses/" + ip + "/downloaded_files?limit=10"
	for _, c := range []struct {
		name, method, target, key string
		headers                   []string
		fast                      bool // answered by the cache the second time
	}{
		{"gzip page", "GET", list, premium, []string{"Accept-Encoding: gzip"}, true},
		{"identity page", "GET", list, premium, nil, true},
		{"gzip refused", "GET", list, premium, []string{"Accept-Encoding: gzip;q=0, identity"}, true},
		{"two Accept-Encoding headers", "GET", list, premium, []string{"Accept-Encoding: br", "Accept-Encoding: gzip"}, true},
		{"HEAD", "HEAD", list, premium, []string{"Accept-Encoding: gzip"}, true},
		{"cursor page", "GET", list + "&cursor=" + firstCursor(t, reference.URL+list, premium), premium, nil, true},
		{"object", "GET", "/api/v3/ip_addresses/" + ip, public, nil, true},
		{"public key on a premium list", "GET", list, public, nil, false},
		{"wrong key", "GET", list, "0123", nil, false},
		{"no key", "GET", list, "", nil, false},
		{"key with a quota", "GET", list, quota, nil, false},
		{"escaped path", "GET", "/api/v3/ip_addresses/198.51.100.%37/downloaded_files?limit=10", premium, nil, false},
		{"non-canonical path", "GET", "/api/v3//ip_addresses/" + ip, premium, nil, false},
		{"bad limit", "GET", "/api/v3/ip_addresses/" + ip + "/downloaded_files?limit=abc", premium, nil, false},
		{"unknown path", "GET", "/nothing/here", premium, nil, false},
		{"wrong method", "DELETE", list, premium, nil, false},
		{"metadata", "GET", "/api/v3/metadata", public, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := c.method + " " + c.target + " HTTP/1.1\r\nHost: filetrail.test\r\n"
			if c.key != "" {
				req += "X-Apikey: " + c.key + "\r\n"
			}
			for _, h := range c.headers {
				req += h + "\r\n"
			}
			req += "\r\n"
			want := rawDo(t, reference.URL, req)
			before := cache.answered.Load()
			for round := range 2 {
				got := rawDo(t, front, req)
				if got.status != want.status || !bytes.Equal(got.body, want.body) {
					t.Errorf("round %d: %d, %d bytes; net/http %d, %d bytes\n%.300s\n%.300s", round, got.status, len(got.body), want.status, len(want.body), got.body, want.body)
				}
				for k := range mergeKeys(got.header, want.header) {
					if !slices.Equal(got.header[k], want.header[k]) {
						t.Errorf("round %d: header %s %q, net/http %q", round, k, got.header[k], want.header[k])
					}
				}
			}
			if answered := cache.answered.Load() - before; (answered > 0) != c.fast {
				t.Errorf("cache answered %d of 2 requests; want it to answer: %v", answered, c.fast)
			}
		})
	}
}

func mergeKeys(a, b http.Header) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// firstCursor is the cursor of the second page of the list at url.
func firstCursor(t *testing.T, url, key string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-Apikey", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var page struct{ Meta struct{ Cursor string } }
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil || page.Meta.Cursor == "" {
		t.Fatalf("no cursor in the first page: %v", err)
	}
	return page.Meta.Cursor
}

// A request answered by the cache is counted in the metrics as the
// handler counts it: under its route, and as a cache hit.
func TestCachedAnswersAreCounted(t *testing.T) {
	st, premium, _, _ := apiStore(t)
	api := vtapi.New(st, vtapi.Options{CacheBytes: 8 << 20, CacheTTL: time.Hour})
	cache := &countingCache{CachedAnswerer: api.(vtapi.CachedAnswerer)}
	front := start(t, api, cache)
	route := regexp.MustCompile(`filetrail_http_requests_total\{code="200",route="/api/v3/ip_addresses/\{id\}/downloaded_files"\} (\d+)`)
	hits := regexp.MustCompile(`filetrail_response_cache_lookups_total\{result="hit"\} (\d+)`)
	req := "GET /api/v3/ip_addresses/" + ip + "/downloaded_files HTTP/1.1\r\nHost: filetrail.test\r\nX-Apikey: " + premium + "\r\n\r\n"
	for range 3 {
		if r := rawDo(t, front, req); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
	}
	metrics := rawDo(t, front, "GET /metrics HTTP/1.1\r\nHost: filetrail.test\r\n\r\n")
	if n := cache.answered.Load(); n != 2 {
		t.Fatalf("cache answered %d of 3 requests, want 2", n)
	}
	for _, m := range []*regexp.Regexp{route, hits} {
		if got := m.FindSubmatch(metrics.body); got == nil || string(got[1]) != map[*regexp.Regexp]string{route: "3", hits: "2"}[m] {
			t.Errorf("%s: %q in\n%s", m, got, metrics.body)
		}
	}
}

// echo answers a body's length and SHA-256, read through the bridge.
func echo(w http.ResponseWriter, r *http.Request) {
	if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		http.Error(w, "read deadline: "+err.Error(), 500)
		return
	}
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	w.Header().Add("X-Multi", "a")
	w.Header().Add("X-Multi", "b")
	fmt.Fprintf(w, "%s %d %x %d %s", r.Method, n, h.Sum(nil), r.ContentLength, r.Header.Get("X-Test"))
}

// Bodies reach the handler streamed, whole and unchanged, with their
// length or chunked; the handler's headers and status come back.
func TestBridgeBodies(t *testing.T) {
	front := start(t, http.HandlerFunc(echo), nil)
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	sum := sha256.Sum256(body)
	for _, chunked := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(body)
		if chunked {
			r = io.MultiReader(r) // unknown length: sent chunked
		}
		req, _ := http.NewRequest("POST", front+"/x", r)
		req.Header.Set("X-Test", "yes")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		length := len(body)
		if chunked {
			length = -1
		}
		if want := fmt.Sprintf("POST %d %x %d yes", len(body), sum, length); res.StatusCode != 200 || string(got) != want {
			t.Errorf("chunked %v: %d %q, want %q", chunked, res.StatusCode, got, want)
		}
		if v := res.Header.Values("X-Multi"); !slices.Equal(v, []string{"a", "b"}) {
			t.Errorf("X-Multi %q", v)
		}
	}
}

// A HEAD response keeps the Content-Length its handler set without a
// body.
func TestBridgeHead(t *testing.T) {
	front := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1234")
		w.WriteHeader(200)
	}), nil)
	r := rawDo(t, front, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
	if r.status != 200 || r.header.Get("Content-Length") != "1234" || len(r.body) != 0 {
		t.Errorf("%d %q %q", r.status, r.header.Get("Content-Length"), r.body)
	}
}

// A handler's panic drops the connection without a response, as net/http
// does, and the server goes on serving.
func TestBridgePanic(t *testing.T) {
	front := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		if r.URL.Path == "/abort" {
			panic(http.ErrAbortHandler)
		}
		if r.URL.Path == "/panic" {
			panic("boom")
		}
	}), nil)
	for _, p := range []string{"/panic", "/abort"} {
		res, err := http.Get(front + p)
		if err == nil {
			res.Body.Close()
			t.Errorf("%s: answered %d", p, res.StatusCode)
		}
	}
	if r := rawDo(t, front, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"); r.status != 200 || string(r.body) != "partial" {
		t.Errorf("after the panics: %d %q", r.status, r.body)
	}
}

// Requests fasthttp cannot read get a VT error and a closed connection.
func TestProtocolErrors(t *testing.T) {
	front := start(t, http.HandlerFunc(echo), nil)
	for _, c := range []struct {
		req    string
		status int
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", 431},
		{"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400},
		{"NOT HTTP\r\n\r\n", 400},
	} {
		r := rawDo(t, front, c.req)
		var doc struct {
			Error struct{ Code, Message string }
		}
		if r.status != c.status || json.Unmarshal(r.body, &doc) != nil || doc.Error.Code != "BadRequestError" || doc.Error.Message == "" {
			t.Errorf("%.40q: %d %s", c.req, r.status, r.body)
		}
		if !r.close {
			t.Errorf("%.40q: connection not closed", c.req)
		}
	}
}

// Any GET, HEAD or POST request of printable ASCII gets from fastfront the
// response net/http gives: the cache never answers what the handler would
// answer otherwise, and the bridge passes requests on as net/http does.
func FuzzSameResponsesAsNetHTTP(f *testing.F) {
	st, premium, public, _ := apiStore(f)
	api := vtapi.New(st, vtapi.Options{CacheBytes: 8 << 20, CacheTTL: time.Hour})
	front := start(f, api, api.(vtapi.CachedAnswerer))
	reference := httptest.NewServer(api)
	f.Cleanup(reference.Close)
	keys := []string{premium, public, "", "wrong"}
	f.Add(byte(0), "/api/v3/ip_addresses/"+ip+"/downloaded_files", "limit=3", "filetrail.test", "gzip", byte(0))
	f.Add(byte(1), "/api/v3/ip_addresses/"+ip, "", "h:80", "x-gzip;q=0.5", byte(1))
	f.Add(byte(0), "/api/v3/ip_addresses/198.51.100.%37/downloaded_files", "limit=3&cursor=x", "[::1]:8080", "identity", byte(2))
	f.Fuzz(func(t *testing.T, method byte, path, query, host, acceptEncoding string, key byte) {
		for _, s := range []string{path, query, host, acceptEncoding} {
			if !printable(s) {
				t.Skip()
			}
		}
		if !strings.HasPrefix(path, "/") {
			t.Skip() // not in origin form ("*", "x"): see below
		}
		target := path
		if query != "" {
			target += "?" + query
		}
		req := []string{"GET", "HEAD", "POST"}[int(method)%3] + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n"
		if k := keys[int(key)%len(keys)]; k != "" {
			req += "X-Apikey: " + k + "\r\n"
		}
		if acceptEncoding != "" {
			req += "Accept-Encoding: " + acceptEncoding + "\r\n"
		}
		req += "Content-Length: 0\r\n\r\n"
		want := rawDo(t, reference.URL, req)
		got := rawDo(t, front, req)
		if !wellFormedHost(host) && got.status == 400 && got.close {
			// A Host that is not a well-formed host[:port] (empty, "[",
			// "%"), like a target not in origin form, may be refused by
			// fasthttp where net/http passes it on: docs/OPERATIONS.md.
			return
		}
		if strings.HasPrefix(want.header.Get("Content-Type"), "text/plain") && want.status >= 400 {
			// net/http refused the request itself, before the API: the
			// HTTP layer refuses it too, in VT JSON (docs/OPERATIONS.md),
			// with its own 4xx (431 for a request line over its limit).
			var doc struct{ Error struct{ Code string } }
			head := strings.HasPrefix(req, "HEAD ") // no body to read
			if got.status < 400 || got.status > 499 || (!head && (json.Unmarshal(got.body, &doc) != nil || doc.Error.Code != "BadRequestError")) {
				t.Fatalf("%q: %d %.200s; net/http refused it with %d", req, got.status, got.body, want.status)
			}
			return
		}
		if got.status != want.status || !bytes.Equal(got.body, want.body) {
			t.Fatalf("%q: %d %.200s; net/http %d %.200s", req, got.status, got.body, want.status, want.body)
		}
		for k := range mergeKeys(got.header, want.header) {
			if !slices.Equal(got.header[k], want.header[k]) {
				t.Fatalf("%q: header %s %q, net/http %q", req, k, got.header[k], want.header[k])
			}
		}
	})
}

// wellFormedHost reports whether h is a registered name (without
// percent-encoding) or an IPv6 literal, with an optional port (RFC 3986).
func wellFormedHost(h string) bool {
	if rest, ok := strings.CutPrefix(h, "["); ok {
		literal, port, ok := strings.Cut(rest, "]")
		a, err := netip.ParseAddr(literal)
		return ok && err == nil && a.Is6() && (port == "" || portPattern.MatchString(port))
	}
	return regNamePattern.MatchString(h)
}

var (
	portPattern    = regexp.MustCompile(`^:[0-9]*$`)
	regNamePattern = regexp.MustCompile(`^[A-Za-z0-9._~!$&'()*+,;=-]+(:[0-9]*)?$`)
)

// Requests the HTTP layer refuses are not written to the log: their
// headers may carry an API key.
func TestRefusedRequestsNotLogged(t *testing.T) {
	var logs testfixture.SyncBuffer
	front := startLogging(t, http.HandlerFunc(echo), nil, &logs)
	const secret = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7"
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\nX-Apikey: " + secret + "\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX-Apikey: " + secret + "\r\nContent-Length: -5\r\n\r\n",
		"GET / HTTP/1.1\r\nX-Apikey: " + secret + "\r\nHost: [\r\n\r\n",
		"GET /" + secret + " HTTP/9\r\nX-Apikey: " + secret + "\r\n\r\n",
	} {
		if r := rawDo(t, front, req); r.status < 400 || r.status > 499 {
			t.Errorf("%.60q: %d", req, r.status)
		}
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the key was logged:\n%s", logs.String())
	}
}

// printable reports whether s is made of printable ASCII without spaces.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

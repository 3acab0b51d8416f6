package vtapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/filetrail/filetrail"
)

// A panic in a handler becomes a logged 500 InternalError in JSON.
func TestRecover(t *testing.T) {
	var logs strings.Builder
	s := New(nil, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}).(*server)
	h := s.instrument("boom", func(http.ResponseWriter, *http.Request) { panic("kaboom") })
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v3/x", nil))
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	if w.Code != 500 || body.Error.Code != string(filetrail.CodeInternal) || strings.Contains(body.Error.Message, "kaboom") ||
		w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s %v", w.Code, w.Body, w.Header())
	}
	if !strings.Contains(logs.String(), "kaboom") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

// A panic after part of the response is out aborts the connection.
func TestRecoverAfterWrite(t *testing.T) {
	s := New(nil, Options{}).(*server)
	h := s.instrument("boom", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(200)
		panic("late")
	})
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZip"}, true},
		{[]string{"x-gzip"}, true},
		{[]string{"deflate", "gzip;q=0.1"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.000"}, false},
		{[]string{"gzip;q=0, gzip"}, true},
		{[]string{"gzipped, br"}, false},
		{[]string{"*"}, false},
	} {
		if got := acceptsGzip(tc.values); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %v", tc.values, got)
		}
	}
}

// appendString writes the same string as encoding/json, for any input.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote\back`, "\x00\x1f\x7f", "é€😀", "\xff\xfe bad", "\u2028", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("appendString(%q) = %s: invalid JSON: %v", s, b, err)
		}
		ref, _ := json.Marshal(s)
		var want string
		json.Unmarshal(ref, &want)
		if got != want {
			t.Fatalf("appendString(%q) decodes to %q, encoding/json gives %q", s, got, want)
		}
	})
}

func TestCleanPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b/"},
		{"/a//b", "/a/b"},
		{"/a/../b", "/b"},
		{"/a/./b/", "/a/b/"},
		{"a", "/a"},
	} {
		if got := cleanPath(tc.in); got != tc.want {
			t.Errorf("cleanPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// The response cache never holds more than its byte bound, evicts the
// least recently used first, expires entries after the TTL and drops a
// body read before an invalidation.
func TestResponseCacheBounds(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	c := newResponseCache(1000, time.Minute)
	body := func(n int) []byte { return make([]byte, n) }
	for i := range 20 {
		c.put(fmt.Sprint("k", i), c.generation(), body(200), t0)
		if c.size > 1000 {
			t.Fatalf("after %d puts the cache holds %d bytes, over its 1000", i+1, c.size)
		}
		if i == 2 {
			c.get("k0", t0) // k0 is now more recent than k1
		}
	}
	if _, ok := c.get("k19", t0); !ok {
		t.Errorf("the newest entry was evicted")
	}
	if _, ok := c.get("k1", t0); ok {
		t.Errorf("an old entry survived 20 puts of a fifth of the cache each")
	}
	c.put("big", c.generation(), body(251), t0)
	if _, ok := c.get("big", t0); ok {
		t.Errorf("a body over a quarter of the cache was kept")
	}
	if _, ok := c.get("k19", t0.Add(time.Minute)); ok {
		t.Errorf("an entry was served at its TTL")
	}
	gen := c.generation()
	c.invalidate()
	c.put("stale", gen, body(10), t0)
	if _, ok := c.get("stale", t0); ok || c.size != 0 {
		t.Errorf("a body read before the invalidation was kept (size %d)", c.size)
	}
	if newResponseCache(0, time.Minute) != nil {
		t.Errorf("a zero-byte cache is not nil")
	}
}

package vtapi

import (
	"context"
	"encoding/json"
	"errors"
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
	ctx := t.Context()
	t0 := time.Unix(1700000000, 0)
	c := newResponseCache(1000, time.Minute, nil)
	body := func(n int) []byte { return make([]byte, n) }
	for i := range 20 {
		c.put(fmt.Sprint("k", i), "", c.begin(ctx, t0), body(200), t0)
		if c.size > 1000 {
			t.Fatalf("after %d puts the cache holds %d bytes, over its 1000", i+1, c.size)
		}
		if i == 2 {
			c.get(ctx, "k0", t0) // k0 is now more recent than k1
		}
	}
	if _, _, ok := c.get(ctx, "k19", t0); !ok {
		t.Errorf("the newest entry was evicted")
	}
	if _, _, ok := c.get(ctx, "k1", t0); ok {
		t.Errorf("an old entry survived 20 puts of a fifth of the cache each")
	}
	c.put("big", "", c.begin(ctx, t0), body(251), t0)
	if _, _, ok := c.get(ctx, "big", t0); ok {
		t.Errorf("a body over a quarter of the cache was kept")
	}
	if _, _, ok := c.get(ctx, "k19", t0.Add(time.Minute)); ok {
		t.Errorf("an entry was served at its TTL")
	}
	tag := c.begin(ctx, t0)
	c.invalidate()
	c.put("stale", "", tag, body(10), t0)
	if _, _, ok := c.get(ctx, "stale", t0); ok || c.size != 0 {
		t.Errorf("a body read before the invalidation was kept (size %d)", c.size)
	}
	if newResponseCache(0, time.Minute, nil) != nil {
		t.Errorf("a zero-byte cache is not nil")
	}
}

// With a store change count, an entry past its TTL is served again while
// the count has not moved since the entry was built, from then on for
// another TTL; a moved count, or a count that cannot be read, ends it.
// The count is read at most once per tenth of the TTL, and a reading the
// store does not answer is given up.
func TestResponseCacheRevalidates(t *testing.T) {
	ctx := t.Context()
	t0 := time.Unix(1700000000, 0)
	ttl := time.Second
	var count uint64 = 7
	var countErr error
	reads := 0
	c := newResponseCache(1000, ttl, func(context.Context) (uint64, error) {
		reads++
		return count, countErr
	})
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	c.put("k", "", c.begin(ctx, t0), []byte("v1"), t0)
	if reads != 1 {
		t.Fatalf("begin read the count %d times, want 1", reads)
	}
	for _, d := range []time.Duration{ttl / 2, ttl + ttl/2, 5 * ttl} {
		if b, _, ok := c.get(ctx, "k", at(d)); !ok || string(b) != "v1" {
			t.Fatalf("at +%v with an unchanged count: %q, %v; want the cached body", d, b, ok)
		}
	}
	if reads != 3 {
		t.Errorf("the count was read %d times, want 3 (at the start, then once per expiry)", reads)
	}
	if _, _, ok := c.get(ctx, "k", at(5*ttl+ttl/20)); !ok || reads != 3 {
		t.Errorf("within the TTL of the last reading: served %v after %d readings; want served, 3", ok, reads)
	}

	count++ // a write by another process
	if _, _, ok := c.get(ctx, "k", at(5*ttl+ttl/2)); !ok {
		t.Errorf("the write shows before the TTL of the last reading ended")
	}
	if _, _, ok := c.get(ctx, "k", at(6*ttl+ttl/2)); ok {
		t.Errorf("an entry built before a write was served past its TTL")
	}

	c.put("k", "", c.begin(ctx, at(7*ttl)), []byte("v2"), at(7*ttl))
	countErr = errors.New("database is locked")
	if _, _, ok := c.get(ctx, "k", at(9*ttl)); ok {
		t.Errorf("an entry was kept past its TTL while the count could not be read")
	}

	countErr = nil
	c.put("k", "", c.begin(ctx, at(10*ttl)), []byte("v3"), at(10*ttl))
	readsBefore := reads
	for i := range 50 {
		c.get(ctx, "other", at(10*ttl+time.Duration(i)*time.Millisecond))
		c.begin(ctx, at(10*ttl+time.Duration(i)*time.Millisecond))
	}
	if reads-readsBefore > 1 {
		t.Errorf("50 ms of misses read the count %d times, want at most 1 (once per tenth of the TTL)", reads-readsBefore)
	}

	// A store that does not answer: the reading is given up after
	// countTimeout, and the entry expires as without a count.
	c.changeCount = func(ctx context.Context) (uint64, error) { <-ctx.Done(); return 0, ctx.Err() }
	start := time.Now()
	if _, _, ok := c.get(ctx, "k", at(12*ttl)); ok || time.Since(start) > 10*countTimeout {
		t.Errorf("with a store that does not answer: served %v after %v; want a miss within %v", ok, time.Since(start), countTimeout)
	}
}

package vtapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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

package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The web interface answers /gui and /gui/...; the API every other path,
// non-canonical ones included (no redirect on the way).
func TestRoutesMountTheWebInterface(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Handler", "api")
		w.WriteHeader(http.StatusTeapot)
	})
	h := routes(api)
	for _, c := range []struct {
		path    string
		api     bool
		status  int
		htmlCSP bool
	}{
		{"/gui/", false, 200, true},
		{"/gui/ip-address/192.0.2.1", false, 200, true},
		{"/gui", false, 301, false},
		{"/api/v3/files/x", true, 418, false},
		{"/api/v3//files/x", true, 418, false},
		{"/guide", true, 418, false},
		{"/", true, 418, false},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		if got := rec.Header().Get("X-Handler") == "api"; got != c.api || rec.Code != c.status {
			t.Errorf("GET %s: status %d, API handler %v; want %d, %v", c.path, rec.Code, got, c.status, c.api)
		}
		if c.htmlCSP && (!strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || rec.Header().Get("Content-Security-Policy") == "") {
			t.Errorf("GET %s: not the web page with its CSP", c.path)
		}
	}
}

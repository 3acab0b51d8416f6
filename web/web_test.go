package web_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/filetrail/filetrail/web"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRoutes(t *testing.T) {
	h := web.Handler(web.Options{Title: "Acme <filetrail>"})
	index := body(t, get(t, h, "GET", "/gui/"))
	if !strings.Contains(index, `<script type="module" src="/gui/assets/app.js">`) {
		t.Fatalf("/gui/ is not the application page:\n%s", index)
	}
	if !strings.Contains(index, "<title>Acme &lt;filetrail&gt;</title>") {
		t.Errorf("title not set and escaped:\n%s", index)
	}
	for _, c := range []struct {
		path, wantType string
		status         int
	}{
		{"/gui/", "text/html", 200},
		{"/gui/ip-address/192.0.2.1", "text/html", 200},
		{"/gui/ip-address/2001:db8::1", "text/html", 200},
		{"/gui/file/44d88612fea8a8f36de82e1278abb02f", "text/html", 200},
		{"/gui/assets/app.js", "text/javascript", 200},
		{"/gui/assets/style.css", "text/css", 200},
		{"/gui/assets/icon.svg", "image/svg+xml", 200},
		{"/gui/assets/missing.js", "", 404},
		{"/gui/ip-address/", "", 404},
		{"/gui/file/a/b", "", 404},
		{"/gui/elsewhere", "", 404},
	} {
		r := get(t, h, "GET", c.path)
		if r.StatusCode != c.status {
			t.Errorf("GET %s: status %d, want %d", c.path, r.StatusCode, c.status)
			continue
		}
		if csp := r.Header.Get("Content-Security-Policy"); csp != web.ContentSecurityPolicy {
			t.Errorf("GET %s: CSP %q", c.path, csp)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", c.path)
		}
		if ct := r.Header.Get("Content-Type"); c.wantType != "" && !strings.HasPrefix(ct, c.wantType) {
			t.Errorf("GET %s: Content-Type %q, want %s", c.path, ct, c.wantType)
		}
		if c.path == "/gui/ip-address/192.0.2.1" && body(t, r) != index {
			t.Errorf("GET %s is not the application page", c.path)
		}
	}
	if r := get(t, h, "GET", "/gui"); r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "/gui/" {
		t.Errorf("GET /gui: %d to %q, want 301 to /gui/", r.StatusCode, r.Header.Get("Location"))
	}
	if r := get(t, h, "POST", "/gui/"); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /gui/: %d, want 405", r.StatusCode)
	}
}

func TestConditionalGet(t *testing.T) {
	h := web.Handler(web.Options{})
	r := get(t, h, "GET", "/gui/assets/app.js")
	etag := r.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	req := httptest.NewRequest("GET", "/gui/assets/app.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match with the ETag: %d, want 304", rec.Code)
	}
}

// The interface works offline and under the CSP: no inline script or
// style in the page, no reference to another host in any asset.
func TestAssetsAreSelfContained(t *testing.T) {
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	// A URL with a scheme, or protocol-relative inside a string or url().
	remote := regexp.MustCompile(`(?i)(?:[a-z]+:|["'(]\s*)//([a-z0-9.-]+\.[a-z]{2,})`)
	// XML namespace names are identifiers, never fetched.
	allowed := map[string]bool{"www.w3.org": true}
	n := 0
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		if strings.HasSuffix(p, ".html") {
			if m := inline.Find(b); m != nil {
				t.Errorf("%s: inline script or style: %q", p, m)
			}
		}
		for _, m := range remote.FindAllSubmatch(b, -1) {
			if !allowed[string(m[1])] {
				t.Errorf("%s: refers to another host: %q", p, m[0])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("checked only %d asset files", n)
	}
}

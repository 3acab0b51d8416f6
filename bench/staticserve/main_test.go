package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestServesLikeGzipStatic: the plain file, its .gz copy to a client that
// accepts gzip, the plain file again when no .gz copy exists, and a 404.
func TestServesLikeGzipStatic(t *testing.T) {
	root := t.TempDir()
	write := func(name, data string) {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("first-l10.json", `{"data":[]}`)
	write("first-l10.json.gz", "GZIP-BYTES")
	write("random-l10/7.json", `{"data":[1]}`)
	served, err := load(root)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(served)
	defer srv.Close()
	for _, c := range []struct {
		path, accept         string
		status               int
		body, encoding, size string
	}{
		{"/first-l10.json", "", 200, `{"data":[]}`, "", "11"},
		{"/first-l10.json", "gzip, deflate", 200, "GZIP-BYTES", "gzip", "10"},
		{"/random-l10/7.json", "gzip", 200, `{"data":[1]}`, "", "12"},
		{"/missing.json", "", 404, "", "", ""},
	} {
		req, _ := http.NewRequest("GET", srv.URL+c.path, nil)
		// Set explicitly, so that the client neither adds nor undoes gzip.
		req.Header.Set("Accept-Encoding", c.accept)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s (Accept-Encoding %q): status %d, want %d", c.path, c.accept, resp.StatusCode, c.status)
			continue
		}
		if c.status != 200 {
			continue
		}
		if string(got) != c.body || resp.Header.Get("Content-Encoding") != c.encoding ||
			resp.Header.Get("Content-Length") != c.size || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s (Accept-Encoding %q): body %q, headers %v; want body %q, encoding %q, length %s",
				c.path, c.accept, got, resp.Header, c.body, c.encoding, c.size)
		}
	}
}

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeAPI answers /ip/N?limit=L with a page of min(N, L) items and
// meta.count N, gzipped on request; corrupt changes the gzip body.
func fakeAPI(t *testing.T, corrupt bool) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-apikey") != "k" {
			http.Error(w, `{"error":{"code":"WrongCredentialsError"}}`, http.StatusUnauthorized)
			return
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/ip/"))
		lim, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		items := strings.TrimSuffix(strings.Repeat(`{"type":"file"},`, min(n, lim)), ",")
		body := fmt.Sprintf(`{"data":[%s],"meta":{"count":%d}}`, items, n)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.Header.Get("Accept-Encoding") == "gzip" {
			if corrupt {
				body += " "
			}
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write([]byte(body))
			zw.Close()
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(b.Bytes())
			return
		}
		w.Write([]byte(body))
	}))
}

func TestFetchAllWritesCheckedPages(t *testing.T) {
	srv := fakeAPI(t, false)
	defer srv.Close()
	pages, err := ReadList(strings.NewReader("a/1 /ip/1?limit=10 1\n\nb/50 /ip/50?limit=40 50\nc /ip/3?limit=2 -1\n"))
	if err != nil || len(pages) != 3 {
		t.Fatalf("ReadList: %v, %v", pages, err)
	}
	dir := t.TempDir()
	f := &Fetcher{Base: srv.URL, Key: "k", Client: newClient(2)}
	if err := f.FetchAll(context.Background(), pages, dir, 2); err != nil {
		t.Fatal(err)
	}
	plain, err := os.ReadFile(filepath.Join(dir, "b/50.json"))
	if err != nil || !bytes.Contains(plain, []byte(`"count":50`)) || bytes.Count(plain, []byte(`"file"`)) != 40 {
		t.Fatalf("b/50.json = %.100s, %v", plain, err)
	}
	gz, err := os.ReadFile(filepath.Join(dir, "b/50.json.gz"))
	if err != nil || !bytes.HasPrefix(gz, []byte{0x1f, 0x8b}) {
		t.Fatalf("b/50.json.gz is not the gzip body: %v", err)
	}
}

func TestFetchAllRejectsWrongPages(t *testing.T) {
	good, bad := fakeAPI(t, false), fakeAPI(t, true)
	defer good.Close()
	defer bad.Close()
	for _, c := range []struct {
		srv       *httptest.Server
		key, list string
		wantInErr string
	}{
		{bad, "k", "x /ip/5?limit=10 5", "decompress"},
		{good, "k", "x /ip/5?limit=10 6", "meta.count 5, want 6"},
		{good, "nope", "x /ip/5?limit=10 5", "HTTP 401"},
	} {
		pages, err := ReadList(strings.NewReader(c.list))
		if err != nil {
			t.Fatal(err)
		}
		f := &Fetcher{Base: c.srv.URL, Key: c.key, Client: newClient(1)}
		err = f.FetchAll(context.Background(), pages, t.TempDir(), 1)
		if err == nil || !strings.Contains(err.Error(), c.wantInErr) {
			t.Errorf("%q: err = %v, want %q", c.list, err, c.wantInErr)
		}
	}
}

func TestReadListRejectsBadLines(t *testing.T) {
	for _, list := range []string{"", "a /p", "a /p x", "../a /p 1", "a p 1", "a /p -2"} {
		if _, err := ReadList(strings.NewReader(list)); err == nil {
			t.Errorf("ReadList(%q): no error", list)
		}
	}
}

func TestCheckPageCountsItems(t *testing.T) {
	plain := []byte(`{"data":[{},{}],"meta":{"count":9}}`)
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(plain)
	zw.Close()
	if err := CheckPage(Page{Path: "/x?limit=3", Count: 9}, plain, b.Bytes()); err == nil || !strings.Contains(err.Error(), "2 items, want 3") {
		t.Errorf("short page: err = %v", err)
	}
	if err := CheckPage(Page{Path: "/x?limit=2", Count: 9}, plain, b.Bytes()); err != nil {
		t.Errorf("full page: %v", err)
	}
}

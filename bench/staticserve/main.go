// Command staticserve is the Go peer of bench/run.sh: Go's net/http sending
// the same response bytes as nginx, from memory. It is the ceiling of any
// net/http server on the machine, where nginx is the ceiling of any server
// (filetrail writes its cache hits with fasthttp, without net/http).
//
// It reads every file under -root into memory at start and answers GET
// /PATH with the file PATH, as nginx with gzip_static does: when the
// request's Accept-Encoding names gzip and PATH.gz exists, PATH.gz with
// Content-Encoding: gzip; else PATH. Every answer has Content-Type
// application/json and a Content-Length; a missing file is a 404.
//
// Usage:
//
//	staticserve -addr 127.0.0.1:8080 -root DIR
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// body is one file's bytes with its Content-Length value, made once.
type body struct {
	data   []byte
	length []string
}

// files are the bodies by request path ("/a/b.json", "/a/b.json.gz").
type files map[string]body

// load reads every regular file under root.
func load(root string) (files, error) {
	out := files{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		out["/"+filepath.ToSlash(rel)] = body{data: data, length: []string{strconv.Itoa(len(data))}}
		return nil
	})
	return out, err
}

var (
	jsonType = []string{"application/json"}
	gzipEnc  = []string{"gzip"}
)

// ServeHTTP sends the file of the request's path, its .gz copy when the
// client accepts gzip.
func (f files) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		if b, ok := f[r.URL.Path+".gz"]; ok {
			h["Content-Encoding"] = gzipEnc
			send(w, b)
			return
		}
	}
	b, ok := f[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	send(w, b)
}

func send(w http.ResponseWriter, b body) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = b.length
	w.Write(b.data)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	root := flag.String("root", "", "directory whose files are served")
	flag.Parse()
	if *root == "" {
		fmt.Fprintln(os.Stderr, "staticserve: -root is required")
		os.Exit(2)
	}
	served, err := load(*root)
	if err != nil {
		log.Fatalf("staticserve: %v", err)
	}
	log.Printf("staticserve: %d files from %s on %s", len(served), *root, *addr)
	log.Fatal(http.ListenAndServe(*addr, served))
}

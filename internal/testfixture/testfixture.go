// Package testfixture holds test helpers that the suites of several
// packages share: it is imported by tests only.
package testfixture

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer that a writer (a server's log, a command's
// output) and the test reading it may use at the same time.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// VTReport is one VirusTotal file report: the hashes it names and its
// attributes object as stored in the file.
type VTReport struct {
	SHA256, SHA1, MD5 string
	Attributes        json.RawMessage
}

// VTReports returns the VirusTotal API v3 file reports (GET /files/{id}
// bodies) among the *.json files of dir, in file name order; other
// documents there (error bodies, an analysis descriptor) are skipped. A
// file that cannot be read or decoded fails the test.
func VTReports(t testing.TB, dir string) []VTReport {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []VTReport
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Data struct {
				Type       string          `json:"type"`
				Attributes json.RawMessage `json:"attributes"`
			} `json:"data"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if doc.Data.Type != "file" {
			continue
		}
		var h struct{ SHA256, SHA1, MD5 string }
		if err := json.Unmarshal(doc.Data.Attributes, &h); err != nil {
			t.Fatal(err)
		}
		out = append(out, VTReport{SHA256: h.SHA256, SHA1: h.SHA1, MD5: h.MD5, Attributes: doc.Data.Attributes})
	}
	return out
}

// AppendFile appends data to the file at path, creating it (mode 0644)
// when missing, and closes it, as a log writer adding lines does.
func AppendFile[T string | []byte](t testing.TB, path string, data T) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// RawExchange writes the raw request req on a fresh connection to the
// server at base (http://HOST:PORT) and reads one response, its body read
// whole (none for HEAD), without sending anything else: not the rest of a
// body the request announces. No response within 30 s fails the test.
func RawExchange(t testing.TB, base, req string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	method, _, _ := strings.Cut(req, " ")
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("no response to %.80q: %v", req, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the response to %.80q: %v", req, err)
	}
	return res, body
}

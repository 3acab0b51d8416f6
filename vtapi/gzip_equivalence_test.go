package vtapi_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	kpgzip "github.com/klauspost/compress/gzip"

	"github.com/filetrail/filetrail/vtapi"
)

// gzipDecoder decompresses a gzip body the way one kind of client does.
type gzipDecoder struct {
	name   string
	tool   string // external program it needs, "" for none
	decode func(t testing.TB, body []byte) ([]byte, error)
}

// gzipDecoders are the decoders of the clients this test can run: Go's
// (net/http, hence vt-go and the official CLI), klauspost's, zlib's
// (Python's zlib module: vt-py, requests, aiohttp; curl and browsers link
// zlib too) and GNU gzip. curl is run against the server separately
// (curlDecodes).
var gzipDecoders = []gzipDecoder{
	{name: "compress/gzip", decode: func(_ testing.TB, body []byte) ([]byte, error) {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		zr.Multistream(false)
		return io.ReadAll(zr)
	}},
	{name: "klauspost/compress/gzip", decode: func(_ testing.TB, body []byte) ([]byte, error) {
		zr, err := kpgzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	}},
	{name: "zlib (python3)", tool: "/usr/bin/python3", decode: func(t testing.TB, body []byte) ([]byte, error) {
		// wbits 16+15: a gzip stream; decompressobj refuses trailing
		// garbage and reports an unfinished stream via eof.
		return runFilter(t, body, "/usr/bin/python3", "-c",
			`import sys, zlib
d = zlib.decompressobj(16 + 15)
out = d.decompress(sys.stdin.buffer.read())
if not d.eof or d.unused_data: sys.exit("incomplete or trailing data")
sys.stdout.buffer.write(out)`)
	}},
	{name: "GNU gzip", tool: "gzip", decode: func(t testing.TB, body []byte) ([]byte, error) {
		return runFilter(t, body, "gzip", "-dc")
	}},
}

func runFilter(t testing.TB, in []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %s", name, err, stderr.Bytes())
	}
	return out, nil
}

// haveTool reports whether a program is installed; in CI a missing one
// fails the test, elsewhere it is skipped with a loud log line.
func haveTool(t *testing.T, tool string) bool {
	if tool == "" {
		return true
	}
	if _, err := exec.LookPath(tool); err == nil {
		return true
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed: .ci/run must install it", tool)
	}
	t.Logf("!!! SKIPPING the %s decoder: %s is not installed on this machine", tool, tool)
	return false
}

// Every gzip response decompresses, in every client's decoder, to exactly
// the bytes of the uncompressed response: pages stitched from stored
// compressed documents included (first, middle and last pages, every
// limit class, full objects and descriptors), objects, lists and errors.
func TestGzipStitchedResponsesEqualPlainInEveryDecoder(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	var paths []string
	for _, ip := range []netip.Addr{reportsIP, reportsV6, bigIP} {
		for _, limit := range []int{1, 7, 40} {
			paths = append(paths, pagePaths(t, e, downloadedPath(ip.String()), limit)...)
		}
		paths = append(paths,
			downloadedPath(ip.String())+"?descriptors_only=true&limit=40",
			"/api/v3/ip_addresses/"+ip.String()+"/relationships/downloaded_files?limit=40",
			"/api/v3/ip_addresses/"+ip.String()+"?relationships=downloaded_files",
		)
	}
	for _, r := range f.reports {
		paths = append(paths, "/api/v3/files/"+r.SHA256, "/api/v3/files/"+r.SHA256+"/itw_ips?limit=40")
	}
	paths = append(paths, "/api/v3/metadata", downloadedPath("192.0.2.250"), downloadedPath("not-an-ip"), "/api/v3/files/"+strings.Repeat("0", 64))

	decoders := []gzipDecoder{}
	for _, d := range gzipDecoders {
		if haveTool(t, d.tool) {
			decoders = append(decoders, d)
		}
	}
	stitched := 0
	for i, p := range paths {
		plain := e.get(t, p, e.premium)
		gz := e.get(t, p, e.premium, "Accept-Encoding", "gzip")
		if gz.Header.Get("Content-Encoding") != "gzip" || gz.Status != plain.Status {
			t.Fatalf("%s: gzip answer %d %v, plain %d", p, gz.Status, gz.Header, plain.Status)
		}
		if gz.Header.Get("Content-Length") != fmt.Sprint(len(gz.Body)) {
			t.Fatalf("%s: Content-Length %q for a %d-byte body", p, gz.Header.Get("Content-Length"), len(gz.Body))
		}
		if strings.Contains(p, "/downloaded_files?") && !strings.Contains(p, "descriptors") && bytes.Count(plain.Body, []byte(`"attributes":{`)) > 0 {
			stitched++
		}
		for _, d := range decoders {
			// External programs on every path would take minutes: they
			// get every tenth path, the in-process decoders all of them.
			if d.tool != "" && i%10 != 0 && !strings.Contains(p, "limit=40") {
				continue
			}
			got, err := d.decode(t, gz.Body)
			if err != nil {
				t.Fatalf("%s: %s cannot decode the gzip body: %v", p, d.name, err)
			}
			if !bytes.Equal(got, plain.Body) {
				t.Fatalf("%s: %s decodes %d bytes that differ from the %d-byte plain body", p, d.name, len(got), len(plain.Body))
			}
		}
	}
	if stitched < 20 {
		t.Fatalf("only %d pages of full File objects were checked", stitched)
	}
	if haveTool(t, "curl") {
		curlDecodes(t, e, paths)
	}
}

// curlDecodes fetches paths with curl --compressed, which asks for gzip and
// decodes it with libcurl's zlib, and compares with the plain bodies.
func curlDecodes(t *testing.T, e *env, paths []string) {
	dir := t.TempDir()
	for i, p := range paths {
		if !strings.Contains(p, "limit=40") && i%10 != 0 {
			continue
		}
		headers, out := filepath.Join(dir, "h"), filepath.Join(dir, "b")
		cmd := exec.Command("curl", "-sS", "--compressed", "-H", "x-apikey: "+e.premium, "-D", headers, "-o", out, e.srv.URL+p)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("curl %s: %v: %s", p, err, msg)
		}
		h, _ := os.ReadFile(headers)
		if !bytes.Contains(bytes.ToLower(h), []byte("content-encoding: gzip")) {
			t.Fatalf("curl %s: the answer was not gzip-encoded:\n%s", p, h)
		}
		got, _ := os.ReadFile(out)
		if want := e.get(t, p, e.premium).Body; !bytes.Equal(got, want) {
			t.Fatalf("curl %s: decoded %d bytes that differ from the %d-byte plain body", p, len(got), len(want))
		}
	}
}

// pagePaths follows links.next from the first page of a list at the given
// limit and returns the path of every page.
func pagePaths(t testing.TB, e *env, list string, limit int) []string {
	t.Helper()
	path := fmt.Sprintf("%s?limit=%d", list, limit)
	var paths []string
	for len(paths) < 1000 {
		paths = append(paths, path)
		var page struct {
			Links struct {
				Next string `json:"next"`
			} `json:"links"`
		}
		if err := json.Unmarshal(e.get(t, path, e.premium).Body, &page); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if page.Links.Next == "" {
			return paths
		}
		path = strings.TrimPrefix(page.Links.Next, e.srv.URL)
	}
	t.Fatalf("%s: more than 1000 pages", list)
	return nil
}

// Command pagefetch saves the exact response bytes of many API pages, so a
// static server can send the same bodies. It reads "NAME PATH COUNT" lines on
// standard input and, for each, asks BASE+PATH twice with the key in
// x-apikey: once plainly and once with Accept-Encoding: gzip. It writes the
// bodies to OUT/NAME.json and OUT/NAME.json.gz and checks them:
//
//   - both answers are 200 with Content-Type application/json;
//   - the gzip answer has Content-Encoding: gzip and decompresses to the
//     plain body;
//   - the plain body's meta.count is COUNT (skipped when COUNT is -1) and it
//     holds min(COUNT, limit) items, limit being the path's limit parameter.
//
// It exits with status 1 at the first page that fails a check, naming it.
//
// Usage:
//
//	pagefetch -base http://127.0.0.1:8080 -key KEY -out DIR [-jobs 4] < list
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	base := flag.String("base", "", "server base URL (required)")
	key := flag.String("key", "", "API key sent in x-apikey (required)")
	out := flag.String("out", "", "directory to write the pages to (required)")
	jobs := flag.Int("jobs", 4, "pages fetched at once")
	flag.Parse()
	if *base == "" || *key == "" || *out == "" || *jobs < 1 {
		flag.Usage()
		os.Exit(2)
	}
	pages, err := ReadList(os.Stdin)
	if err == nil {
		f := &Fetcher{Base: strings.TrimRight(*base, "/"), Key: *key, Client: newClient(*jobs)}
		err = f.FetchAll(context.Background(), pages, *out, *jobs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pagefetch:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "pagefetch: %d pages saved in %s\n", len(pages), *out)
}

func newClient(jobs int) *http.Client {
	return &http.Client{
		Timeout: time.Minute,
		// The gzip body is saved as sent, not decompressed.
		Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: jobs},
	}
}

// Page is one line of the list.
type Page struct {
	Name  string // file name under the output directory, without .json
	Path  string // request path and query
	Count int64  // expected meta.count; -1: not checked
}

// ReadList reads "NAME PATH COUNT" lines; blank lines are skipped. A NAME
// may contain slashes (subdirectories) but no "..".
func ReadList(r io.Reader) ([]Page, error) {
	var out []Page
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("list line %d: want NAME PATH COUNT, got %q", n, sc.Text())
		}
		count, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || count < -1 {
			return nil, fmt.Errorf("list line %d: bad count %q", n, f[2])
		}
		if !filepath.IsLocal(f[0]) || !strings.HasPrefix(f[1], "/") {
			return nil, fmt.Errorf("list line %d: NAME must be a relative path inside the output directory and PATH must start with /", n)
		}
		out = append(out, Page{Name: f[0], Path: f[1], Count: count})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

// Fetcher asks one server for pages.
type Fetcher struct {
	Base, Key string
	Client    *http.Client
}

// FetchAll fetches, checks and writes every page, jobs at a time, and
// returns the first error.
func (f *Fetcher) FetchAll(ctx context.Context, pages []Page, dir string, jobs int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan Page)
	var wg sync.WaitGroup
	for range jobs {
		wg.Go(func() {
			for p := range work {
				if err := f.Fetch(ctx, p, dir); err != nil {
					cancel(fmt.Errorf("%s (%s): %w", p.Name, p.Path, err))
				}
			}
		})
	}
feed:
	for _, p := range pages {
		select {
		case work <- p:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return context.Cause(ctx)
}

// Fetch fetches one page plainly and gzipped, checks the two bodies and
// writes them.
func (f *Fetcher) Fetch(ctx context.Context, p Page, dir string) error {
	plain, err := f.get(ctx, p.Path, false)
	if err != nil {
		return err
	}
	gz, err := f.get(ctx, p.Path, true)
	if err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	if err := CheckPage(p, plain, gz); err != nil {
		return err
	}
	name := filepath.Join(dir, p.Name+".json")
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(name, plain, 0o644); err != nil {
		return err
	}
	return os.WriteFile(name+".gz", gz, 0o644)
}

func (f *Fetcher) get(ctx context.Context, path string, gz bool) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.Base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("x-apikey", f.Key)
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return nil, fmt.Errorf("Content-Type %q, want application/json", resp.Header.Get("Content-Type"))
	}
	if enc := resp.Header.Get("Content-Encoding"); gz != (enc == "gzip") {
		return nil, fmt.Errorf("Content-Encoding %q answering Accept-Encoding gzip=%v", enc, gz)
	}
	return body, nil
}

// CheckPage checks a page's plain and gzip bodies against each other and
// against the list's expectations.
func CheckPage(p Page, plain, gz []byte) error {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return fmt.Errorf("gzip body: %w", err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		return fmt.Errorf("gzip body: %w", err)
	}
	if !bytes.Equal(unzipped, plain) {
		return errors.New("the gzip body does not decompress to the plain body")
	}
	var body struct {
		Data []json.RawMessage `json:"data"`
		Meta struct {
			Count int64 `json:"count"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(plain, &body); err != nil {
		return fmt.Errorf("plain body: %w", err)
	}
	if p.Count < 0 {
		return nil
	}
	if body.Meta.Count != p.Count {
		return fmt.Errorf("meta.count %d, want %d", body.Meta.Count, p.Count)
	}
	want := p.Count
	if u, err := url.Parse(p.Path); err == nil {
		if lim, err := strconv.ParseInt(u.Query().Get("limit"), 10, 64); err == nil {
			want = min(want, lim)
		}
	}
	if int64(len(body.Data)) != want {
		return fmt.Errorf("%d items, want %d", len(body.Data), want)
	}
	return nil
}

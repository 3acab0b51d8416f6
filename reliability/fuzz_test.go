package reliability

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testdata is the repository's test data directory.
const testdata = "../testdata"

// loadedStore is a store with the bundled real evidence ingested: the
// real Zeek logs and the VT file reports.
func loadedStore(t *testing.T) string {
	t.Helper()
	store := filepath.Join(t.TempDir(), "ft.db")
	reports, err := filepath.Glob(filepath.Join(testdata, "vt-file-objects", "[0-9a-f]*.json"))
	if err != nil || len(reports) == 0 {
		t.Fatalf("no VT reports in testdata: %v", err)
	}
	mustRun(t, append([]string{"ingest", "--store", store, filepath.Join(testdata, "zeek", "zat-tsv-2013")}, reports...)...)
	return store
}

// fuzzer makes random, well-formed HTTP requests: paths from the API's
// routes with mutated segments, random query strings, headers, keys and
// bodies.
type fuzzer struct {
	rng  *rand.Rand
	keys []string // "" (none), wrong, revoked, public, premium, admin
}

var (
	fuzzRoutes = []string{
		"/api/v3/ip_addresses/{ip}", "/api/v3/ip_addresses/{ip}/downloaded_files", "/api/v3/ip_addresses/{ip}/relationships/downloaded_files",
		"/api/v3/files/{hash}", "/api/v3/files/{hash}/itw_ips", "/api/v3/files/{hash}/relationships/itw_ips",
		"/api/v3/metadata", "/admin/v1/ingest", "/api/v3/files", "/api/v3/uploads/{x}", "/api/v3/files/upload_url",
		"/api/v3/analyses/{x}", "/healthz", "/readyz", "/metrics", "/api/v3/urls/{x}", "/api/v3/{x}", "/{x}", "/admin/{x}",
	}
	fuzzIPs    = []string{"108.59.9.32", "74.207.254.18", "192.0.2.1", "::1", "2001:db8::7", "::ffff:108.59.9.32", "0.0.0.0", "255.255.255.255", "1.2.3", "1.2.3.4/24", "fe80::1%25eth0", "[::1]", "108.059.009.032"}
	fuzzHashes = []string{"2e4c462b3424afcc04f43429d5f001e4ef9a28143bfeefb9af2254b4df3a7c1a", "10395ab3566395ca050232d2c1a0dbad69eb5fd2", "70041821acf87389e40ddcb092004184",
		"ddecc35aa198f401948c73a0d53fd93c4ecb770198ad7db308de026745c56b71", strings.Repeat("0", 64), strings.Repeat("G", 64), "abc"}
	fuzzAtoms   = []string{"", ".", "..", "%2e%2e", "%2F", "%00", "%zz", "%", "%u0041", "é", "%C3%A9", "\u202e", "a b", "*", "~", "-1", "0", "99999999999999999999", "null", "true", "{}", "[]", "'\"", "<script>", "\\", ";", ",", "relationships", "downloaded_files"}
	fuzzParams  = []string{"limit", "cursor", "relationships", "descriptors_only", "format", "source", "attributes", "x-apikey", "apikey", "filter", "order"}
	fuzzMethods = []string{"GET", "GET", "GET", "GET", "HEAD", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO"}
)

func (f *fuzzer) pick(list []string) string { return list[f.rng.IntN(len(list))] }

// junk is up to n random bytes, percent-encoded when escape is set.
func (f *fuzzer) junk(n int, escape bool) string {
	b := make([]byte, f.rng.IntN(n+1))
	for i := range b {
		b[i] = byte(f.rng.IntN(256))
	}
	if escape {
		return url.PathEscape(string(b))
	}
	return string(b)
}

func (f *fuzzer) segment() string {
	switch f.rng.IntN(6) {
	case 0:
		return url.PathEscape(f.pick(fuzzIPs))
	case 1:
		return f.pick(fuzzHashes)
	case 2:
		return f.pick(fuzzAtoms)
	case 3:
		return f.junk(40, true)
	case 4:
		return strings.Repeat(f.pick([]string{"a", "0", "%41", "/"}), f.rng.IntN(3000))
	}
	return f.pick(fuzzAtoms) + f.junk(5, true)
}

func (f *fuzzer) path() string {
	p := f.pick(fuzzRoutes)
	for _, ph := range []string{"{ip}", "{hash}", "{x}"} {
		for strings.Contains(p, ph) {
			v := f.segment()
			switch {
			case ph == "{ip}" && f.rng.IntN(2) == 0:
				v = url.PathEscape(f.pick(fuzzIPs))
			case ph == "{hash}" && f.rng.IntN(2) == 0:
				v = f.pick(fuzzHashes)
			}
			p = strings.Replace(p, ph, v, 1)
		}
	}
	switch f.rng.IntN(8) {
	case 0:
		p += "/"
	case 1:
		p = strings.Replace(p, "/", "//", 1+f.rng.IntN(2))
	case 2:
		p += "/" + f.segment()
	}
	return p
}

func (f *fuzzer) query() string {
	var parts []string
	for range f.rng.IntN(5) {
		v := f.pick(append(fuzzAtoms, strconv.Itoa(f.rng.IntN(100)-10), f.junk(30, true), f.junk(8, false)))
		parts = append(parts, f.pick(fuzzParams)+"="+v)
	}
	if f.rng.IntN(10) == 0 {
		parts = append(parts, f.junk(30, false))
	}
	return strings.Join(parts, "&")
}

// body returns a body and its content type.
func (f *fuzzer) body() (io.Reader, string) {
	switch f.rng.IntN(7) {
	case 0, 1:
		return nil, ""
	case 2:
		return strings.NewReader(f.junk(2000, false)), f.pick([]string{"application/octet-stream", "application/json", "text/plain", ""})
	case 3: // sightings, some good, some broken
		var b strings.Builder
		for range f.rng.IntN(20) {
			fmt.Fprintf(&b, `{"ip":%q,"sha256":%q,"url":%q,"seen_at":%d,"source":"fuzz"}`+"\n",
				f.pick(fuzzIPs), f.pick(fuzzHashes), "http://"+f.junk(10, true), f.rng.Int64N(4e9)-1e9)
			if f.rng.IntN(4) == 0 {
				b.WriteString(f.junk(50, false) + "\n")
			}
		}
		return strings.NewReader(b.String()), "application/x-ndjson"
	case 4: // a VT report, maybe cut short
		data, _ := os.ReadFile(filepath.Join(testdata, "vt-file-objects", "ddecc35aa198f401948c73a0d53fd93c4ecb770198ad7db308de026745c56b71.json"))
		return bytes.NewReader(data[:f.rng.IntN(len(data)+1)]), "application/json"
	case 5: // multipart, the file part maybe misnamed
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, _ := mw.CreateFormFile(f.pick([]string{"file", "file", "other"}), "s.bin")
		io.WriteString(fw, f.junk(3000, false))
		if f.rng.IntN(3) > 0 {
			mw.Close()
		}
		return &b, mw.FormDataContentType()
	}
	return strings.NewReader(`{"data":` + f.junk(100, false)), "application/json"
}

// requestTarget percent-encodes the bytes an HTTP/1.1 request line
// cannot carry (controls, space, '#', non-ASCII) and leaves the rest as
// it is, malformed escapes included.
func requestTarget(s string) string {
	var b strings.Builder
	for i := range len(s) {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// request builds one random request against base; nil when the random
// URL is not one an HTTP client can send.
func (f *fuzzer) request(base string) *http.Request {
	raw := base + f.path()
	if q := f.query(); q != "" || f.rng.IntN(4) == 0 {
		raw += "?" + requestTarget(q)
	}
	body, ct := f.body()
	req, err := http.NewRequest(f.pick(fuzzMethods), raw, body)
	if err != nil {
		return nil
	}
	if k := f.pick(f.keys); k != "" {
		req.Header.Set("x-apikey", k)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for range f.rng.IntN(4) {
		switch f.rng.IntN(6) {
		case 0:
			req.Header.Set("Accept-Encoding", f.pick([]string{"gzip", "br", "gzip;q=0", "*", "deflate, gzip", "identity", f.junk(20, true)}))
		case 1:
			req.Header.Set("x-apikey", f.pick([]string{" ", strings.Repeat("k", 4000), f.junk(64, true), f.pick(f.keys) + " "}))
		case 2:
			req.Header.Add("X-Apikey", f.pick(f.keys))
		case 3:
			req.Header.Set("Range", "bytes=0-"+strconv.Itoa(f.rng.IntN(100)))
		case 4:
			req.Header.Set(f.pick([]string{"Accept", "X-Forwarded-For", "Forwarded", "Origin", "Cookie", "If-None-Match"}), f.junk(100, true))
		case 5:
			req.Header.Set("Expect", "100-continue")
		}
	}
	return req
}

// TestHTTPFuzz sends thousands of random requests to a real server over a
// store with real evidence: no 5xx, every answer JSON (VT errors for
// every non-200), and the server alive and panic-free at the end.
// FILETRAIL_FUZZ_REQUESTS sets the count (default 3000),
// FILETRAIL_FUZZ_SEED the random seed (default: the clock, logged).
func TestHTTPFuzz(t *testing.T) {
	t.Parallel()
	store := loadedStore(t)
	keys := []string{"", "wrong-" + strings.Repeat("0", 58),
		createKey(t, store, "revoked", "--premium", "--admin"),
		createKey(t, store, "public", "--public-tier"),
		createKey(t, store, "premium", "--premium"),
		createKey(t, store, "admin", "--admin", "--premium")}
	mustRun(t, "keys", "revoke", "--store", store, "revoked")
	s := startServe(t, store, "--wrong-key-limit", "0")
	n := envInt(t, "FILETRAIL_FUZZ_REQUESTS", 3000)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("FILETRAIL_FUZZ_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("FILETRAIL_FUZZ_SEED=%q: %v", v, err)
		}
	}
	t.Logf("fuzz seed %d (FILETRAIL_FUZZ_SEED), %d requests", seed, n)

	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8}}
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		failures []string
		sent     atomic.Int64
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := &fuzzer{rng: rand.New(rand.NewPCG(seed, uint64(w))), keys: keys}
			for next.Add(1) <= int64(n) {
				req := f.request(s.URL)
				if req == nil {
					next.Add(-1) // not sendable: draw again
					continue
				}
				res, err := hc.Do(req)
				if err != nil {
					fail("%s %.200s: %v", req.Method, req.URL, err)
					continue
				}
				body, err := readBody(res)
				sent.Add(1)
				mu.Lock()
				statuses[res.StatusCode]++
				mu.Unlock()
				if err != nil {
					fail("%s %.200s: reading the body: %v", req.Method, req.URL, err)
					continue
				}
				if msg := checkAnswer(req, res, body); msg != "" {
					fail("%s %.200s: %s", req.Method, req.URL, msg)
				}
			}
		}()
	}
	wg.Wait()
	codes := make([]int, 0, len(statuses))
	for c := range statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var hist []string
	for _, c := range codes {
		hist = append(hist, fmt.Sprintf("%d×%d", c, statuses[c]))
	}
	t.Logf("%d requests answered: %s", sent.Load(), strings.Join(hist, " "))
	for _, f := range failures {
		t.Error(f)
	}
	if r := mustGet(t, s.URL+"/healthz", ""); r.Status != 200 {
		t.Errorf("after the fuzz: /healthz %d", r.Status)
	}
	if strings.Contains(s.Logs.String(), "panic") {
		t.Errorf("the server logged a panic:\n%s", s.Logs)
	}
	if sent.Load() != int64(n) {
		t.Errorf("%d of %d requests answered", sent.Load(), n)
	}
}

// readBody reads and closes a response body, gunzipped when the server
// compressed it.
func readBody(res *http.Response) ([]byte, error) {
	defer res.Body.Close()
	var r io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			if errors.Is(err, io.EOF) { // an empty (HEAD) body
				return nil, nil
			}
			return nil, err
		}
		r = zr
	}
	return io.ReadAll(r)
}

// checkAnswer returns what is wrong with an answer of the fuzz, or "".
func checkAnswer(req *http.Request, res *http.Response, body []byte) string {
	if res.StatusCode >= 500 {
		return fmt.Sprintf("status %d: %.300s", res.StatusCode, body)
	}
	if req.Method == http.MethodHead {
		return ""
	}
	ct := res.Header.Get("Content-Type")
	if req.URL.Path == "/metrics" && res.StatusCode == 200 {
		if !strings.HasPrefix(ct, "text/plain") {
			return "metrics with Content-Type " + ct
		}
		return ""
	}
	if ct != "application/json" {
		return fmt.Sprintf("status %d with Content-Type %q: %.200s", res.StatusCode, ct, body)
	}
	if res.StatusCode == 200 {
		var v map[string]json.RawMessage
		if err := json.Unmarshal(body, &v); err != nil {
			return fmt.Sprintf("200 whose body is not a JSON object: %v: %.200s", err, body)
		}
		return ""
	}
	var e vtError
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" || !slices.Contains(vtCodes, e.Error.Code) {
		return fmt.Sprintf("status %d whose body is not a VT error: %.200s", res.StatusCode, body)
	}
	return ""
}

// vtCodes are the error codes the API may answer.
var vtCodes = []string{"BadRequestError", "InvalidArgumentError", "AuthenticationRequiredError", "WrongCredentialsError",
	"ForbiddenError", "NotFoundError", "AlreadyExistsError", "QuotaExceededError", "TransientError", "DeadlineExceededError"}

// Raw bytes that are not HTTP, or barely: the server answers at most
// with a 4xx (net/http's own for malformed requests), or 505 to an HTTP
// version other than 1.x, and keeps serving.
func TestRawGarbage(t *testing.T) {
	t.Parallel()
	store := filepath.Join(t.TempDir(), "ft.db")
	s := startServe(t, store)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	starts := []string{"", "GET ", "GET / HTTP/1.1\r\n", "POST /admin/v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "GET /api/v3/metadata HTTP/9.9\r\n\r\n",
		"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 70<<10) + "\r\n\r\n"}
	for i := range 300 {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(15 * time.Second))
		junk := make([]byte, rng.IntN(300))
		for j := range junk {
			junk[j] = byte(rng.IntN(256))
		}
		conn.Write(append([]byte(starts[i%len(starts)]), append(junk, "\r\n\r\n"...)...))
		line := make([]byte, 12)
		n, _ := io.ReadFull(conn, line)
		conn.Close()
		// 505 is net/http's answer to an HTTP version it does not speak,
		// before any handler: a protocol answer, not a failure
		if n == 12 && strings.HasPrefix(string(line), "HTTP/1.") && line[9] == '5' && string(line[9:12]) != "505" {
			t.Errorf("garbage %d answered %q", i, line)
		}
	}
	if r := mustGet(t, s.URL+"/healthz", ""); r.Status != 200 {
		t.Errorf("after the garbage: /healthz %d", r.Status)
	}
}

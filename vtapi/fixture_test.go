package vtapi_test

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/internal/testfixture"
	"github.com/filetrail/filetrail/store/postgres"
	"github.com/filetrail/filetrail/store/postgres/pgtest"
	"github.com/filetrail/filetrail/store/sqlite"
	"github.com/filetrail/filetrail/vtapi"
)

const reportsDir = "../testdata/vt-file-objects"

// Addresses of the fixture (documentation ranges).
var (
	reportsIP = netip.MustParseAddr("198.51.100.7") // served the real VT reports' files
	reportsV6 = netip.MustParseAddr("2001:db8::7")  // served two of them
	bigIP     = netip.MustParseAddr("203.0.113.9")  // served bigCount synthetic files
	emptyIP   = netip.MustParseAddr("192.0.2.200")  // nothing known
)

const (
	bigCount  = 250
	baseTime  = int64(1700000000)
	reportSrc = "vt-report"
)

// report is one real VT file report of testdata.
type report = testfixture.VTReport

func loadReports(t testing.TB) []report {
	t.Helper()
	out := testfixture.VTReports(t, reportsDir)
	if len(out) != 4 {
		t.Fatalf("want 4 VT file reports in %s, found %d", reportsDir, len(out))
	}
	return out
}

// edge is what the fixture expects of one item of a downloaded_files list.
type edge struct {
	ID        string
	FirstSeen int64
	Evidence  []filetrail.Evidence
}

// fixture is a store filled with known evidence.
type fixture struct {
	store   filetrail.Store
	reports []report
	// edges of each fixture IP in the list order of API.md §4.8.
	edges map[netip.Addr][]edge
}

// storeEnv selects the store the HTTP suite runs on: unset or "sqlite" for
// the embedded store, "postgres" for a fresh PostgreSQL database on the
// test server (pgtest). scripts/test.sh runs the suite on both.
const storeEnv = "FILETRAIL_TEST_STORE"

// openTestStore opens a fresh, empty store of the kind storeEnv names.
func openTestStore(t testing.TB) filetrail.Store {
	t.Helper()
	ctx := context.Background()
	var (
		st  filetrail.Store
		err error
	)
	switch kind := os.Getenv(storeEnv); kind {
	case "", "sqlite":
		st, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "filetrail.db"))
	case "postgres":
		st, err = postgres.Open(ctx, pgtest.DSN(t))
	default:
		t.Fatalf("%s=%q: want sqlite or postgres", storeEnv, kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newFixture opens a fresh store (openTestStore) and fills it with the real VT
// reports (as imported reports), sightings of them on reportsIP and
// reportsV6, and bigCount synthetic files on bigIP whose first-seen times
// come in groups of three (so that ties are ordered by id).
func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	st := openTestStore(t)
	t.Cleanup(func() { st.Close() })
	f := &fixture{store: st, reports: loadReports(t), edges: map[netip.Addr][]edge{}}

	var b filetrail.Batch
	ev := map[netip.Addr]map[string][]filetrail.Evidence{}
	see := func(ip netip.Addr, h filetrail.Hashes, id, url, src string, at int64) {
		b.Sightings = append(b.Sightings, filetrail.Sighting{IP: ip, URL: url, SHA256: h.SHA256, SHA1: h.SHA1, MD5: h.MD5,
			FileName: "sample.bin", SeenAt: at, Source: src})
		if ev[ip] == nil {
			ev[ip] = map[string][]filetrail.Evidence{}
		}
		ev[ip][id] = append(ev[ip][id], filetrail.Evidence{URL: url, Source: src, FirstSeen: at, LastSeen: at})
	}
	for i, r := range f.reports {
		b.Files = append(b.Files, filetrail.FileFact{Hashes: filetrail.Hashes{SHA256: r.SHA256, SHA1: r.SHA1, MD5: r.MD5},
			Origin: filetrail.OriginReport, Source: reportSrc, Attributes: r.Attributes})
		h := filetrail.Hashes{SHA256: r.SHA256}
		// Report 0 is seen at 12 URLs by two sensors: more than MaxEdgeURLs.
		for j := range 1 + 11*boolInt(i == 0) {
			see(reportsIP, h, r.SHA256, fmt.Sprintf("http://198.51.100.7/r%d/%d.exe", i, j), "suricata", baseTime+int64(100*i+j))
		}
		see(reportsIP, h, r.SHA256, fmt.Sprintf("http://198.51.100.7/z%d.bin", i), "zeek", baseTime+int64(1000+i))
		if i < 2 {
			see(reportsV6, h, r.SHA256, fmt.Sprintf("http://[2001:db8::7]/f%d", i), "cowrie", baseTime+int64(50*i))
		}
	}
	for i := range bigCount {
		id := syntheticHash(i)
		see(bigIP, filetrail.Hashes{SHA256: id}, id, fmt.Sprintf("http://203.0.113.9/%d", i), "suricata", baseTime+int64(i/3)*60)
	}
	if _, err := st.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	for ip, byFile := range ev {
		var es []edge
		for id, evs := range byFile {
			first, _, _ := filetrail.EdgeContext(evs)
			es = append(es, edge{ID: id, FirstSeen: first, Evidence: evs})
		}
		slices.SortFunc(es, func(a, b edge) int {
			if c := cmp.Compare(b.FirstSeen, a.FirstSeen); c != 0 {
				return c
			}
			return strings.Compare(b.ID, a.ID)
		})
		f.edges[ip] = es
	}
	return f
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// syntheticHash is the sha256 of a made-up file number i.
func syntheticHash(i int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "synthetic file %d", i))
	return hex.EncodeToString(sum[:])
}

// ids lists the ids of the fixture's edges of ip, in list order.
func (f *fixture) ids(ip netip.Addr) []string {
	var out []string
	for _, e := range f.edges[ip] {
		out = append(out, e.ID)
	}
	return out
}

var keySeq atomic.Int64

// newKey creates a key in the store and returns its secret.
func (f *fixture) newKey(t testing.TB, premium bool, q filetrail.Quota) string {
	t.Helper()
	secret := filetrail.NewSecret()
	n := keySeq.Add(1)
	k := filetrail.Key{ID: fmt.Sprintf("k%d", n), Name: fmt.Sprintf("key-%d", n), SecretHash: filetrail.HashSecret(secret),
		Premium: premium, Quota: q, CreatedAt: baseTime}
	if err := f.store.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return secret
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a running API server over a fixture.
type env struct {
	*fixture
	srv     *httptest.Server
	clock   *clock
	logs    *testfixture.SyncBuffer
	premium string // premium key, unlimited
	public  string // key without privileges, unlimited
}

// newEnv starts an API server over f. opts.Now and opts.Logger are set
// when nil: a fixed clock at the middle of a minute and a captured log.
func newEnv(t testing.TB, f *fixture, opts vtapi.Options) *env {
	t.Helper()
	e := &env{fixture: f, clock: newClock(time.Date(2024, 5, 17, 12, 0, 30, 0, time.UTC)), logs: &testfixture.SyncBuffer{}}
	if opts.Now == nil {
		opts.Now = e.clock.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	}
	e.srv = httptest.NewServer(vtapi.New(f.store, opts))
	t.Cleanup(e.srv.Close)
	e.premium = f.newKey(t, true, filetrail.Quota{})
	e.public = f.newKey(t, false, filetrail.Quota{})
	return e
}

// plainClient never asks for compression, so that bodies arrive as sent.
var plainClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// response is an answer of the server, body as received.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends a request without a body; key "" sends no x-apikey header.
// Extra headers come in name, value pairs.
func do(t testing.TB, method, url, key string, headers ...string) response {
	t.Helper()
	return doBody(t, method, url, key, nil, headers...)
}

// doBody is do with a request body.
func doBody(t testing.TB, method, url, key string, body io.Reader, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("x-apikey", key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := plainClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: got}
}

func (e *env) get(t testing.TB, path, key string, headers ...string) response {
	t.Helper()
	return do(t, http.MethodGet, e.srv.URL+path, key, headers...)
}

// decode parses a JSON body into v, failing the test on invalid JSON.
func decode(t testing.TB, r response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("invalid JSON body (status %d): %v\n%s", r.Status, err, r.Body)
	}
}

// collection is the generic shape of a list response.
type collection struct {
	Data  []item `json:"data"`
	Meta  meta   `json:"meta"`
	Links links  `json:"links"`
}

type item struct {
	Type              string          `json:"type"`
	ID                string          `json:"id"`
	Links             *links          `json:"links"`
	Attributes        json.RawMessage `json:"attributes"`
	ContextAttributes json.RawMessage `json:"context_attributes"`
}

type meta struct {
	Count  *int64 `json:"count"`
	Cursor string `json:"cursor"`
}

type links struct {
	Self    string `json:"self"`
	Next    string `json:"next"`
	Related string `json:"related"`
}

type vtError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wantError checks that r is the VT error code with the given status, a
// JSON body and JSON content type, and returns its message.
func wantError(t testing.TB, r response, status int, code filetrail.Code) string {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	wantJSONType(t, r)
	var e vtError
	decode(t, r, &e)
	if e.Error.Code != string(code) || e.Error.Message == "" {
		t.Fatalf("error %+v, want code %s with a message", e.Error, code)
	}
	return e.Error.Message
}

func wantJSONType(t testing.TB, r response) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
}

// wantOK checks a 200 JSON response and decodes it into v.
func wantOK(t testing.TB, r response, v any) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", r.Status, r.Body)
	}
	wantJSONType(t, r)
	decode(t, r, v)
}

func decodeRaw(t testing.TB, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, raw)
	}
}

package vtapi_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/store/sqlite"
	"github.com/filetrail/filetrail/vtapi"
)

// Every row of API.md §5 reached by a real request (409 and 413 are not
// reachable from the read-only endpoints: see TestErrorMapping).
func TestErrorRows(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	revoked := f.newKey(t, true, filetrail.Quota{})
	if err := f.store.RevokeKey(t.Context(), keyNameOf(t, f, revoked), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	limited := f.newKey(t, true, filetrail.Quota{PerMinute: 1})
	sha := f.reports[0].SHA256
	ip := reportsIP.String()
	unknownHash := strings.Repeat("ab", 32)

	cases := []struct {
		name   string
		method string
		path   string
		key    string
		status int
		code   filetrail.Code
		msg    string // exact message, when fixed by API.md
	}{
		{"limit above 40", "GET", downloadedPath(ip) + "?limit=41", e.premium, 400, filetrail.CodeBadRequest, "Limit can't be larger than 40"},
		{"malformed query", "GET", downloadedPath(ip) + "?limit=%zz", e.premium, 400, filetrail.CodeBadRequest, ""},
		{"wrong method", "POST", "/api/v3/files/" + sha, e.premium, 400, filetrail.CodeBadRequest, ""},
		{"wrong method on health", "DELETE", "/healthz", "", 400, filetrail.CodeBadRequest, ""},
		{"bad IP", "GET", "/api/v3/ip_addresses/1.2.3", e.public, 400, filetrail.CodeInvalidArgument, `"1.2.3" is not a valid IP address`},
		{"IPv6 zone", "GET", "/api/v3/ip_addresses/fe80::1%25eth0", e.public, 400, filetrail.CodeInvalidArgument, ""},
		{"bad hash", "GET", "/api/v3/files/xyz", e.public, 400, filetrail.CodeInvalidArgument, ""},
		{"bad hash on a list", "GET", "/api/v3/files/" + sha[:63] + "/itw_ips", e.premium, 400, filetrail.CodeInvalidArgument, ""},
		{"bad cursor", "GET", downloadedPath(ip) + "?cursor=Zm9v", e.premium, 400, filetrail.CodeInvalidArgument, ""},
		{"bad limit", "GET", downloadedPath(ip) + "?limit=0", e.premium, 400, filetrail.CodeInvalidArgument, ""},
		{"bad relationship", "GET", "/api/v3/ip_addresses/" + ip + "?relationships=communicating_files", e.premium, 400, filetrail.CodeInvalidArgument, ""},
		{"relationship of another type", "GET", "/api/v3/files/" + sha + "?relationships=downloaded_files", e.premium, 400, filetrail.CodeInvalidArgument, ""},
		{"no key", "GET", "/api/v3/files/" + sha, "", 401, filetrail.CodeAuthenticationRequired, ""},
		{"blank key", "GET", "/api/v3/files/" + sha, "   ", 401, filetrail.CodeAuthenticationRequired, ""},
		{"unknown key", "GET", "/api/v3/files/" + sha, filetrail.NewSecret(), 401, filetrail.CodeWrongCredentials, "Wrong API key"},
		{"revoked key", "GET", "/api/v3/files/" + sha, revoked, 401, filetrail.CodeWrongCredentials, "Wrong API key"},
		{"not premium: downloaded_files", "GET", downloadedPath(ip), e.public, 403, filetrail.CodeForbidden, "You are not authorized to perform the requested operation"},
		{"not premium: descriptors", "GET", "/api/v3/ip_addresses/" + ip + "/relationships/downloaded_files", e.public, 403, filetrail.CodeForbidden, "You are not authorized to perform the requested operation"},
		{"not premium: itw_ips", "GET", "/api/v3/files/" + sha + "/itw_ips", e.public, 403, filetrail.CodeForbidden, "You are not authorized to perform the requested operation"},
		{"not premium: itw_ips descriptors", "GET", "/api/v3/files/" + sha + "/relationships/itw_ips", e.public, 403, filetrail.CodeForbidden, "You are not authorized to perform the requested operation"},
		{"unknown file", "GET", "/api/v3/files/" + unknownHash, e.public, 404, filetrail.CodeNotFound, `File "` + unknownHash + `" not found`},
		{"unknown file's itw_ips", "GET", "/api/v3/files/" + unknownHash + "/itw_ips", e.premium, 404, filetrail.CodeNotFound, `File "` + unknownHash + `" not found`},
		{"unknown path", "GET", "/api/v3/urls/abc", e.premium, 404, filetrail.CodeNotFound, ""},
		{"unknown relationship path", "GET", "/api/v3/ip_addresses/" + ip + "/communicating_files", e.premium, 404, filetrail.CodeNotFound, ""},
		{"trailing slash", "GET", "/api/v3/files/" + sha + "/", e.premium, 404, filetrail.CodeNotFound, ""},
		{"unclean path", "GET", "/api/v3/files/../metadata", e.premium, 404, filetrail.CodeNotFound, ""},
		{"double slash", "GET", "/api/v3//metadata", e.premium, 404, filetrail.CodeNotFound, ""},
		{"root", "GET", "/", "", 404, filetrail.CodeNotFound, ""},
		{"quota: first request", "GET", "/api/v3/metadata", limited, 200, "", ""},
		{"quota: second request", "GET", "/api/v3/metadata", limited, 429, filetrail.CodeQuotaExceeded, ""},
	}
	for _, tc := range cases {
		r := do(t, tc.method, e.srv.URL+tc.path, tc.key)
		if tc.status == http.StatusOK {
			wantOK(t, r, &struct{}{})
			continue
		}
		msg := wantError(t, r, tc.status, tc.code)
		if tc.msg != "" && msg != tc.msg {
			t.Errorf("%s: message %q, want %q", tc.name, msg, tc.msg)
		}
	}
}

// keyNameOf finds the name of the key with that secret.
func keyNameOf(t testing.TB, f *fixture, secret string) string {
	k, err := f.store.KeyBySecretHash(t.Context(), filetrail.HashSecret(secret))
	if err != nil {
		t.Fatal(err)
	}
	return k.Name
}

// Our error bodies are those of VirusTotal itself (real VT responses in
// testdata).
func TestErrorBodiesMatchVirusTotal(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	for _, tc := range []struct {
		file string
		path func(vt vtError) string
		key  string
	}{
		{"not_found.json", func(vt vtError) string {
			// The real message names the hash it did not find.
			h := strings.TrimSuffix(strings.TrimPrefix(vt.Error.Message, `File "`), `" not found`)
			return "/api/v3/files/" + h
		}, e.public},
		{"wrong_key.json", func(vtError) string { return "/api/v3/metadata" }, "0000"},
	} {
		raw, err := os.ReadFile(filepath.Join(reportsDir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		var real vtError
		decodeRaw(t, raw, &real)
		r := e.get(t, tc.path(real), tc.key)
		var ours vtError
		decode(t, r, &ours)
		if ours != real {
			t.Errorf("%s: ours %+v, VirusTotal's %+v", tc.file, ours.Error, real.Error)
		}
	}
}

// The steps run in order: authentication, privilege, validation, quota;
// requests refused before the quota are not counted.
func TestCheckOrderAndQuotaCounting(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	path := downloadedPath(reportsIP.String())
	// Privilege before validation.
	wantError(t, e.get(t, path+"?limit=abc", e.public), 403, filetrail.CodeForbidden)
	// Authentication before anything.
	wantError(t, e.get(t, path+"?limit=abc", ""), 401, filetrail.CodeAuthenticationRequired)

	limitedPublic := f.newKey(t, false, filetrail.Quota{PerMinute: 2})
	limited := f.newKey(t, true, filetrail.Quota{PerMinute: 2})
	for range 3 {
		wantError(t, e.get(t, path, limitedPublic), 403, filetrail.CodeForbidden)
		wantError(t, e.get(t, path+"?limit=0", limited), 400, filetrail.CodeInvalidArgument)
		wantError(t, e.get(t, "/api/v3/ip_addresses/bad", limited), 400, filetrail.CodeInvalidArgument)
	}
	// None of those counted: two requests still pass, then the quota refuses.
	for i := range 2 {
		if r := e.get(t, path, limited); r.Status != 200 {
			t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
		}
		if r := e.get(t, "/api/v3/files/"+f.reports[0].SHA256, limitedPublic); r.Status != 200 {
			t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
		}
	}
	// Validation before quota: a bad request of an exhausted key is still 400.
	wantError(t, e.get(t, path+"?limit=0", limited), 400, filetrail.CodeInvalidArgument)
	r := e.get(t, path, limited)
	wantError(t, r, 429, filetrail.CodeQuotaExceeded)
	// The clock is at 12:00:30: the minute window ends in 30 s.
	if got := r.Header.Get("Retry-After"); got != "30" {
		t.Fatalf("Retry-After %q, want 30", got)
	}
	e.clock.Add(29*time.Second + 500*time.Millisecond) // 0.5 s left: rounded up
	if got := e.get(t, path, limited).Header.Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After %q with 0.5 s left, want 1", got)
	}
	e.clock.Add(time.Second) // the next minute
	if r := e.get(t, path, limited); r.Status != 200 {
		t.Fatalf("next minute: %d %s", r.Status, r.Body)
	}
}

// The key cache keeps a record for KeyCacheTTL; a revoked key stops
// working once it expires.
func TestKeyCache(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{KeyCacheTTL: 2 * time.Second})
	key := f.newKey(t, false, filetrail.Quota{})
	unknown := filetrail.NewSecret()
	if r := e.get(t, "/api/v3/metadata", key); r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	wantError(t, e.get(t, "/api/v3/metadata", unknown), 401, filetrail.CodeWrongCredentials)
	if err := f.store.RevokeKey(t.Context(), keyNameOf(t, f, key), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := e.get(t, "/api/v3/metadata", key); r.Status != 200 {
		t.Fatalf("within the cache time the key record is reused: %d", r.Status)
	}
	e.clock.Add(2 * time.Second)
	wantError(t, e.get(t, "/api/v3/metadata", key), 401, filetrail.CodeWrongCredentials)

	// Without the cache, revocation is seen at once.
	e2 := newEnv(t, f, vtapi.Options{KeyCacheTTL: -1})
	key2 := f.newKey(t, false, filetrail.Quota{})
	if r := e2.get(t, "/api/v3/metadata", key2); r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if err := f.store.RevokeKey(t.Context(), keyNameOf(t, f, key2), e2.clock.Now()); err != nil {
		t.Fatal(err)
	}
	wantError(t, e2.get(t, "/api/v3/metadata", key2), 401, filetrail.CodeWrongCredentials)
}

// The x-apikey header name is case-insensitive.
func TestKeyHeaderCase(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	for _, name := range []string{"x-apikey", "X-Apikey", "X-APIKEY", "x-ApiKey"} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/v3/metadata", nil)
		req.Header[name] = []string{e.public} // sent as written
		res, err := plainClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("header %s: %d", name, res.StatusCode)
		}
	}
}

// failingStore opens a fixture of its own, for tests that break its store.
func failingStore(t *testing.T) (*fixture, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "filetrail.db")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &fixture{store: st}, path
}

// A store that lost its schema: 500 InternalError with a generic message;
// the cause is logged, not sent.
func TestInternalError(t *testing.T) {
	t.Parallel()
	f, path := failingStore(t)
	e := newEnv(t, f, vtapi.Options{})
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DROP TABLE ips"); err != nil {
		t.Fatal(err)
	}
	r := e.get(t, "/api/v3/ip_addresses/"+reportsIP.String(), e.premium)
	msg := wantError(t, r, 500, filetrail.CodeInternal)
	if strings.Contains(msg, "ips") || strings.Contains(msg, "sqlite") {
		t.Fatalf("the message leaks the cause: %q", msg)
	}
	if !strings.Contains(e.logs.String(), "no such table") {
		t.Fatalf("the cause is not logged:\n%s", e.logs)
	}
	_, err = vtClient(e.premium).GetObject(serverURL(e, "/api/v3/ip_addresses/"+reportsIP.String()))
	wantVTError(t, err, filetrail.CodeInternal)
}

// A request whose deadline passes during store work: 504.
func TestDeadlineExceeded(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{RequestTimeout: time.Nanosecond, KeyCacheTTL: -1})
	wantError(t, e.get(t, "/api/v3/ip_addresses/"+reportsIP.String(), e.public), 504, filetrail.CodeDeadlineExceeded)
	_, err := vtClient(e.public).GetObject(serverURL(e, "/api/v3/ip_addresses/"+reportsIP.String()))
	wantVTError(t, err, filetrail.CodeDeadlineExceeded)
}

// Another process holds the database's write lock for longer than the
// store waits: a quota-limited key cannot be counted, 503 TransientError.
// This waits for the store's busy timeout (about 10 s).
func TestTransientError(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the store's busy timeout")
	}
	t.Parallel()
	f, path := failingStore(t)
	e := newEnv(t, f, vtapi.Options{})
	limited := f.newKey(t, false, filetrail.Quota{PerDay: 100})
	// Cache the key record, so that the request reaches the quota step.
	if r := e.get(t, "/api/v3/metadata", limited); r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")

	rec := &recorder{}
	_, err = vtClient(limited, rec).Get(serverURL(e, "/api/v3/metadata"))
	wantVTError(t, err, filetrail.CodeTransient)
	if status, h := rec.last(); status != 503 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q; want 503 JSON", status, h.Get("Content-Type"))
	}
	// Readiness only reads: the store is still readable.
	if r := e.get(t, "/readyz", ""); r.Status != 200 {
		t.Fatalf("readyz %d", r.Status)
	}
}

func TestErrorMapping(t *testing.T) {
	live := context.Background()
	expired, cancel := context.WithDeadline(live, time.Unix(0, 0))
	defer cancel()
	canceled, cancel2 := context.WithCancel(live)
	cancel2()
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		err    error
		status int
		code   filetrail.Code
	}{
		// 409 and 413 are not reachable from the read-only endpoints.
		{"already exists", live, filetrail.Errorf(filetrail.CodeAlreadyExists, "exists"), 409, filetrail.CodeAlreadyExists},
		{"body too large", live, fmt.Errorf("reading: %w", &http.MaxBytesError{Limit: 10}), 413, filetrail.CodeBadRequest},
		{"plain error", live, errors.New("disk on fire"), 500, filetrail.CodeInternal},
		{"unknown code", live, filetrail.Errorf("SomethingElse", "x"), 500, filetrail.CodeInternal},
		{"wrapped deadline", live, fmt.Errorf("query: %w", context.DeadlineExceeded), 504, filetrail.CodeDeadlineExceeded},
		{"transient after the deadline", expired, filetrail.Errorf(filetrail.CodeTransient, "busy"), 504, filetrail.CodeDeadlineExceeded},
		{"internal after cancellation", canceled, errors.New("interrupted"), 503, filetrail.CodeTransient},
		{"not found stays not found", canceled, filetrail.Errorf(filetrail.CodeNotFound, "no"), 404, filetrail.CodeNotFound},
	} {
		status, code, msg := vtapi.ErrorFor(tc.ctx, tc.err)
		if status != tc.status || code != tc.code || msg == "" {
			t.Errorf("%s: %d %s %q, want %d %s", tc.name, status, code, msg, tc.status, tc.code)
		}
		if code == filetrail.CodeInternal && strings.Contains(msg, "fire") {
			t.Errorf("%s: the message leaks the cause: %q", tc.name, msg)
		}
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	f, _ := failingStore(t)
	e := newEnv(t, f, vtapi.Options{})
	for _, p := range []string{"/healthz", "/readyz"} {
		var v map[string]any
		wantOK(t, e.get(t, p, ""), &v)
		if len(v) == 0 {
			t.Fatalf("%s: empty object", p)
		}
	}
	f.store.Close()
	wantError(t, e.get(t, "/readyz", ""), 503, filetrail.CodeTransient)
	var v map[string]any
	wantOK(t, e.get(t, "/healthz", ""), &v) // the process is still alive
	if !strings.Contains(e.logs.String(), "store not ready") {
		t.Fatalf("the readiness failure is not logged:\n%s", e.logs)
	}
}

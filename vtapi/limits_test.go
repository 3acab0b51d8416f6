package vtapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/vtapi"
)

// A declared body over the route's limit is refused with 413 before
// authentication, and the connection is closed.
func TestLargeBodyRefusedEarly(t *testing.T) {
	fx := newFixture(t)
	e := newEnv(t, fx, vtapi.Options{MaxIngestBytes: 1000})
	for _, c := range []struct {
		method, path string
		size         int
	}{
		{"POST", "/admin/v1/ingest", 1001},
		{"GET", "/api/v3/metadata", 1 << 20},
		{"POST", "/api/v3/files/" + strings.Repeat("a", 64), 1 << 20},
	} {
		req, err := http.NewRequest(c.method, e.srv.URL+c.path, strings.NewReader(strings.Repeat("x", c.size)))
		if err != nil {
			t.Fatal(err)
		}
		res, err := plainClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r := readResponse(t, res)
		wantError(t, r, http.StatusRequestEntityTooLarge, filetrail.CodeBadRequest)
		if !res.Close {
			t.Errorf("%s %s: connection kept open after a 413", c.method, c.path)
		}
	}
	// within the limit: the route's own answer (no key: 401)
	req, _ := http.NewRequest("POST", e.srv.URL+"/admin/v1/ingest", strings.NewReader(strings.Repeat("x", 1000)))
	res, err := plainClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, readResponse(t, res), http.StatusNotFound, filetrail.CodeNotFound) // no Ingest hook: 404
}

// The wrong-key throttle answers 429 QuotaExceededError with Retry-After,
// even for a valid key from the throttled address.
func TestWrongKeyThrottle(t *testing.T) {
	fx := newFixture(t)
	e := newEnv(t, fx, vtapi.Options{WrongKeyLimit: 3})
	wrong := filetrail.NewSecret()
	for range 3 {
		wantError(t, e.get(t, "/api/v3/metadata", wrong), http.StatusUnauthorized, filetrail.CodeWrongCredentials)
	}
	for _, key := range []string{wrong, e.premium} {
		r := e.get(t, "/api/v3/metadata", key)
		wantError(t, r, http.StatusTooManyRequests, filetrail.CodeQuotaExceeded)
		if ra := r.Header.Get("Retry-After"); ra != "60" {
			t.Errorf("Retry-After %q, want 60 (the window, on a stopped clock)", ra)
		}
	}
	e.clock.Add(60e9)
	var meta map[string]any
	wantOK(t, e.get(t, "/api/v3/metadata", e.premium), &meta)
}

// readResponse reads and closes res.
func readResponse(t *testing.T, res *http.Response) response {
	t.Helper()
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: body}
}

package vtapi_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/vtapi"
)

// lineCounter is an Ingest hook that reads the body line by line, as the
// real readers do, and answers how many lines it read with which format
// and source.
type lineCounter struct {
	mu    sync.Mutex
	calls int
	// firstLineSeen is closed once the first line of a body was read,
	// before the hook goes on.
	firstLineSeen chan struct{}
}

type countSummary struct {
	Format string `json:"format"`
	Source string `json:"source"`
	Lines  int    `json:"lines"`
}

func (c *lineCounter) ingest(_ context.Context, format, source string, body io.Reader) (any, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	if format == "nosuch" {
		return nil, filetrail.Errorf(filetrail.CodeInvalidArgument, "unknown format %q", format)
	}
	sc := bufio.NewScanner(body)
	n := 0
	for sc.Scan() {
		n++
		if n == 1 && c.firstLineSeen != nil {
			close(c.firstLineSeen)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	return countSummary{Format: format, Source: source, Lines: n}, nil
}

func post(t *testing.T, url, key string, body io.Reader) response {
	t.Helper()
	return doBody(t, http.MethodPost, url, key, body)
}

func TestIngestEndpoint(t *testing.T) {
	f := newFixture(t)
	hook := &lineCounter{}
	e := newEnv(t, f, vtapi.Options{Ingest: hook.ingest, MaxIngestBytes: 1000})
	admin := filetrail.NewSecret()
	if err := f.store.CreateKey(context.Background(), filetrail.Key{ID: "adm", Name: "admin", SecretHash: filetrail.HashSecret(admin), Admin: true, CreatedAt: baseTime}); err != nil {
		t.Fatal(err)
	}
	url := e.srv.URL + "/admin/v1/ingest?format=suricata&source=sensor-7"
	body := "a\nb\nc\n"

	wantError(t, post(t, url, "", strings.NewReader(body)), http.StatusUnauthorized, filetrail.CodeAuthenticationRequired)
	wantError(t, post(t, url, "not-a-key", strings.NewReader(body)), http.StatusUnauthorized, filetrail.CodeWrongCredentials)
	wantError(t, post(t, url, e.premium, strings.NewReader(body)), http.StatusForbidden, filetrail.CodeForbidden)
	wantError(t, post(t, url, e.public, strings.NewReader(body)), http.StatusForbidden, filetrail.CodeForbidden)
	wantError(t, e.get(t, "/admin/v1/ingest", admin), http.StatusBadRequest, filetrail.CodeBadRequest)
	if hook.calls != 0 {
		t.Fatalf("the hook ran %d times for refused requests", hook.calls)
	}

	var got countSummary
	wantOK(t, post(t, url, admin, strings.NewReader(body)), &got)
	if got != (countSummary{Format: "suricata", Source: "sensor-7", Lines: 3}) {
		t.Errorf("summary %+v", got)
	}

	wantError(t, post(t, e.srv.URL+"/admin/v1/ingest?format=nosuch", admin, strings.NewReader(body)), http.StatusBadRequest, filetrail.CodeInvalidArgument)
	wantError(t, post(t, e.srv.URL+"/admin/v1/ingest?source="+strings.Repeat("s", 200), admin, strings.NewReader(body)), http.StatusBadRequest, filetrail.CodeInvalidArgument)

	// Over the limit: 413 with a VT error body.
	big := strings.Repeat("0123456789\n", 200)
	r := post(t, url, admin, strings.NewReader(big))
	wantError(t, r, http.StatusRequestEntityTooLarge, filetrail.CodeBadRequest)
}

// TestIngestEndpointStreams checks that the hook reads the body while the
// client is still sending it: the first line reaches the hook before the
// client has sent the rest.
func TestIngestEndpointStreams(t *testing.T) {
	f := newFixture(t)
	hook := &lineCounter{firstLineSeen: make(chan struct{})}
	e := newEnv(t, f, vtapi.Options{Ingest: hook.ingest})
	admin := filetrail.NewSecret()
	if err := f.store.CreateKey(context.Background(), filetrail.Key{ID: "adm", Name: "admin", SecretHash: filetrail.HashSecret(admin), Admin: true, CreatedAt: baseTime}); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("first\n"))
		<-hook.firstLineSeen // blocks forever if the server waits for the whole body
		pw.Write([]byte("second\nthird\n"))
		pw.Close()
	}()
	var got countSummary
	wantOK(t, post(t, e.srv.URL+"/admin/v1/ingest", admin, pr), &got)
	if got.Lines != 3 || got.Format != "" {
		t.Errorf("summary %+v", got)
	}
}

func TestIngestEndpointWithoutHook(t *testing.T) {
	e := newEnv(t, newFixture(t), vtapi.Options{})
	wantError(t, post(t, e.srv.URL+"/admin/v1/ingest", e.premium, strings.NewReader("x")), http.StatusNotFound, filetrail.CodeNotFound)
}

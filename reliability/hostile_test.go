package reliability

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filetrail/filetrail/internal/testfixture"
)

// clientFrom is an HTTP client whose connections come from the loopback
// address local (any 127.0.0.0/8 address is the local host on Linux).
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableCompression: true}}
}

func getWith(t *testing.T, c *http.Client, url, key string) reply {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("x-apikey", key)
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Repeated wrong keys from one address get it throttled: 429
// QuotaExceededError with Retry-After, valid keys from it included, while
// another address is served.
func TestWrongKeysThrottled(t *testing.T) {
	t.Parallel()
	store := filepath.Join(t.TempDir(), "ft.db")
	key := createKey(t, store, "reader", "--premium")
	s := startServe(t, store, "--wrong-key-limit", "5", "--wrong-key-window", "1h")
	guesser, other := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
	u := s.URL + "/api/v3/metadata"
	for i := range 5 {
		wantVTError(t, fmt.Sprintf("wrong key %d", i+1), getWith(t, guesser, u, fmt.Sprintf("guess-%064d", i)), 401, "WrongCredentialsError")
	}
	for _, k := range []string{"guess-again", key} {
		r := getWith(t, guesser, u, k)
		wantVTError(t, "throttled address", r, 429, "QuotaExceededError")
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 3600 {
			t.Errorf("Retry-After %q, want 1..3600 seconds", r.Header.Get("Retry-After"))
		}
	}
	if r := getWith(t, other, u, key); r.Status != 200 {
		t.Errorf("another address with a valid key: %d %s", r.Status, r.Body)
	}
}

// A body declared larger than its route accepts is refused with 413 in VT
// JSON as soon as it starts (the server reads its first byte before it
// answers), without the rest of it being sent, and the connection is
// closed.
func TestOversizedBodiesRefusedEarly(t *testing.T) {
	t.Parallel()
	store := filepath.Join(t.TempDir(), "ft.db")
	admin := createKey(t, store, "admin", "--admin", "--premium")
	s := startServe(t, store)
	for _, c := range []struct{ method, path, key string }{
		{"POST", "/admin/v1/ingest?format=sightings", admin},
		{"POST", "/admin/v1/ingest", ""},
		{"POST", "/api/v3/files", admin},
		{"GET", "/api/v3/metadata", admin},
		{"PUT", "/api/v3/ip_addresses/192.0.2.1", ""},
	} {
		req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: ft\r\nX-Apikey: %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\nx", c.method, c.path, c.key, int64(10)<<30)
		res, body := testfixture.RawExchange(t, s.URL, req)
		wantVTError(t, c.method+" "+c.path+" with a 10 GiB body", reply{Status: res.StatusCode, Header: res.Header, Body: body}, 413, "BadRequestError")
		if !res.Close {
			t.Errorf("%s %s: connection left open after 413", c.method, c.path)
		}
	}
}

// Slow clients cannot exhaust the server: while many connections trickle
// their headers (slowloris) and others trickle bodies, normal requests
// are answered; the server cuts the trickling connections itself (read
// header timeout); a trickled body is not waited for before a request
// is refused.
func TestSlowClients(t *testing.T) {
	t.Parallel()
	store := filepath.Join(t.TempDir(), "ft.db")
	key := createKey(t, store, "reader", "--premium")
	s := startServe(t, store)
	addr := strings.TrimPrefix(s.URL, "http://")
	n := envInt(t, "FILETRAIL_SLOW_CONNECTIONS", 300)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var wg sync.WaitGroup
	closedByServer := make(chan time.Duration, n)
	for i := range n {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("slow connection %d: %v", i, err)
		}
		defer conn.Close()
		start := time.Now()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 { // headers trickled, never finished
				io.WriteString(conn, "GET /api/v3/metadata HTTP/1.1\r\nHost: ft\r\n")
				for ctx.Err() == nil {
					if _, err := io.WriteString(conn, "X"); err != nil {
						closedByServer <- time.Since(start)
						return
					}
					select {
					case <-ctx.Done():
					case <-time.After(500 * time.Millisecond):
					}
				}
				return
			}
			// body trickled, no key: the 401 comes without the body
			io.WriteString(conn, "POST /admin/v1/ingest HTTP/1.1\r\nHost: ft\r\nContent-Length: 100000\r\n\r\nx")
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Errorf("trickled body: no early answer: %v", err)
				return
			}
			res.Body.Close()
			if res.StatusCode != 401 {
				t.Errorf("trickled body without a key: status %d, want 401", res.StatusCode)
			}
		}()
	}
	// normal traffic while the slow connections are held
	for i := range 50 {
		r, err := send("GET", s.URL+"/api/v3/metadata", key, nil)
		if err != nil || r.Status != 200 {
			t.Fatalf("normal request %d during the slow clients: %v %d", i, err, r.Status)
		}
	}
	// the server closes every header trickler (10 s read header timeout);
	// a minute bounds the wait so that a regression fails instead of hangs
	deadline := time.After(time.Minute)
	for i := 0; i < (n+1)/2; i++ {
		select {
		case <-closedByServer:
		case <-deadline:
			t.Fatalf("%d of %d header-trickling connections still open after a minute", (n+1)/2-i, (n+1)/2)
		}
	}
	cancel()
	wg.Wait()
	if r, err := send("GET", s.URL+"/api/v3/metadata", key, nil); err != nil || r.Status != 200 {
		t.Fatalf("after the slow clients: %v %d", err, r.Status)
	}
}

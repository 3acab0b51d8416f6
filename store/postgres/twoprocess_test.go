package postgres_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filetrail/filetrail/store/postgres/pgtest"
)

// filetrailBinary returns the filetrail command: $FILETRAIL_BIN when set,
// else one built from this module's source.
func filetrailBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("FILETRAIL_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "filetrail")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/filetrail")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/filetrail: %v\n%s", err, out)
	}
	return bin
}

// startServe starts `filetrail serve` on a free loopback port and returns
// its base URL once it listens; the process is stopped when t ends.
func startServe(t *testing.T, bin, dsn string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--log-format", "json", "serve", "--store", dsn, "--addr", "127.0.0.1:0")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start serve: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })

	urls := make(chan string, 1)
	var logs strings.Builder
	var logsMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logsMu.Lock()
			logs.WriteString(sc.Text() + "\n")
			logsMu.Unlock()
			var line struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" && line.URL != "" {
				urls <- line.URL
			}
		}
		close(urls)
	}()
	select {
	case u, ok := <-urls:
		if ok {
			return u
		}
	case <-time.After(60 * time.Second):
	}
	logsMu.Lock()
	defer logsMu.Unlock()
	t.Fatalf("filetrail serve did not report a listening address; its log:\n%s", logs.String())
	return ""
}

// TestTwoServersShareQuota runs two `filetrail serve` processes on one
// PostgreSQL database and sends a quota-limited key's requests to both at
// once: together they must admit exactly the quota, and refuse the rest
// with 429.
func TestTwoServersShareQuota(t *testing.T) {
	dsn := pgtest.DSN(t)
	bin := filetrailBinary(t)

	const quota = 30
	out, err := exec.Command(bin, "keys", "create", "--store", dsn, "--name", "shared", "--quota-month", fmt.Sprint(quota)).Output()
	if err != nil {
		t.Fatalf("keys create: %v\n%s", err, out)
	}
	secret, _, _ := strings.Cut(string(out), "\n")
	if len(secret) != 64 {
		t.Fatalf("keys create printed %q first, want the 64-character secret", secret)
	}

	servers := []string{startServe(t, bin, dsn), startServe(t, bin, dsn)}
	const perServer, workers = 2 * quota, 6
	type result struct {
		server, status int
	}
	results := make(chan result, len(servers)*perServer)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for si, base := range servers {
		jobs := make(chan int, perServer)
		for i := range perServer {
			jobs <- i
		}
		close(jobs)
		for range workers {
			wg.Go(func() {
				for range jobs {
					req, _ := http.NewRequest("GET", base+"/api/v3/ip_addresses/192.0.2.1", nil)
					req.Header.Set("x-apikey", secret)
					resp, err := client.Do(req)
					if err != nil {
						t.Errorf("server %d: %v", si, err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					results <- result{si, resp.StatusCode}
				}
			})
		}
	}
	wg.Wait()
	close(results)

	ok, refused := 0, 0
	answered := map[int]int{}
	for r := range results {
		answered[r.server]++
		switch r.status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Errorf("server %d answered %d, want 200 or 429", r.server, r.status)
		}
	}
	if ok != quota {
		t.Errorf("the two servers admitted %d requests of a key with a quota of %d", ok, quota)
	}
	if want := len(servers)*perServer - quota; refused != want {
		t.Errorf("%d requests refused with 429, want %d", refused, want)
	}
	for si := range servers {
		if answered[si] != perServer {
			t.Errorf("server %d answered %d requests, want %d", si, answered[si], perServer)
		}
	}
}

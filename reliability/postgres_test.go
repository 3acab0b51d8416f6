package reliability

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pgServer is a throwaway PostgreSQL cluster of scripts/pg-test-server.sh
// that the test may stop and start again.
type pgServer struct {
	DSN   string
	dir   string // the cluster's directory
	port  string
	state string
}

// startPostgres starts a cluster of its own (FILETRAIL_PG_STATE in a
// temporary directory) and stops it at the end of the test. Without the
// PostgreSQL binaries the test is skipped, except in CI.
func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	p := &pgServer{state: filepath.Join(t.TempDir(), "pg.state")}
	out, err := p.script("start")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("starting PostgreSQL: %v", err)
		}
		t.Skipf("no PostgreSQL to stop and restart (scripts/pg-test-server.sh start: %v)", err)
	}
	t.Cleanup(func() { p.script("stop") })
	_, p.DSN, _ = strings.Cut(strings.TrimSpace(out), "=")
	dir, err := os.ReadFile(p.state)
	if err != nil {
		t.Fatal(err)
	}
	p.dir = strings.TrimSpace(string(dir))
	port, err := os.ReadFile(filepath.Join(p.dir, "port"))
	if err != nil {
		t.Fatal(err)
	}
	p.port = strings.TrimSpace(string(port))
	return p
}

func (p *pgServer) script(arg string) (string, error) {
	cmd := exec.Command("../scripts/pg-test-server.sh", arg)
	cmd.Env = append(os.Environ(), "FILETRAIL_PG_STATE="+p.state)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%v: %s", err, errOut.String())
	}
	return out.String(), nil
}

// pgCtl runs pg_ctl on the cluster as its owner.
func (p *pgServer) pgCtl(t *testing.T, args ...string) {
	t.Helper()
	bin := cmpOr(os.Getenv("FILETRAIL_PG_BIN"), "/usr/lib/postgresql/15/bin")
	all := append([]string{filepath.Join(bin, "pg_ctl"), "-D", filepath.Join(p.dir, "data")}, args...)
	if os.Geteuid() == 0 {
		all = append([]string{"runuser", "-u", cmpOr(os.Getenv("FILETRAIL_PG_USER"), "filetrail-pg"), "--"}, all...)
	}
	out, err := exec.Command(all[0], all[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_ctl %v: %v\n%s", args, err, out)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Stop stops the cluster the hard way (immediate: connections cut).
func (p *pgServer) Stop(t *testing.T) { p.pgCtl(t, "-m", "immediate", "-w", "stop") }

// Start starts the stopped cluster again on its port.
func (p *pgServer) Start(t *testing.T) {
	p.pgCtl(t, "-l", filepath.Join(p.dir, "postgres.log"), "-w", "-t", "60",
		"-o", "-p "+p.port+" -k "+p.dir+" -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300", "start")
}

// TestPostgresStopAndRestart stops PostgreSQL under a running `serve`:
// every request answers 503 TransientError in VT JSON (never a hang,
// never a 500) and the same process serves again once PostgreSQL is back.
// An `ingest` run while it is down stops with a clear error; run again
// afterwards, it loses nothing.
func TestPostgresStopAndRestart(t *testing.T) {
	t.Parallel()
	pg := startPostgres(t)
	c := newCorpus(t)
	key := createKey(t, pg.DSN, "reader", "--premium", "--admin")
	mustRun(t, c.ingestArgs(pg.DSN)...)
	want := c.snapshot(t, pg.DSN)
	// Without the response cache: it would answer the pages asked before
	// the stop for up to its TTL (docs/OPERATIONS.md); this test is about
	// what reaches the store.
	s := startServe(t, pg.DSN, "--response-cache-mib", "0")
	paths := []string{"/api/v3/ip_addresses/108.59.9.32/downloaded_files?limit=5", "/api/v3/files/" + c.hashes[3], "/api/v3/ip_addresses/" + c.ips[2], "/api/v3/metadata", "/readyz"}
	for _, p := range paths {
		if r := mustGet(t, s.URL+p, key); r.Status != 200 {
			t.Fatalf("before the stop: GET %s: %d %s", p, r.Status, r.Body)
		}
	}

	pg.Stop(t)
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for round := range 3 {
		for _, p := range paths {
			if p == "/api/v3/metadata" {
				continue // answered without the store once the key is known
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := send(http.MethodGet, s.URL+p, key, nil)
				if err != nil {
					t.Errorf("store down, round %d: GET %s: %v", round, p, err)
					return
				}
				mu.Lock()
				counts[r.Status]++
				mu.Unlock()
				wantVTError(t, fmt.Sprintf("store down, round %d: GET %s", round, p), r, 503, "TransientError")
			}()
		}
		r, err := send(http.MethodPost, s.URL+"/admin/v1/ingest?format=sightings", key, strings.NewReader(`{"ip":"192.0.2.1","sha256":"`+strings.Repeat("c", 64)+`","seen_at":1}`+"\n"))
		if err != nil {
			t.Errorf("store down: POST ingest: %v", err)
		} else {
			wantVTError(t, "store down: POST ingest", r, 503, "TransientError")
		}
		wg.Wait()
		time.Sleep(time.Second) // let the key cache expire between rounds
	}
	t.Logf("answers while PostgreSQL was down: %v", counts)
	// the command line: a clear error, promptly
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := command(ctx, c.ingestArgs(pg.DSN)...)
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Errorf("ingest with PostgreSQL down: %v (context %v), want a prompt failure\n%s", err, ctx.Err(), out)
	}
	if !strings.Contains(strings.ToLower(string(out)), "postgres") && !strings.Contains(string(out), "connect") {
		t.Errorf("ingest with PostgreSQL down: the message does not name the cause:\n%s", out)
	}

	pg.Start(t)
	recovered := false
	for end := time.Now().Add(time.Minute); time.Now().Before(end) && !recovered; time.Sleep(200 * time.Millisecond) {
		r, err := send(http.MethodGet, s.URL+"/readyz", "", nil)
		recovered = err == nil && r.Status == 200
	}
	if !recovered {
		t.Fatalf("serve did not recover within a minute of PostgreSQL's restart\n%s", s.Logs)
	}
	select {
	case <-s.done:
		t.Fatalf("serve exited: %v", s.err)
	default:
	}
	for _, p := range paths {
		if r := mustGet(t, s.URL+p, key); r.Status != 200 {
			t.Errorf("after the restart: GET %s: %d %s", p, r.Status, r.Body)
		}
	}
	s.Stop(t)

	// PostgreSQL stopped in the middle of an ingest run: it stops with an
	// error; run again, nothing is missing
	var runOut bytes.Buffer
	cmd = command(ctx, c.ingestArgs(pg.DSN)...)
	cmd.Stdout, cmd.Stderr = &runOut, &runOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	pg.Stop(t)
	if err := cmd.Wait(); err == nil {
		t.Logf("the ingest run finished before PostgreSQL stopped")
	} else if ctx.Err() != nil {
		t.Errorf("ingest did not stop within 90 s of PostgreSQL stopping")
	} else {
		msg := lastLine(runOut.String())
		t.Logf("ingest stopped by the outage: %v: %s", err, msg)
		if !strings.Contains(msg, "unavailable") && !strings.Contains(strings.ToLower(msg), "postgres") {
			t.Errorf("ingest stopped by the outage without saying why: %s", msg)
		}
	}
	pg.Start(t)
	mustRun(t, c.ingestArgs(pg.DSN)...)
	sameSnapshot(t, "PostgreSQL after the outage", want, c.snapshot(t, pg.DSN))
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

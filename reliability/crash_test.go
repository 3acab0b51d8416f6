package reliability

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filetrail/filetrail/internal/testfixture"
)

// corpus is the evidence the crash harness ingests: real files of
// testdata and a generated NDJSON of sightings.
type corpus struct {
	files     []string // every input, in ingest order
	generated string   // the generated NDJSON (also in files)
	ips       []string // IPs whose pages are compared
	hashes    []string // files whose documents and pages are compared
}

// genHash is the sha256 of made-up file i.
func genHash(i int) string {
	s := sha256.Sum256(fmt.Appendf(nil, "reliability file %d", i))
	return hex.EncodeToString(s[:])
}

// genIP is made-up server i, in 198.18.0.0/15 (benchmarking addresses).
func genIP(i int) string { return fmt.Sprintf("198.18.%d.%d", i/250, 1+i%250) }

// newCorpus writes the generated NDJSON (FILETRAIL_CRASH_LINES lines,
// default 4000: 300 servers, 800 files, repeated sightings, a few of the
// real reports' files) and lists the inputs.
func newCorpus(t *testing.T) corpus {
	t.Helper()
	reports, err := filepath.Glob(filepath.Join(testdata, "vt-file-objects", "[0-9a-f]*.json"))
	if err != nil || len(reports) != 4 {
		t.Fatalf("want the 4 VT reports of testdata: %v %v", reports, err)
	}
	c := corpus{
		ips:    []string{"108.59.9.32", "74.207.254.18", genIP(0), genIP(7), genIP(150), genIP(299)},
		hashes: []string{genHash(0), genHash(400), genHash(799)},
	}
	for _, r := range reports {
		c.hashes = append(c.hashes, strings.TrimSuffix(filepath.Base(r), ".json"))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	n := envInt(t, "FILETRAIL_CRASH_LINES", 4000)
	for i := range n {
		f := rng.IntN(800)
		h := genHash(f)
		if i%100 == 0 {
			h = c.hashes[3+i/100%4] // a real report's file, seen on a made-up server
		}
		fmt.Fprintf(&b, `{"ip":%q,"url":"http://%s/d/%d/f%d.bin","sha256":%q,"filename":"f%d.bin","size":%d,"seen_at":%d,"source":"sensor-%d"}`+"\n",
			genIP(rng.IntN(300)), genIP(rng.IntN(300)), rng.IntN(5), f, h, f, 1000+f, 1600000000+rng.Int64N(1e8), rng.IntN(3))
	}
	c.generated = filepath.Join(t.TempDir(), "generated.ndjson")
	if err := os.WriteFile(c.generated, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	c.files = append([]string{filepath.Join(testdata, "zeek", "zat-tsv-2013"), filepath.Join(testdata, "suricata", "ctu13-eve-excerpt.json")}, reports...)
	c.files = append(c.files, c.generated)
	return c
}

// snapshot serves store and returns the API's answers about the corpus:
// each IP object and every page of its downloaded files, each file
// object and every page of its in-the-wild IPs, in order, byte for byte.
func (c corpus) snapshot(t *testing.T, store string) []byte {
	t.Helper()
	key := createKey(t, store, fmt.Sprintf("snapshot-%d", time.Now().UnixNano()), "--premium")
	s := startServe(t, store)
	defer s.Stop(t)
	var out bytes.Buffer
	get := func(path string) []byte {
		r := mustGet(t, s.URL+path, key)
		fmt.Fprintf(&out, "GET %s %d\n%s\n", path, r.Status, r.Body)
		return r.Body
	}
	pages := func(path string) {
		cursor := ""
		for range 10000 {
			q := "?limit=40"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			var page struct {
				Meta struct{ Cursor string } `json:"meta"`
			}
			if err := json.Unmarshal(get(path+q), &page); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if cursor = page.Meta.Cursor; cursor == "" {
				return
			}
		}
		t.Fatalf("%s: more than 10000 pages", path)
	}
	for _, ip := range c.ips {
		get("/api/v3/ip_addresses/" + ip)
		pages("/api/v3/ip_addresses/" + ip + "/downloaded_files")
	}
	for _, h := range c.hashes {
		get("/api/v3/files/" + h)
		pages("/api/v3/files/" + h + "/itw_ips")
	}
	return out.Bytes()
}

// sameSnapshot fails the test when got differs from want, naming the
// first different line.
func sameSnapshot(t *testing.T, what string, want, got []byte) bool {
	t.Helper()
	if bytes.Equal(want, got) {
		return true
	}
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			t.Errorf("%s: API output differs from the clean run at line %d:\nclean: %.300s\ngot:   %.300s", what, i+1, w, g)
			return false
		}
	}
	return false
}

// ingestArgs is the ingest command line of the corpus into store.
func (c corpus) ingestArgs(store string) []string {
	return append([]string{"ingest", "--store", store, "--batch-size", "100"}, c.files...)
}

// killAfter starts cmd and SIGKILLs it after d; it reports whether the
// kill came before the process ended on its own.
func killAfter(t *testing.T, cmd *exec.Cmd, d time.Duration) bool {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return false
	case <-time.After(d):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return true
	}
}

// crashFigures are what a crash test did, for docs/RELIABILITY.md.
type crashFigures struct {
	iterations, kills, finishedFirst, losses int
}

func (f crashFigures) log(t *testing.T, what string) {
	t.Logf("%s: %d iterations, %d SIGKILLs mid-run, %d runs finished before their kill, %d snapshots differing from the clean run (losses)",
		what, f.iterations, f.kills, f.finishedFirst, f.losses)
}

// crashIterations calls iterate FILETRAIL_CRASH_ITERATIONS times (default
// 5) with the iteration number, a random source seeded from the clock and
// stream, and the figures to count kills in; iterate returns the store it
// left behind, whose snapshot must equal want (a difference is reported and
// counted as a loss). The figures are logged under what and returned.
func (c corpus) crashIterations(t *testing.T, stream uint64, what string, want []byte, iterate func(i int, rng *rand.Rand, fig *crashFigures) (store string)) crashFigures {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), stream))
	var fig crashFigures
	for i := range envInt(t, "FILETRAIL_CRASH_ITERATIONS", 5) {
		fig.iterations++
		store := iterate(i, rng, &fig)
		if !sameSnapshot(t, fmt.Sprintf("iteration %d", i), want, c.snapshot(t, store)) {
			fig.losses++
		}
	}
	fig.log(t, what)
	return fig
}

// generatedData returns the content of the generated input.
func (c corpus) generatedData(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(c.generated)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestCrashDuringIngest SIGKILLs `filetrail ingest` at random points (one
// to three times per iteration), runs the same ingest again to the end,
// and compares the API output with a clean run's, byte for byte.
// FILETRAIL_CRASH_ITERATIONS sets the iterations (default 5).
func TestCrashDuringIngest(t *testing.T) {
	t.Parallel()
	c := newCorpus(t)
	clean := filepath.Join(t.TempDir(), "clean.db")
	start := time.Now()
	_, cleanErr, cleanStatus := run(t, c.ingestArgs(clean)...)
	took := time.Since(start)
	want := c.snapshot(t, clean)
	// the harness itself: two clean runs agree
	again := filepath.Join(t.TempDir(), "again.db")
	if _, _, err := run(t, c.ingestArgs(again)...); fmt.Sprint(err) != fmt.Sprint(cleanStatus) {
		t.Fatalf("second clean run: %v, first %v\n%s", err, cleanStatus, cleanErr)
	}
	if !sameSnapshot(t, "second clean run", want, c.snapshot(t, again)) {
		t.Fatal("two clean runs differ: the comparison is meaningless")
	}
	// and it sees a loss: a store missing the last 1% of the generated
	// input differs
	partial := filepath.Join(t.TempDir(), "partial.db")
	lines := bytes.SplitAfter(c.generatedData(t), []byte("\n"))
	cut := filepath.Join(t.TempDir(), "cut.ndjson")
	if err := os.WriteFile(cut, bytes.Join(lines[:len(lines)-len(lines)/100-1], nil), 0o644); err != nil {
		t.Fatal(err)
	}
	args := c.ingestArgs(partial)
	args[len(args)-1] = cut
	run(t, args...)
	if bytes.Equal(want, c.snapshot(t, partial)) {
		t.Fatal("a store missing 1% of the input gives the same snapshot: the comparison cannot see losses")
	}
	fig := c.crashIterations(t, 3, "ingest", want, func(i int, rng *rand.Rand, fig *crashFigures) string {
		store := filepath.Join(t.TempDir(), fmt.Sprintf("crash-%d.db", i))
		for range 1 + rng.IntN(3) {
			d := time.Duration(rng.Int64N(int64(took)*3/4 + 1)) // re-runs are faster than the first
			if killAfter(t, command(t.Context(), c.ingestArgs(store)...), d) {
				fig.kills++
			} else {
				fig.finishedFirst++
			}
		}
		if _, errOut, err := run(t, c.ingestArgs(store)...); fmt.Sprint(err) != fmt.Sprint(cleanStatus) {
			t.Fatalf("iteration %d: ingest after the kills: %v, clean run %v\n%s", i, err, cleanStatus, errOut)
		}
		return store
	})
	if fig.kills == 0 {
		t.Errorf("no kill landed during an ingest run")
	}
}

// TestCrashDuringServe ingests the generated corpus through POST
// /admin/v1/ingest while readers query, SIGKILLs `filetrail serve` at
// random points, restarts it, pushes the same body again and compares
// the API output with a clean run's.
func TestCrashDuringServe(t *testing.T) {
	t.Parallel()
	c := newCorpus(t)
	body := c.generatedData(t)
	static := c.ingestArgs("")
	static = static[:len(static)-1] // every input but the generated one
	prepare := func(store string) string {
		args := append([]string(nil), static...)
		args[2] = store
		run(t, args...)
		return createKey(t, store, "pusher", "--admin", "--premium")
	}
	push := func(s *server, key string) (reply, error) {
		return send("POST", s.URL+"/admin/v1/ingest?format=sightings", key, bytes.NewReader(body))
	}
	clean := filepath.Join(t.TempDir(), "clean.db")
	key := prepare(clean)
	s := startServe(t, clean)
	start := time.Now()
	if r, err := push(s, key); err != nil || r.Status != 200 {
		t.Fatalf("clean push: %v %d %s", err, r.Status, r.Body)
	}
	took := time.Since(start)
	s.Stop(t)
	want := c.snapshot(t, clean)
	// pushed over HTTP or ingested by the command, the same store
	cli := filepath.Join(t.TempDir(), "cli.db")
	run(t, c.ingestArgs(cli)...)
	sameSnapshot(t, "HTTP ingest vs command ingest", want, c.snapshot(t, cli))

	fig := c.crashIterations(t, 4, "serve with HTTP ingestion", want, func(i int, rng *rand.Rand, fig *crashFigures) string {
		store := filepath.Join(t.TempDir(), fmt.Sprintf("crash-%d.db", i))
		key := prepare(store)
		s := startServe(t, store)
		pushed := make(chan struct{})
		go func() {
			defer close(pushed)
			push(s, key) // cut by the kill, or not
		}()
		stopReads := make(chan struct{})
		readsDone := make(chan struct{})
		go func() { // readers while serving
			defer close(readsDone)
			for {
				select {
				case <-stopReads:
					return
				default:
				}
				for _, ip := range c.ips {
					send("GET", s.URL+"/api/v3/ip_addresses/"+ip+"/downloaded_files?limit=40", key, nil)
				}
			}
		}()
		time.Sleep(time.Duration(rng.Int64N(int64(took) + 1)))
		select {
		case <-pushed:
			fig.finishedFirst++
		default:
			fig.kills++
		}
		s.Kill()
		close(stopReads)
		<-pushed
		<-readsDone
		s = startServe(t, store)
		if r, err := push(s, key); err != nil || r.Status != 200 {
			t.Fatalf("iteration %d: push after restart: %v %d %s", i, err, r.Status, r.Body)
		}
		s.Stop(t)
		return store
	})
	if fig.kills == 0 {
		t.Errorf("no kill landed during an HTTP ingestion")
	}
}

// TestCrashDuringFollow follows a growing log with `ingest --follow`,
// SIGKILLs the follower at random points while the log grows, restarts
// it, lets it catch up (its checkpoint reaches the end of the log) and
// compares the API output with a clean run's.
func TestCrashDuringFollow(t *testing.T) {
	t.Parallel()
	c := newCorpus(t)
	data := c.generatedData(t)
	clean := filepath.Join(t.TempDir(), "clean.db")
	run(t, "ingest", "--store", clean, "--format", "sightings", c.generated)
	want := c.snapshot(t, clean)

	lines := bytes.SplitAfter(data, []byte("\n"))
	c.crashIterations(t, 5, "ingest --follow", want, func(i int, rng *rand.Rand, fig *crashFigures) string {
		dir := t.TempDir()
		store, log := filepath.Join(dir, "follow.db"), filepath.Join(dir, "sensor.ndjson")
		if err := os.WriteFile(log, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		follow := func() *exec.Cmd {
			cmd := command(t.Context(), "ingest", "--store", store, "--format", "sightings", "--follow", log, "--poll", "50ms", "--batch-size", "100")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			return cmd
		}
		cmd := follow()
		// the log grows in chunks; the follower is killed and restarted
		// at random points in between
		for written := 0; written < len(lines); {
			n := min(len(lines)-written, 1+rng.IntN(len(lines)/4))
			testfixture.AppendFile(t, log, bytes.Join(lines[written:written+n], nil))
			written += n
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			if rng.IntN(2) == 0 {
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
				fig.kills++
				cmd = follow()
			}
		}
		if !waitCheckpoint(log+".checkpoint", int64(len(data)), time.Minute) {
			t.Fatalf("iteration %d: the follower did not reach the end of the log within a minute", i)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		return store
	})
}

// waitCheckpoint waits until the checkpoint file says offset was reached.
func waitCheckpoint(path string, offset int64, timeout time.Duration) bool {
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var cp struct {
			Offset int64 `json:"offset"`
		}
		if json.Unmarshal(b, &cp) == nil && cp.Offset >= offset {
			return true
		}
	}
	return false
}

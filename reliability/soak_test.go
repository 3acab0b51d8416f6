package reliability

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rssKiB is the resident memory of process pid, from /proc.
func rssKiB(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// TestSoak runs mixed reads (objects and every page of several IPs and
// files) and pushed ingestion against one server for
// FILETRAIL_SOAK_SECONDS (default 10): every request must succeed, and the
// server's memory must level off (the last third of the run may not grow
// past twice the first third plus 64 MiB). Latency percentiles are logged
// for docs/PERFORMANCE.md.
func TestSoak(t *testing.T) {
	t.Parallel()
	c := newCorpus(t)
	store := loadedStore(t)
	mustRun(t, c.ingestArgs(store)...)
	key := createKey(t, store, "soak", "--premium", "--admin")
	s := startServe(t, store)
	chunks := bytes.SplitAfter(c.generatedData(t), []byte("\n"))
	d := time.Duration(envInt(t, "FILETRAIL_SOAK_SECONDS", 10)) * time.Second
	end := time.Now().Add(d)

	var (
		mu      sync.Mutex
		lat     = map[string][]time.Duration{}
		errs    []string
		wg      sync.WaitGroup
		samples []int64
	)
	record := func(kind string, took time.Duration, r reply, err error) {
		mu.Lock()
		defer mu.Unlock()
		lat[kind] = append(lat[kind], took)
		if err != nil || r.Status != 200 {
			if len(errs) < 10 {
				errs = append(errs, fmt.Sprintf("%s: %v %d %.200s", kind, err, r.Status, r.Body))
			}
			lat["errors"] = append(lat["errors"], took)
		}
	}
	for w := range 4 { // readers
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for time.Now().Before(end) {
				var p string
				switch rng.IntN(3) {
				case 0:
					p = "/api/v3/ip_addresses/" + c.ips[rng.IntN(len(c.ips))] + "/downloaded_files?limit=40"
				case 1:
					p = "/api/v3/files/" + c.hashes[rng.IntN(len(c.hashes))]
				default:
					p = "/api/v3/files/" + c.hashes[rng.IntN(len(c.hashes))] + "/itw_ips?limit=10"
				}
				start := time.Now()
				r, err := send(http.MethodGet, s.URL+p, key, nil)
				record("read", time.Since(start), r, err)
			}
		}()
	}
	wg.Add(1)
	go func() { // one pusher: 200 lines at a time, round and round
		defer wg.Done()
		for i := 0; time.Now().Before(end); i = (i + 200) % len(chunks) {
			b := bytes.Join(chunks[i:min(i+200, len(chunks))], nil)
			start := time.Now()
			r, err := send(http.MethodPost, s.URL+"/admin/v1/ingest?format=sightings", key, bytes.NewReader(b))
			record("ingest", time.Since(start), r, err)
		}
	}()
	pid := s.cmd.Process.Pid
	for time.Now().Before(end) {
		samples = append(samples, rssKiB(t, pid))
		time.Sleep(d / 30)
	}
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
	for _, kind := range []string{"read", "ingest"} {
		l := lat[kind]
		slices.Sort(l)
		if len(l) == 0 {
			t.Errorf("no %s request completed", kind)
			continue
		}
		pct := func(p float64) time.Duration { return l[min(len(l)-1, int(p*float64(len(l))))] }
		t.Logf("%s: %d requests in %v (%d failed requests of any kind); latency p50 %v p90 %v p99 %v max %v", kind, len(l), d, len(lat["errors"]),
			pct(.50).Round(time.Microsecond), pct(.90).Round(time.Microsecond), pct(.99).Round(time.Microsecond), l[len(l)-1].Round(time.Microsecond))
	}
	third := len(samples) / 3
	if third > 0 {
		early, late := slices.Max(samples[:third]), slices.Max(samples[len(samples)-third:])
		t.Logf("serve RSS: %d KiB (first third, max) -> %d KiB (last third, max)", early, late)
		if late > 2*early+64<<10 {
			t.Errorf("memory keeps growing: %d KiB -> %d KiB", early, late)
		}
	}
}

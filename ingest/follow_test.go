package ingest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/ingest"
	"github.com/filetrail/filetrail/internal/testfixture"
)

// countingStore is an EvidenceWriter, safe for concurrent use, that counts
// how many times each file (by sha256) was applied.
type countingStore struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *countingStore) Apply(_ context.Context, b *filetrail.Batch) (filetrail.ApplyResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	for _, s := range b.Sightings {
		c.counts[s.Hashes().Strongest()]++
	}
	return filetrail.ApplyResult{}, nil
}

func (c *countingStore) has(ids []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if c.counts[id] == 0 {
			return false
		}
	}
	return true
}

// follower runs ingest.Follow in the background.
type follower struct {
	cancel context.CancelFunc
	done   chan error
	cps    chan ingest.Checkpoint
	w      *ingest.Writer
	// heldAtStop is set when the last checkpoint, written at the stop,
	// had held lines.
	heldAtStop *atomic.Bool
}

func startFollow(t *testing.T, st *countingStore, path, format string) *follower {
	t.Helper()
	return startFollowOpts(t, st, path, format, ingest.ReaderOptions{})
}

func startFollowOpts(t *testing.T, st *countingStore, path, format string, ropts ingest.ReaderOptions) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{cancel: cancel, done: make(chan error, 1), cps: make(chan ingest.Checkpoint, 1000), heldAtStop: &atomic.Bool{}}
	f.w = ingest.NewWriter(st, ingest.WriterOptions{BatchSize: 3})
	go func() {
		f.done <- ingest.Follow(ctx, f.w, ingest.FollowOptions{
			Path: path, Checkpoint: path + ".checkpoint", Format: format, Poll: 2 * time.Millisecond, Reader: ropts,
			OnCheckpoint: func(cp ingest.Checkpoint) {
				f.heldAtStop.Store(len(cp.Held) > 0)
				select {
				case f.cps <- cp:
				default:
				}
			},
		})
	}()
	return f
}

// waitFor waits until the store holds every id, following checkpoints.
func (f *follower) waitFor(t *testing.T, st *countingStore, ids []string) {
	t.Helper()
	deadline := time.After(10 * time.Second) // a hang, not a speed requirement
	for !st.has(ids) {
		select {
		case <-f.cps:
		case err := <-f.done:
			t.Fatalf("Follow ended: %v", err)
		case <-deadline:
			t.Fatal("the records never arrived")
		}
	}
}

func (f *follower) stop(t *testing.T) ingest.Summary {
	t.Helper()
	f.cancel()
	if err := <-f.done; err != nil {
		t.Fatalf("Follow: %v", err)
	}
	return f.w.Summary()
}

func sightingLineN(n int) string {
	return fmt.Sprintf(`{"ip":"198.51.100.%d","url":"http://198.51.100.%d/f%d","sha256":"%s","seen_at":%d}`+"\n", n%250+1, n%250+1, n, fx(5000+n, "sha256"), 1700000000+n)
}

func ids(from, to int) []string {
	var out []string
	for n := from; n < to; n++ {
		out = append(out, fx(5000+n, "sha256"))
	}
	return out
}

func checkOnce(t *testing.T, st *countingStore, want []string) {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, id := range want {
		if st.counts[id] != 1 {
			t.Errorf("%s applied %d times", id[:12], st.counts[id])
		}
	}
	if len(st.counts) != len(want) {
		t.Errorf("%d files applied, want %d", len(st.counts), len(want))
	}
}

// TestFollowRotationTruncation follows a log through a rename rotation
// (with lines written to the old file after the rename and a last line
// without newline), then a copy-truncate, then a restart.
func TestFollowRotationTruncation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sightings.log")
	st := &countingStore{}
	testfixture.AppendFile(t, path, sightingLineN(0)+sightingLineN(1)+strings.TrimSuffix(sightingLineN(2), "\n"))
	f := startFollow(t, st, path, ingest.AutoFormat)
	f.waitFor(t, st, ids(0, 2))
	testfixture.AppendFile(t, path, "\n"+sightingLineN(3))
	f.waitFor(t, st, ids(0, 4))

	// Rotation: the writer still appends to the old file, whose last line
	// has no newline, then opens a new one.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	testfixture.AppendFile(t, path+".1", sightingLineN(4)+strings.TrimSuffix(sightingLineN(5), "\n"))
	testfixture.AppendFile(t, path, sightingLineN(6)+sightingLineN(7))
	f.waitFor(t, st, ids(0, 8))

	// Copy-truncate: the file is emptied in place and written again.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	testfixture.AppendFile(t, path, sightingLineN(8))
	f.waitFor(t, st, ids(0, 9))
	sum := f.stop(t)
	if sum.Sightings != 9 || sum.Rejected != 0 {
		t.Errorf("summary %+v", sum)
	}

	// A restart reads only what came after.
	testfixture.AppendFile(t, path, sightingLineN(9))
	f = startFollow(t, st, path, "sightings")
	f.waitFor(t, st, ids(0, 10))
	if sum := f.stop(t); sum.Sightings != 1 {
		t.Errorf("after restart: %d sightings, want 1", sum.Sightings)
	}
	checkOnce(t, st, ids(0, 10))
}

// eveLines are Suricata events where the fileinfo of file n comes before
// its http event, which follows two lines later: the fileinfo is held by
// the join in between.
func eveLines(from, to int) []string {
	var out []string
	var later []string
	for n := from; n < to; n++ {
		ip := fmt.Sprintf("198.51.100.%d", n%250+1)
		fi := fmt.Sprintf(`{"timestamp":"2024-01-01T00:00:00Z","flow_id":%d,"event_type":"fileinfo","src_ip":"%s","src_port":8000,"dest_ip":"10.0.0.1","dest_port":40000,"app_proto":"http","http":{"hostname":"h%d.example.test","url":"/f","status":200},"fileinfo":{"state":"CLOSED","gaps":false,"sha256":"%s","tx_id":0}}`,
			n, ip, n, fx(5000+n, "sha256"))
		httpEv := fmt.Sprintf(`{"timestamp":"2024-01-01T00:00:00Z","flow_id":%d,"event_type":"http","src_ip":"10.0.0.1","src_port":40000,"dest_ip":"%s","dest_port":8000,"tx_id":0,"http":{"hostname":"h%d.example.test","url":"/f","status":200}}`,
			n, ip, n)
		out = append(out, fi)
		later = append(later, httpEv)
		if len(later) > 2 {
			out = append(out, later[0])
			later = later[1:]
		}
	}
	return append(out, later...)
}

// TestFollowRestartProperty writes a Suricata log in random pieces (lines
// cut anywhere), rotating it at random, and stops and restarts Follow at
// random points: every file must be applied exactly once, including the
// fileinfo events held by the join when Follow stopped.
func TestFollowRestartProperty(t *testing.T) {
	stopsWithHeld := 0
	defer func() {
		if !t.Failed() && stopsWithHeld == 0 {
			t.Error("no run stopped while the join held a record: the property was not exercised")
		}
	}()
	for seed := range 8 {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 42))
			dir := t.TempDir()
			path := filepath.Join(dir, "eve.json")
			const files = 60
			text := strings.Join(eveLines(0, files), "\n") + "\n"
			st := &countingStore{}
			var f *follower
			total := ingest.Summary{}
			rotations := 0
			for pos := 0; pos < len(text); {
				n := min(len(text)-pos, 1+rng.IntN(700))
				testfixture.AppendFile(t, path, text[pos:pos+n])
				pos += n
				switch r := rng.IntN(10); {
				case r < 3 && f != nil:
					// Stop at a random moment: let it read some of it first,
					// or not.
					if rng.IntN(2) == 0 {
						select {
						case <-f.cps:
						case <-time.After(time.Duration(rng.IntN(5)) * time.Millisecond):
						}
					}
					s := f.stop(t)
					if f.heldAtStop.Load() {
						stopsWithHeld++
					}
					total.Sightings += s.Sightings
					f = nil
				case r < 5 && f == nil:
					f = startFollow(t, st, path, ingest.AutoFormat)
				case r == 5 && pos < len(text) && text[pos-1] == '\n':
					// Rotate at a line end (a writer rotates between lines).
					rotations++
					if err := os.Rename(path, fmt.Sprintf("%s.%d", path, rotations)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if f == nil {
				f = startFollow(t, st, path, ingest.AutoFormat)
			}
			f.waitFor(t, st, ids(0, files))
			total.Sightings += f.stop(t).Sightings
			checkOnce(t, st, ids(0, files))
			if total.Sightings != files {
				t.Errorf("summaries count %d sightings, want %d", total.Sightings, files)
			}
		})
	}
}

// TestFollowZeekTSVResume follows a Zeek TSV files.log, stops, and resumes
// in the middle of it: the header is read again so the new rows parse,
// and rejects name their line in the file.
func TestFollowZeekTSVResume(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "files.log")
	header := "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tfiles\n" +
		"#fields\tts\tfuid\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tsource\tis_orig\tseen_bytes\ttotal_bytes\tmissing_bytes\tsha256\n" +
		"#types\ttime\tstring\tstring\taddr\tport\taddr\tport\tstring\tbool\tcount\tcount\tcount\tstring\n"
	row := func(n int) string {
		return fmt.Sprintf("%d.5\tF%d\tC%d\t10.0.0.1\t40000\t198.51.100.%d\t80\tHTTP\tF\t10\t10\t0\t%s\n", 1700000000+n, n, n, n%250+1, fx(5000+n, "sha256"))
	}
	testfixture.AppendFile(t, path, header+row(0)+row(1))
	st := &countingStore{}
	noWait := ingest.ReaderOptions{MaxPendingLines: -1} // files.log alone: nothing to wait for
	f := startFollowOpts(t, st, path, ingest.AutoFormat, noWait)
	f.waitFor(t, st, ids(0, 2))
	f.stop(t)

	testfixture.AppendFile(t, path, row(2)+"broken row\n"+row(3))
	f = startFollowOpts(t, st, path, ingest.AutoFormat, noWait)
	f.waitFor(t, st, ids(0, 4))
	sum := f.stop(t)
	if sum.Sightings != 2 || sum.Rejected != 1 || len(sum.Rejects) != 1 || sum.Rejects[0].Line != 11 || sum.Rejects[0].Input != path {
		t.Errorf("second run: %+v", sum)
	}
	checkOnce(t, st, ids(0, 4))
}

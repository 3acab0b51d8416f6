package reliability

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiskFullDuringIngest runs the SQLite store on a small tmpfs that an
// ingest fills: the ingest fails with a clear error, the store still
// opens and serves what it held, and once there is room again the same
// ingest completes with the clean run's API output. It needs root (to
// mount a tmpfs) and is skipped otherwise.
func TestDiskFullDuringIngest(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount -t tmpfs is not permitted here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	c := newCorpus(t)
	clean := filepath.Join(t.TempDir(), "clean.db")
	mustRun(t, c.ingestArgs(clean)...)
	want := c.snapshot(t, clean)

	store := filepath.Join(dir, "ft.db")
	key := createKey(t, store, "reader", "--premium")
	small := c.ingestArgs(store)[:6] // ingest --store S --batch-size N, then the demo sightings
	mustRun(t, small...)
	_, errOut, err := run(t, c.ingestArgs(store)...)
	if err == nil {
		t.Fatalf("ingest filled no disk: the tmpfs is too large for the test corpus")
	}
	if !strings.Contains(errOut, "full") {
		t.Errorf("ingest on a full disk: %v, without saying the disk is full:\n%s", err, errOut)
	}
	t.Logf("ingest on a full disk: %v: %s", err, lastLine(errOut))

	// the disk still full: the store opens and serves what it holds
	s := startServe(t, store)
	r := mustGet(t, s.URL+"/api/v3/ip_addresses/108.59.9.32/downloaded_files?limit=40", key)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"type":"file"`) {
		t.Errorf("serving from the full disk: %d %.300s", r.Status, r.Body)
	}
	s.Stop(t)

	// room again: the same ingest completes, nothing lost or doubled
	if out, err := exec.Command("mount", "-o", "remount,size=256m", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v: %s", err, out)
	}
	mustRun(t, c.ingestArgs(store)...)
	sameSnapshot(t, "after the full disk", want, c.snapshot(t, store))
}

package sqlite

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/store/storetest"
)

// openFirstLoad opens a new store for a first load in t's temporary
// directory; it is closed, not finished, when t ends.
func openFirstLoad(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "filetrail.db")
	s, err := OpenFirstLoad(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenFirstLoad: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// TestConformanceFirstLoad: a store in its first load (rollback journal,
// no waiting for the disk) behaves as any store, failed batches included.
func TestConformanceFirstLoad(t *testing.T) {
	storetest.Run(t, func(t *testing.T) filetrail.Store {
		s, _ := openFirstLoad(t)
		return s
	})
}

// TestFirstLoad: while a first load runs, the store is refused to Open;
// once finished, it opens as an ordinary WAL store holding what was
// applied, and nothing of the load is left beside it.
func TestFirstLoad(t *testing.T) {
	ctx := t.Context()
	s, path := openFirstLoad(t)
	if mode := writerJournalMode(t, s); mode != "truncate" {
		t.Errorf("journal mode during the first load = %q; want truncate", mode)
	}
	if _, err := s.Apply(ctx, benchBatch("first-load", 0, 500)); err != nil {
		t.Fatal(err)
	}
	if got := edgeIndexes(t, s); !slices.Equal(got, []string{"first_load_edges_by_weak_file", "first_load_indexes"}) {
		t.Errorf("edge indexes during the first load: %q", got)
	}
	// The edges of a merged file are still found by index (moveFile).
	var plan string
	err := s.w.QueryRowContext(ctx, "EXPLAIN QUERY PLAN SELECT ip FROM edges WHERE file_id = ? AND length(file_id) < 64", "x").Scan(new(int), new(int), new(int), &plan)
	if err != nil || !strings.Contains(plan, "first_load_edges_by_weak_file") {
		t.Errorf("the edges of a merged file during the first load: plan %q, %v", plan, err)
	}
	if other, err := Open(ctx, path); err == nil {
		other.Close()
		t.Fatal("Open accepted a store during its first load")
	} else if !strings.Contains(err.Error(), "is in its first load") {
		t.Errorf("Open during the first load: %v", err)
	}
	if _, err := OpenFirstLoad(ctx, path); err == nil || !strings.Contains(err.Error(), "is in its first load") {
		t.Errorf("a second first load of the same path: %v", err)
	}
	if _, err := s.Apply(ctx, benchBatch("first-load", 500, 500)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishFirstLoad(ctx); err != nil {
		t.Fatal(err)
	}
	if mode := writerJournalMode(t, s); mode != "wal" {
		t.Errorf("journal mode after the first load = %q; want wal", mode)
	}
	if got := edgeIndexes(t, s); !slices.Equal(got, deferredIndexesSorted()) {
		t.Errorf("edge indexes after the first load: %q", got)
	}
	// The store goes on as an ordinary one.
	if _, err := s.Apply(ctx, benchBatch("first-load", 1000, 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, left := range []string{loadingSuffix, "-journal"} {
		if _, err := os.Lstat(path + left); err == nil {
			t.Errorf("%s is left after the first load", path+left)
		}
	}
	reopened, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	if mode, err := reopened.JournalMode(ctx); err != nil || mode != "wal" {
		t.Errorf("journal mode of the reopened store = %q, %v; want wal", mode, err)
	}
	var files int
	if err := reopened.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM files").Scan(&files); err != nil || files != 1010 {
		t.Errorf("files after the first load = %d, %v; want 1010", files, err)
	}
}

// edgeIndexes returns the names of the indexes of the edges table and
// whether first_load_indexes exists, sorted.
func edgeIndexes(t *testing.T, s *Store) []string {
	t.Helper()
	var names []string
	err := scanAll(s.w.QueryContext(t.Context(), "SELECT name FROM sqlite_schema WHERE (type = 'index' AND tbl_name = 'edges' AND sql IS NOT NULL) OR name = 'first_load_indexes' ORDER BY name"))(func(r *sql.Rows) error {
		var n string
		err := r.Scan(&n)
		names = append(names, n)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func deferredIndexesSorted() []string { return slices.Sorted(slices.Values(deferredIndexes)) }

// writerJournalMode returns the journal mode of s's writer connection.
func writerJournalMode(t *testing.T, s *Store) string {
	t.Helper()
	var mode string
	if err := s.w.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return mode
}

// endedLoad opens a first load at a new path, applies a batch and closes
// the store without finishing the load, then makes its marker name the
// process l: as if l had loaded the store and stopped.
func endedLoad(t *testing.T, l loader) string {
	t.Helper()
	s, path := openFirstLoad(t)
	if _, err := s.Apply(t.Context(), benchBatch("ended", 0, 10)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	marker := fmt.Sprintf("pid %d\nstart %s\nns %s\nboot %s\n", l.pid, l.start, l.ns, l.boot)
	if err := os.WriteFile(path+loadingSuffix, []byte(marker), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFirstLoadOfADeadProcess: a first load whose process is gone while
// the system kept running is finished by the next Open, which keeps what
// it applied.
func TestFirstLoadOfADeadProcess(t *testing.T) {
	gone := currentLoader()
	gone.start = "1" // this process id, another start: a process that is gone
	path := endedLoad(t, gone)
	if state, _, err := firstLoadState(path); err != nil || state != died {
		t.Fatalf("state = %v, %v; want died", state, err)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Lstat(path + loadingSuffix); err == nil {
		t.Error("the marker is left")
	}
	if mode := writerJournalMode(t, s); mode != "wal" {
		t.Errorf("journal mode = %q; want wal", mode)
	}
	if got := edgeIndexes(t, s); !slices.Equal(got, deferredIndexesSorted()) {
		t.Errorf("edge indexes after finishing the load: %q", got)
	}
	var files int
	if err := s.r.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM files").Scan(&files); err != nil || files != 10 {
		t.Errorf("files = %d, %v; want 10", files, err)
	}
}

// TestFirstLoadUnsafeEnd: a first load that did not finish before the
// system restarted (another boot), or whose marker says too little, is
// refused: the store may be damaged.
func TestFirstLoadUnsafeEnd(t *testing.T) {
	rebooted := currentLoader()
	rebooted.boot = "another-boot"
	unknown := currentLoader()
	unknown.start = ""
	for name, l := range map[string]loader{"rebooted": rebooted, "unknown": unknown} {
		t.Run(name, func(t *testing.T) {
			path := endedLoad(t, l)
			if other, err := Open(t.Context(), path); err == nil {
				other.Close()
				t.Fatal("Open accepted a store whose first load did not finish safely")
			} else if !strings.Contains(err.Error(), "may be damaged") || !strings.Contains(err.Error(), path+loadingSuffix) {
				t.Errorf("refusal: %v", err)
			}
		})
	}
}

// TestFirstLoadInAnotherNamespace: a first load whose process is in
// another process namespace (another container) cannot be looked up: it
// may still run, and the store is refused, never finished.
func TestFirstLoadInAnotherNamespace(t *testing.T) {
	elsewhere := currentLoader()
	elsewhere.start = "1" // here, a process that is gone
	elsewhere.ns = "pid:[1]"
	path := endedLoad(t, elsewhere)
	if other, err := Open(t.Context(), path); err == nil {
		other.Close()
		t.Fatal("Open finished a first load of another process namespace")
	} else if !strings.Contains(err.Error(), "is in its first load") {
		t.Errorf("refusal: %v", err)
	}
	if _, err := os.Lstat(path + loadingSuffix); err != nil {
		t.Errorf("the marker: %v", err)
	}
}

// TestProcessStart: the start time names this process, and no process
// has none.
func TestProcessStart(t *testing.T) {
	if currentLoader().boot == "" {
		t.Skip("no " + bootIDFile + ": first loads that did not finish are never resumed here")
	}
	if a, b := processStart(os.Getpid()), processStart(os.Getpid()); a == "" || a != b {
		t.Errorf("processStart of this process = %q, then %q", a, b)
	}
	if got := processStart(1 << 30); got != "" {
		t.Errorf("processStart of no process = %q", got)
	}
}

// TestFirstLoadNeedsNewStore: a first load never touches an existing store.
func TestFirstLoadNeedsNewStore(t *testing.T) {
	s := openTemp(t)
	path := filepath.Join(t.TempDir(), "existing.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFirstLoad(t.Context(), path); err == nil {
		t.Fatal("OpenFirstLoad accepted an existing file")
	}
	if _, err := os.Lstat(path + loadingSuffix); err == nil {
		t.Error("a refused first load left its marker")
	}
	if err := s.FinishFirstLoad(t.Context()); err != nil {
		t.Errorf("FinishFirstLoad of a store opened by Open: %v", err)
	}
}

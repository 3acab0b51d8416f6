package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A first load fills a new store in bulk: `filetrail ingest` of files into
// a store that does not exist yet. In WAL mode every page a batch dirties
// is written twice (to the WAL, then to the database file at the
// checkpoint), and the next batch dirties most of them again; a first load
// instead writes the database file in place, with a rollback journal that
// it never waits for the disk to hold (synchronous OFF). That took 14% off
// the wall time of ingesting 200,000 sightings (see
// docs/PERFORMANCE-ingest.md).
//
// The price is durability until the load ends. If the loading process
// dies, the store is still as its last commit left it: its writes are in
// the operating system's cache, and the next connection rolls the rest
// back with the journal. But a power cut or an operating system crash can
// leave the file damaged. So a marker file, PATH-loading, naming the
// loading process and the system's boot, exists from before the store is
// created until its content has reached the disk. Open refuses the store
// while the loading process runs, or may run (it is in another process
// namespace, another container: its process cannot be looked up), and
// when the system has restarted since (the store may be damaged); when the
// process died and the system kept running, Open finishes the load itself.
//
// A first load also builds the two by-IP and by-file indexes of the edges
// once, at its end, instead of inserting into them edge by edge (random
// places in the by-file one): that took another 10% off (the same input).
// Their definitions wait in the table first_load_indexes meanwhile, and
// the one lookup ingestion makes by file, the edges of a merged md5- or
// sha1-only file, uses a small partial index of the edges of such files.

// loadingSuffix is appended to a store's path to name its first load's
// marker file.
const loadingSuffix = "-loading"

// bootIDFile identifies the running boot of the operating system (Linux).
// Elsewhere it does not exist, and a first load that did not finish is
// never taken as safe.
const bootIDFile = "/proc/sys/kernel/random/boot_id"

// loader is the process of a first load, as its marker records it.
type loader struct {
	pid   int
	start string // when the process started (processStart), or ""
	ns    string // its process id namespace (Linux /proc), or ""
	boot  string // bootIDFile's content when it started, or ""
}

func currentLoader() loader {
	b, _ := os.ReadFile(bootIDFile)
	ns, _ := os.Readlink("/proc/self/ns/pid")
	pid := os.Getpid()
	return loader{pid: pid, start: processStart(pid), ns: ns, boot: strings.TrimSpace(string(b))}
}

// processStart returns when process pid started, in clock ticks after the
// boot (Linux /proc), or "" when there is no such process or no /proc. A
// process id is reused once its process is gone: with its start time, it
// names one process.
func processStart(pid int) string {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The fields after the command name, which is in parentheses and may
	// hold anything: state is field 3, starttime field 22.
	i := strings.LastIndex(string(stat), ") ")
	if i < 0 {
		return ""
	}
	fields := strings.Fields(string(stat)[i+2:])
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}

// loadState is what a store's first load marker tells.
type loadState int

const (
	loaded    loadState = iota // no marker: the store is an ordinary one
	loading                    // the loading process runs
	died                       // the loading process died, the system did not restart: the store is consistent
	unsafeEnd                  // anything else: the store may be damaged
)

// firstLoadState reads the marker of the store at path.
func firstLoadState(path string) (loadState, loader, error) {
	data, err := os.ReadFile(path + loadingSuffix)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return loaded, loader{}, nil
	case err != nil:
		return 0, loader{}, fmt.Errorf("sqlite: first load marker: %w", err)
	}
	var l loader
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		key, value, _ := strings.Cut(sc.Text(), " ")
		switch key {
		case "pid":
			l.pid, _ = strconv.Atoi(value)
		case "start":
			l.start = value
		case "ns":
			l.ns = value
		case "boot":
			l.boot = value
		}
	}
	now := currentLoader()
	switch {
	case l.pid <= 0 || l.start == "" || l.ns == "" || l.boot == "" || l.boot != now.boot:
		return unsafeEnd, l, nil
	case l.ns != now.ns || processStart(l.pid) == l.start:
		return loading, l, nil
	}
	return died, l, nil
}

// checkOpenable returns the error of opening the store at path when its
// first load runs or did not finish safely, and whether a load whose
// process died is to be finished once the store is open.
func checkOpenable(path string) (finish bool, err error) {
	state, l, err := firstLoadState(path)
	switch {
	case err != nil:
		return false, err
	case state == loading:
		return false, fmt.Errorf("sqlite: %s is in its first load, by process %d (see %s): it opens once that ingestion has ended; "+
			"if it ran in another container and is gone, delete both files and ingest again", path, l.pid, path+loadingSuffix)
	case state == unsafeEnd:
		return false, fmt.Errorf("sqlite: the first load of %s did not finish (%s exists) and the system may have restarted since: "+
			"the store may be damaged; delete both files and ingest again", path, path+loadingSuffix)
	}
	return state == died, nil
}

// OpenFirstLoad creates the store at path, which must not exist, for a
// first load (see above): its writer keeps a rollback journal without
// waiting for the disk, and Open refuses the store until FinishFirstLoad.
// The store is otherwise an ordinary one: every batch is a transaction,
// and a batch that fails is rolled back.
func OpenFirstLoad(ctx context.Context, path string) (*Store, error) {
	marker := path + loadingSuffix
	if _, err := checkOpenable(path); err != nil {
		return nil, err
	}
	// A marker left by a process that died before it created the store is
	// dropped; with a store, there is nothing to drop: it exists.
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		os.Remove(marker)
	}
	m, err := os.OpenFile(marker, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sqlite: a first load needs a new store: %w", err)
	}
	l := currentLoader()
	_, err = fmt.Fprintf(m, "pid %d\nstart %s\nns %s\nboot %s\nstarted %s\n", l.pid, l.start, l.ns, l.boot, time.Now().UTC().Format(time.RFC3339))
	if err = errors.Join(err, m.Close()); err != nil {
		os.Remove(marker)
		return nil, fmt.Errorf("sqlite: first load marker: %w", err)
	}
	// An empty file is an empty SQLite database; creating it here makes
	// sure the store is new.
	db, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		os.Remove(marker)
		return nil, fmt.Errorf("sqlite: a first load needs a new store: %w", err)
	}
	db.Close()
	s, err := open(ctx, path, LatestSchemaVersion(), firstLoadWriter)
	if err != nil {
		os.Remove(path)
		os.Remove(marker)
		return nil, err
	}
	s.firstLoad = true
	if err := s.deferIndexes(ctx); err != nil {
		s.Close()
		os.Remove(path)
		os.Remove(marker)
		return nil, err
	}
	return s, nil
}

// deferredIndexes are the indexes a first load builds at its end.
var deferredIndexes = []string{"edges_by_ip", "edges_by_file"}

// deferIndexes keeps the definitions of deferredIndexes in
// first_load_indexes, drops them, and indexes the edges of files whose id
// is not a sha256 (see moveFile).
func (s *Store) deferIndexes(ctx context.Context) error {
	return s.write(ctx, "first load", func(tx *sql.Tx) error {
		q := `CREATE TABLE first_load_indexes AS SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND name IN ('` +
			strings.Join(deferredIndexes, "', '") + `');
			CREATE INDEX first_load_edges_by_weak_file ON edges (file_id) WHERE length(file_id) < 64;`
		for _, name := range deferredIndexes {
			q += "DROP INDEX " + name + ";"
		}
		_, err := tx.ExecContext(ctx, q)
		return err
	})
}

// restoreIndexes builds the indexes that a first load deferred, if any,
// and drops what stood in for them.
func (s *Store) restoreIndexes(ctx context.Context) error {
	return s.write(ctx, "first load", func(tx *sql.Tx) error {
		var deferred bool
		err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'first_load_indexes')").Scan(&deferred)
		if err != nil || !deferred {
			return err
		}
		var ddl []string
		err = scanAll(tx.QueryContext(ctx, "SELECT sql FROM first_load_indexes ORDER BY name"))(func(r *sql.Rows) error {
			var q string
			err := r.Scan(&q)
			ddl = append(ddl, q)
			return err
		})
		if err != nil {
			return err
		}
		for _, q := range append(ddl, "DROP TABLE first_load_indexes", "DROP INDEX first_load_edges_by_weak_file") {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// FinishFirstLoad ends the first load of a store opened by OpenFirstLoad,
// keeping every batch applied so far: the deferred indexes are built, the
// store goes to WAL mode like any other, its file reaches the disk, and
// the marker is removed, so that Open accepts the store. Open calls it too,
// on a store whose loading process died. It does nothing on any other
// store. A store closed without it is refused by Open until the load is
// finished (see above).
func (s *Store) FinishFirstLoad(ctx context.Context) error {
	if !s.firstLoad {
		return nil
	}
	if err := s.restoreIndexes(ctx); err != nil {
		return fmt.Errorf("sqlite: finishing the first load: %w", err)
	}
	var mode string
	err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
	if err == nil && mode != "wal" {
		err = fmt.Errorf("journal mode %q after switching to WAL", mode)
	}
	if err == nil {
		_, err = s.w.ExecContext(ctx, "PRAGMA synchronous = NORMAL")
	}
	if err != nil {
		return fmt.Errorf("sqlite: finishing the first load: %w", mapErr(err, "journal mode"))
	}
	// The file reaches the disk, then the marker goes. The rollback
	// journal, empty once its last transaction is committed or rolled
	// back, is not needed in WAL mode.
	if err := syncPath(s.path); err != nil {
		return fmt.Errorf("sqlite: finishing the first load: %w", err)
	}
	if fi, err := os.Lstat(s.path + "-journal"); err == nil && fi.Size() == 0 {
		os.Remove(s.path + "-journal")
	}
	if err := os.Remove(s.path + loadingSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sqlite: finishing the first load: %w", err)
	}
	if err := syncPath(filepath.Dir(s.path)); err != nil {
		return fmt.Errorf("sqlite: finishing the first load: %w", err)
	}
	s.firstLoad = false
	return nil
}

// syncPath flushes the file or directory at path to the disk.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

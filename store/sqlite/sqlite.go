// Package sqlite is the embedded filetrail store: one SQLite database file in
// WAL mode, written by a single connection and read by a small pool.
//
// Everything the API reads is prepared at write time: edges carry their
// context_attributes JSON, files their merged attributes JSON, and per-IP and
// per-file counts are kept up to date by Apply. A page of an IP's
// downloaded_files is one keyset range read on the index
// (ip, first_seen DESC, file_id DESC) joined to the file documents.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/filetrail/filetrail"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// readConns is the size of the read pool.
const readConns = 4

// busyTimeout is how long a statement waits for a lock held by another
// connection (another process writing) before failing with Transient.
var busyTimeout = 10 * time.Second

// driverName is go-sqlite3 with the connection settings that the DSN
// cannot carry.
const driverName = "sqlite3_filetrail"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		// Checkpoint the WAL once it holds 65,536 pages (256 MiB) rather
		// than SQLite's 1,000: an ingestion batch dirties pages all over
		// the B-trees and the next batches dirty most of them again, so a
		// checkpoint after every batch copied the same pages to the
		// database once per batch. A checkpoint writes each page once,
		// whatever the number of frames the WAL holds for it. Once
		// checkpointed, the WAL file is cut back to 64 MiB. Temporary
		// B-trees and statement journals stay in memory: on files, a
		// batch's multi-row statements wrote several times the store's
		// size to them.
		_, err := c.Exec("PRAGMA wal_autocheckpoint = 65536; PRAGMA journal_size_limit = 67108864; PRAGMA temp_store = MEMORY", nil)
		return err
	}})
}

// Store is a filetrail.Store on one SQLite database file. It is safe for
// concurrent use, and several processes may share the file: writes are
// serialised by SQLite's write lock (BEGIN IMMEDIATE) and wait up to the
// busy timeout for it.
type Store struct {
	w *sql.DB // the single writer connection
	r *sql.DB // the read pool

	path      string
	firstLoad bool // opened by OpenFirstLoad, FinishFirstLoad not done yet

	// changes is a connection of its own that only reads PRAGMA
	// data_version (ChangeCount), guarded by changesMu; changesDB is its
	// pool, kept to close it.
	changesMu sync.Mutex
	changes   *sql.Conn
	changesDB *sql.DB
}

var (
	_ filetrail.Store         = (*Store)(nil)
	_ filetrail.ChangeCounter = (*Store)(nil)
)

// Open opens the database file at path, creating it when missing, switches
// it to WAL mode and applies the pending migrations. The path must be a file
// name (not ":memory:") without '?'. A store in its first load is refused,
// and so is one whose first load stopped unsafely; a first load whose
// process died is finished (see OpenFirstLoad).
func Open(ctx context.Context, path string) (*Store, error) {
	finish, err := checkOpenable(path)
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, path, LatestSchemaVersion(), walWriter)
	if err != nil {
		return nil, err
	}
	s.firstLoad = finish
	if err := s.FinishFirstLoad(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// The writer's journal settings: WAL, where readers never wait for the
// writer and a commit waits for the disk only at checkpoints; or a first
// load's (see OpenFirstLoad).
const (
	walWriter       = "&_journal_mode=WAL&_synchronous=NORMAL"
	firstLoadWriter = "&_journal_mode=TRUNCATE&_synchronous=OFF"
)

// open is Open applying the migrations up to version upTo only, with the
// writer's journal settings writerJournal.
func open(ctx context.Context, path string, upTo int, writerJournal string) (*Store, error) {
	if path == "" || strings.Contains(path, "?") || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return nil, filetrail.Errorf(filetrail.CodeInvalidArgument, "invalid database path %q: a file name without '?' is required", path)
	}
	// The writer gets a large page cache (128 MiB): ingestion touches pages
	// all over the indexes. Each reader gets 4 MiB: a page read touches a
	// few index pages, and documents span overflow pages that SQLite reads
	// past its cache anyway; the OS page cache holds the rest.
	common := fmt.Sprintf("_busy_timeout=%d&_stmt_cache_size=64&_foreign_keys=0", busyTimeout.Milliseconds())
	w, err := sql.Open(driverName, path+"?"+common+writerJournal+"&_txlock=immediate&_cache_size=-131072")
	if err != nil {
		return nil, mapErr(err, "open")
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, path: path}
	if err := s.migrate(ctx, upTo); err != nil {
		w.Close()
		return nil, err
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v > LatestSchemaVersion() {
		w.Close()
		if err == nil {
			err = fmt.Errorf("sqlite: the database's schema version %d is newer than this build's %d", v, LatestSchemaVersion())
		}
		return nil, err
	}
	r, err := sql.Open(driverName, path+"?"+common+"&_txlock=deferred&_query_only=1&_cache_size=-4096")
	if err != nil {
		w.Close()
		return nil, mapErr(err, "open")
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	r.SetConnMaxIdleTime(0)
	r.SetConnMaxLifetime(0)
	s.r = r
	if s.changesDB, err = sql.Open(driverName, path+"?"+common+"&_query_only=1&_cache_size=-64"); err == nil {
		s.changes, err = s.changesDB.Conn(ctx)
	}
	if err != nil {
		s.Close()
		return nil, mapErr(err, "open")
	}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the connections.
func (s *Store) Close() error {
	var errs []error
	if s.changes != nil {
		errs = append(errs, s.changes.Close())
	}
	if s.changesDB != nil {
		errs = append(errs, s.changesDB.Close())
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// ChangeCount implements filetrail.ChangeCounter with SQLite's data
// version, as its own connection sees it: it moves whenever another
// connection, in this process or another, commits to the database file,
// and that connection never writes. Its first value is the connection's
// first data version.
func (s *Store) ChangeCount(ctx context.Context) (uint64, error) {
	s.changesMu.Lock()
	defer s.changesMu.Unlock()
	var v int64
	if err := s.changes.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return 0, mapErr(err, "change count")
	}
	return uint64(v), nil
}

// Ping reports whether the database can be read.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return mapErr(err, "ping")
	}
	return nil
}

// JournalMode returns the database's journal mode ("wal" once opened).
func (s *Store) JournalMode(ctx context.Context) (string, error) {
	var mode string
	if err := s.r.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return "", mapErr(err, "journal mode")
	}
	return strings.ToLower(mode), nil
}

// SchemaVersion returns the number of the last migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.w.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, mapErr(err, "schema version")
	}
	return int(v.Int64), nil
}

// LatestSchemaVersion is the number of the newest migration this build
// carries; SchemaVersion equals it once Open has returned.
func LatestSchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists the embedded migrations, numbered NNNN_name.sql, in order.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlite: migration %q is not named NNNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("sqlite: two migrations numbered %d", ms[i].version)
		}
	}
	return ms, nil
}

// migrate applies, each in its own write transaction, the migrations newer
// than the database's version. Concurrent openers are serialised by the
// write lock, so each migration runs once.
func (s *Store) migrate(ctx context.Context, upTo int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		return mapErr(err, "migrate")
	}
	for _, m := range ms {
		if m.version > upTo {
			break
		}
		err := s.write(ctx, "migrate", func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", m.version, m.name)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on the single writer
// connection) and commits it when fn returns nil.
func (s *Store) write(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err, what)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return mapErr(err, what)
	}
	if err := tx.Commit(); err != nil {
		return mapErr(err, what)
	}
	return nil
}

// read runs fn in a read transaction on the pool: every query of fn sees
// the same snapshot.
func (s *Store) read(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err, what)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return mapErr(err, what)
	}
	return nil
}

// mapErr gives err a filetrail code: errors that already carry one pass
// through; a busy or locked database, I/O failures and a full disk are
// Transient; an expired deadline is DeadlineExceeded. The cause stays in
// the chain.
func mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	var fe *filetrail.Error
	if errors.As(err, &fe) {
		return err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", filetrail.Errorf(filetrail.CodeDeadlineExceeded, "the store did not answer in time"), err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", filetrail.Errorf(filetrail.CodeTransient, "the request was canceled"), err)
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrIoErr, sqlite3.ErrCantOpen,
			sqlite3.ErrFull, sqlite3.ErrNomem, sqlite3.ErrProtocol:
			return fmt.Errorf("%w: sqlite %s: %w", filetrail.Errorf(filetrail.CodeTransient, "the store is unavailable; retry later"), what, err)
		}
	}
	return fmt.Errorf("sqlite %s: %w", what, err)
}

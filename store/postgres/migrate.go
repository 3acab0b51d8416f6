package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/filetrail/filetrail"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockKey is the pg_advisory_lock key that serialises migrations
// of one database ("filetrail" in ASCII).
const migrationLockKey = 0x66696c657472

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. A file is
// named NNNN_description.sql; versions start at 1 and have no gaps.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("postgres: migration %s: name must start with its number", base)
		}
		b, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// LatestSchemaVersion is the schema version this build migrates to.
func LatestSchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate applies pending migrations, each in its own transaction, while
// holding a session advisory lock so that concurrent start-ups apply each
// migration exactly once.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return withMigrationLock(ctx, s.pool, func(conn *pgxpool.Conn) error {
		if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return wrap(err, "create schema_migrations")
		}
		current, err := schemaVersion(ctx, conn)
		if err != nil {
			return err
		}
		if current > len(ms) {
			return fmt.Errorf("postgres: database schema version %d is newer than this build's %d", current, len(ms))
		}
		for _, m := range ms[current:] {
			err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, m.sql); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
				return err
			})
			if err != nil {
				return wrap(err, "migration "+m.name)
			}
		}
		return nil
	})
}

func withMigrationLock(ctx context.Context, pool *pgxpool.Pool, f func(*pgxpool.Conn) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return wrap(err, "acquire connection")
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLockKey)); err != nil {
		return wrap(err, "lock for migration")
	}
	defer func() {
		// A fresh context: the lock must go even when ctx has expired.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLockKey)); err != nil {
			conn.Conn().Close(context.Background()) // closing the session drops the lock
		}
	}()
	return f(conn)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, wrap(err, "read schema version")
	}
	return v, nil
}

// SchemaVersion returns the version of the newest migration applied to the
// database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	return schemaVersion(ctx, s.pool)
}

// citusLayout is how MigrateCitus distributes each table: by which column,
// co-located with which table, or as a reference table (column "").
// Edges, their evidence and IP statistics share the IP so that a page of
// downloaded_files and an Apply's per-IP writes stay on one shard; a file's
// document, facts and names share the file id; hash lookups go by hash;
// quota counters by key id so that Admit's one-key transaction is routed to
// one shard; keys are small and read on every request, so every node holds
// a copy.
var citusLayout = []struct {
	table, column, colocateWith string
}{
	{"api_keys", "", ""},
	{"ip_stats", "ip", "none"},
	{"edges", "ip", "ip_stats"},
	{"evidence", "ip", "ip_stats"},
	{"files", "file_id", "none"},
	{"file_facts", "file_id", "files"},
	{"file_names", "file_id", "files"},
	{"hashes", "hash", "none"},
	{"quota_counters", "key_id", "none"},
}

// MigrateCitus applies the migrations to the Citus coordinator named by dsn
// and distributes the tables (see citusLayout). It is idempotent: tables
// already distributed are left as they are. The citus extension must be
// installed in the database (CREATE EXTENSION citus, done by a superuser)
// and the workers added (citus_add_node) before the tables are distributed,
// or rebalanced after (citus_rebalance_start).
func MigrateCitus(ctx context.Context, dsn string) error {
	s, err := Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	var hasCitus bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')`).Scan(&hasCitus); err != nil {
		return wrap(err, "look for citus")
	}
	if !hasCitus {
		return filetrail.Errorf(filetrail.CodeInvalidArgument, "the citus extension is not installed in this database: run CREATE EXTENSION citus as a superuser first")
	}
	return withMigrationLock(ctx, s.pool, func(conn *pgxpool.Conn) error {
		for _, l := range citusLayout {
			var distributed bool
			if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = $1::regclass)`, l.table).Scan(&distributed); err != nil {
				return wrap(err, "inspect "+l.table)
			}
			if distributed {
				continue
			}
			var err error
			if l.column == "" {
				_, err = conn.Exec(ctx, `SELECT create_reference_table($1)`, l.table)
			} else {
				_, err = conn.Exec(ctx, `SELECT create_distributed_table($1, $2, colocate_with => $3)`, l.table, l.column, l.colocateWith)
			}
			if err != nil {
				return wrap(err, "distribute "+l.table)
			}
		}
		return nil
	})
}

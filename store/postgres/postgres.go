// Package postgres is the PostgreSQL implementation of filetrail.Store, also
// fit to run on Citus (distributed PostgreSQL, see MigrateCitus).
//
// The store only persists: every merge decision is taken by the domain's
// pure functions (filetrail.EdgeContext, filetrail.NewStoredFact and
// Supersedes, filetrail.MergeFile), so that the same facts give the same
// bytes as on any other store. JSON is kept as text, never jsonb, because
// jsonb reorders keys.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/filetrail/filetrail"
)

// Store is a filetrail.Store on PostgreSQL. It is safe for concurrent use,
// also by several processes sharing one database.
type Store struct {
	pool *pgxpool.Pool
	// bulk selects how Apply writes sets of rows; see bulk.go.
	bulk bulkMode
}

var (
	_ filetrail.Store         = (*Store)(nil)
	_ filetrail.ChangeCounter = (*Store)(nil)
)

// Open connects to the database named by dsn (postgres://user@host/db?...)
// and applies any pending migrations. Several processes may open the same
// database at once: migrations are serialised by an advisory lock.
func Open(ctx context.Context, dsn string) (*Store, error) {
	pool, err := newPool(ctx, dsn)
	if err != nil {
		return nil, err
	}
	s := &Store{pool: pool, bulk: bulkDefault}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func newPool(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, filetrail.Errorf(filetrail.CodeInvalidArgument, "invalid PostgreSQL DSN: %v", redact(err))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrap(err, "connect")
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, wrap(err, "connect")
	}
	return pool, nil
}

// Ping reports whether the database can be reached.
func (s *Store) Ping(ctx context.Context) error {
	return wrap(s.pool.Ping(ctx), "ping")
}

// ChangeCount implements filetrail.ChangeCounter with the server's WAL
// insert position: every committed write appends to the WAL, so the
// position moves with every write, to this database or to another of the
// same server (and with maintenance such as VACUUM). A hot standby, which
// inserts no WAL, answers with an error.
func (s *Store) ChangeCount(ctx context.Context) (uint64, error) {
	var lsn int64
	err := s.pool.QueryRow(ctx, "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint").Scan(&lsn)
	return uint64(lsn), wrap(err, "change count")
}

// Close closes the connection pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// wrap turns a database error into a coded one: errors that mean the
// database could not be reached or the transaction may succeed when retried
// become CodeTransient; context expiry becomes CodeDeadlineExceeded; coded
// errors pass through; anything else is wrapped as an internal error with
// what was being done.
func wrap(err error, doing string) error {
	if err == nil {
		return nil
	}
	var fe *filetrail.Error
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &codedError{code: filetrail.CodeDeadlineExceeded, msg: "request took too long", err: err}
	}
	if errors.Is(err, context.Canceled) {
		return &codedError{code: filetrail.CodeTransient, msg: "the request was canceled", err: err}
	}
	if isTransient(err) {
		return &codedError{code: filetrail.CodeTransient, msg: "store unavailable, retry later", err: err}
	}
	return fmt.Errorf("postgres: %s: %w", doing, err)
}

// codedError is a *filetrail.Error that also keeps its cause for logs.
type codedError struct {
	code filetrail.Code
	msg  string
	err  error
}

func (e *codedError) Error() string { return string(e.code) + ": " + e.msg + ": " + e.err.Error() }
func (e *codedError) Unwrap() []error {
	return []error{&filetrail.Error{Code: e.code, Message: e.msg}, e.err}
}

func isTransient(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection exception
			return true
		case pgErr.Code == "40001", pgErr.Code == "40P01": // serialization failure, deadlock
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // shutdown, cannot connect now
			return true
		case pgErr.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	case errors.Is(err, pgx.ErrTxClosed):
		return false
	}
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// redact drops a password from an error text that may quote the DSN.
func redact(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "://"); i >= 0 {
		if j := strings.Index(msg[i:], "@"); j >= 0 {
			return msg[:i+3] + "…" + msg[i+j:]
		}
	}
	return msg
}

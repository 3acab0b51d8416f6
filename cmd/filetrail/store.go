package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/store/postgres"
	"github.com/filetrail/filetrail/store/sqlite"
)

// store is what the commands need of a store: the filetrail.Store and its
// schema version.
type store interface {
	filetrail.Store
	SchemaVersion(ctx context.Context) (int, error)
}

// errUnsupported marks a DSN naming a backend filetrail has no store for.
var errUnsupported = errors.New("not supported")

// storeFlag is the --store flag every command that opens a store shares.
type storeFlag struct {
	Store string `help:"Store DSN: a SQLite file path, sqlite:PATH, or postgres://USER:PASSWORD@HOST:PORT/DB." default:"${default_store}" env:"FILETRAIL_STORE"`
}

// openStore opens the store a DSN names and applies its pending
// migrations:
//
//   - "sqlite:PATH" or a plain PATH: the embedded SQLite store in the file
//     PATH, created when missing;
//   - "postgres://..." or "postgresql://...": PostgreSQL (or Citus);
//   - any other scheme: an error wrapping errUnsupported.
func openStore(ctx context.Context, dsn string) (store, error) {
	kind, target := parseDSN(dsn)
	switch kind {
	case "sqlite":
		if target == "" {
			return nil, fmt.Errorf("store DSN %q names no file", dsn)
		}
		s, err := sqlite.Open(ctx, target)
		if err != nil {
			return nil, fmt.Errorf("opening SQLite store %s: %w", target, err)
		}
		return s, nil
	case "postgres":
		s, err := postgres.Open(ctx, target)
		if err != nil {
			return nil, fmt.Errorf("opening PostgreSQL store: %w", err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("store DSN scheme %q is %w (use a SQLite file path, sqlite:PATH or postgres://...)", kind, errUnsupported)
	}
}

// parseDSN splits a DSN into its kind ("sqlite", "postgres", or the
// unknown scheme) and what the kind opens.
func parseDSN(dsn string) (kind, target string) {
	lower := strings.ToLower(dsn)
	switch {
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return "postgres", dsn
	case strings.HasPrefix(lower, "sqlite:"):
		return "sqlite", strings.TrimPrefix(dsn[len("sqlite:"):], "//")
	}
	if i := strings.Index(dsn, "://"); i > 0 {
		return dsn[:i], dsn
	}
	return "sqlite", dsn
}

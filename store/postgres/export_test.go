package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// QueryRowForTest runs a one-row query on the store's pool, for tests that
// inspect the schema or the rows behind the interface.
func QueryRowForTest(s *Store, ctx context.Context, sql string, dst ...any) error {
	return s.pool.QueryRow(ctx, sql).Scan(dst...)
}

// UseCopyForTest makes s write sets of rows with COPY into staging tables
// instead of array parameters, for the benchmark that compares the two.
func UseCopyForTest(s *Store) { s.bulk = bulkCopy }

// PoolForTest exposes the store's pool to benchmarks that load tables
// directly.
func PoolForTest(s *Store) *pgxpool.Pool { return s.pool }

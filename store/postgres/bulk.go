package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// bulkMode is how Apply writes a set of rows into a table.
//
// Both modes send the rows in one round trip and merge them with one
// set-based INSERT ... ON CONFLICT statement; they differ in how the rows
// travel. BenchmarkApply measures both (docs/PERFORMANCE-postgres.md has
// the figures: in three full runs arrays were faster twice, 2741 vs 2395
// and 2785 vs 1230 sightings/s, and slower once, 1273 vs 1492); arrays
// are bulkDefault.
type bulkMode int

const (
	// bulkArrays binds each column as one array parameter:
	// INSERT INTO t SELECT * FROM unnest($1::text[], $2::bigint[], ...).
	bulkArrays bulkMode = iota
	// bulkCopy COPYs the rows into a temporary staging table, then
	// INSERT INTO t SELECT ... FROM the staging table.
	bulkCopy
)

// bulkDefault is the mode Open uses.
const bulkDefault = bulkArrays

// column is one column of a set of rows: its name, its SQL type and its
// values as a typed slice (one element per row).
type column struct {
	name, typ string
	vals      any
	at        func(i int) any
}

func textCol(name string, v []string) column {
	return column{name, "text", v, func(i int) any { return v[i] }}
}

func int64Col(name string, v []int64) column {
	return column{name, "bigint", v, func(i int) any { return v[i] }}
}

func int16Col(name string, v []int16) column {
	return column{name, "smallint", v, func(i int) any { return v[i] }}
}

func byteaCol(name string, v [][]byte) column {
	return column{name, "bytea", v, func(i int) any { return v[i] }}
}

// upsert writes n rows given column-wise into table, merging with existing
// rows by the onConflict clause ("ON CONFLICT (...) DO ..."). The rows must
// not repeat a conflict key (INSERT ... ON CONFLICT DO UPDATE refuses to
// touch a row twice).
func (s *Store) upsert(ctx context.Context, tx pgx.Tx, table string, n int, cols []column, onConflict string) error {
	if n == 0 {
		return nil
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	list := strings.Join(names, ", ")
	switch s.bulk {
	case bulkCopy:
		stage := "filetrail_stage_" + table
		defs := make([]string, len(cols))
		for i, c := range cols {
			defs[i] = c.name + " " + c.typ
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TEMP TABLE IF NOT EXISTS %s (%s) ON COMMIT DELETE ROWS`, stage, strings.Join(defs, ", "))); err != nil {
			return wrap(err, "stage "+table)
		}
		row := make([]any, len(cols))
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{stage}, names, pgx.CopyFromSlice(n, func(i int) ([]any, error) {
			for j, c := range cols {
				row[j] = c.at(i)
			}
			return row, nil
		})); err != nil {
			return wrap(err, "copy "+table)
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s AS t (%s) SELECT %s FROM %s %s`, table, list, list, stage, onConflict)); err != nil {
			return wrap(err, "merge "+table)
		}
		// Empty the stage now: the transaction may write this table again.
		_, err := tx.Exec(ctx, `TRUNCATE `+stage)
		return wrap(err, "clear stage "+table)
	default:
		params := make([]string, len(cols))
		args := make([]any, len(cols))
		for i, c := range cols {
			params[i] = fmt.Sprintf("$%d::%s[]", i+1, c.typ)
			args[i] = c.vals
		}
		_, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s AS t (%s) SELECT * FROM unnest(%s) %s`, table, list, strings.Join(params, ", "), onConflict), args...)
		return wrap(err, "write "+table)
	}
}

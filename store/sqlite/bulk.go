package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strings"
)

// chunkRows is how many rows one multi-row statement carries. Full chunks
// give the same SQL text each time, so the connection's statement cache
// reuses them.
const chunkRows = 128

// tuples returns n groups of width placeholders: "(?,?),(?,?)".
func tuples(n, width int) string {
	group := "(" + strings.TrimSuffix(strings.Repeat("?,", width), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(group+",", n), ",")
}

// execValues runs head + " VALUES (...),(...) " + tail over rows, in chunks
// of chunkRows rows; every row has width values.
func execValues(ctx context.Context, tx *sql.Tx, head, tail string, width int, rows [][]any) error {
	args := make([]any, 0, min(len(rows), chunkRows)*width)
	for len(rows) > 0 {
		n := min(len(rows), chunkRows)
		args = args[:0]
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		q := head + " VALUES " + tuples(n, width) + " " + tail
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// scanAll returns a function that calls scan for every row of rows and
// closes them.
func scanAll(rows *sql.Rows, err error) func(scan func(*sql.Rows) error) error {
	return func(scan func(*sql.Rows) error) error {
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
}

// queryKeys runs query over keys in chunks and calls scan for each result
// row. query contains one %K: it is replaced by a list of the chunk's keys
// as tuples of width placeholders, "(?,?),(?,?)", fit for "IN (%K)" when
// width is 1 and for "WITH k(a, b) AS (VALUES %K)" otherwise.
func queryKeys(ctx context.Context, tx *sql.Tx, query string, width int, keys [][]any, scan func(*sql.Rows) error) error {
	args := make([]any, 0, min(len(keys), chunkRows)*width)
	for len(keys) > 0 {
		n := min(len(keys), chunkRows)
		args = args[:0]
		for _, k := range keys[:n] {
			args = append(args, k...)
		}
		if err := scanAll(tx.QueryContext(ctx, strings.Replace(query, "%K", tuples(n, width), 1), args...))(scan); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// sortByKey sorts rows by their first value, a string (a key), so that a
// multi-row statement over them walks the B-tree in key order.
func sortByKey(rows [][]any) {
	slices.SortFunc(rows, func(x, y []any) int { return strings.Compare(x[0].(string), y[0].(string)) })
}

// stringKeys makes single-column keys of ss.
func stringKeys(ss []string) [][]any {
	keys := make([][]any, len(ss))
	for i, s := range ss {
		keys[i] = []any{s}
	}
	return keys
}

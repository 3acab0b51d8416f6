package sqlite

import (
	"context"
	"database/sql"

	"github.com/filetrail/filetrail"
)

// compressBatch is how many file rows CompressDocuments reads per
// transaction.
const compressBatch = 500

// CompressDocuments writes the compressed copy (filetrail.CompressAttributes)
// of every file document that has none: documents written before schema
// version 3. It walks the files in id order, one short write transaction per
// batch, so ingestion and serving go on meanwhile and an interrupted run
// resumes where it stopped (done rows are skipped). progress, when set,
// gets the number of file rows examined so far and the total. It returns
// the number of documents compressed.
func (s *Store) CompressDocuments(ctx context.Context, progress func(examined, total int64)) (int64, error) {
	var total int64
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM files").Scan(&total); err != nil {
		return 0, mapErr(err, "compress documents")
	}
	var examined, compressed int64
	after := ""
	for {
		type doc struct{ id, attrs string }
		var todo []doc
		n := 0
		err := s.read(ctx, "compress documents", func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT id, CASE WHEN attributes_deflate IS NULL THEN attributes END
				FROM files WHERE id > ? ORDER BY id LIMIT ?`, after, compressBatch)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id string
				var attrs sql.NullString
				if err := rows.Scan(&id, &attrs); err != nil {
					return err
				}
				n, after = n+1, id
				if attrs.Valid {
					todo = append(todo, doc{id, attrs.String})
				}
			}
			return rows.Err()
		})
		if err != nil || n == 0 {
			return compressed, err
		}
		err = s.write(ctx, "compress documents", func(tx *sql.Tx) error {
			for _, d := range todo {
				// A document rewritten since it was read got its copy then.
				res, err := tx.ExecContext(ctx, "UPDATE files SET attributes_deflate = ? WHERE id = ? AND attributes_deflate IS NULL",
					filetrail.CompressAttributes([]byte(d.attrs)), d.id)
				if err != nil {
					return err
				}
				k, _ := res.RowsAffected()
				compressed += k
			}
			return nil
		})
		if err != nil {
			return compressed, err
		}
		examined += int64(n)
		if progress != nil {
			progress(examined, max(total, examined))
		}
	}
}

package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/filetrail/filetrail"
)

// compressBatch is how many file rows CompressDocuments reads per round.
const compressBatch = 500

// CompressDocuments writes the compressed copy (filetrail.CompressAttributes)
// of every file document that has none: documents written before schema
// version 2. It walks the files in id order, one short transaction per
// batch (one statement per file, each routable on Citus), so ingestion and
// serving go on meanwhile and an interrupted run resumes where it stopped.
// progress, when set, gets the number of file rows examined so far and the
// total. It returns the number of documents compressed.
func (s *Store) CompressDocuments(ctx context.Context, progress func(examined, total int64)) (int64, error) {
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM files`).Scan(&total); err != nil {
		return 0, wrap(err, "compress documents")
	}
	var examined, compressed int64
	after := ""
	for {
		rows, err := s.pool.Query(ctx, `SELECT file_id, CASE WHEN attributes_deflate IS NULL THEN attributes END
			FROM files WHERE file_id > $1 ORDER BY file_id LIMIT $2`, after, compressBatch)
		if err != nil {
			return compressed, wrap(err, "compress documents")
		}
		batch := &pgx.Batch{}
		n := 0
		var id string
		var attrs *string
		_, err = pgx.ForEachRow(rows, []any{&id, &attrs}, func() error {
			n, after = n+1, id
			if attrs != nil {
				// A document rewritten since it was read got its copy then.
				batch.Queue(`UPDATE files SET attributes_deflate = $2 WHERE file_id = $1 AND attributes_deflate IS NULL`,
					id, filetrail.CompressAttributes([]byte(*attrs))).Exec(func(tag pgconn.CommandTag) error {
					compressed += tag.RowsAffected()
					return nil
				})
			}
			return nil
		})
		if err != nil {
			return compressed, wrap(err, "compress documents")
		}
		if n == 0 {
			return compressed, nil
		}
		if batch.Len() > 0 {
			if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, batch).Close() }); err != nil {
				return compressed, wrap(err, "compress documents")
			}
		}
		examined += int64(n)
		if progress != nil {
			progress(examined, max(total, examined))
		}
	}
}

package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/filetrail/filetrail"
)

const keyColumns = `id, name, secret_hash, premium, admin, per_minute, per_day, per_month, created_at, revoked_at`

func scanKey(row pgx.Row) (filetrail.Key, error) {
	var k filetrail.Key
	err := row.Scan(&k.ID, &k.Name, &k.SecretHash, &k.Premium, &k.Admin,
		&k.Quota.PerMinute, &k.Quota.PerDay, &k.Quota.PerMonth, &k.CreatedAt, &k.RevokedAt)
	return k, err
}

// CreateKey stores k; a key with the same ID or Name gives AlreadyExists.
func (s *Store) CreateKey(ctx context.Context, k filetrail.Key) error {
	if k.ID == "" || k.Name == "" || k.SecretHash == "" {
		return filetrail.Errorf(filetrail.CodeInvalidArgument, "a key needs an id, a name and a secret hash")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		k.ID, k.Name, k.SecretHash, k.Premium, k.Admin, k.Quota.PerMinute, k.Quota.PerDay, k.Quota.PerMonth, k.CreatedAt, k.RevokedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
		return filetrail.Errorf(filetrail.CodeAlreadyExists, "key %q already exists", k.Name)
	}
	return wrap(err, "create key")
}

// KeyBySecretHash returns the key with that secret hash, revoked or not.
func (s *Store) KeyBySecretHash(ctx context.Context, secretHash string) (filetrail.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE secret_hash = $1`, secretHash))
	if errors.Is(err, pgx.ErrNoRows) {
		return filetrail.Key{}, filetrail.Errorf(filetrail.CodeNotFound, "key not found")
	}
	return k, wrap(err, "read key")
}

// ListKeys returns every key, oldest first.
func (s *Store) ListKeys(ctx context.Context) ([]filetrail.Key, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, inserted_at, id`)
	if err != nil {
		return nil, wrap(err, "list keys")
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (filetrail.Key, error) { return scanKey(r) })
	return keys, wrap(err, "list keys")
}

// RevokeKey marks the key with that ID or name revoked at the given time;
// a revoked key keeps its first revocation time.
func (s *Store) RevokeKey(ctx context.Context, idOrName string, at time.Time) error {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT id FROM api_keys WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1`, idOrName).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return filetrail.Errorf(filetrail.CodeNotFound, "key %q not found", idOrName)
	}
	if err != nil {
		return wrap(err, "find key")
	}
	revokedAt := max(at.Unix(), 1) // 0 means "not revoked"
	_, err = s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at = 0`, id, revokedAt)
	return wrap(err, "revoke key")
}

// Admit counts one request of k at now against each of its quota windows in
// one transaction. Each window's counter row is incremented only while it
// is below the limit (INSERT ... ON CONFLICT DO UPDATE ... WHERE n < limit);
// the row lock taken by the increment serialises concurrent requests of the
// same key, across processes too, until commit. When a window is full the
// transaction is rolled back, so nothing is counted.
func (s *Store) Admit(ctx context.Context, k filetrail.Key, now time.Time) (filetrail.Admission, error) {
	windows := k.Quota.Windows(now)
	if len(windows) == 0 {
		return filetrail.Admission{Allowed: true}, nil
	}
	var adm filetrail.Admission
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		fresh := false
		for _, w := range windows {
			var n int64
			err := tx.QueryRow(ctx, `
				INSERT INTO quota_counters AS c (key_id, window_name, window_start, window_end, n)
				VALUES ($1, $2, $3, $4, 1)
				ON CONFLICT (key_id, window_name, window_start)
				DO UPDATE SET n = c.n + 1 WHERE c.n < $5
				RETURNING n`, k.ID, w.Name, w.Start, w.End, w.Limit).Scan(&n)
			if errors.Is(err, pgx.ErrNoRows) {
				adm = filetrail.Admission{Window: w.Name, RetryAfter: time.Unix(w.End, 0).Sub(now)}
				return errRefused
			}
			if err != nil {
				return err
			}
			fresh = fresh || n == 1
		}
		if fresh {
			// A new window began: forget this key's counters of windows
			// that have ended.
			if _, err := tx.Exec(ctx, `DELETE FROM quota_counters WHERE key_id = $1 AND window_end <= $2`, k.ID, now.Unix()); err != nil {
				return err
			}
		}
		adm = filetrail.Admission{Allowed: true}
		return nil
	})
	if errors.Is(err, errRefused) {
		return adm, nil
	}
	if err != nil {
		return filetrail.Admission{}, wrap(err, "admit")
	}
	return adm, nil
}

// errRefused rolls back an Admit transaction whose quota is exhausted.
var errRefused = errors.New("quota exhausted")

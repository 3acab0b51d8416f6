package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/filetrail/filetrail"
)

const keyColumns = "id, name, secret_hash, premium, admin, per_minute, per_day, per_month, created_at, revoked_at"

func scanKey(row interface{ Scan(...any) error }) (filetrail.Key, error) {
	var k filetrail.Key
	err := row.Scan(&k.ID, &k.Name, &k.SecretHash, &k.Premium, &k.Admin,
		&k.Quota.PerMinute, &k.Quota.PerDay, &k.Quota.PerMonth, &k.CreatedAt, &k.RevokedAt)
	return k, err
}

// CreateKey stores a new key; AlreadyExists when its ID, Name or SecretHash
// is taken, InvalidArgument when one of them is empty or a quota negative.
func (s *Store) CreateKey(ctx context.Context, k filetrail.Key) error {
	switch {
	case k.ID == "" || k.Name == "" || k.SecretHash == "":
		return filetrail.Errorf(filetrail.CodeInvalidArgument, "a key needs an id, a name and a secret hash")
	case k.Quota.PerMinute < 0 || k.Quota.PerDay < 0 || k.Quota.PerMonth < 0:
		return filetrail.Errorf(filetrail.CodeInvalidArgument, "quotas cannot be negative")
	}
	return s.write(ctx, "create key", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO api_keys ("+keyColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			k.ID, k.Name, k.SecretHash, k.Premium, k.Admin, k.Quota.PerMinute, k.Quota.PerDay, k.Quota.PerMonth, k.CreatedAt, k.RevokedAt)
		var se sqlite3.Error
		if errors.As(err, &se) && se.Code == sqlite3.ErrConstraint {
			return filetrail.Errorf(filetrail.CodeAlreadyExists, "a key with id %q or name %q already exists", k.ID, k.Name)
		}
		return err
	})
}

// KeyBySecretHash returns the key with that secret hash, revoked or not.
func (s *Store) KeyBySecretHash(ctx context.Context, secretHash string) (filetrail.Key, error) {
	k, err := scanKey(s.r.QueryRowContext(ctx, "SELECT "+keyColumns+" FROM api_keys WHERE secret_hash = ?", secretHash))
	if errors.Is(err, sql.ErrNoRows) {
		return filetrail.Key{}, filetrail.Errorf(filetrail.CodeNotFound, "no such key")
	}
	if err != nil {
		return filetrail.Key{}, mapErr(err, "key")
	}
	return k, nil
}

// ListKeys returns every key, oldest first (by CreatedAt, then creation order).
func (s *Store) ListKeys(ctx context.Context) ([]filetrail.Key, error) {
	keys := []filetrail.Key{}
	err := s.read(ctx, "list keys", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT "+keyColumns+" FROM api_keys ORDER BY created_at, rowid")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k, err := scanKey(rows)
			if err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// RevokeKey marks the key with that ID or Name revoked at the given time;
// a revoked key keeps its first revocation time.
func (s *Store) RevokeKey(ctx context.Context, idOrName string, at time.Time) error {
	return s.write(ctx, "revoke key", func(tx *sql.Tx) error {
		var id string
		var revoked int64
		err := tx.QueryRowContext(ctx, "SELECT id, revoked_at FROM api_keys WHERE id = ? UNION ALL SELECT id, revoked_at FROM api_keys WHERE name = ? LIMIT 1",
			idOrName, idOrName).Scan(&id, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return filetrail.Errorf(filetrail.CodeNotFound, "no key with id or name %q", idOrName)
		}
		if err != nil || revoked != 0 {
			return err
		}
		// A revocation time of 0 would read as "not revoked".
		_, err = tx.ExecContext(ctx, "UPDATE api_keys SET revoked_at = ? WHERE id = ?", max(at.Unix(), 1), id)
		return err
	})
}

// Admit counts one request of k at now against each of its quota windows,
// in one write transaction: either every window has room and each counter
// is incremented, or nothing is counted and the answer names the exhausted
// window that ends last. Counters of a key's past windows are deleted when
// its next window opens.
func (s *Store) Admit(ctx context.Context, k filetrail.Key, now time.Time) (filetrail.Admission, error) {
	ws := k.Quota.Windows(now)
	if len(ws) == 0 {
		return filetrail.Admission{Allowed: true}, nil
	}
	adm := filetrail.Admission{Allowed: true}
	err := s.write(ctx, "admit", func(tx *sql.Tx) error {
		counts := make([]int64, len(ws))
		for i, w := range ws {
			err := tx.QueryRowContext(ctx, "SELECT requests FROM quota_counters WHERE key_id = ? AND window_name = ? AND window_start = ?",
				k.ID, w.Name, w.Start).Scan(&counts[i])
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if counts[i] >= w.Limit {
				retry := time.Unix(w.End, 0).Sub(now)
				if adm.Allowed || retry > adm.RetryAfter {
					adm = filetrail.Admission{Allowed: false, Window: w.Name, RetryAfter: retry}
				}
			}
		}
		if !adm.Allowed {
			return nil
		}
		for i, w := range ws {
			if counts[i] == 0 {
				if _, err := tx.ExecContext(ctx, "DELETE FROM quota_counters WHERE key_id = ? AND window_name = ? AND window_start < ?",
					k.ID, w.Name, w.Start); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO quota_counters (key_id, window_name, window_start, requests) VALUES (?, ?, ?, 1)
				ON CONFLICT (key_id, window_name, window_start) DO UPDATE SET requests = requests + 1`,
				k.ID, w.Name, w.Start); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return filetrail.Admission{}, err
	}
	return adm, nil
}

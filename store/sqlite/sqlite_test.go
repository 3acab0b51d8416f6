package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/store/storetest"
)

// openTemp opens a new store in a file of t's temporary directory.
func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "filetrail.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) filetrail.Store { return openTemp(t) })
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	for i := range 3 {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		v, err := s.SchemaVersion(t.Context())
		if err != nil || v != LatestSchemaVersion() || v < 1 {
			t.Errorf("Open #%d: SchemaVersion = %d, %v; want %d", i, v, err, LatestSchemaVersion())
		}
		var n int
		if err := s.w.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n != v {
			t.Errorf("Open #%d: %d migration rows (%v), want %d", i, n, err, v)
		}
		if i == 0 {
			if err := s.CreateKey(t.Context(), filetrail.Key{ID: "k", Name: "k", SecretHash: "h", CreatedAt: 1}); err != nil {
				t.Fatal(err)
			}
		} else if _, err := s.KeyBySecretHash(t.Context(), "h"); err != nil {
			t.Errorf("Open #%d lost the data: %v", i, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWALMode(t *testing.T) {
	s := openTemp(t)
	mode, err := s.JournalMode(t.Context())
	if err != nil || mode != "wal" {
		t.Errorf("journal mode = %q, %v; want wal", mode, err)
	}
	var sync int
	if err := s.w.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&sync); err != nil || sync != 1 {
		t.Errorf("writer synchronous = %d, %v; want 1 (NORMAL)", sync, err)
	}
}

func TestOpenRefusesBadPath(t *testing.T) {
	for _, p := range []string{"", ":memory:", "a.db?mode=ro", "file:a.db"} {
		if _, err := Open(t.Context(), p); filetrail.ErrorCode(err) != filetrail.CodeInvalidArgument {
			t.Errorf("Open(%q) = %v, want InvalidArgument", p, err)
		}
	}
}

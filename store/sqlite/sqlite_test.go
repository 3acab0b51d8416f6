package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

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

// TestChangeCountOnlyMovesWithWrites: the change count stays put while
// nothing is written, and sees a write made through another handle on the
// same file (another process).
func TestChangeCountOnlyMovesWithWrites(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "filetrail.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	count := func() uint64 {
		t.Helper()
		n, err := s.ChangeCount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := count()
	if _, err := s.DownloadedFiles(ctx, netip.MustParseAddr("192.0.2.1"), filetrail.PageRequest{Limit: 10}, filetrail.WithoutAttributes); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != first {
		t.Errorf("the change count moved from %d to %d without a write", first, n)
	}
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Apply(ctx, &filetrail.Batch{Sightings: []filetrail.Sighting{{IP: netip.MustParseAddr("192.0.2.1"),
		URL: "http://192.0.2.1/a", SHA256: strings.Repeat("ab", 32), SeenAt: 1000, Source: "zeek"}}}); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if n := count(); n == first {
		t.Errorf("the change count stayed at %d across another handle's write", n)
	}
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

func TestMapErr(t *testing.T) {
	for _, c := range []struct {
		err  error
		want filetrail.Code
	}{
		{sqlite3.Error{Code: sqlite3.ErrBusy}, filetrail.CodeTransient},
		{fmt.Errorf("step: %w", sqlite3.Error{Code: sqlite3.ErrLocked}), filetrail.CodeTransient},
		{sqlite3.Error{Code: sqlite3.ErrIoErr, ExtendedCode: sqlite3.ErrIoErrWrite}, filetrail.CodeTransient},
		{sqlite3.Error{Code: sqlite3.ErrFull}, filetrail.CodeTransient},
		{context.DeadlineExceeded, filetrail.CodeDeadlineExceeded},
		{sqlite3.Error{Code: sqlite3.ErrConstraint}, filetrail.CodeInternal},
		{filetrail.Errorf(filetrail.CodeNotFound, "x"), filetrail.CodeNotFound},
	} {
		got := mapErr(c.err, "test")
		if filetrail.ErrorCode(got) != c.want || !errors.Is(got, c.err) {
			t.Errorf("mapErr(%v) = %v (code %q), want code %q wrapping the cause", c.err, got, filetrail.ErrorCode(got), c.want)
		}
	}
}

// TestBusyIsTransient holds the write lock from another connection: a
// write that cannot get it within the busy timeout fails with Transient.
func TestBusyIsTransient(t *testing.T) {
	defer func(d time.Duration) { busyTimeout = d }(busyTimeout)
	busyTimeout = 100 * time.Millisecond
	path := filepath.Join(t.TempDir(), "busy.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := sql.Open("sqlite3", path+"?_busy_timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")
	err = s.CreateKey(t.Context(), filetrail.Key{ID: "k", Name: "k", SecretHash: "h"})
	if code := filetrail.ErrorCode(err); code != filetrail.CodeTransient {
		t.Errorf("write while locked: %v (code %q), want Transient", err, code)
	}
}

// TestMigrateFromV1 fills a database of schema version 1 by hand, then
// opens it: the data reads the same, and merging goes on from it.
func TestMigrateFromV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	old, err := open(t.Context(), path, 1, walWriter)
	if err != nil {
		t.Fatal(err)
	}
	const (
		a  = "ab00000000000000000000000000000000000000000000000000000000000001"
		m  = "cd000000000000000000000000000001"
		ip = "192.0.2.1"
		t1 = 1_700_000_000
		t2 = 1_700_000_500
	)
	for _, q := range []string{
		`INSERT INTO files (id, sha256, md5, hint_size, hint_first, hint_last, ip_count, attributes) VALUES ('` + a + `', '` + a + `', '` + m + `', 10, 1700000000, 1700000500, 1, '{"x":1}')`,
		`INSERT INTO hashes VALUES ('` + a + `', '` + a + `'), ('` + m + `', '` + a + `')`,
		`INSERT INTO file_names VALUES ('` + a + `', 'b.exe'), ('` + a + `', 'a.exe')`,
		`INSERT INTO evidence (ip, file_id, url, source, first_seen, last_seen) VALUES ('` + ip + `', '` + a + `', 'http://u', 'zeek', 1700000000, 1700000500)`,
		`INSERT INTO edges (ip, file_id, first_seen, last_seen, context) VALUES ('` + ip + `', '` + a + `', 1700000000, 1700000500, '{"ctx":1}')`,
		`INSERT INTO ips VALUES ('` + ip + `', 1, 1700000000, 1700000500)`,
	} {
		if _, err := old.w.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if v, _ := old.SchemaVersion(t.Context()); v != 1 {
		t.Fatalf("schema version %d, want 1", v)
	}
	old.Close()

	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(t.Context()); v != LatestSchemaVersion() {
		t.Fatalf("schema version %d after Open, want %d", v, LatestSchemaVersion())
	}
	f, err := s.File(t.Context(), m)
	if err != nil || f.ID != a || string(f.Attributes) != `{"x":1}` || f.IPCount != 1 {
		t.Fatalf("File(md5) = %+v, %v; want the v1 file", f, err)
	}
	p, err := s.DownloadedFiles(t.Context(), netip.MustParseAddr(ip), filetrail.PageRequest{Limit: 10}, filetrail.WithoutAttributes)
	if err != nil || len(p.Items) != 1 || p.Count != 1 || string(p.Items[0].Context) != `{"ctx":1}` {
		t.Fatalf("DownloadedFiles = %+v, %v; want the v1 edge", p, err)
	}

	sg := filetrail.Sighting{IP: netip.MustParseAddr(ip), URL: "http://u", SHA256: a, FileName: "c.exe", SeenAt: t1 - 5, Source: "zeek"}
	if _, err := s.Apply(t.Context(), &filetrail.Batch{Sightings: []filetrail.Sighting{sg}}); err != nil {
		t.Fatal(err)
	}
	want := filetrail.MergeFile(filetrail.Hashes{SHA256: a, MD5: m}, nil, filetrail.FileHints{Names: []string{"a.exe", "b.exe", "c.exe"}, Size: 10, FirstSeen: t1 - 5, LastSeen: t2})
	if f, err := s.File(t.Context(), a); err != nil || string(f.Attributes) != string(want) || f.IPCount != 1 {
		t.Errorf("File after Apply = %s, %v\nwant %s", f.Attributes, err, want)
	}
	_, _, ctx := filetrail.EdgeContext([]filetrail.Evidence{{URL: "http://u", Source: "zeek", FirstSeen: t1 - 5, LastSeen: t2}})
	p, err = s.DownloadedFiles(t.Context(), netip.MustParseAddr(ip), filetrail.PageRequest{Limit: 10}, filetrail.WithoutAttributes)
	if err != nil || len(p.Items) != 1 || p.Count != 1 || string(p.Items[0].Context) != string(ctx) || p.Items[0].FirstSeen != t1-5 {
		t.Errorf("DownloadedFiles after Apply = %+v, %v; want context %s", p, err, ctx)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(t.Context(), "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(t.Context(), path); err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer build succeeded")
	}
}

// TestAdmitAcrossStores: two stores on one file (as two server processes
// would be) together admit exactly the limit.
func TestAdmitAcrossStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	var stores []*Store
	for range 2 {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	k := filetrail.Key{ID: "k", Name: "k", SecretHash: "h", Quota: filetrail.Quota{PerMinute: 23}}
	if err := stores[0].CreateKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				a, err := stores[g%2].Admit(t.Context(), k, now)
				if err != nil {
					t.Error(err)
					return
				}
				if a.Allowed {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 23 {
		t.Errorf("admitted %d across two stores, want 23", allowed.Load())
	}
}

// Documents stored before schema 3 have no compressed copy until
// CompressDocuments writes it (storetest.RunCompressDocuments).
func TestCompressDocuments(t *testing.T) {
	s := openTemp(t)
	storetest.RunCompressDocuments(t, s, func() int64 {
		res, err := s.w.ExecContext(t.Context(), "UPDATE files SET attributes_deflate = NULL WHERE rowid % 3 = 0")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := res.RowsAffected()
		return n
	})
}

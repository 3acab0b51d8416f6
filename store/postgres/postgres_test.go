package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/store/postgres"
	"github.com/filetrail/filetrail/store/postgres/pgtest"
	"github.com/filetrail/filetrail/store/storetest"
)

// open returns a store on a fresh database, closed when t ends.
func open(t *testing.T) *postgres.Store {
	t.Helper()
	s := openStore(t)
	t.Cleanup(func() { s.Close() })
	return s
}

// openStore returns a store on a fresh database, dropped when tb ends.
func openStore(tb testing.TB) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), pgtest.DSN(tb))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

func TestMigrationsIdempotent(t *testing.T) {
	dsn := pgtest.DSN(t)
	for i := range 3 {
		s, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		v, err := s.SchemaVersion(t.Context())
		s.Close()
		if err != nil {
			t.Fatalf("SchemaVersion: %v", err)
		}
		if want := postgres.LatestSchemaVersion(); v != want || want < 1 {
			t.Fatalf("open #%d: schema version %d, want %d (>= 1)", i+1, v, want)
		}
	}
}

// TestConcurrentStartUp opens one empty database from several goroutines
// at once, as several replicas starting together would: every Open must
// succeed and the migrations must be applied once.
func TestConcurrentStartUp(t *testing.T) {
	dsn := pgtest.DSN(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	stores := make([]*postgres.Store, n)
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var applied int
	if err := postgres.QueryRowForTest(stores[0], t.Context(), `SELECT count(*) FROM schema_migrations`, &applied); err != nil {
		t.Fatal(err)
	}
	if applied != postgres.LatestSchemaVersion() {
		t.Fatalf("schema_migrations has %d rows, want %d", applied, postgres.LatestSchemaVersion())
	}
}

// TestUnreachableIsTransient checks that a server that cannot be reached
// gives a Transient error, not an internal one.
func TestUnreachableIsTransient(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// Port 1 on the loopback: nothing listens there.
	_, err := postgres.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=5")
	if got := filetrail.ErrorCode(err); got != filetrail.CodeTransient {
		t.Fatalf("Open on a closed port: %v (code %q), want %q", err, got, filetrail.CodeTransient)
	}
}

// Documents stored before schema 2 have no compressed copy until
// CompressDocuments writes it (storetest.RunCompressDocuments).
func TestCompressDocuments(t *testing.T) {
	s := open(t)
	storetest.RunCompressDocuments(t, s, func() int64 {
		tag, err := postgres.PoolForTest(s).Exec(t.Context(), "UPDATE files SET attributes_deflate = NULL WHERE hashtext(file_id) % 3 = 0")
		if err != nil {
			t.Fatal(err)
		}
		return tag.RowsAffected()
	})
}

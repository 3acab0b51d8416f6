// Package pgtest gives tests a fresh PostgreSQL database on the test server
// named by $FILETRAIL_TEST_POSTGRES (scripts/pg-test-server.sh starts one).
//
// Without that variable, tests that need PostgreSQL fail when CI=true (in
// CI they must run, never skip) and are skipped, loudly, otherwise.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the environment variable holding the test server's DSN: a
// postgres:// URL of a role that may create databases.
const EnvVar = "FILETRAIL_TEST_POSTGRES"

const skipMessage = "PostgreSQL tests SKIPPED: set " + EnvVar + " or run `export \"$(scripts/pg-test-server.sh start)\"` — these tests run in CI"

// ServerDSN returns the test server's DSN, or ends the test: a failure
// under CI=true, a skip otherwise.
func ServerDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvVar)
	if dsn != "" {
		return dsn
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(EnvVar + " is not set: PostgreSQL tests must run in CI (start a server with scripts/pg-test-server.sh)")
	}
	t.Skip(skipMessage)
	return ""
}

// DSN creates a new, empty database on the test server and returns its
// DSN; the database is dropped when the test ends. Databases of different
// tests share nothing, so tests may run in parallel.
func DSN(t testing.TB) string {
	t.Helper()
	server := ServerDSN(t)
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "filetrail_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connect to the PostgreSQL test server: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		admin, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("connect to drop test database %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

package main

import (
	"context"
	"fmt"
	"runtime"

	"github.com/filetrail/filetrail/store/postgres"
	"runtime/debug"
)

type migrateCmd struct {
	storeFlag `embed:""`
	Citus     bool `help:"Also distribute the tables on a Citus cluster (PostgreSQL DSN only; see docs/OPERATIONS.md)." env:"FILETRAIL_MIGRATE_CITUS"`
}

// Run opens the store, which applies its pending migrations, distributes
// the tables when --citus is set, prints the schema version, and writes
// the compressed copies of documents that older versions stored without
// one (resumable; serving and ingestion may run meanwhile).
func (c *migrateCmd) Run(a *app) error {
	if c.Citus {
		if kind, _ := parseDSN(c.Store); kind != "postgres" {
			return fmt.Errorf("--citus needs a postgres:// store DSN, not %q", c.Store)
		}
		if err := postgres.MigrateCitus(a.ctx, c.Store); err != nil {
			return fmt.Errorf("distributing tables on Citus: %w", err)
		}
		fmt.Fprintln(a.stdout, "tables distributed on Citus")
	}
	st, err := openStore(a.ctx, c.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.SchemaVersion(a.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "schema version %d\n", v)
	if dc, ok := st.(documentCompressor); ok {
		bar := newCountBar(a.stderr, "compressing documents")
		n, err := dc.CompressDocuments(a.ctx, bar.set)
		bar.finish()
		if err != nil {
			return fmt.Errorf("compressing stored documents: %w", err)
		}
		fmt.Fprintf(a.stdout, "%d documents compressed\n", n)
	}
	return nil
}

// documentCompressor is a store that can write the missing compressed
// copies of documents written by older versions (both stores are).
type documentCompressor interface {
	CompressDocuments(ctx context.Context, progress func(done, total int64)) (int64, error)
}

// version is the release version, set at link time with
// -ldflags "-X main.version=v1.2.3"; empty means the module's version.
var version string

type versionCmd struct{}

func (versionCmd) Run(a *app) error {
	v, commit := buildVersion()
	fmt.Fprintf(a.stdout, "filetrail %s\ncommit: %s\ngo: %s\n", v, commit, runtime.Version())
	return nil
}

// buildVersion returns the version and VCS commit the binary was built
// from, "(devel)" and "unknown" when the build did not record them.
func buildVersion() (v, commit string) {
	v, commit = version, "unknown"
	info, ok := debug.ReadBuildInfo()
	if !ok {
		if v == "" {
			v = "(devel)"
		}
		return v, commit
	}
	if v == "" {
		v = info.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && commit != "unknown" {
		commit += " (modified)"
	}
	return v, commit
}

package postgres

import (
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/store/postgres/pgtest"
)

// TestSchemaFollowsCitusRules checks the migrated schema against the Citus
// layout without a Citus cluster: every table is in the layout, every
// primary key and unique constraint of a distributed table contains its
// distribution column, co-located tables distribute on columns of the same
// type, and there is no foreign key.
func TestSchemaFollowsCitusRules(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'schema_migrations' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var laid []string
	for _, l := range citusLayout {
		laid = append(laid, l.table)
	}
	slices.Sort(laid)
	if !slices.Equal(tables, laid) {
		t.Fatalf("tables %v, Citus layout covers %v", tables, laid)
	}

	typeOf := map[string]string{}
	for _, l := range citusLayout {
		if l.column == "" {
			continue // reference table: no rule on its keys
		}
		var typ string
		if err := s.pool.QueryRow(ctx, `SELECT format_type(atttypid, atttypmod) || ' ' || coalesce((SELECT collname FROM pg_collation WHERE oid = attcollation), '')
			FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2`, l.table, l.column).Scan(&typ); err != nil {
			t.Fatalf("%s.%s: %v", l.table, l.column, err)
		}
		typeOf[l.table] = typ
		if l.colocateWith != "none" && typeOf[l.colocateWith] != typ {
			t.Errorf("%s.%s is %s, but it is co-located with %s whose distribution column is %s", l.table, l.column, typ, l.colocateWith, typeOf[l.colocateWith])
		}
		rows, err := s.pool.Query(ctx, `SELECT i.indexrelid::regclass::text, array(SELECT a.attname::text FROM unnest(i.indkey) k JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k)
			FROM pg_index i WHERE i.indrelid = $1::regclass AND i.indisunique`, l.table)
		if err != nil {
			t.Fatal(err)
		}
		var name string
		var cols []string
		n := 0
		if _, err := pgx.ForEachRow(rows, []any{&name, &cols}, func() error {
			n++
			if !slices.Contains(cols, l.column) {
				t.Errorf("unique index %s on %s%v lacks the distribution column %s", name, l.table, cols, l.column)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("%s has no primary key", l.table)
		}
	}

	var fks int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_constraint WHERE contype = 'f'`).Scan(&fks); err != nil {
		t.Fatal(err)
	}
	if fks != 0 {
		t.Errorf("%d foreign keys; the Citus layout allows none", fks)
	}
}

// TestMigrateCitusNeedsTheExtension checks that MigrateCitus on a plain
// PostgreSQL says what is missing instead of failing half-way.
func TestMigrateCitusNeedsTheExtension(t *testing.T) {
	err := MigrateCitus(t.Context(), pgtest.DSN(t))
	if filetrail.ErrorCode(err) != filetrail.CodeInvalidArgument {
		t.Fatalf("MigrateCitus without citus: %v, want an InvalidArgument error", err)
	}
}

package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// storeTables are the tables a store's evidence lives in.
var storeTables = []string{"files", "hashes", "facts", "evidence", "edges", "ips"}

// tableRows returns every row of table in the SQLite file db, printed and
// sorted.
func tableRows(t *testing.T, db, table string) []string {
	t.Helper()
	conn, err := sql.Open("sqlite3", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query("SELECT * FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%q", vals))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestIngestFirstLoad: ingesting into a new SQLite store takes the first
// load (no journal waited for, the store refused to others until the end)
// and gives exactly the store that batch-by-batch ingestion gives; an
// existing store is ingested into as usual.
func TestIngestFirstLoad(t *testing.T) {
	dir := t.TempDir()
	inputs := []string{
		"../../testdata/suricata/slips-honeypot-2021-fileinfo-http-subset.json",
		"../../testdata/zeek/zat-tsv-2013",
		"../../testdata/cowrie/handwritten-cowrie.json",
		"../../testdata/urlhaus/handwritten-payloads.csv",
		"../../testdata/vt-file-objects/0001a1252300b4732e4a010a5dd13a291dcb8b0ebee6febedb5152dfb0bcd488.json",
	}
	ingest := func(db string, flags ...string) string {
		t.Helper()
		// Small batches: several transactions, later ones finding earlier
		// ones' files and edges.
		args := append([]string{"ingest", "--store", db, "--batch-size", "7"}, flags...)
		code, _, errOut := runCLI(t, "", append(args, inputs...)...)
		if code != exitOK && code != exitRejects {
			t.Fatalf("ingest %s: exit %d\n%s", db, code, errOut)
		}
		return errOut
	}
	fast, visible := filepath.Join(dir, "fast.db"), filepath.Join(dir, "visible.db")
	if out := ingest(fast); !strings.Contains(out, "first load") {
		t.Errorf("no first load into a new store:\n%s", out)
	}
	if out := ingest(visible, "--no-fast-first-load"); strings.Contains(out, "first load") {
		t.Errorf("a first load despite --no-fast-first-load:\n%s", out)
	}
	for _, left := range []string{"-loading", "-journal", "-wal"} {
		if _, err := os.Lstat(fast + left); err == nil {
			t.Errorf("%s is left after the first load", fast+left)
		}
	}
	edges := 0
	for _, table := range storeTables {
		got, want := tableRows(t, fast, table), tableRows(t, visible, table)
		if !slices.Equal(got, want) {
			t.Errorf("table %s: the first load holds %d rows, batch by batch %d, not the same", table, len(got), len(want))
		}
		if table == "edges" {
			edges = len(got)
		}
	}
	if edges < 20 {
		t.Fatalf("only %d edges: the inputs do not exercise the store", edges)
	}
	// Into the existing store: ingested as usual, the same evidence again.
	if out := ingest(fast); strings.Contains(out, "first load") {
		t.Errorf("a first load into an existing store:\n%s", out)
	}
	if got := tableRows(t, fast, "edges"); len(got) != edges {
		t.Errorf("the same evidence again changed the edges: %d, was %d", len(got), edges)
	}
}

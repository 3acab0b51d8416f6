package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/store/sqlite"
)

// TestDatasetModel seeds a small SQLite store and checks that the computed
// cursors and page starts are the ones the store hands out, at every
// position, and that the measuring and the report work on it.
func TestDatasetModel(t *testing.T) {
	ctx := context.Background()
	const edges = 57
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "model.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	if _, err := seedStore(ctx, "SQLite", lite, edges, 10); err != nil {
		t.Fatal(err)
	}
	st := namedStore{"SQLite", lite}
	for after := 1; after < edges; after++ {
		if err := checkStore(ctx, st, edges, after); err != nil {
			t.Fatalf("deep-after %d: %v", after, err)
		}
	}
	// Walking the list page by page meets the model's cursor at every page end.
	req := filetrail.PageRequest{Limit: 7}
	seen := 0
	for {
		p, err := lite.DownloadedFiles(ctx, benchIP, req, filetrail.WithoutAttributes)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(p.Items)
		if p.Next == nil {
			break
		}
		if want := cursorAfter(edges, seen); *p.Next != *want {
			t.Fatalf("after %d items: store cursor %+v, model %+v", seen, *p.Next, *want)
		}
		req.After = p.Next
	}
	if seen != edges {
		t.Fatalf("walked %d items, want %d", seen, edges)
	}

	c := config{edges: edges, deepAfter: 40, limits: []int{10}, iters: 3, httpIters: 2}
	var rows []result
	for _, pos := range positions(c) {
		r, err := measureStore(ctx, st, pos, 10, c.iters)
		if err != nil {
			t.Fatalf("%s: %v", pos.name, err)
		}
		if len(r.lat) != c.iters {
			t.Fatalf("%s: %d timings, want %d", pos.name, len(r.lat), c.iters)
		}
		rows = append(rows, r)
	}
	// A page size that runs past the end of the list is refused by the check.
	if _, err := measureStore(ctx, st, positions(config{edges: edges, deepAfter: 50})[1], 10, 1); err == nil {
		t.Fatal("a short deep page passed the check")
	}
	httpRows, same, err := measureHTTP(ctx, c, []namedStore{st, {"PostgreSQL", lite}})
	if err != nil {
		t.Fatal(err)
	}
	if !same {
		t.Fatal("the same store answered the same page with different bodies")
	}
	for _, r := range httpRows {
		if r.bytes == 0 || len(r.lat) != c.httpIters {
			t.Fatalf("HTTP %s %s: %d bytes, %d timings", r.store, r.page, r.bytes, len(r.lat))
		}
	}
	// render pairs PostgreSQL and SQLite rows; relabel to get both.
	for _, r := range rows {
		r.store = "PostgreSQL"
		rows = append(rows, r)
	}
	out := render(c, nil, append(rows, httpRows...), same)
	if got := strings.Count(out, "\n| store |") + strings.Count(out, "\n| HTTP |"); got != 4 {
		t.Fatalf("report has %d figure rows, want 4:\n%s", got, out)
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/bench/dataset"
	"github.com/filetrail/filetrail/store/sqlite"
)

var tiny = []string{"-edges", "60", "-small-ips", "40", "-small-max", "20", "-templates", "../../testdata/vt-file-objects"}

func runSeed(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, log bytes.Buffer
	err := run(context.Background(), args, &out, &log)
	return out.String(), log.String(), err
}

func TestGenSeedsAndReuses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.db")
	if _, log, err := runSeed(t, append([]string{"gen", "-out", path, "-batch", "7"}, tiny...)...); err != nil {
		t.Fatalf("gen: %v\n%s", err, log)
	}
	m, err := dataset.ReadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Complete || m.BigEdges != 60 || m.SmallEdges < 40 || m.DocBytesMin < 10240 || m.StoreBytes == 0 {
		t.Fatalf("manifest %+v", m)
	}

	// The store answers as the dataset model says.
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := s.IPSummary(context.Background(), dataset.BigIP(0))
	if err != nil || sum.FileCount != 60 {
		t.Fatalf("big IP summary %+v, %v", sum, err)
	}
	cur, _, err := runSeed(t, append([]string{"cursor", "-after", "30"}, tiny...)...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := filetrail.DecodeCursor(filetrail.CursorFiles, strings.TrimSpace(cur))
	if err != nil {
		t.Fatalf("cursor %q: %v", cur, err)
	}
	page, err := s.DownloadedFiles(context.Background(), dataset.BigIP(0), filetrail.PageRequest{Limit: 40, After: &c}, filetrail.WithAttributes)
	s.Close()
	if err != nil || len(page.Items) != 30 || page.Next != nil {
		t.Fatalf("page after the 30th item: %d items, next %v, %v", len(page.Items), page.Next, err)
	}
	if n := len(page.Items[0].Attributes); n < 10240 {
		t.Errorf("stored document of %d bytes", n)
	}

	// Same dataset: reused. Another dataset: rebuilt.
	if _, log, err := runSeed(t, append([]string{"gen", "-out", path}, tiny...)...); err != nil || !strings.Contains(log, "reusing") {
		t.Fatalf("second gen: %v, log %q", err, log)
	}
	if _, log, err := runSeed(t, append([]string{"gen", "-out", path, "-seed", "2"}, tiny...)...); err != nil || !strings.Contains(log, "rebuilding") {
		t.Fatalf("gen of another dataset: %v, log %q", err, log)
	}
	if m2, _ := dataset.ReadManifest(path); m2.Fingerprint == m.Fingerprint || !m2.Complete {
		t.Fatalf("rebuilt manifest %+v", m2)
	}
}

func TestGenRefusesForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "precious.db")
	if err := os.WriteFile(path, []byte("not ours"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := runSeed(t, append([]string{"gen", "-out", path}, tiny...)...)
	if err == nil || !strings.Contains(err.Error(), "-force") {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "not ours" {
		t.Fatal("the foreign file was touched")
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}, {"gen"}, {"gen", "-out", "x", "-workers", "0"}, {"cursor", "-bogus"}} {
		if _, _, err := runSeed(t, args...); !errors.Is(err, errUsage) {
			t.Errorf("%q: err = %v, want usage", args, err)
		}
	}
	if _, _, err := runSeed(t, append([]string{"cursor", "-after", "60"}, tiny...)...); err == nil {
		t.Error("cursor past the end: no error")
	}
	if out, _, err := runSeed(t, "ip", "-big", "1"); err != nil || strings.TrimSpace(out) != "198.18.0.2" {
		t.Errorf("ip -big 1 = %q, %v", out, err)
	}
}

func TestSmallListsStoredIPs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.db")
	if _, log, err := runSeed(t, append([]string{"gen", "-out", path}, tiny...)...); err != nil {
		t.Fatalf("gen: %v\n%s", err, log)
	}
	out, _, err := runSeed(t, append([]string{"small", "-n", "8"}, tiny...)...)
	if err != nil {
		t.Fatal(err)
	}
	again, _, _ := runSeed(t, append([]string{"small", "-n", "8"}, tiny...)...)
	if again != out {
		t.Errorf("two listings differ:\n%s\n%s", out, again)
	}
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d lines, want 8:\n%s", len(lines), out)
	}
	seen := map[string]bool{}
	for _, line := range lines {
		var k, edges int
		var addr string
		if _, err := fmt.Sscanf(line, "%d %s %d", &k, &addr, &edges); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if seen[addr] || k < 0 || k >= 40 || addr != dataset.SmallIP(k).String() {
			t.Errorf("line %q: repeated, out of range or not small IP %d", line, k)
		}
		seen[addr] = true
		sum, err := s.IPSummary(context.Background(), dataset.SmallIP(k))
		if err != nil || sum.FileCount != int64(edges) {
			t.Errorf("%s: store has %d files (%v), listing says %d", addr, sum.FileCount, err, edges)
		}
	}
	all, _, err := runSeed(t, append([]string{"small", "-n", "1000"}, tiny...)...)
	if n := strings.Count(all, "\n"); err != nil || n != 40 {
		t.Errorf("-n past the number of small IPs: %d lines, %v; want all 40", n, err)
	}
}

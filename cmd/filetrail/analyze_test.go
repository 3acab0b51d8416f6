package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filetrail/filetrail/analyze"
)

// TestMain lets the test binary serve as the analysis worker: the sandbox
// re-executes os.Executable() with the hidden analyze-worker subcommand.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "analyze-worker" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestAnalyzeCommand(t *testing.T) {
	dir := "../../testdata/binaries"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "", "analyze", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != len(entries) {
		t.Fatalf("%d objects for %d files", len(lines), len(entries))
	}
	for i, line := range lines {
		var obj struct {
			Data struct {
				Type       string          `json:"type"`
				ID         string          `json:"id"`
				Attributes json.RawMessage `json:"attributes"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, entries[i].Name()))
		if err != nil {
			t.Fatal(err)
		}
		// The sandboxed CLI prints what the in-process analysis computes.
		want, _ := analyze.Analyze(data).Object()
		if obj.Data.Type != "file" || string(normalizeJSON(t, []byte(line))) != string(normalizeJSON(t, want)) {
			t.Errorf("%s: CLI object differs from the in-process analysis:\n%s\n%s", entries[i].Name(), line, want)
		}
	}
}

func normalizeJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return out
}

func TestAnalyzeCommandSizeCap(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "analyze", "--analysis-max-size=100", "../../testdata/binaries/gcc-386-mingw-exec")
	if code != exitRejects || stdout != "" || !strings.Contains(stderr, "size cap") {
		t.Fatalf("exit %d stdout %q stderr %q", code, stdout, stderr)
	}
}

func TestIngestSamples(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ft.db")
	code, _, stderr := runCLI(t, "", "ingest", "--store", db, "--format", "samples", "../../testdata/binaries")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	st, err := openStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// gcc-amd64-linux-exec
	f, err := st.File(context.Background(), "1a6020203e76740ca714e07e661fa8e602aea6344d006ac21e962241531f7a77")
	if err != nil {
		t.Fatal(err)
	}
	var attrs struct {
		Magic   string         `json:"magic"`
		ELFInfo map[string]any `json:"elf_info"`
	}
	if err := json.Unmarshal(f.Attributes, &attrs); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(attrs.Magic, "ELF 64-bit") || attrs.ELFInfo["header"] == nil {
		t.Fatalf("stored attributes %s", f.Attributes)
	}
}

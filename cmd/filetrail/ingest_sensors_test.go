package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/internal/testfixture"
	"github.com/filetrail/filetrail/store/sqlite"
)

// edgesOf lists the files the store holds for ip, by strongest hash, with
// their URLs.
func edgesOf(t *testing.T, db, ip string) []string {
	t.Helper()
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.DownloadedFiles(context.Background(), netipMust(ip), filetrail.PageRequest{Limit: 40}, filetrail.WithoutAttributes)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range page.Items {
		var c struct {
			URLs []string `json:"urls"`
		}
		if err := json.Unmarshal(e.Context, &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, e.FileID+" "+strings.Join(c.URLs, ","))
	}
	slices.Sort(out)
	return out
}

func TestIngestZeekDirectory(t *testing.T) {
	db := filepath.Join(t.TempDir(), "z.db")
	code, _, errOut := runCLI(t, "", "ingest", "--store", db, "../../testdata/zeek/zat-tsv-2013")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	// files.log and http.log are read together (conn.log is not read):
	// every file 108.59.9.32 sent has its URL on host hnhmrkw.myftp.biz.
	got := edgesOf(t, db, "108.59.9.32")
	if len(got) != 5 { // 7 rows, two of them the same two files again
		t.Fatalf("108.59.9.32 edges: %q", got)
	}
	for _, e := range got {
		if !strings.Contains(e, " http://hnhmrkw.myftp.biz/") {
			t.Errorf("edge without its URL: %s", e)
		}
	}
	if !strings.Contains(errOut, "skipped 1: upload") || !strings.Contains(errOut, "skipped 8: partial file") || strings.Contains(errOut, "conn.log") {
		t.Errorf("summary:\n%s", errOut)
	}
}

func TestIngestRejectsAndStrict(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "r.db")
	rejects := filepath.Join(dir, "rejects.ndjson")
	eve := "../../testdata/suricata/handwritten-eve-4.1.json"
	code, _, errOut := runCLI(t, "", "ingest", "--store", db, "--rejects", rejects, eve)
	if code != exitRejects {
		t.Fatalf("exit %d, want %d (line 17 is not JSON)\n%s", code, exitRejects, errOut)
	}
	f, err := os.Open(rejects)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	orig, err := os.ReadFile(eve)
	if err != nil {
		t.Fatal(err)
	}
	origLines := strings.Split(string(orig), "\n")
	byReason := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r rejectLine
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("rejects line %q: %v", sc.Text(), err)
		}
		if r.Input != eve || r.Line < 1 || int(r.Line) > len(origLines) || r.Record != origLines[r.Line-1] {
			t.Errorf("reject %+v does not hold its original line", r)
		}
		key := r.Reason
		if r.Skipped {
			key = "skipped " + key
		}
		byReason[key]++
	}
	want := map[string]int{"not a JSON object": 1, "skipped upload": 4, "skipped partial file": 2, "skipped no file hash": 1, "skipped error response": 1}
	if !mapsEqual(byReason, want) {
		t.Errorf("rejects file by reason %v, want %v", byReason, want)
	}

	// --strict stops at line 17; what came before it is applied.
	db2 := filepath.Join(dir, "strict.db")
	code, _, errOut = runCLI(t, "", "ingest", "--store", db2, "--strict", eve)
	if code != exitFailure || !strings.Contains(errOut, "--strict: stopped at "+eve+":17: not a JSON object") {
		t.Fatalf("strict: exit %d\n%s", code, errOut)
	}
	if got := edgesOf(t, db2, "10.0.0.1"); len(got) != 1 { // line 16
		t.Errorf("line 16 not applied before the stop: %q", got)
	}
	// Skipped records do not stop --strict.
	code, _, errOut = runCLI(t, "", "ingest", "--store", db2, "--strict", "../../testdata/cowrie/handwritten-cowrie.json")
	if code != exitOK {
		t.Errorf("strict over skips only: exit %d\n%s", code, errOut)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestIngestOverHTTP pushes a Cowrie log to a running server and reads the
// edge back through the API.
func TestIngestOverHTTP(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "http.db")
	key := func(args ...string) string {
		code, out, errOut := runCLI(t, "", append([]string{"keys", "create", "--store", db}, args...)...)
		if code != exitOK {
			t.Fatalf("keys create: %s", errOut)
		}
		return strings.SplitN(out, "\n", 2)[0]
	}
	admin := key("--name", "sensor", "--admin")
	reader := key("--name", "reader", "--premium")
	_, base := start(t, "serve", "--store", db, "--addr", "127.0.0.1:0")

	body, err := os.ReadFile("../../testdata/cowrie/handwritten-cowrie.json")
	if err != nil {
		t.Fatal(err)
	}
	push := func(key, query string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, base+"/admin/v1/ingest"+query, strings.NewReader(string(body)))
		if key != "" {
			req.Header.Set("x-apikey", key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	if code, b := push(reader, "?format=cowrie"); code != http.StatusForbidden {
		t.Errorf("non-admin key: %d %s", code, b)
	}
	if code, b := push("", "?format=cowrie"); code != http.StatusUnauthorized {
		t.Errorf("no key: %d %s", code, b)
	}
	if code, b := push(admin, "?format=nosuch"); code != http.StatusBadRequest {
		t.Errorf("unknown format: %d %s", code, b)
	}
	code, b := push(admin, "?source=hp-eu-1") // format detected
	var sum struct {
		Sightings       int64            `json:"accepted_sightings"`
		NoIP            int64            `json:"sightings_without_server_ip"`
		SkippedByReason map[string]int64 `json:"skipped_by_reason"`
		NewEdges        int64            `json:"new_edges"`
	}
	if err := json.Unmarshal(b, &sum); err != nil || code != http.StatusOK {
		t.Fatalf("push: %d %s", code, b)
	}
	if sum.Sightings != 3 || sum.NoIP != 1 || sum.NewEdges != 2 || sum.SkippedByReason["no download URL"] != 2 {
		t.Errorf("summary %s", b)
	}
	code, b = get(t, base+"/api/v3/ip_addresses/94.156.68.152/downloaded_files", reader)
	var page struct {
		Data []struct {
			ID                string `json:"id"`
			ContextAttributes struct {
				Sources []string `json:"sources"`
			} `json:"context_attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &page); err != nil || code != http.StatusOK || len(page.Data) != 1 || !slices.Equal(page.Data[0].ContextAttributes.Sources, []string{"hp-eu-1"}) {
		t.Errorf("downloaded_files after the push: %d %s", code, b)
	}
}

// TestIngestFollow runs `ingest --follow` on a growing Cowrie log, stops it
// as a signal would, and restarts it: the checkpoint makes the second run
// read only the new lines.
func TestIngestFollow(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "f.db")
	logPath := filepath.Join(dir, "cowrie.json")
	lines, err := os.ReadFile("../../testdata/cowrie/handwritten-cowrie.json")
	if err != nil {
		t.Fatal(err)
	}
	all := strings.SplitAfter(strings.TrimSpace(string(lines)), "\n")
	writeFile(t, dir, "cowrie.json", strings.Join(all[:3], "")) // up to the first two downloads

	runFollow := func(wantIP string) string {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stderr := &testfixture.SyncBuffer{}
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"ingest", "--store", db, "--follow", logPath, "--poll", "5ms"}, strings.NewReader(""), io.Discard, stderr)
		}()
		// Wait until the expected edge is in the store (the checkpoint is
		// written after each flush).
		for i := 0; ; i++ {
			if b, err := os.ReadFile(logPath + ".checkpoint"); err == nil && strings.Contains(string(b), `"applied"`) {
				if len(edgesOf(t, db, wantIP)) == 1 {
					break
				}
			}
			select {
			case code := <-done:
				t.Fatalf("follow exited with %d:\n%s", code, stderr)
			case <-time.After(10 * time.Millisecond):
			}
			if i > 6000 {
				t.Fatalf("%s never ingested:\n%s", wantIP, stderr)
			}
		}
		cancel()
		if code := <-done; code != exitOK {
			t.Fatalf("follow exit %d:\n%s", code, stderr)
		}
		return stderr.String()
	}
	out := runFollow("94.156.68.152")
	if !strings.Contains(out, "read 2 records: 2 sightings (1 without server IP)") {
		t.Errorf("first run:\n%s", out)
	}
	appendTo(t, logPath, strings.Join(all[3:], ""))
	out = runFollow("203.0.113.50")
	if !strings.Contains(out, "read 6 records: 1 sightings (0 without server IP)") || !strings.Contains(out, "skipped 5 records") {
		t.Errorf("second run did not resume at the checkpoint:\n%s", out)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// TestIngestSamplesDir checks --samples: a sighted file whose bytes are in
// the directory (Suricata filestore layout) is analysed; one that is not
// there only has its sighting.
func TestIngestSamplesDir(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	const elf = "1a6020203e76740ca714e07e661fa8e602aea6344d006ac21e962241531f7a77" // gcc-amd64-linux-exec
	b, err := os.ReadFile("../../testdata/binaries/gcc-amd64-linux-exec")
	if err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "filestore")
	if err := os.MkdirAll(filepath.Join(store, elf[:2]), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(store, elf[:2]), elf, string(b))
	absent := strings.Repeat("ab", 32)
	in := writeFile(t, dir, "s.ndjson", `{"ip":"192.0.2.9","sha256":"`+elf+`","seen_at":1700000000}`+"\n"+
		`{"ip":"192.0.2.9","sha256":"`+absent+`","seen_at":1700000000}`+"\n")
	code, _, errOut := runCLI(t, "", "ingest", "--store", db, "--samples", store, in)
	if code != exitOK || !strings.Contains(errOut, "2 sightings (0 without server IP) and 1 file facts accepted") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	st, err := openStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f, err := st.File(context.Background(), elf)
	if err != nil {
		t.Fatal(err)
	}
	var attrs struct {
		Magic   string         `json:"magic"`
		ELFInfo map[string]any `json:"elf_info"`
	}
	if err := json.Unmarshal(f.Attributes, &attrs); err != nil || !strings.HasPrefix(attrs.Magic, "ELF 64-bit") || attrs.ELFInfo == nil {
		t.Errorf("the sample was not analysed: %s", f.Attributes)
	}
	g, err := st.File(context.Background(), absent)
	if err != nil || strings.Contains(string(g.Attributes), "elf_info") {
		t.Errorf("file without sample: %s %v", g.Attributes, err)
	}
}

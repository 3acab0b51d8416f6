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

	"github.com/filetrail/filetrail"
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
	page, err := st.DownloadedFiles(context.Background(), netipMust(ip), filetrail.PageRequest{Limit: 40}, false)
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

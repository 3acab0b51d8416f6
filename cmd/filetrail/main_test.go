package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	vt "github.com/VirusTotal/vt-go"
	"github.com/alecthomas/kong"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/internal/testfixture"
	"github.com/filetrail/filetrail/store/sqlite"
)

// runCLI runs the command line in-process and returns its exit status and
// output.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// started is a long-running command (serve, demo) run in the background.
type started struct {
	cancel context.CancelFunc
	done   chan int
	stdout *testfixture.SyncBuffer
	stderr *testfixture.SyncBuffer
}

// start runs a long-running command and waits until its log says it
// listens; it returns the command and its base URL.
func start(t *testing.T, args ...string) (*started, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{cancel: cancel, done: make(chan int, 1), stdout: &testfixture.SyncBuffer{}, stderr: &testfixture.SyncBuffer{}}
	go func() { s.done <- run(ctx, args, strings.NewReader(""), s.stdout, s.stderr) }()
	listening := regexp.MustCompile(`msg=listening url=(http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := listening.FindStringSubmatch(s.stderr.String()); m != nil {
			t.Cleanup(func() { s.stop(t) })
			return s, m[1]
		}
		select {
		case code := <-s.done:
			cancel()
			t.Fatalf("%v exited with %d before listening:\n%s%s", args, code, s.stdout, s.stderr)
		default:
		}
	}
	cancel()
	t.Fatalf("%v did not start listening:\n%s", args, s.stderr)
	return nil, ""
}

// stop ends the command as a signal would and checks it exits cleanly.
func (s *started) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case code := <-s.done:
		if code != exitOK {
			t.Errorf("exit status %d after shutdown:\n%s", code, s.stderr)
		}
		if !strings.Contains(s.stderr.String(), "msg=stopped") {
			t.Errorf("no clean stop in the log:\n%s", s.stderr)
		}
	case <-time.After(60 * time.Second):
		t.Error("the server did not shut down")
	}
}

func get(t *testing.T, url, key string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("x-apikey", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

var secretLine = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestKeys(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	code, out, errOut := runCLI(t, "", "keys", "create", "--store", db, "--name", "plain")
	if code != exitOK {
		t.Fatalf("keys create: %d %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !secretLine.MatchString(lines[0]) || len(lines) < 2 {
		t.Fatalf("first line of keys create output is not the secret alone: %q", out)
	}
	plainSecret := lines[0]
	if !strings.Contains(out, "privileges: -") || !strings.Contains(out, "quota: unlimited") {
		t.Errorf("details of a plain key: %q", out)
	}

	code, out, errOut = runCLI(t, "", "keys", "create", "--store", db, "--name", "analyst", "--premium", "--public-tier", "--quota-day", "7")
	if code != exitOK {
		t.Fatalf("keys create premium: %d %s", code, errOut)
	}
	analystSecret := strings.SplitN(out, "\n", 2)[0]
	if !secretLine.MatchString(analystSecret) || analystSecret == plainSecret {
		t.Fatalf("second secret %q", analystSecret)
	}
	if strings.Contains(errOut, plainSecret) || strings.Contains(errOut, analystSecret) {
		t.Error("a secret was logged")
	}

	// What the store holds: the hash of the printed secret, with the
	// privileges and quota asked for.
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	k, err := st.KeyBySecretHash(context.Background(), filetrail.HashSecret(analystSecret))
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "analyst" || !k.Premium || k.Admin || k.Quota != (filetrail.Quota{PerMinute: 4, PerDay: 7, PerMonth: 15500}) || k.Revoked() {
		t.Errorf("stored key %+v", k)
	}

	if code, _, errOut := runCLI(t, "", "keys", "create", "--store", db, "--name", "analyst"); code != exitFailure || !strings.Contains(errOut, "analyst") {
		t.Errorf("duplicate name: %d %s", code, errOut)
	}
	if code, _, _ := runCLI(t, "", "keys", "create", "--store", db); code != exitFailure {
		t.Errorf("keys create without --name: %d", code)
	}

	if code, out, _ := runCLI(t, "", "keys", "revoke", "--store", db, "plain"); code != exitOK || !strings.Contains(out, "revoked plain") {
		t.Errorf("revoke by name: %d %q", code, out)
	}
	if code, _, errOut := runCLI(t, "", "keys", "revoke", "--store", db, "nobody"); code != exitFailure || !strings.Contains(errOut, "nobody") {
		t.Errorf("revoke unknown: %d %q", code, errOut)
	}
	code, out, _ = runCLI(t, "", "keys", "list", "--store", db)
	if code != exitOK {
		t.Fatalf("keys list: %d", code)
	}
	if strings.Contains(out, plainSecret) || strings.Contains(out, analystSecret) || strings.Contains(out, filetrail.HashSecret(analystSecret)) {
		t.Error("keys list shows a secret or its hash")
	}
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 3 || !strings.HasPrefix(rows[0], "ID") {
		t.Fatalf("keys list:\n%s", out)
	}
	plainRow, analystRow := strings.Fields(rows[1]), strings.Fields(rows[2])
	if plainRow[1] != "plain" || plainRow[len(plainRow)-1] == "-" {
		t.Errorf("revoked key row %q", rows[1])
	}
	if analystRow[1] != "analyst" || analystRow[2] != "premium" || analystRow[len(analystRow)-1] != "-" || !strings.Contains(rows[2], "4/min 7/day 15500/month") {
		t.Errorf("analyst row %q", rows[2])
	}
	// Revoking by ID works too.
	if code, _, _ := runCLI(t, "", "keys", "revoke", "--store", db, analystRow[0]); code != exitOK {
		t.Errorf("revoke by ID: %d", code)
	}
}

func TestIngestExitCodes(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ingest.db")
	report := "../../testdata/vt-file-objects/417c06700c3e899f0554654102fa064385bf1d3ecec32471ac488096d81bf38c.json"

	clean := writeFile(t, dir, "clean.ndjson", `{"ip": "192.0.2.9", "url": "http://192.0.2.9/a", "md5": "`+strings.Repeat("4", 32)+`", "seen_at": 1700000000}
{"ip": "192.0.2.9", "sha1": "`+strings.Repeat("5", 40)+`", "seen_at": "2023-11-14T22:13:21Z"}
{"ip": "2001:db8::9", "sha256": "`+strings.Repeat("6", 64)+`", "size": 10, "seen_at": 1700000001}
`)
	code, _, errOut := runCLI(t, "", "ingest", "--store", db, clean, report)
	if code != exitOK {
		t.Fatalf("clean ingest: %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "3 sightings (0 without server IP) and 1 file facts accepted, 0 rejected") {
		t.Errorf("summary:\n%s", errOut)
	}
	// Not a terminal: a plain line per input instead of a progress bar.
	if !strings.Contains(errOut, clean+": 3 records read, 0 rejected\n") || !strings.Contains(errOut, report+": 1 records read, 0 rejected\n") {
		t.Errorf("no per-input lines:\n%s", errOut)
	}

	bad := filepath.Join(dir, "bad.ndjson")
	content := `{"ip": "192.0.2.1", "md5": "` + strings.Repeat("1", 32) + `", "seen_at": 1700000000}
{"ip": "192.0.2.1", "md5": "nope", "seen_at": 1700000000}
{"ip": "192.0.2.1", "md5": "` + strings.Repeat("2", 32) + `", "seen_at": "2023-11-14T22:13:21Z"}
`
	if err := os.WriteFile(bad, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, "", "ingest", "--store", db, "--source", "test", bad)
	if code != exitRejects {
		t.Fatalf("ingest with a bad line: %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, bad+":2: md5 is not a valid md5") || !strings.Contains(errOut, "1 rejected") {
		t.Errorf("reject not reported on stderr:\n%s", errOut)
	}
	// The good lines around the bad one are in the store.
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := st.IPSummary(context.Background(), netipMust("192.0.2.1"))
	st.Close()
	if err != nil || sum.FileCount != 2 {
		t.Errorf("IP summary after a partial ingest: %+v, %v", sum, err)
	}

	// Standard input.
	if code, _, errOut := runCLI(t, `{"ip": "192.0.2.2", "sha1": "`+strings.Repeat("3", 40)+`", "seen_at": 1}`, "ingest", "--store", db, "-"); code != exitOK {
		t.Errorf("ingest from stdin: %d %s", code, errOut)
	}

	for name, args := range map[string][]string{
		"missing file":      {"ingest", "--store", db, filepath.Join(dir, "absent.json")},
		"no file":           {"ingest", "--store", db},
		"unknown format":    {"ingest", "--store", db, "--format", "nosuch", bad},
		"undetectable":      {"ingest", "--store", db, writeFile(t, dir, "plain.txt", "plain text, no known format\n")},
		"bad batch size":    {"ingest", "--store", db, "--batch-size", "0", bad},
		"unknown DSN":       {"ingest", "--store", "mysql://u@localhost/db", bad},
		"stdin named twice": {"ingest", "--store", db, "-", "-"},
	} {
		if code, _, errOut := runCLI(t, "", args...); code != exitFailure {
			t.Errorf("%s: exit %d, want %d\n%s", name, code, exitFailure, errOut)
		}
	}
	if _, _, errOut := runCLI(t, "", "ingest", "--store", "mysql://u@localhost/db", bad); !strings.Contains(errOut, `scheme "mysql" is not supported`) {
		t.Errorf("unknown DSN error: %s", errOut)
	}
}

// writeFile writes content to dir/name and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMigrate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	for range 2 { // a second run finds nothing to do
		code, out, errOut := runCLI(t, "", "migrate", "--store", "sqlite:"+db)
		if want := fmt.Sprintf("schema version %d\n0 documents compressed\n", sqlite.LatestSchemaVersion()); code != exitOK || out != want || sqlite.LatestSchemaVersion() < 1 {
			t.Fatalf("migrate: %d %q (want %q) %s", code, out, want, errOut)
		}
	}
	// Port 1 on loopback has no PostgreSQL: a clear error, not a hang.
	if code, _, errOut := runCLI(t, "", "migrate", "--store", "postgresql://u@127.0.0.1:1/x"); code != exitFailure || !strings.Contains(errOut, "opening PostgreSQL store") {
		t.Errorf("migrate unreachable postgres: %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "migrate", "--citus", "--store", "sqlite:"+db); code != exitFailure || !strings.Contains(errOut, "--citus needs a postgres://") {
		t.Errorf("migrate --citus on sqlite: %d %s", code, errOut)
	}
}

func TestVersionAndHelp(t *testing.T) {
	code, out, _ := runCLI(t, "", "version")
	if code != exitOK || !strings.HasPrefix(out, "filetrail ") || !strings.Contains(out, "go: go1.") || !strings.Contains(out, "commit: ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, "", "--help"); code != exitOK || !strings.Contains(out, "demo") {
		t.Errorf("--help: %d %q", code, out)
	}
	if code, _, _ := runCLI(t, "", "frobnicate"); code != exitFailure {
		t.Errorf("unknown command: %d", code)
	}
}

// TestEveryFlagHasEnv checks that each flag can be set from a FILETRAIL_*
// environment variable, and that one really is read.
func TestEveryFlagHasEnv(t *testing.T) {
	parser, err := kong.New(&cli{}, kong.Vars{"formats": "vt", "default_store": defaultStore}, kong.Exit(func(int) {}))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *kong.Node)
	count := 0
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			if f.Name == "help" {
				continue
			}
			count++
			if len(f.Envs) == 0 || !strings.HasPrefix(f.Envs[0], envPrefix) {
				t.Errorf("flag --%s of %q has no %s* environment variable", f.Name, n.Path(), envPrefix)
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(parser.Model.Node)
	if count < 20 {
		t.Errorf("only %d flags seen", count)
	}

	t.Setenv("FILETRAIL_STORE", "postgres://u@127.0.0.1:1/from-env")
	if code, _, errOut := runCLI(t, "", "migrate"); code != exitFailure || !strings.Contains(errOut, "PostgreSQL") {
		t.Errorf("FILETRAIL_STORE not used: %d %s", code, errOut)
	}
}

func TestServe(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "serve.db")
	report := "../../testdata/vt-file-objects/ddecc35aa198f401948c73a0d53fd93c4ecb770198ad7db308de026745c56b71.json"
	if code, _, errOut := runCLI(t, "", "ingest", "--store", db, report); code != exitOK {
		t.Fatalf("ingest: %d %s", code, errOut)
	}
	code, out, _ := runCLI(t, "", "keys", "create", "--store", db, "--name", "reader")
	if code != exitOK {
		t.Fatal("keys create failed")
	}
	secret := strings.SplitN(out, "\n", 2)[0]

	s, base := start(t, "serve", "--store", db, "--addr", "127.0.0.1:0")
	if code, body := get(t, base+"/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}
	code, body := get(t, base+"/api/v3/files/ddecc35aa198f401948c73a0d53fd93c4ecb770198ad7db308de026745c56b71", secret)
	var doc struct {
		Data struct {
			Type, ID string
			Links    struct{ Self string }
		}
	}
	if err := json.Unmarshal(body, &doc); err != nil || code != http.StatusOK {
		t.Fatalf("file lookup: %d %s", code, body)
	}
	if doc.Data.Type != "file" || doc.Data.ID != "ddecc35aa198f401948c73a0d53fd93c4ecb770198ad7db308de026745c56b71" || !strings.HasPrefix(doc.Data.Links.Self, base+"/api/v3/files/") {
		t.Errorf("file object %+v", doc.Data)
	}
	if code, _ := get(t, base+"/api/v3/files/ddecc35aa198f401948c73a0d53fd93c4ecb770198ad7db308de026745c56b71", ""); code != http.StatusUnauthorized {
		t.Errorf("no key: %d", code)
	}
	if strings.Contains(s.stderr.String(), secret) {
		t.Error("the key was logged")
	}
	s.stop(t)
	// After shutdown the port is closed.
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still answering after shutdown")
	}
}

func TestDemo(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	// A previous run's store is replaced, not reused.
	if err := os.WriteFile(db, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, base := start(t, "demo", "--store", db, "--addr", "127.0.0.1:0", "--data", "../../testdata")
	if code, body := get(t, base+"/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}
	out := s.stdout.String()
	premium := regexp.MustCompile(`(?m)^  PREMIUM=([0-9a-f]{64})$`).FindStringSubmatch(out)
	public := regexp.MustCompile(`(?m)^  PUBLIC=([0-9a-f]{64})$`).FindStringSubmatch(out)
	if premium == nil || public == nil || !strings.Contains(out, "vt.SetHost(\""+base+"\")") || !strings.Contains(out, base+"/api/v3/ip_addresses/"+demoIP+"/downloaded_files") {
		t.Fatalf("demo output lacks keys or examples:\n%s", out)
	}
	// The summary names what was loaded and what was skipped: the sample
	// logs hold uploads and error answers, which are not downloads.
	reports, err := filepath.Glob("../../testdata/vt-file-objects/[0-9a-f]*.json")
	if err != nil {
		t.Fatal(err)
	}
	loaded := regexp.MustCompile(`: [1-9][0-9]* download sightings, [1-9][0-9]* IP-file edges, [1-9][0-9]* files\.\nSkipped [1-9][0-9]* logged file transfers that are not downloads from a server\n\(([0-9]+ [a-z ]+(, )?)+\)\.\n`)
	if !loaded.MatchString(out) || !strings.Contains(out, fmt.Sprintf("Loaded real Zeek and Suricata logs and %d VirusTotal file reports into", len(reports))) {
		t.Errorf("demo summary:\n%s", out)
	}

	// The printed Go example, run: vt-go lists the files the sample logs
	// show demoIP served.
	vt.SetHost(base)
	client := vt.NewClient(premium[1])
	it, err := client.Iterator(vt.URL("ip_addresses/%s/downloaded_files", demoIP), vt.IteratorBatchSize(2)) // several pages
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for it.Next() {
		got = append(got, it.Get().ID())
		if first, err := it.Get().GetContextInt64("first_seen"); err != nil || first < 1379288677 {
			t.Errorf("%s first_seen %d, %v", it.Get().ID(), first, err)
		}
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	it.Close()
	slices.Sort(got)
	if want := demoFilesOf(t, demoIP); len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("downloaded_files of %s: %v, want %v", demoIP, got, want)
	}

	// The file lookup example works with the public-tier key; the premium
	// relationship does not.
	pub := vt.NewClient(public[1])
	obj, err := pub.GetObject(vt.URL("files/%s", demoFile))
	if err != nil {
		t.Fatal(err)
	}
	if sha, _ := obj.GetString("sha256"); obj.Type() != "file" || sha != demoFile {
		t.Errorf("file object %s %s", obj.Type(), sha)
	}
	if code, _ := get(t, base+"/api/v3/ip_addresses/"+demoIP+"/downloaded_files", public[1]); code != http.StatusForbidden {
		t.Errorf("public key on a premium relationship: %d", code)
	}
	// The md5 example names one of those files, served by the demo IP.
	md5File, err := client.GetObject(vt.URL("files/%s", demoMD5))
	if err != nil {
		t.Fatal(err)
	}
	if md5, _ := md5File.GetString("md5"); md5 != demoMD5 || !slices.Contains(got, md5File.ID()) {
		t.Errorf("file %s: id %s, md5 %q; not among the files of %s", demoMD5, md5File.ID(), md5, demoIP)
	}
	if code, body := get(t, base+"/api/v3/files/"+demoMD5+"/itw_ips", premium[1]); code != http.StatusOK || !strings.Contains(string(body), `"id":"`+demoIP+`"`) {
		t.Errorf("itw_ips example: %d %s", code, body)
	}
	s.stop(t)

	// A second run starts afresh: the keys are new, the old ones are gone.
	s2, base2 := start(t, "demo", "--store", db, "--addr", "127.0.0.1:0", "--data", "../../testdata")
	if code, _ := get(t, base2+"/api/v3/files/"+demoFile, premium[1]); code != http.StatusUnauthorized {
		t.Errorf("old demo key still valid after a new run: %d", code)
	}
	s2.stop(t)
}

// demoFilesOf returns the ids of the files the sample Zeek logs show ip
// sending, found by a plain scan of files.log and http.log: the rows whose
// tx_hosts is ip, complete (no missing bytes), answered 2xx by the joined
// http.log row. Those files have no sha256: their id is the sha1.
func demoFilesOf(t *testing.T, ip string) []string {
	t.Helper()
	status := map[string]string{} // fuid -> http status_code
	for _, row := range readZeek(t, "../../testdata/zeek/zat-tsv-2013/http.log") {
		for _, fuid := range strings.Split(row["resp_fuids"], ",") {
			status[fuid] = row["status_code"]
		}
	}
	set := map[string]bool{}
	for _, row := range readZeek(t, "../../testdata/zeek/zat-tsv-2013/files.log") {
		if row["tx_hosts"] == ip && row["missing_bytes"] == "0" && strings.HasPrefix(status[row["fuid"]], "2") {
			set[cmpOr(row["sha1"], row["md5"])] = true
		}
	}
	var ids []string
	for id := range set {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// readZeek reads a Zeek TSV log into rows keyed by its #fields names.
func readZeek(t *testing.T, path string) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	var rows []map[string]string
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if rest, ok := strings.CutPrefix(line, "#fields\t"); ok {
			fields = strings.Split(rest, "\t")
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		vals := strings.Split(line, "\t")
		if len(vals) != len(fields) {
			t.Fatalf("%s: %d values for %d fields", path, len(vals), len(fields))
		}
		row := map[string]string{}
		for i, f := range fields {
			row[f] = vals[i]
		}
		rows = append(rows, row)
	}
	return rows
}

func netipMust(s string) netip.Addr { return netip.MustParseAddr(s) }

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

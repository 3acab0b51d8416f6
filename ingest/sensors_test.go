package ingest_test

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/filetrail/filetrail/ingest"
	"github.com/filetrail/filetrail/store/sqlite"
)

// fx is the hash the hand-written fixtures give file n: the digest of
// "filetrail fixture n" (see testdata/SOURCES.md).
func fx(n int, alg string) string {
	in := []byte(fmt.Sprintf("filetrail fixture %d", n))
	switch alg {
	case "md5":
		s := md5.Sum(in)
		return hex.EncodeToString(s[:])
	case "sha1":
		s := sha1.Sum(in)
		return hex.EncodeToString(s[:])
	}
	s := sha256.Sum256(in)
	return hex.EncodeToString(s[:])
}

// edge is the part of a sighting these tests check.
type edge struct {
	Line                int64
	IP, URL             string
	SHA256, SHA1, MD5   string
	SeenAt              int64
	FileName, MIME, Src string
	Size                int64
}

func edgesOf(c *collector) []edge {
	var out []edge
	for _, r := range c.records {
		s := r.Sighting
		if s == nil {
			continue
		}
		ip := ""
		if s.IP.IsValid() {
			ip = s.IP.String()
		}
		out = append(out, edge{r.Line, ip, s.URL, s.SHA256, s.SHA1, s.MD5, s.SeenAt, s.FileName, s.MIME, s.Source, s.Size})
	}
	return out
}

// skipsOf maps each skipped or rejected line to its reason; skipped
// reasons are prefixed with "skip:".
func skipsOf(c *collector) map[int64]string {
	out := map[int64]string{}
	for _, r := range c.rejects {
		reason := r.Reason
		if r.Skip {
			reason = "skip:" + reason
		}
		out[r.Line] = reason
	}
	return out
}

func readFile(t *testing.T, format, path string, opts ingest.ReaderOptions) *collector {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, format, string(b), opts)
}

func unix(t *testing.T, s string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.Unix()
}

// checkEdges compares sightings in line order (a record waiting for its
// join partner comes out later than the lines after it).
func checkEdges(t *testing.T, got, want []edge) {
	t.Helper()
	slices.SortStableFunc(got, func(a, b edge) int { return int(a.Line - b.Line) })
	if len(got) != len(want) {
		t.Errorf("%d sightings, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("sighting %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func checkSkips(t *testing.T, got, want map[int64]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		for _, l := range slices.Sorted(maps.Keys(got)) {
			if want[l] != got[l] {
				t.Errorf("line %d: %q, want %q", l, got[l], want[l])
			}
		}
		for _, l := range slices.Sorted(maps.Keys(want)) {
			if _, ok := got[l]; !ok {
				t.Errorf("line %d: not skipped, want %q", l, want[l])
			}
		}
	}
}

// TestSuricataRealLogs checks the real EVE samples: none of their
// fileinfo events is a download from a server, each for its own reason.
func TestSuricataRealLogs(t *testing.T) {
	// CTU-13 line 3: the server 74.207.254.18:80 sent "/" with status 301:
	// a redirect body, not a download.
	c := readFile(t, "suricata", "../testdata/suricata/ctu13-eve-excerpt.json", ingest.ReaderOptions{})
	checkEdges(t, edgesOf(c), nil)
	checkSkips(t, skipsOf(c), map[int64]string{3: "skip:error response"})

	// Slips honeypot: lines 4 and 5 are 404 answers of the honeypot's RTSP
	// port; line 31 is a POST body the client 112.249.236.129 sent
	// (src_ip is the client on a 4.1+ log, state TRUNCATED too).
	c = readFile(t, "suricata", "../testdata/suricata/slips-honeypot-2021-fileinfo-http-subset.json", ingest.ReaderOptions{})
	checkEdges(t, edgesOf(c), nil)
	checkSkips(t, skipsOf(c), map[int64]string{4: "skip:error response", 5: "skip:error response", 31: "skip:upload"})
}

func TestSuricataHandwritten(t *testing.T) {
	c := readFile(t, "suricata", "../testdata/suricata/handwritten-eve-4.1.json", ingest.ReaderOptions{})
	ts := func(s string) int64 { return unix(t, s) }
	checkEdges(t, edgesOf(c), []edge{
		{2, "198.51.100.7", "http://dl.example.test:8080/a/payload.exe", fx(1, "sha256"), fx(1, "sha1"), fx(1, "md5"), ts("2024-03-01T09:00:00Z"), "payload.exe", "application/x-dosexec", "suricata", 1001},
		{5, "203.0.113.9", "http://203.0.113.9/gate.php", fx(3, "sha256"), "", "", ts("2024-03-01T10:02:00Z"), "gate.php", "", "suricata", 1003},
		{10, "198.51.100.8", "http://old.example.test/legacy.bin?x=1", "", "", fx(7, "md5"), ts("2024-03-01T10:06:00Z"), "legacy.bin", "", "suricata", 1007},
		{11, "192.0.2.21", "ftp://192.0.2.21/pub/tool.bin", fx(8, "sha256"), fx(8, "sha1"), fx(8, "md5"), ts("2024-03-01T10:07:00Z"), "tool.bin", "", "suricata", 1008},
		{13, "192.0.2.45", "smb://192.0.2.45/public/tools/x.exe", fx(10, "sha256"), fx(10, "sha1"), fx(10, "md5"), ts("2024-03-01T10:09:00Z"), "x.exe", "", "suricata", 1010},
		{16, "10.0.0.1", "http://files.example.test/x.zip", fx(13, "sha256"), fx(13, "sha1"), fx(13, "md5"), ts("2024-03-01T10:12:00Z"), "x.zip", "application/zip", "suricata", 1013},
	})
	checkSkips(t, skipsOf(c), map[int64]string{
		3:  "skip:upload",
		7:  "skip:partial file",
		8:  "skip:partial file",
		9:  "skip:no file hash",
		12: "skip:upload",
		14: "skip:upload",
		15: "skip:upload",
		17: ingest.ReasonNotObject,
		18: "skip:error response",
	})
}

// TestSuricataPre41 reads events whose addresses are those of the packet
// that triggered the log: the direction comes from the http join and the
// method only.
func TestSuricataPre41(t *testing.T) {
	get := `{"timestamp":"2016-05-01T10:00:00.000000+0000","flow_id":7,"event_type":"fileinfo","src_ip":"10.0.0.5","src_port":49152,"dest_ip":"198.51.100.7","dest_port":80,"proto":"TCP","http":{"hostname":"h.example.test","url":"/a.exe","http_method":"GET","status":200},"app_proto":"http","fileinfo":{"filename":"/a.exe","gaps":false,"state":"CLOSED","md5":"` + fx(60, "md5") + `","size":5,"tx_id":0}}`
	post := strings.NewReplacer(`"flow_id":7`, `"flow_id":8`, `"GET"`, `"POST"`).Replace(get)
	httpEv := `{"timestamp":"2016-05-01T10:00:00.000000+0000","flow_id":7,"event_type":"http","src_ip":"10.0.0.5","src_port":49152,"dest_ip":"198.51.100.7","dest_port":80,"proto":"TCP","tx_id":0,"http":{"hostname":"h.example.test","url":"/a.exe","http_method":"GET","status":200}}`
	in := get + "\n" + post + "\n" + httpEv + "\n"

	c := read(t, "suricata", in, ingest.ReaderOptions{SuricataPre41: true})
	checkEdges(t, edgesOf(c), []edge{{1, "198.51.100.7", "http://h.example.test/a.exe", "", "", fx(60, "md5"), unix(t, "2016-05-01T10:00:00Z"), "a.exe", "", "suricata", 5}})
	checkSkips(t, skipsOf(c), map[int64]string{2: "skip:unknown sender"})

	// Read as a 4.1+ log, the same GET file (src_ip = client) is an upload.
	c = read(t, "suricata", in, ingest.ReaderOptions{})
	checkEdges(t, edgesOf(c), nil)
	checkSkips(t, skipsOf(c), map[int64]string{1: "skip:upload", 2: "skip:upload"})
}

// TestSuricataJoinBounded checks that a fileinfo waiting for its http event
// is resolved by the port rule when the bound pushes it out, and that the
// bound holds.
func TestSuricataJoinBounded(t *testing.T) {
	var b strings.Builder
	const n = 50
	for i := range n {
		// The server is on port 8000 here (an HTTP port), the http events
		// never come.
		fmt.Fprintf(&b, `{"timestamp":"2024-01-01T00:00:%02dZ","flow_id":%d,"event_type":"fileinfo","src_ip":"198.51.100.%d","src_port":8000,"dest_ip":"10.0.0.1","dest_port":5%04d,"app_proto":"http","http":{"url":"/f%d","status":200},"fileinfo":{"state":"CLOSED","gaps":false,"sha256":"%s","tx_id":0}}`+"\n",
			i, i, i+1, i, i, fx(100+i, "sha256"))
	}
	lc := &lowWater{}
	f, _ := ingest.LookupFormat("suricata")
	if err := f.NewReader(ingest.ReaderOptions{MaxPending: 3}).Read(context.Background(), strings.NewReader(b.String()), lc); err != nil {
		t.Fatal(err)
	}
	es := edgesOf(&lc.collector)
	if len(es) != n {
		t.Fatalf("%d sightings, want %d", len(es), n)
	}
	for i, e := range es {
		if e.IP != fmt.Sprintf("198.51.100.%d", i+1) || e.URL != fmt.Sprintf("http://198.51.100.%d:8000/f%d", i+1, i) {
			t.Errorf("sighting %d: %+v", i, e)
		}
	}
	// With a bound of 3, record i is released when record i+3 arrives.
	if lc.maxLag > 3 {
		t.Errorf("a record waited for %d lines, bound 3", lc.maxLag)
	}
}

// lowWater is a collector that also measures how far behind the last line
// read the records come out.
type lowWater struct {
	collector
	maxLag int64
	last   int64
}

func (l *lowWater) Record(ctx context.Context, r ingest.Record) error {
	l.last = max(l.last, r.Line)
	l.maxLag = max(l.maxLag, l.last-r.Line)
	return l.collector.Record(ctx, r)
}

func TestCowrie(t *testing.T) {
	c := readFile(t, "cowrie", "../testdata/cowrie/handwritten-cowrie.json", ingest.ReaderOptions{})
	checkEdges(t, edgesOf(c), []edge{
		{2, "94.156.68.152", "http://94.156.68.152/ah", fx(20, "sha256"), "", "", unix(t, "2024-03-02T08:00:05Z"), "ah", "", "cowrie", 0},
		// A host name: the sighting is kept without a server IP.
		{3, "", "http://evil.example.test/bins/x86", fx(21, "sha256"), "", "", unix(t, "2024-03-02T08:00:06Z"), "x86", "", "cowrie", 0},
		// The attacker served the file itself: the URL proves it.
		{4, "203.0.113.50", "http://203.0.113.50:8000/b", fx(22, "sha256"), "", "", unix(t, "2024-03-02T08:00:07Z"), "b", "", "cowrie", 0},
	})
	checkSkips(t, skipsOf(c), map[int64]string{
		5: "skip:failed download",
		6: "skip:no download URL",
		7: "skip:upload",
		8: "skip:no file hash",
		9: "skip:no download URL",
	})
}

func TestURLhaus(t *testing.T) {
	c := readFile(t, "urlhaus", "../testdata/urlhaus/handwritten-payloads.csv", ingest.ReaderOptions{})
	checkEdges(t, edgesOf(c), []edge{
		{10, "198.51.100.61", "http://198.51.100.61:43210/i", fx(30, "sha256"), "", fx(30, "md5"), unix(t, "2024-03-02T21:14:05Z"), "i", "", "urlhaus", 0},
		{11, "", "https://cdn.example.test/dl/setup.exe", fx(31, "sha256"), "", fx(31, "md5"), unix(t, "2024-03-02T20:00:00Z"), "setup.exe", "", "urlhaus", 0},
	})
	checkSkips(t, skipsOf(c), map[int64]string{
		12: "skip:no file hash",
		13: ingest.ReasonBadSeenAt,
		14: "malformed CSV row",
	})
}

func TestZeekModernJSON(t *testing.T) {
	c := readFile(t, "zeek", "../testdata/zeek/handwritten-json/modern.json", ingest.ReaderOptions{})
	checkEdges(t, edgesOf(c), []edge{
		{2, "198.51.100.20", "http://cdn.example.test:8080/f.exe", fx(40, "sha256"), fx(40, "sha1"), fx(40, "md5"), 1709553600, "f.exe", "application/x-dosexec", "zeek", 2040},
		{9, "198.51.100.30", "ftp://198.51.100.30/pub/a.bin", fx(45, "sha256"), fx(45, "sha1"), fx(45, "md5"), 1709553605, "", "application/octet-stream", "zeek", 2045},
		{12, "198.51.100.40", "", fx(47, "sha256"), fx(47, "sha1"), fx(47, "md5"), 1709553607, `public\\tools\\c.exe`, "application/x-dosexec", "zeek", 2047},
		// sha1 only, ISO 8601 ts, http.log row after it.
		{14, "198.51.100.20", "http://cdn.example.test/iso", "", fx(49, "sha1"), "", unix(t, "2024-03-04T12:00:09Z"), "", "application/x-dosexec", "zeek", 2049},
	})
	checkSkips(t, skipsOf(c), map[int64]string{
		3:  "skip:certificate",
		4:  "skip:upload",
		5:  "skip:error response",
		7:  "skip:partial file",
		10: "skip:upload",
		13: "skip:upload",
		16: "skip:no file hash",
	})
}

// TestZeekLegacyTogether reads the real 2013 files.log with its http.log:
// the downloads from 108.59.9.32 must be exactly its 7 files.log rows,
// each with the URL of the http.log row that carries its fuid.
func TestZeekLegacyTogether(t *testing.T) {
	var ins []ingest.Input
	for _, name := range []string{"files.log", "http.log"} { // files first: rows wait for the join
		f, err := os.Open("../testdata/zeek/zat-tsv-2013/" + name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		ins = append(ins, ingest.Input{Name: name, R: f})
	}
	rec := &batchRecorder{}
	w := ingest.NewWriter(rec, ingest.WriterOptions{})
	if err := ingest.RunZeek(context.Background(), w, ins, ingest.ReaderOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range rec.batches {
		for _, s := range b.Sightings {
			if s.IP.String() == "108.59.9.32" {
				got = append(got, fmt.Sprintf("%s %s %s %d", s.URL, s.MD5, s.SHA1, s.SeenAt))
			}
		}
	}
	// want: a plain scan of the two logs, each files.log row of the server
	// joined to the http.log row whose resp_fuids holds its fuid.
	httpByFuid := map[string]map[string]string{}
	for _, row := range tsvRows(t, "../testdata/zeek/zat-tsv-2013/http.log") {
		for _, fuid := range strings.Split(row["resp_fuids"], ",") {
			httpByFuid[fuid] = row
		}
	}
	var want []string
	for _, row := range tsvRows(t, "../testdata/zeek/zat-tsv-2013/files.log") {
		if row["tx_hosts"] != "108.59.9.32" {
			continue
		}
		h := httpByFuid[row["fuid"]]
		ts, err := strconv.ParseFloat(row["ts"], 64)
		if h == nil || err != nil {
			t.Fatalf("files.log row %s: http row %v, ts %v", row["fuid"], h, err)
		}
		want = append(want, fmt.Sprintf("%s %s %s %d", "http://"+h["host"]+h["uri"], row["md5"], row["sha1"], int64(ts)))
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) != 7 || !slices.Equal(got, want) {
		t.Errorf("108.59.9.32 sightings:\n got %q\nwant %q", got, want)
	}
	// The expected counts come from a plain scan of the two logs: an http
	// row's status and resp_fuids, each files.log row's fuid.
	status := map[string]string{} // fuid -> status_code
	for _, row := range tsvRows(t, "../testdata/zeek/zat-tsv-2013/http.log") {
		for _, fuid := range strings.Split(row["resp_fuids"], ",") {
			status[fuid] = row["status_code"]
		}
	}
	var wantErr, wantNoURL, wantOK int64
	for _, row := range tsvRows(t, "../testdata/zeek/zat-tsv-2013/files.log") {
		if row["is_orig"] == "T" || row["missing_bytes"] != "0" || (row["total_bytes"] != "-" && row["total_bytes"] != row["seen_bytes"]) {
			continue // the upload and the partial files, checked below
		}
		st, joined := status[row["fuid"]]
		switch {
		case !joined:
			wantNoURL++
		case st < "200" || st > "299":
			wantErr++
			continue
		}
		wantOK++
	}
	sum := w.Summary()
	// files.log: rows 66, 84, 95 and the five empty files 116-120 are
	// partial, row 114 is a request body (is_orig T).
	wantSkips := map[string]int64{"partial file": 8, "upload": 1, "error response": wantErr}
	if !maps.Equal(sum.SkippedByReason, wantSkips) || sum.Rejected != 0 {
		t.Errorf("skipped %v rejected %v, want %v and none", sum.SkippedByReason, sum.RejectedByReason, wantSkips)
	}
	var noURL int64
	for _, b := range rec.batches {
		for _, s := range b.Sightings {
			if s.URL == "" {
				noURL++
			}
		}
	}
	if sum.Sightings != wantOK || noURL != wantNoURL || wantErr == 0 || wantNoURL == 0 {
		t.Errorf("%d sightings, %d without URL; want %d and %d", sum.Sightings, noURL, wantOK, wantNoURL)
	}
}

// tsvRows reads a Zeek TSV log with the default separators into maps.
func tsvRows(t *testing.T, path string) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	var out []map[string]string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f, ok := strings.CutPrefix(line, "#fields\t"); ok {
			fields = strings.Split(f, "\t")
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		row := map[string]string{}
		for i, v := range strings.Split(line, "\t") {
			row[fields[i]] = v
		}
		out = append(out, row)
	}
	return out
}

// TestZeekTSVModern reads a modern-layout TSV files.log (uid, id.*,
// is_orig) whose header declares other separators than the default.
func TestZeekTSVModern(t *testing.T) {
	in := strings.Join([]string{
		`#separator \x7c`,
		`#set_separator|;`,
		`#empty_field|(empty)`,
		`#unset_field|-`,
		`#path|files`,
		`#fields|ts|fuid|uid|id.orig_h|id.orig_p|id.resp_h|id.resp_p|source|depth|analyzers|mime_type|filename|duration|local_orig|is_orig|seen_bytes|total_bytes|missing_bytes|overflow_bytes|timedout|parent_fuid|md5|sha1|sha256`,
		`#types|time|string|string|addr|port|addr|port|string|count|set[string]|string|string|interval|bool|bool|count|count|count|count|bool|string|string|string|string`,
		`1709553600.5|FX1|CX1|10.3.0.5|50100|2001:db8::7|80|HTTP|0|MD5;SHA1;SHA256|application/zip|a.zip|0.1|T|F|70|70|0|0|F|-|` + fx(70, "md5") + `|-|` + fx(70, "sha256"),
		`1709553601.5|FX2|CX2|10.3.0.5|50101|198.51.100.50|443|SSL|0|X509;MD5;SHA1|application/x-x509-ca-cert|-|0.0|T|F|900|-|0|0|F|-|` + fx(71, "md5") + `|` + fx(71, "sha1") + `|-`,
		`1709553602.5|FX3|CX3|10.3.0.5|50102|198.51.100.50|80|HTTP|0|(empty)|-|-|0.0|T|F|5`,
		`#close|2024-03-04-13-00-00`,
	}, "\n")
	c := read(t, "zeek", in, ingest.ReaderOptions{})
	checkEdges(t, edgesOf(c), []edge{{8, "2001:db8::7", "", fx(70, "sha256"), "", fx(70, "md5"), 1709553600, "a.zip", "application/zip", "zeek", 70}})
	checkSkips(t, skipsOf(c), map[int64]string{9: "skip:certificate", 10: "wrong number of fields"})
}

// TestSensorIdempotence checks that any order of an input's lines, any
// duplication, and for the formats without joins any split into separate
// inputs, give the same store state (a real store, everything the API
// reads).
func TestSensorIdempotence(t *testing.T) {
	for _, tc := range []struct {
		format, path string
		join         bool // partners must be in the same input
	}{
		{"suricata", "../testdata/suricata/handwritten-eve-4.1.json", true},
		{"zeek", "../testdata/zeek/handwritten-json/modern.json", true},
		{"cowrie", "../testdata/cowrie/handwritten-cowrie.json", false},
		{"urlhaus", "../testdata/urlhaus/handwritten-payloads.csv", false},
	} {
		b, err := os.ReadFile(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		whole := string(b)
		c := read(t, tc.format, whole, ingest.ReaderOptions{})
		var ips []netip.Addr
		var hashes []string
		for _, s := range c.sightings() {
			if s.IP.IsValid() && !slices.Contains(ips, s.IP) {
				ips = append(ips, s.IP)
			}
			for _, h := range []string{s.SHA256, s.SHA1, s.MD5} {
				if h != "" && !slices.Contains(hashes, h) {
					hashes = append(hashes, h)
				}
			}
		}
		if len(ips) == 0 || len(hashes) == 0 {
			t.Fatalf("%s: nothing to compare", tc.format)
		}
		want := storeState(t, tc.format, []string{whole}, ips, hashes)
		all := strings.SplitAfter(strings.TrimSuffix(whole, "\n"), "\n")
		all[len(all)-1] += "\n"
		rng := rand.New(rand.NewPCG(7, uint64(len(whole))))
		for seed := range 8 {
			perm := slices.Clone(all)
			rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			perm = append(perm, perm[:rng.IntN(len(perm))]...)
			parts := []string{strings.Join(perm, "")}
			if !tc.join {
				parts = nil
				for len(perm) > 0 {
					n := 1 + rng.IntN(len(perm))
					parts = append(parts, strings.Join(perm[:n], ""))
					perm = perm[n:]
				}
			}
			if got := storeState(t, tc.format, parts, ips, hashes); got != want {
				t.Errorf("%s seed %d: state differs:\n got %s\nwant %s", tc.format, seed, got, want)
			}
		}
	}
}

// storeState ingests the parts, as separate inputs, into a new store and
// renders what the API reads of ips and hashes.
func storeState(t *testing.T, format string, parts []string, ips []netip.Addr, hashes []string) string {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w := ingest.NewWriter(st, ingest.WriterOptions{BatchSize: 2})
	for i, p := range parts {
		if err := ingest.Run(ctx, w, ingest.Input{Name: fmt.Sprint(i), R: strings.NewReader(p)}, format, ingest.ReaderOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return snapshot(t, st, ips, hashes)
}

// TestJoinNoWait reads the Zeek fixture without letting rows wait for
// their http.log row: the rows whose http.log row comes after them are
// resolved without it (no URL, status unknown).
func TestJoinNoWait(t *testing.T) {
	c := readFile(t, "zeek", "../testdata/zeek/handwritten-json/modern.json", ingest.ReaderOptions{MaxPendingLines: -1})
	got := map[int64]string{}
	for _, e := range edgesOf(c) {
		got[e.Line] = e.URL
	}
	// Line 5 (the 404 whose http row is line 6) is now accepted without
	// URL, line 14 (http row on line 15) loses its URL; line 2 keeps its
	// URL (its http row came first).
	want := map[int64]string{2: "http://cdn.example.test:8080/f.exe", 5: "", 9: "ftp://198.51.100.30/pub/a.bin", 12: "", 14: ""}
	if !maps.Equal(got, want) {
		t.Errorf("sightings by line %v, want %v", got, want)
	}
}

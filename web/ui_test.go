package web_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/filetrail/filetrail"
)

// item is what the tests read of one downloaded_files item.
type item struct {
	ID         string `json:"id"`
	Attributes struct {
		SHA256, SHA1, MD5 string
		MeaningfulName    string         `json:"meaningful_name"`
		Names             []string       `json:"names"`
		TypeDescription   string         `json:"type_description"`
		TypeTag           string         `json:"type_tag"`
		Size              *int64         `json:"size"`
		Stats             map[string]int `json:"last_analysis_stats"`
	} `json:"attributes"`
	Context struct {
		FirstSeen int64    `json:"first_seen"`
		LastSeen  int64    `json:"last_seen"`
		URLs      []string `json:"urls"`
		Sources   []string `json:"sources"`
	} `json:"context_attributes"`
}

func decodeItems(t *testing.T, raw []json.RawMessage) []item {
	t.Helper()
	out := make([]item, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func uiDate(sec int64) string { return time.Unix(sec, 0).UTC().Format("2006-01-02 15:04") }

// The detection ratio as VirusTotal shows it: malicious over the engines
// that gave a verdict.
func ratioText(st map[string]int) string {
	total := st["malicious"] + st["suspicious"] + st["undetected"] + st["harmless"]
	if total == 0 {
		return "—"
	}
	return fmt.Sprintf("%d/%d", st["malicious"], total)
}

// row is what the test reads of one table row of the IP page.
type row struct {
	ID, Name, Badge, Type, First, Last, Sources string
	URLs                                        []string
}

const readRows = `[...document.querySelectorAll('#files-rows tr')].map((tr) => {
  const t = (sel) => (tr.querySelector(sel) || {}).textContent || '';
  return {ID: tr.dataset.id, Name: t('.name'), Badge: t('.badge'), Type: t('.c-type'),
    First: t('.c-first'), Last: t('.c-last'), Sources: t('.c-sources'),
    URLs: [...tr.querySelectorAll('.c-urls code')].map((c) => c.textContent)};
})`

func wantRow(it item) row {
	a, c := it.Attributes, it.Context
	name := a.MeaningfulName
	if name == "" && len(a.Names) > 0 {
		name = a.Names[0]
	}
	if name == "" {
		name = "(no name)"
	}
	typ := a.TypeDescription
	if typ == "" {
		typ = a.TypeTag
	}
	if typ == "" {
		typ = "—"
	}
	src := strings.Join(c.Sources, ", ")
	if src == "" {
		src = "—"
	}
	return row{ID: it.ID, Name: name, Badge: ratioText(a.Stats), Type: typ, First: uiDate(c.FirstSeen), Last: uiDate(c.LastSeen), Sources: src, URLs: c.URLs}
}

// wantCSV is the CSV export of items, as documented in export.js.
func wantCSV(items []item) [][]string {
	formula := func(s string) string {
		if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
			return "'" + s
		}
		return s
	}
	num := func(n int, ok bool) string {
		if !ok {
			return ""
		}
		return strconv.Itoa(n)
	}
	iso := func(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }
	out := [][]string{{"id", "sha256", "sha1", "md5", "meaningful_name", "names", "type_description", "size",
		"malicious", "suspicious", "undetected", "harmless", "first_seen", "last_seen", "urls", "sources"}}
	for _, it := range items {
		a, c := it.Attributes, it.Context
		size := ""
		if a.Size != nil {
			size = strconv.FormatInt(*a.Size, 10)
		}
		stat := func(k string) string { v, ok := a.Stats[k]; return num(v, ok) }
		out = append(out, []string{it.ID, a.SHA256, a.SHA1, a.MD5, formula(a.MeaningfulName), formula(strings.Join(a.Names, " | ")),
			formula(a.TypeDescription), size, stat("malicious"), stat("suspicious"), stat("undetected"), stat("harmless"),
			iso(c.FirstSeen), iso(c.LastSeen), formula(strings.Join(c.URLs, " ")), formula(strings.Join(c.Sources, " "))})
	}
	return out
}

func TestBrowserIPPage(t *testing.T) {
	e := newEnv(t)
	tb := newTab(t, e)
	listPath := "/api/v3/ip_addresses/" + busyIP + "/downloaded_files"

	// Signed out, the application asks for a key.
	tb.open("/gui/")
	tb.wait(`document.querySelector('#signin-form')`)
	tb.shoot("sign-in", true, laptop, phone)
	tb.signIn(e.premium)
	tb.wait(`document.querySelector('.home')`)
	tb.shoot("home", true, laptop, phone)

	// A defanged IP with white space around it.
	tb.search("  198[.]51[.]100[.]23 \t")
	tb.wait(`document.querySelectorAll('#files-rows tr').length === 40`)
	if got := eval[string](tb, `location.pathname`); got != "/gui/ip-address/"+busyIP {
		t.Errorf("path %q after the search", got)
	}
	if got := tb.text("#file-count"); got != strconv.Itoa(busyCount) {
		t.Errorf("summary count %q, want %d", got, busyCount)
	}
	if got := tb.text("#summary-note"); !strings.Contains(got, "40 of 95 files loaded") {
		t.Errorf("summary note %q does not say it covers the 40 files loaded", got)
	}
	tb.shoot("ip-first-page", true, laptop, phone)

	// "Load more" until the end of the list.
	for i := 0; ; i++ {
		if eval[bool](tb, `document.getElementById('load-more').hidden`) {
			break
		}
		if i > 5 {
			t.Fatal("Load more still offered after 5 pages")
		}
		n := eval[int](tb, `document.querySelectorAll('#files-rows tr').length`)
		tb.run(chromedpClick(`#load-more`))
		tb.wait(fmt.Sprintf(`document.querySelectorAll('#files-rows tr').length > %d && !document.getElementById('load-more').disabled`, n))
	}
	if got := len(e.apiRequests(listPath)); got < 3 {
		t.Errorf("the table made %d list requests, want at least 3 pages", got)
	}
	raw := e.listing(t, listPath)
	items := decodeItems(t, raw)
	if len(items) != busyCount {
		t.Fatalf("the API lists %d files, want %d", len(items), busyCount)
	}
	rows := eval[[]row](tb, readRows)
	if len(rows) != len(items) {
		t.Fatalf("table has %d rows, the API %d items", len(rows), len(items))
	}
	for i, it := range items {
		if want := wantRow(it); !reflect.DeepEqual(rows[i], want) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, rows[i], want)
		}
	}

	// The summary and the timeline now cover the whole list.
	first, last := items[0].Context.FirstSeen, items[0].Context.LastSeen
	for _, it := range items {
		first, last = min(first, it.Context.FirstSeen), max(last, it.Context.LastSeen)
	}
	summary := tb.text("#ip-summary")
	for _, want := range []string{"First download seen" + uiDate(first), "Last download seen" + uiDate(last), "Sourcesproxy, suricata, zeek"} {
		if !strings.Contains(strings.ReplaceAll(summary, " ", ""), strings.ReplaceAll(want, " ", "")) {
			t.Errorf("summary %q lacks %q", summary, want)
		}
	}
	if got := tb.text("#summary-note"); !strings.Contains(got, "from all 95 files") {
		t.Errorf("summary note %q", got)
	}
	bars := eval[[]string](tb, `[...document.querySelectorAll('#timeline .bar title')].map((t) => t.textContent)`)
	total := 0
	for _, b := range bars {
		var label string
		var n int
		if _, err := fmt.Sscanf(strings.Replace(b, ": ", " ", 1), "%s %d", &label, &n); err != nil {
			t.Fatalf("bar title %q: %v", b, err)
		}
		total += n
	}
	if len(bars) < 12 || total != busyCount {
		t.Errorf("timeline: %d bars holding %d files, want >= 12 monthly bars holding %d", len(bars), total, busyCount)
	}
	tb.run(chromedpScrollTop())
	tb.shoot("ip-all-loaded", true, laptop)

	// Exports follow the cursor from the start, whatever is loaded.
	next := tb.downloads()
	tb.run(chromedpClick(`#export-ndjson`))
	name, nd := next()
	if name != "filetrail-"+busyIP+"-downloaded_files.ndjson" {
		t.Errorf("NDJSON file name %q", name)
	}
	lines := strings.Split(strings.TrimSuffix(string(nd), "\n"), "\n")
	if len(lines) != len(raw) {
		t.Fatalf("NDJSON export has %d lines, the API %d items", len(lines), len(raw))
	}
	for i := range raw {
		var got, want any
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatalf("NDJSON line %d: %v", i+1, err)
		}
		if err := json.Unmarshal(raw[i], &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("NDJSON line %d differs from API item %d:\n got %s\nwant %s", i+1, i, lines[i], raw[i])
		}
	}
	tb.run(chromedpClick(`#export-csv`))
	name, csvData := next()
	if name != "filetrail-"+busyIP+"-downloaded_files.csv" {
		t.Errorf("CSV file name %q", name)
	}
	records, err := csv.NewReader(bytes.NewReader(csvData)).ReadAll()
	if err != nil {
		t.Fatalf("CSV export: %v", err)
	}
	if want := wantCSV(items); !reflect.DeepEqual(records, want) {
		for i := range max(len(records), len(want)) {
			if i >= len(records) || i >= len(want) || !slices.Equal(records[i], want[i]) {
				t.Fatalf("CSV export: %d records, want %d; first difference at record %d:\n got %q\nwant %q", len(records), len(want), i, at(records, i), at(want, i))
			}
		}
	}
	if !bytes.Contains(csvData, []byte(`"'=cmd|' /C calc'!A0.xls, ""quoted""`)) {
		t.Errorf("CSV export does not neutralise and quote the formula-like name")
	}
	if got := tb.text("#export-status"); got != "Exported 95 files as CSV." {
		t.Errorf("export status %q", got)
	}
}

func at(rs [][]string, i int) []string {
	if i < len(rs) {
		return rs[i]
	}
	return nil
}

func TestBrowserFilePage(t *testing.T) {
	e := newEnv(t)
	tb := newTab(t, e)
	var rep struct {
		MD5            string `json:"md5"`
		MeaningfulName string `json:"meaningful_name"`
		PE             struct {
			Sections []struct {
				Name    string  `json:"name"`
				Entropy float64 `json:"entropy"`
			} `json:"sections"`
			Imports []struct {
				Library string `json:"library_name"`
			} `json:"import_list"`
			Resources []json.RawMessage `json:"resource_details"`
		} `json:"pe_info"`
		Signature map[string]any            `json:"signature_info"`
		Results   map[string]map[string]any `json:"last_analysis_results"`
	}
	if err := json.Unmarshal(e.reports[peFile], &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.PE.Sections) == 0 || len(rep.PE.Resources) == 0 || len(rep.Signature) == 0 {
		t.Fatal("the PE report lacks sections, resources or signature_info")
	}

	tb.signIn(e.premium)
	tb.wait(`document.querySelector('.home')`)
	tb.search(" " + strings.ToUpper(rep.MD5) + "\n")
	tb.wait(`document.querySelectorAll('#pe-sections tbody tr').length > 0 && document.querySelector('#itw-rows tr')`)
	if got := eval[string](tb, `location.pathname`); got != "/gui/file/"+rep.MD5 {
		t.Errorf("path %q", got)
	}
	if got := tb.text("h1 .ident"); got != rep.MeaningfulName {
		t.Errorf("heading %q, want %q", got, rep.MeaningfulName)
	}
	summary := tb.text("#summary")
	for _, want := range []string{peFile, rep.MD5} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %s", want)
		}
	}

	type section struct {
		Name, Entropy string
		Width         string
	}
	secs := eval[[]section](tb, `[...document.querySelectorAll('#pe-sections tbody tr')].map((tr) => ({
  Name: tr.cells[0].textContent, Entropy: tr.querySelector('.entropy .value').textContent,
  Width: tr.querySelector('.entropy .bar').style.width}))`)
	if len(secs) != len(rep.PE.Sections) {
		t.Fatalf("%d section rows, the report has %d sections", len(secs), len(rep.PE.Sections))
	}
	for i, s := range rep.PE.Sections {
		if secs[i].Name != s.Name || secs[i].Entropy != strconv.FormatFloat(s.Entropy, 'f', 2, 64) {
			t.Errorf("section %d: got %+v, want name %s, entropy %.2f", i, secs[i], s.Name, s.Entropy)
		}
		// The bar is entropy/8 of its track (set through the CSSOM, which
		// the CSP allows).
		w, err := strconv.ParseFloat(strings.TrimSuffix(secs[i].Width, "%"), 64)
		if err != nil || math.Abs(w-s.Entropy/8*100) > 0.06 {
			t.Errorf("section %s: entropy bar width %q, want %.1f%%", s.Name, secs[i].Width, s.Entropy/8*100)
		}
	}
	if got := eval[int](tb, `document.querySelectorAll('#pe-imports details').length`); got != len(rep.PE.Imports) {
		t.Errorf("%d import libraries shown, want %d", got, len(rep.PE.Imports))
	}
	if got := eval[int](tb, `document.querySelectorAll('#pe-resources tbody tr').length`); got != len(rep.PE.Resources) {
		t.Errorf("%d resources shown, want %d", got, len(rep.PE.Resources))
	}
	if got := tb.text("#signature-info"); !strings.Contains(got, fmt.Sprint(rep.Signature["original name"])) {
		t.Errorf("signature info %q lacks the original name", got)
	}
	if got := eval[int](tb, `document.querySelectorAll('#detections-table tbody tr').length`); got != len(rep.Results) {
		t.Errorf("%d detection rows, the report has %d engines", got, len(rep.Results))
	}
	// The engines that flagged the file first; the others on demand.
	flagged := 0
	for _, r := range rep.Results {
		if c := r["category"]; c == "malicious" || c == "suspicious" {
			flagged++
		}
	}
	visible := `document.querySelectorAll('#detections-table tbody tr:not([hidden])').length`
	if got := eval[int](tb, visible); got != flagged || flagged == 0 {
		t.Errorf("%d detection rows shown, want the %d engines that flagged the file", got, flagged)
	}
	tb.run(chromedpClick(`#detections-toggle`))
	if got := eval[int](tb, visible); got != len(rep.Results) {
		t.Errorf("%d detection rows shown after the toggle, want all %d", got, len(rep.Results))
	}

	// The IPs it was downloaded from, in the API's order.
	var itw []string
	for _, r := range e.listing(t, "/api/v3/files/"+peFile+"/relationships/itw_ips") {
		var d struct{ ID string }
		if err := json.Unmarshal(r, &d); err != nil {
			t.Fatal(err)
		}
		itw = append(itw, d.ID)
	}
	got := eval[[]string](tb, `[...document.querySelectorAll('#itw-rows tr')].map((tr) => tr.dataset.id)`)
	if !slices.Equal(got, itw) || len(itw) != 2 {
		t.Errorf("downloaded from %v, the API says %v (want 2 IPs)", got, itw)
	}
	tb.shoot("file-pe", true, laptop, phone)

	// Pivot to an IP and come back with the browser's history.
	tb.run(chromedpClick(`#itw-rows a[href="/gui/ip-address/` + otherIP + `"]`))
	tb.wait(`document.querySelectorAll('#files-rows tr').length === 2`)
	tb.shoot("ip-v6", false, laptop)
	tb.run(chromedpBack())
	tb.wait(`document.querySelector('#pe-sections')`)
}

func TestBrowserErrorStates(t *testing.T) {
	e := newEnv(t)

	t.Run("no key", func(t *testing.T) {
		tb := newTab(t, e)
		before := len(e.apiRequests("/api/v3/ip_addresses/" + busyIP))
		tb.open("/gui/ip-address/" + busyIP)
		tb.wait(`document.querySelector('#signin-form')`)
		if got := len(e.apiRequests("/api/v3/ip_addresses/" + busyIP)); got != before {
			t.Errorf("the page called the API without a key")
		}
		tb.run(chromedpClick(`#signin-form button[type=submit]`))
		if got := tb.waitState("no-key"); !strings.Contains(got, "No API key") {
			t.Errorf("no-key state: %q", got)
		}
		tb.shoot("state-no-key", true, laptop, phone)
	})

	t.Run("wrong key", func(t *testing.T) {
		tb := newTab(t, e)
		tb.signIn(filetrail.NewSecret())
		if got := tb.waitState("wrong-key"); !strings.Contains(got, "WrongCredentialsError") {
			t.Errorf("wrong-key state: %q", got)
		}
		tb.shoot("state-wrong-key", false, laptop)
		// A key that stops working during the session (revoked, or a
		// stale one in the tab) sends the analyst back to the form.
		tb.run(chromedpEval(`sessionStorage.setItem('filetrail.apikey', '` + filetrail.NewSecret() + `')`))
		tb.open("/gui/ip-address/" + busyIP)
		tb.waitState("wrong-key")
		tb.wait(`document.querySelector('#signin-form')`)
	})

	t.Run("public key on premium view", func(t *testing.T) {
		tb := newTab(t, e)
		tb.signIn(e.public)
		tb.wait(`document.querySelector('.home')`)
		tb.search(busyIP)
		got := tb.waitState("forbidden")
		for _, want := range []string{"premium", "ForbiddenError", "files downloaded from an IP address"} {
			if !strings.Contains(got, want) {
				t.Errorf("forbidden state %q lacks %q", got, want)
			}
		}
		if !strings.Contains(tb.text("#ip-summary"), "Latest evidence") {
			t.Errorf("the IP's own data (any key may read it) is not shown")
		}
		tb.shoot("state-forbidden-ip", true, laptop, phone)
		// The file report is public; its download IPs are premium.
		tb.search(peFile)
		tb.wait(`document.querySelector('#pe-sections') && document.querySelector('#itw [data-state="forbidden"]')`)
	})

	t.Run("not found", func(t *testing.T) {
		tb := newTab(t, e)
		tb.signIn(e.premium)
		tb.wait(`document.querySelector('.home')`)
		unknown := strings.Repeat("ab", 32)
		tb.search(unknown)
		if got := tb.waitState("not-found"); !strings.Contains(got, unknown) {
			t.Errorf("not-found state %q does not name the hash", got)
		}
		tb.shoot("state-not-found", false, laptop)
		// An IP nobody saw is not an error (the API answers count 0).
		tb.search("192.0.2.200")
		tb.wait(`document.getElementById('files-status') && document.getElementById('files-status').textContent.includes('No file is known')`)
		if got := tb.text("#file-count"); got != "0" {
			t.Errorf("unknown IP: count %q, want 0", got)
		}
		tb.search("not-an-ip-or-hash")
		tb.wait(`document.querySelector('.state-invalid')`)
	})

	t.Run("quota exceeded", func(t *testing.T) {
		tb := newTab(t, e)
		tb.signIn(e.limited) // uses the key's only request of the minute
		tb.wait(`document.querySelector('.home')`)
		tb.search(busyIP)
		got := tb.waitState("quota")
		if !strings.Contains(got, "QuotaExceededError") || !strings.Contains(tb.text(".retry-after"), "Retry after 30 s (at ") {
			t.Errorf("quota state %q does not give the retry time of 30 s", got)
		}
		if eval[int](tb, `document.querySelectorAll('[data-state="quota"] button.retry').length`) != 1 {
			t.Errorf("no retry button")
		}
		tb.shoot("state-quota", true, laptop, phone)
	})

	t.Run("server unreachable", func(t *testing.T) {
		e2 := newEnv(t)
		tb := newTab(t, e2)
		tb.signIn(e2.premium)
		tb.wait(`document.querySelector('.home')`)
		e2.srv.Close()
		tb.search(busyIP)
		if got := tb.waitState("unreachable"); !strings.Contains(got, "did not answer") {
			t.Errorf("unreachable state %q", got)
		}
		tb.shoot("state-unreachable", false, laptop, phone)
	})
}

// The search box accepts what analysts paste: white space, defanged
// addresses, URLs, upper-case hashes; it refuses what is neither an IP
// nor a hash.
func TestBrowserSearchParsing(t *testing.T) {
	e := newEnv(t)
	tb := newTab(t, e)
	tb.open("/gui/")
	tb.wait(`document.querySelector('#signin-form')`)
	cases := []struct{ in, kind, value string }{
		{"  1[.]2[.]3[.]4 ", "ip", "1.2.3.4"},
		{"1(.)2(.)3(.)4", "ip", "1.2.3.4"},
		{"198.51.100[.]23", "ip", "198.51.100.23"},
		{"hxxp://198[.]51[.]100[.]23/path/x.exe", "ip", "198.51.100.23"},
		{"hxxps[:]//198.51.100.23:8080/a?b=c", "ip", "198.51.100.23"},
		{"198.51.100.23:80", "ip", "198.51.100.23"},
		{"2001:DB8:0:0::1", "ip", "2001:db8::1"},
		{"[2001:db8::1]", "ip", "2001:db8::1"},
		{"2001[:]db8[:][:]1", "ip", "2001:db8::1"},
		{"::ffff:192.0.2.1", "ip", "192.0.2.1"},
		{"\t44D88612FEA8A8F36DE82E1278ABB02F\n", "hash", "44d88612fea8a8f36de82e1278abb02f"},
		{"3395856ce81f2b7382dee72602f798b642f14140", "hash", "3395856ce81f2b7382dee72602f798b642f14140"},
		{peFile, "hash", peFile},
		{"", "empty", ""},
		{"1.2.3", "invalid", "1.2.3"},
		{"256.1.1.1", "invalid", "256.1.1.1"},
		{"01.2.3.4", "invalid", "01.2.3.4"},
		{"12345", "invalid", "12345"},
		{peFile[:63], "invalid", peFile[:63]},
		{"example.com", "invalid", "example.com"},
		{"2001:db8::1::2", "invalid", "2001:db8::1::2"},
	}
	ins := make([]string, len(cases))
	for i, c := range cases {
		ins[i] = c.in
	}
	js, err := json.Marshal(ins)
	if err != nil {
		t.Fatal(err)
	}
	type parsed struct{ Kind, Value string }
	v, err := chromedpRun[[]parsed](tb, `import('/gui/assets/query.js').then((m) => `+string(js)+`.map((s) => { const q = m.parseQuery(s); return {Kind: q.kind, Value: q.value}; }))`)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if v[i] != (parsed{c.kind, c.value}) {
			t.Errorf("parseQuery(%q) = %+v, want %s %q", c.in, v[i], c.kind, c.value)
		}
	}
}

// Keyboard only: sign in, search, reach a file of the table and open it.
func TestBrowserKeyboard(t *testing.T) {
	e := newEnv(t)
	tb := newTab(t, e)
	tb.open("/gui/")
	tb.wait(`document.activeElement && document.activeElement.id === 'apikey'`)
	tb.run(chromedp.KeyEvent(e.premium + "\r"))
	tb.wait(`document.querySelector('.home') && document.activeElement.id === 'q'`)
	tb.run(chromedp.KeyEvent(busyIP + "\r"))
	tb.wait(`document.querySelectorAll('#files-rows tr').length === 40`)
	first := eval[string](tb, `document.querySelector('#files-rows a').getAttribute('href')`)
	reached := false
	for range 30 {
		tb.run(chromedp.KeyEvent("\t"))
		if eval[bool](tb, `document.activeElement === document.querySelector('#files-rows a')`) {
			reached = true
			break
		}
	}
	if !reached {
		t.Fatal("30 presses of Tab did not reach the first file of the table")
	}
	tb.run(chromedp.KeyEvent("\r"))
	tb.wait(fmt.Sprintf(`location.pathname === %q && document.querySelector('#file-hashes')`, first))
}

package main

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/ingest"
)

// Demo data, relative to --data: real sensor logs and real VT file reports
// (see testdata/SOURCES.md), read by the same readers as `filetrail ingest`.
const demoReports = "vt-file-objects"

// demoZeekLogs are the logs of one Zeek sensor, read together so that
// files.log rows join their http.log rows (conn.log rows are ignored).
var demoZeekLogs = []string{"zeek/zat-tsv-2013/files.log", "zeek/zat-tsv-2013/http.log", "zeek/zat-tsv-2013/conn.log"}

// demoSuricataLogs are the real Suricata EVE logs; the hand-written EVE
// fixture (made-up addresses and hashes, a deliberately bad line) is not
// demo data.
var demoSuricataLogs = []string{"suricata/ctu13-eve-excerpt.json", "suricata/slips-honeypot-2021-fileinfo-http-subset.json"}

// Examples the demo prints. The demo test checks that they answer.
const (
	// demoIP is the exploit-kit server of the Zeek capture.
	demoIP = "108.59.9.32"
	// demoFile is one of the sample VT reports.
	demoFile = "417c06700c3e899f0554654102fa064385bf1d3ecec32471ac488096d81bf38c"
	// demoMD5 is a file known only by md5 and sha1 (a Zeek files.log row
	// of demoIP).
	demoMD5 = "f41826e027bdc0d357a60a56dcdf50c8"
)

type demoCmd struct {
	Addr            string        `help:"Address to listen on (HOST:PORT)." default:"127.0.0.1:8080" env:"FILETRAIL_ADDR"`
	Store           string        `help:"SQLite file for the demo; it is DELETED and recreated on every run." default:"filetrail-demo.db" env:"FILETRAIL_DEMO_STORE"`
	Data            string        `help:"Directory holding the sample data (zeek/zat-tsv-2013/, suricata/, vt-file-objects/)." default:"testdata" env:"FILETRAIL_DEMO_DATA"`
	PublicURL       string        `help:"Scheme and host clients reach the server at; default: http:// and the listening address." env:"FILETRAIL_PUBLIC_URL"`
	ShutdownTimeout time.Duration `help:"How long a shutdown waits for in-flight requests." default:"30s" env:"FILETRAIL_SHUTDOWN_TIMEOUT"`
}

func (c *demoCmd) Run(a *app) error {
	inputs, err := demoInputs(c.Data)
	if err != nil {
		return err
	}
	kind, path := parseDSN(c.Store)
	if kind != "sqlite" {
		return fmt.Errorf("the demo store must be a SQLite file, not %q", c.Store)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("recreating the demo store: %w", err)
		}
	}
	st, err := openStore(a.ctx, "sqlite:"+path)
	if err != nil {
		return err
	}
	defer st.Close()

	sum, err := loadDemoData(a, st, inputs)
	if err != nil {
		return err
	}
	premium, _, err := createKey(a, st, "demo-premium", true, false, filetrail.Quota{})
	if err != nil {
		return err
	}
	public, _, err := createKey(a, st, "demo-public", false, false, filetrail.PublicTierQuota)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	base := strings.TrimRight(c.PublicURL, "/")
	if base == "" {
		base = "http://" + reachableAddr(ln.Addr())
	}
	if err := demoText.Execute(a.stdout, map[string]any{
		"Base": base, "Store": path, "Premium": premium, "Public": public,
		"IP": demoIP, "File": demoFile, "MD5": demoMD5,
		"Sightings": sum.Sightings, "Skipped": sum.Skipped, "SkippedWhy": skipReasons(sum),
		"Edges": sum.NewEdges, "Files": sum.NewFiles, "Reports": sum.FileFacts,
	}); err != nil {
		ln.Close()
		return err
	}
	return serveHTTP(a, ln, st, c.PublicURL, c.ShutdownTimeout)
}

// demoData is the demo's input files: the Zeek logs, read together, and
// the other inputs (Suricata logs, VT reports), each read by itself.
type demoData struct {
	zeek, others []string
}

// demoInputs lists the demo's input files under dir: the sample sensor
// logs and every VT report named by its sha256.
func demoInputs(dir string) (demoData, error) {
	var d demoData
	for _, name := range demoZeekLogs {
		d.zeek = append(d.zeek, filepath.Join(dir, name))
	}
	for _, name := range demoSuricataLogs {
		d.others = append(d.others, filepath.Join(dir, name))
	}
	for _, in := range append(slices.Clone(d.zeek), d.others...) {
		if _, err := os.Stat(in); err != nil {
			return demoData{}, fmt.Errorf("demo data not found (run the demo from the repository root, or point --data at its testdata directory): %w", err)
		}
	}
	reports, err := filepath.Glob(filepath.Join(dir, demoReports, "*.json"))
	if err != nil {
		return demoData{}, err
	}
	n := 0
	for _, r := range reports { // Glob sorts them
		if filetrail.HashKindOf(strings.TrimSuffix(filepath.Base(r), ".json")) == filetrail.HashSHA256 {
			d.others = append(d.others, r)
			n++
		}
	}
	if n == 0 {
		return demoData{}, fmt.Errorf("no VT reports in %s", filepath.Join(dir, demoReports))
	}
	return d, nil
}

// loadDemoData ingests the demo inputs with the readers of their formats.
// Skipped records (uploads, error answers, partial files: not downloads)
// are expected; the bundled data has no bad record, so any reject is an
// error.
func loadDemoData(a *app, st store, d demoData) (ingest.Summary, error) {
	w := ingest.NewWriter(st, ingest.WriterOptions{})
	var zeek []ingest.Input
	for _, name := range d.zeek {
		f, err := os.Open(name)
		if err != nil {
			return ingest.Summary{}, err
		}
		defer f.Close()
		zeek = append(zeek, ingest.Input{Name: name, R: f})
	}
	if err := ingest.RunZeek(a.ctx, w, zeek, ingest.ReaderOptions{}); err != nil {
		return ingest.Summary{}, err
	}
	for _, name := range d.others {
		f, err := os.Open(name)
		if err != nil {
			return ingest.Summary{}, err
		}
		err = ingest.Run(a.ctx, w, ingest.Input{Name: name, R: f}, ingest.AutoFormat, ingest.ReaderOptions{})
		f.Close()
		if err != nil {
			return ingest.Summary{}, err
		}
	}
	if err := w.Flush(a.ctx); err != nil {
		return ingest.Summary{}, err
	}
	sum := w.Summary()
	if sum.Rejected > 0 {
		_ = sum.WriteText(a.stderr)
		return sum, fmt.Errorf("the demo data has %d bad records", sum.Rejected)
	}
	a.log.Info("demo data loaded", "sightings", sum.Sightings, "skipped", sum.Skipped, "file_facts", sum.FileFacts, "edges", sum.NewEdges, "files", sum.NewFiles)
	return sum, nil
}

// skipReasons lists sum's skipped records by reason, most frequent first
// ("8 partial file, 7 error response"), or "" when none was skipped.
func skipReasons(sum ingest.Summary) string {
	reasons := slices.Collect(maps.Keys(sum.SkippedByReason))
	slices.SortFunc(reasons, func(a, b string) int {
		return cmp.Or(cmp.Compare(sum.SkippedByReason[b], sum.SkippedByReason[a]), cmp.Compare(a, b))
	})
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%d %s", sum.SkippedByReason[r], r)
	}
	return strings.Join(parts, ", ")
}

// reachableAddr is addr as a client on this machine can dial it: an
// unspecified host (":8080", "[::]:8080") becomes the loopback address.
func reachableAddr(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

var demoText = template.Must(template.New("demo").Parse(`filetrail demo
==============

Loaded real Zeek and Suricata logs and {{.Reports}} VirusTotal file reports into
{{.Store}}: {{.Sightings}} download sightings, {{.Edges}} IP-file edges, {{.Files}} files.
{{- if .Skipped}}
Skipped {{.Skipped}} logged file transfers that are not downloads from a server
({{.SkippedWhy}}).{{end}}

API keys (new on every run):
  premium (downloaded_files, itw_ips; no quota): {{.Premium}}
  public tier (4/min, 500/day, 15500/month):     {{.Public}}

Web interface for analysts: {{.Base}}/gui/ (sign in with one of the keys;
try {{.Base}}/gui/ip-address/{{.IP}}).

Try it:

  PREMIUM={{.Premium}}
  PUBLIC={{.Public}}

  # Files downloaded from an IP (premium):
  curl -s -H "x-apikey: $PREMIUM" '{{.Base}}/api/v3/ip_addresses/{{.IP}}/downloaded_files?limit=10'

  # A file report, by sha256, sha1 or md5 (any key):
  curl -s -H "x-apikey: $PUBLIC" {{.Base}}/api/v3/files/{{.File}}

  # The IPs a file was downloaded from (premium):
  curl -s -H "x-apikey: $PREMIUM" {{.Base}}/api/v3/files/{{.MD5}}/itw_ips

With the official Go client (github.com/VirusTotal/vt-go):

  package main

  import (
  	"fmt"
  	"log"

  	vt "github.com/VirusTotal/vt-go"
  )

  func main() {
  	vt.SetHost("{{.Base}}") // before building any vt.URL
  	client := vt.NewClient("{{.Premium}}")
  	it, err := client.Iterator(vt.URL("ip_addresses/%s/downloaded_files", "{{.IP}}"))
  	if err != nil {
  		log.Fatal(err)
  	}
  	defer it.Close()
  	for it.Next() {
  		f := it.Get()
  		name, _ := f.GetString("meaningful_name")
  		first, _ := f.GetContextInt64("first_seen")
  		fmt.Println(f.ID(), name, first)
  	}
  	if err := it.Error(); err != nil {
  		log.Fatal(err)
  	}
  }

Serving on {{.Base}} (Ctrl-C to stop).
`))

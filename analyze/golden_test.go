package analyze_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/filetrail/filetrail/analyze"
)

// agreement counts, per attribute and reference tool, how many corpus
// files agree with the tool and which differ.
type agreement struct {
	mu    sync.Mutex
	cells map[[2]string]*cell
}

type cell struct {
	match  int
	differ []string
}

func (a *agreement) record(attr, tool, file string, ok bool, detail string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cells == nil {
		a.cells = map[[2]string]*cell{}
	}
	k := [2]string{attr, tool}
	c := a.cells[k]
	if c == nil {
		c = &cell{}
		a.cells[k] = c
	}
	if ok {
		c.match++
	} else {
		c.differ = append(c.differ, file+": "+detail)
	}
}

// table renders the agreement table in Markdown.
func (a *agreement) table() string {
	var keys [][2]string
	for k := range a.cells {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][1] != keys[j][1] {
			return keys[i][1] < keys[j][1]
		}
		return keys[i][0] < keys[j][0]
	})
	var b strings.Builder
	b.WriteString("| attribute | reference tool | matches | differs |\n|---|---|---|---|\n")
	for _, k := range keys {
		c := a.cells[k]
		fmt.Fprintf(&b, "| %s | %s | %d | %d |\n", k[0], k[1], c.match, len(c.differ))
	}
	return b.String()
}

// knownDifferences are documented disagreements (docs/ANALYSIS.md):
// attribute/tool -> file label -> reason. Any other difference fails.
var knownDifferences = map[string]map[string]string{}

func attrsOf(t *testing.T, path string) analyze.Attributes {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := analyze.Analyze(data)
	for _, f := range r.Failures {
		t.Logf("%s: pass %s failed: %s", path, f.Step, f.Err)
	}
	return r.Attributes
}

func toolOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out) + string(ee.Stderr)
		}
		t.Fatalf("%s: %v", name, err)
	}
	return string(out)
}

// jsonScalar renders a JSON scalar as text (strings unquoted, numbers as
// written).
func jsonScalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func TestGoldenAgainstReferenceTools(t *testing.T) {
	files := corpus(t)
	ssdeepBin := needTool(t, "ssdeep")
	tlshBin := needTool(t, "tlsh")
	fileBin := needTool(t, "file")
	exiftoolBin := needTool(t, "exiftool")
	osslBin := needTool(t, "osslsigncode")
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		needTool(t, "python3-pefile's /usr/bin/python3")
	}
	if err := exec.Command(python, "-c", "import pefile").Run(); err != nil {
		needTool(t, "python3-pefile")
	}

	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	pj, err := exec.Command(python, "testdata/pefile_dump.py").Output()
	_ = pj
	args := append([]string{"testdata/pefile_dump.py"}, paths...)
	pj, err = exec.Command(python, args...).Output()
	if err != nil {
		t.Fatalf("pefile: %v", err)
	}
	var pefileOut map[string]map[string]json.RawMessage
	if err := json.Unmarshal(pj, &pefileOut); err != nil {
		t.Fatal(err)
	}

	// exiftool once over every file (it is slow to start).
	var exifList []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(toolOutput(t, exiftoolBin, append([]string{"-j", "-q"}, paths...)...)), &exifList); err != nil {
		t.Fatalf("exiftool: %v", err)
	}
	exif := map[string]map[string]json.RawMessage{}
	for _, e := range exifList {
		exif[jsonScalar(e["SourceFile"])] = e
	}

	var ag agreement
	check := func(attr, tool string, f corpusFile, ours, theirs string) {
		ok := ours == theirs
		if !ok {
			if reason, known := knownDifferences[attr+"/"+tool][f.Name]; known {
				t.Logf("known difference %s/%s on %s: %s", attr, tool, f.Name, reason)
			} else {
				t.Errorf("%s: %s differs from %s: ours %q, %s %q", f.Name, attr, tool, ours, tool, theirs)
			}
		}
		ag.record(attr, tool, f.Name, ok, fmt.Sprintf("ours %q theirs %q", ours, theirs))
	}

	for _, f := range files {
		a := attrsOf(t, f.Path)
		// ssdeep
		out := toolOutput(t, ssdeepBin, "-b", f.Path)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		want := ""
		if len(lines) == 2 {
			want, _, _ = strings.Cut(lines[1], ",")
		}
		check("ssdeep", "ssdeep", f, str(a["ssdeep"]), want)
		// tlsh (the CLI prints the digest without the T1 prefix)
		out = toolOutput(t, tlshBin, "-f", f.Path)
		want = ""
		if d, _, ok := strings.Cut(out, "\t"); ok && !strings.Contains(d, " ") {
			want = "T1" + strings.ToUpper(d)
		}
		check("tlsh", "tlsh", f, str(a["tlsh"]), want)
		// magic: file -b, with the PE ", N sections" suffix VT lacks removed
		desc := strings.TrimSpace(toolOutput(t, fileBin, "-b", f.Path))
		if a["type_tag"] == "peexe" || a["type_tag"] == "pedll" {
			desc = regexp.MustCompile(`, \d+ sections$`).ReplaceAllString(desc, "")
		}
		check("magic", "file", f, str(a["magic"]), desc)

		pf, isPE := pefileOut[f.Path]
		if _, bad := pf["error"]; bad || a["pe_info"] == nil {
			isPE = false
		}
		if !isPE {
			continue
		}
		pi := a["pe_info"].(analyze.Attributes)
		for _, k := range []string{"imphash", "entry_point", "machine_type", "timestamp", "rich_pe_header_hash"} {
			check(k, "pefile", f, str(pi[k]), jsonScalar(pf[k]))
		}
		var psecs []map[string]json.RawMessage
		json.Unmarshal(pf["sections"], &psecs)
		osecs, _ := pi["sections"].([]analyze.Attributes)
		check("sections (count)", "pefile", f, fmt.Sprint(len(osecs)), fmt.Sprint(len(psecs)))
		for i := 0; i < len(psecs) && i < len(osecs); i++ {
			for _, k := range []string{"name", "md5", "raw_size", "virtual_address", "virtual_size"} {
				check("sections."+k, "pefile", f, str(osecs[i][k]), jsonScalar(psecs[i][k]))
			}
			// Both round to 2 decimals; Python rounds halves to even.
			var pe float64
			json.Unmarshal(psecs[i]["entropy"], &pe)
			oe := osecs[i]["entropy"].(float64)
			ok := math.Abs(oe-pe) <= 0.01+1e-9
			ag.record("sections.entropy", "pefile", f.Name, ok, fmt.Sprintf("ours %v theirs %v", oe, pe))
			if !ok {
				t.Errorf("%s: section %d entropy ours %v pefile %v", f.Name, i, oe, pe)
			}
		}
		var poff int64
		json.Unmarshal(pf["overlay_offset"], &poff)
		ooff := int64(-1)
		if ov, ok := pi["overlay"].(analyze.Attributes); ok {
			ooff = ov["offset"].(int64)
		}
		check("overlay.offset", "pefile", f, fmt.Sprint(ooff), fmt.Sprint(poff))
		var pres []map[string]string
		json.Unmarshal(pf["resources"], &pres)
		ores, _ := pi["resource_details"].([]analyze.Attributes)
		check("resource_details (count)", "pefile", f, fmt.Sprint(len(ores)), fmt.Sprint(len(pres)))
		for i := 0; i < len(pres) && i < len(ores); i++ {
			check("resource_details.sha256", "pefile", f, str(ores[i]["sha256"]), pres[i]["sha256"])
			check("resource_details.type", "pefile", f, str(ores[i]["type"]), pres[i]["type"])
		}
		var pexp []string
		json.Unmarshal(pf["exports"], &pexp)
		oexp, _ := pi["exports"].([]string)
		check("exports", "pefile", f, strings.Join(oexp, ","), strings.Join(pexp, ","))
		var pvs map[string]string
		json.Unmarshal(pf["version_strings"], &pvs)
		ex, _ := a["exiftool"].(analyze.Attributes)
		for k, v := range pvs {
			if k == "OriginalFilename" { // ExifTool's tag name
				k = "OriginalFileName"
			}
			check("version strings", "pefile", f, str(ex[k]), v)
		}

		// exiftool: every field we emit, as exiftool prints it
		ej, ok := exif[f.Path]
		if !ok {
			t.Fatalf("exiftool printed nothing for %s", f.Path)
		}
		for k, v := range ex {
			raw, ok := ej[k]
			theirs := ""
			if ok {
				var s string
				if json.Unmarshal(raw, &s) != nil {
					s = string(raw) // numbers as exiftool printed them
				}
				theirs = s
			}
			check("exiftool."+k, "exiftool", f, str(v), theirs)
		}

		// authentihash: osslsigncode's calculated digest of signed files
		if f.Signed {
			out := toolOutput(t, osslBin, "verify", "-in", f.Path)
			m := regexp.MustCompile(`Calculated message digest\s*:\s*([0-9A-Fa-f]+)`).FindStringSubmatch(out)
			theirs := ""
			if m != nil {
				theirs = strings.ToLower(m[1])
			}
			check("authentihash", "osslsigncode", f, str(a["authentihash"]), theirs)
			si, _ := a["signature_info"].(analyze.Attributes)
			check("signature_info.digest_matches", "osslsigncode", f, str(si["digest_matches"]), "true")
		}
	}
	tbl := ag.table()
	t.Logf("corpus: %d files\n%s", len(files), tbl)
	appendAgreement(t, fmt.Sprintf("Corpus: %d files.\n\n%s", len(files), tbl))
}

// appendAgreement appends a table to the file FILETRAIL_AGREEMENT_OUT
// names, when set (how docs/ANALYSIS.md's tables are produced).
func appendAgreement(t *testing.T, text string) {
	p := os.Getenv("FILETRAIL_AGREEMENT_OUT")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text + "\n"); err != nil {
		t.Fatal(err)
	}
}

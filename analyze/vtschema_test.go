package analyze_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/filetrail/filetrail/analyze"
)

// kind is the JSON kind of a value: "string", "number", "bool", "object",
// "array", "null".
func kind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "bool"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "null"
}

// shapeCheck reports every path where ours has a key VirusTotal's object
// also has, with another JSON kind; and, inside arrays of objects, keys of
// ours VT's elements never have (a misspelt name).
func shapeCheck(t *testing.T, path string, ours, vt any) {
	t.Helper()
	if kind(ours) != kind(vt) {
		t.Errorf("%s: ours is %s, VirusTotal's is %s", path, kind(ours), kind(vt))
		return
	}
	switch o := ours.(type) {
	case map[string]any:
		v := vt.(map[string]any)
		for k, ov := range o {
			if vv, ok := v[k]; ok {
				shapeCheck(t, path+"."+k, ov, vv)
			}
		}
	case []any:
		v := vt.([]any)
		if len(o) == 0 || len(v) == 0 {
			return
		}
		if vm, ok := v[0].(map[string]any); ok {
			for _, el := range o {
				om, ok := el.(map[string]any)
				if !ok {
					t.Errorf("%s[]: ours is %s, VirusTotal's is object", path, kind(el))
					continue
				}
				for k := range om {
					if _, known := vm[k]; !known {
						t.Errorf("%s[].%s: VirusTotal's elements have no such key (have %v)", path, k, keys(vm))
					}
				}
				shapeCheck(t, path+"[]", om, vm)
			}
			return
		}
		for _, el := range o {
			shapeCheck(t, path+"[]", el, v[0])
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestShapesMatchVirusTotal compares our File attributes for PE samples
// with real VirusTotal reports of other PE files: every attribute both
// have must have the same JSON kind, and list elements must use VT's key
// names.
func TestShapesMatchVirusTotal(t *testing.T) {
	reports, _ := filepath.Glob("../testdata/vt-file-objects/*.json")
	var vts []map[string]any
	for _, p := range reports {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Data struct {
				Attributes map[string]any `json:"attributes"`
			} `json:"data"`
		}
		if json.Unmarshal(b, &doc) == nil && doc.Data.Attributes["pe_info"] != nil {
			vts = append(vts, doc.Data.Attributes)
		}
	}
	if len(vts) == 0 {
		t.Fatal("no VirusTotal PE report in testdata")
	}
	for _, name := range []string{"gcc-386-mingw-exec", "gcc-amd64-mingw-exec"} {
		data, err := os.ReadFile("../testdata/binaries/" + name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := analyze.Analyze(data).Object()
		if err != nil {
			t.Fatal(err)
		}
		var ours struct {
			Data struct {
				Attributes map[string]any `json:"attributes"`
			} `json:"data"`
		}
		if err := json.Unmarshal(b, &ours); err != nil {
			t.Fatal(err)
		}
		for _, vt := range vts {
			shapeCheck(t, name, ours.Data.Attributes, vt)
		}
	}
}

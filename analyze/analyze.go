// Package analyze computes VirusTotal File attributes from a sample's bytes:
// hashes, fuzzy hashes, libmagic type, the VT type taxonomy, pe_info,
// elf_info, authentihash, signature_info, the exiftool PE subset and tags.
// Attribute names and value types are VirusTotal's (docs/ANALYSIS.md lists
// each attribute, its source and its known differences). Proprietary
// attributes (vhash, trid) are never produced.
//
// Parsing hostile bytes is dangerous: the PE library can panic or loop
// forever on crafted input. Analyze runs every parser pass under recover();
// package analyze/sandbox runs the passes in a child process with CPU,
// memory and wall-clock limits, which is what servers and the CLI use.
package analyze

import (
	"encoding/json"
	"fmt"
	"os"
)

// Attributes is a set of VT File attributes, keyed by VT's names.
type Attributes map[string]any

// Partial is the outcome of one parser pass: the attributes it produced,
// or the error (or panic) that stopped it.
type Partial struct {
	Step  string     `json:"step"`
	Attrs Attributes `json:"attrs,omitempty"`
	Err   string     `json:"err,omitempty"`
}

// Failure records a parser pass that did not complete.
type Failure struct {
	Step string `json:"step"`
	Err  string `json:"err"`
}

// Report is a complete analysis.
type Report struct {
	SHA256     string
	Attributes Attributes
	Failures   []Failure
}

// Object returns the report as a VT File object:
// {"data":{"type":"file","id":sha256,"attributes":{...}}}.
func (r *Report) Object() ([]byte, error) {
	return json.Marshal(map[string]any{"data": map[string]any{
		"type": "file", "id": r.SHA256, "attributes": r.Attributes,
	}})
}

// Analyze computes every attribute of data in this process: the whole-file
// hashes (HashBytes), then each parser pass (Passes) under recover(). Use
// it on trusted input or inside a sandboxed worker; a pass that loops
// forever is not stopped here.
func Analyze(data []byte) *Report {
	h := HashBytes(data)
	r := &Report{SHA256: h.SHA256, Attributes: HashAttributes(h)}
	RunPasses(data, func(p Partial) {
		r.Add(p)
	})
	return r
}

// HashAttributes returns the attributes of h.
func HashAttributes(h Hashes) Attributes {
	a := Attributes{"md5": h.MD5, "sha1": h.SHA1, "sha256": h.SHA256, "size": h.Size}
	if h.SSDeep != "" {
		a["ssdeep"] = h.SSDeep
	}
	if h.TLSH != "" {
		a["tlsh"] = h.TLSH
	}
	return a
}

// Add merges a pass's outcome into the report: its attributes are merged
// (objects such as pe_info key by key), its error becomes a Failure.
func (r *Report) Add(p Partial) {
	if r.Attributes == nil {
		r.Attributes = Attributes{}
	}
	Merge(r.Attributes, p.Attrs)
	if p.Err != "" {
		r.Failures = append(r.Failures, Failure{Step: p.Step, Err: p.Err})
	}
}

// Merge merges src into dst: nested objects are merged key by key, other
// values replace.
func Merge(dst, src Attributes) {
	for k, v := range src {
		sv, ok1 := asObject(v)
		dv, ok2 := asObject(dst[k])
		if ok1 && ok2 {
			Merge(dv, sv)
			dst[k] = dv
			continue
		}
		dst[k] = v
	}
}

func asObject(v any) (Attributes, bool) {
	switch m := v.(type) {
	case Attributes:
		return m, true
	case map[string]any:
		return Attributes(m), true
	}
	return nil, false
}

// pass is one parser pass over a sample.
type pass struct {
	name string
	run  func(s *sample) (Attributes, error)
}

// passes run in this order; each sees what earlier ones left in sample.
var passes = []pass{
	{"magic", magicPass},
	{"pe_headers", peHeadersPass},
	{"elf", elfPass},
	{"pe_parse", peParsePass},
	{"pe_resources", peResourcesPass},
	{"pe_version", peVersionPass},
	{"pe_signature", peSignaturePass},
	{"tags", tagsPass},
}

// Passes returns the names of the parser passes, in the order they run.
func Passes() []string {
	names := make([]string, len(passes))
	for i, p := range passes {
		names[i] = p.name
	}
	return names
}

// RunPasses runs every parser pass over data and calls emit after each,
// in order. A pass that panics or fails is reported through its Partial's
// Err; the following passes still run.
func RunPasses(data []byte, emit func(Partial)) { RunPassesFile(data, nil, emit) }

// RunPassesFile is RunPasses for a sample that is also open as f, a
// regular file (or memfd) holding exactly data: libmagic then reads f
// rather than a copy of data written to an in-memory file. f's offset is
// not preserved. A nil f is RunPasses.
func RunPassesFile(data []byte, f *os.File, emit func(Partial)) {
	s := &sample{data: data, file: f}
	for _, p := range passes {
		emit(runPass(s, p))
	}
}

func runPass(s *sample, p pass) (out Partial) {
	out.Step = p.name
	defer func() {
		if v := recover(); v != nil {
			out.Attrs = nil
			out.Err = fmt.Sprintf("panic: %v", v)
		}
	}()
	attrs, err := p.run(s)
	out.Attrs = attrs
	if err != nil {
		out.Err = err.Error()
	}
	return out
}

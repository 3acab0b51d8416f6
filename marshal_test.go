package filetrail

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/filetrail/filetrail/internal/testfixture"
)

// marshalAttributesOracle is the straightforward encoding marshalAttributes
// must reproduce byte for byte: compact every value, then json.Marshal.
func marshalAttributesOracle(attrs map[string]json.RawMessage) ([]byte, error) {
	compacted := make(map[string]json.RawMessage, len(attrs))
	for name, v := range attrs {
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return nil, err
		}
		compacted[name] = buf.Bytes()
	}
	return json.Marshal(compacted)
}

// TestMarshalAttributesMatchesJSONMarshal compares marshalAttributes with
// the oracle on the attributes of real VirusTotal reports, and on random
// maps of values that need escaping (HTML characters, U+2028, invalid
// UTF-8, control characters) and indentation to remove.
func TestMarshalAttributesMatchesJSONMarshal(t *testing.T) {
	var inputs []map[string]json.RawMessage
	for _, r := range testfixture.VTReports(t, "testdata/vt-file-objects") {
		var attrs map[string]json.RawMessage
		if err := json.Unmarshal(r.Attributes, &attrs); err != nil {
			t.Fatalf("%s: %v", r.SHA256, err)
		}
		inputs = append(inputs, attrs)
	}
	if len(inputs) < 3 {
		t.Fatalf("only %d VT reports in testdata/vt-file-objects", len(inputs))
	}
	for _, v := range []string{`"&"`, `"<"`, `">"`, "\"\u2028\"", "\"\u2029\"", `"\u0026"`, `[1, 2]`} {
		inputs = append(inputs, map[string]json.RawMessage{"k": json.RawMessage(v)})
	}
	pieces := []string{"a", "<script>", "&amp;", ">", "\u2028", "\u2029", "\u2027", "€", "é", "\x01", "\\\"", "\xff", " ", "\t"}
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		var s string
		for range rng.IntN(5) {
			s += pieces[rng.IntN(len(pieces))]
		}
		return s
	}
	for range 500 {
		m := map[string]json.RawMessage{}
		for range rng.IntN(8) {
			v, _ := json.Marshal(map[string]any{word(): []any{word(), rng.IntN(1000), nil, true}})
			var indented bytes.Buffer
			json.Indent(&indented, v, "", "  ")
			m[word()] = indented.Bytes()
		}
		inputs = append(inputs, m)
	}
	for i, attrs := range inputs {
		got, err := marshalAttributes(attrs)
		if err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
		equalsOracle(t, fmt.Sprintf("input %d", i), got, attrs)
	}
	if _, err := marshalAttributes(map[string]json.RawMessage{"a": json.RawMessage("{")}); err == nil {
		t.Error("an invalid value was encoded without error")
	}
}

// TestMergeFileIsCanonical checks that MergeFile, which copies its values
// without compacting them again, still writes exactly the oracle's bytes:
// on each real VT report as a fact (with sighting hints whose names need
// escaping), and on an indented fact with HTML characters and U+2028.
func TestMergeFileIsCanonical(t *testing.T) {
	hints := FileHints{Names: []string{"a<b>.exe", "c&d\u2028.exe"}, Size: 10, FirstSeen: 80, LastSeen: 300}
	var cases [][]StoredFact
	for _, r := range testfixture.VTReports(t, "testdata/vt-file-objects") {
		cases = append(cases, []StoredFact{mustFact(t, OriginReport, "vt", string(r.Attributes))})
	}
	cases = append(cases, []StoredFact{mustFact(t, OriginHint, "sensor", "{\n  \"magic\": \"<html> & \u2028\",\n  \"tags\": [ \"x\" ]\n}")})
	h := Hashes{SHA256: "ddecc35aa198f401948c73a0d53fd93c4ecb770198ad7db308de026745c56b71"}
	for i, facts := range cases {
		got := MergeFile(h, facts, hints)
		var m map[string]json.RawMessage
		if err := json.Unmarshal(got, &m); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		equalsOracle(t, fmt.Sprintf("case %d", i), got, m)
	}
}

// equalsOracle fails t unless got is the oracle's encoding of attrs.
func equalsOracle(t *testing.T, what string, got []byte, attrs map[string]json.RawMessage) {
	t.Helper()
	want, err := marshalAttributesOracle(attrs)
	if err != nil {
		t.Fatalf("%s: oracle: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got\n%s\nwant\n%s", what, got, want)
	}
}

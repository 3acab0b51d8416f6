package ingest_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/filetrail/filetrail/ingest"
)

// FuzzReaders feeds arbitrary input to every reader: none may panic or
// fail (an in-memory input has no I/O error), and every record must carry
// a line number within the input.
func FuzzReaders(f *testing.F) {
	for _, seed := range []string{
		`{"data": {"type": "file", "id": "` + strings.Repeat("a", 64) + `", "attributes": {"size": 1}}}`,
		"{\n  \"data\": [\n    {\"type\": \"file\", \"id\": \"" + strings.Repeat("b", 40) + "\", \"context_attributes\": {\"first_seen\": 1}}\n  ],\n  \"links\": {\"self\": \"http://h/api/v3/ip_addresses/1.2.3.4/downloaded_files\"}\n}",
		`{"error": {"code": "NotFoundError", "message": "x"}}`,
		`{"ip": "1.2.3.4", "md5": "` + strings.Repeat("c", 32) + `", "seen_at": 1}` + "\n" + `{"ip": 5}`,
		"[1,2]\n{\"data\": [}\n{",
		"{\"data\":{\"type\":\"file\",\"attributes\":{\n{\"a\":",
		"#separator \\x09\n#fields\tts\tfuid\tsource\tis_orig\tmd5\n1.5\tF1\tHTTP\tF\t" + strings.Repeat("d", 32) + "\n",
		`"2024-01-01 00:00:00","http://1.2.3.4/x","exe","` + strings.Repeat("e", 32) + `","",""`,
	} {
		f.Add(seed)
	}
	// The hand-written sensor fixtures, whole.
	for _, p := range []string{"../testdata/suricata/handwritten-eve-4.1.json", "../testdata/cowrie/handwritten-cowrie.json", "../testdata/zeek/handwritten-json/modern.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, input string) {
		for _, name := range ingest.Formats() {
			format, err := ingest.LookupFormat(name)
			if err != nil {
				t.Fatal(err)
			}
			c := &collector{}
			if err := format.NewReader(ingest.ReaderOptions{MaxLineBytes: 1 << 10}).Read(context.Background(), strings.NewReader(input), c); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			maxLine := int64(strings.Count(input, "\n") + 1)
			for _, r := range c.records {
				if r.Line < 1 || r.Line > maxLine {
					t.Fatalf("%s: record at line %d of %d", name, r.Line, maxLine)
				}
			}
			for _, r := range c.rejects {
				if r.Line < 1 || r.Line > maxLine || r.Reason == "" {
					t.Fatalf("%s: reject %+v (input has %d lines)", name, r, maxLine)
				}
			}
		}
	})
}

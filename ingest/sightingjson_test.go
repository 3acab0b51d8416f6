package ingest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// sightingDecoderCases are lines the fast path must take (fast) or leave to
// encoding/json; either way the outcome must be encoding/json's.
var sightingDecoderCases = []struct {
	line string
	fast bool
}{
	{`{"ip":"198.18.7.52","url":"http://198.18.7.52/d/0/32181.elf","sha256":"a3e31d8b4428ba5455d373c9321e304ddf58a6ae2232ea4cbb2d9078a32d442e","sha1":"b1f300c895358169e2fe0b52885879c0cc02fd91","md5":"19f0ea3da8a387b783f85114803f6df4","size":142363,"filename":"32181.elf","mime":"application/x-elf","seen_at":1700000001,"source":"honeypot-a"}`, true},
	{`  { "ip" : "1.2.3.4" , "md5" : "x", "seen_at" : "2024-01-02T03:04:05Z" }  ` + "\r", true},
	{`{"IP":"1.2.3.4","Seen_At":5,"URL":"u","SiZe":7}`, true},                           // names match without regard to case
	{`{"ip":"1.2.3.4","ip":"5.6.7.8","url":"a","url":null,"size":3,"size":null}`, true}, // the last wins; null leaves a string or number
	{`{"ip":"1.2.3.4","ip":null,"seen_at":null}`, true},
	{`{"url":"http:\/\/a.test\/x \"q\" \\ \t","seen_at":1.5}`, true},
	{`{"seen_at":"a\/b","other":{"deep":[1,2,{"x":null}]},"n":-0.5e+3}`, true},
	{`{"size":-0,"seen_at":-12}`, true},
	{`{}`, true},
	{`{"size":1.5}`, false},                  // not an int64: encoding/json's error
	{`{"size":1e3}`, false},                  // same
	{`{"size":99999999999999999999}`, false}, // overflows int64
	{`{"size":"big"}`, false},                // wrong type
	{`{"ip":5}`, false},                      // wrong type
	{`{"url":true}`, false},                  // wrong type
	{`{"seen_at":{"a":1}}`, false},           // left to encoding/json, whose text the error quotes
	{`{"seen_at":[1]}`, false},
	{`{"x":NaN}`, false}, // fastjson parses these; JSON does not
	{`{"x":01}`, false},
	{`{"x":+1}`, false},
	{`{"x":"a\qb"}`, false},                    // unknown escape
	{"{\"x\":\"a\tb\"}", false},                // control character in a string
	{`{"url":"caf` + "\xc3\xa9" + `"}`, false}, // non-ASCII: decoding rules differ
	{`{"url":"bad ` + "\xff" + `"}`, false},
	{`{"url":"\u00e9\ud800"}`, false}, // \u escapes, a lone surrogate
	{`{"s\u0069ze":4}`, false},
	{`{"ip":"1.2.3.4"`, false},    // cut
	{`{"ip":"1.2.3.4"} x`, false}, // trailing data
	{`{"ip":"1.2.3.4",}`, false},
	{`{"a":1}{"b":2}`, false},
}

// TestSightingDecoderMatchesEncodingJSON checks that the fast path takes
// the lines it should, and that every line decodes as json.Unmarshal
// decodes it: the same fields, or the same error.
func TestSightingDecoderMatchesEncodingJSON(t *testing.T) {
	var d sightingDecoder
	for _, c := range sightingDecoderCases {
		if _, fast := d.decodeFast([]byte(c.line)); fast != c.fast {
			t.Errorf("%s: fast path %v, want %v", c.line, fast, c.fast)
		}
		if diff := sightingDecoderDiff(&d, []byte(c.line)); diff != "" {
			t.Errorf("%s: %s", c.line, diff)
		}
	}
}

// FuzzSightingDecoder checks on any line that the decoder's outcome is
// json.Unmarshal's.
func FuzzSightingDecoder(f *testing.F) {
	for _, c := range sightingDecoderCases {
		f.Add(c.line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var d sightingDecoder
		if diff := sightingDecoderDiff(&d, []byte(line)); diff != "" {
			t.Fatalf("%q: %s", line, diff)
		}
	})
}

// sightingDecoderDiff describes how d's decoding of line differs from
// json.Unmarshal's, or returns "". Raw seen_at values are compared by what
// parseSeenAt reads from them (a string's escapes may be written anew).
func sightingDecoderDiff(d *sightingDecoder, line []byte) string {
	var want sightingLine
	wantErr := json.Unmarshal(line, &want)
	got, gotErr := d.decode(line)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		return fmt.Sprintf("error %v, encoding/json's %v", gotErr, wantErr)
	}
	if wantErr != nil {
		return ""
	}
	show := func(in sightingLine) string {
		ip := "<nil>"
		if in.IP != nil {
			ip = fmt.Sprintf("%q", *in.IP)
		}
		var seen string
		if len(in.SeenAt) > 0 {
			n, err := parseSeenAt(in.SeenAt)
			seen = fmt.Sprintf("%d %v", n, err)
		}
		return strings.Join([]string{ip, in.URL, in.SHA256, in.SHA1, in.MD5, fmt.Sprint(in.Size), in.FileName, in.MIME, seen, in.Source}, "|")
	}
	if g, w := show(got), show(want); g != w {
		return fmt.Sprintf("decoded %s, encoding/json's %s", g, w)
	}
	return ""
}

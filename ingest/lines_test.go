package ingest

import (
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLineReader(t *testing.T) {
	long := strings.Repeat("y", 300)
	in := "a\r\nbb\n\n" + long + "\nccc\n" + strings.Repeat("z", 100) + "\nlast"
	lr := newLineReader(strings.NewReader(in), 100, 1)
	type line struct {
		text    string
		num     int64
		tooLong bool
	}
	var got []line
	for {
		b, n, tl, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, line{string(b), n, tl})
	}
	want := []line{{"a", 1, false}, {"bb", 2, false}, {"", 3, false}, {long[:MaxRejectText], 4, true}, {"ccc", 5, false}, {strings.Repeat("z", 100), 6, false}, {"last", 7, false}}
	if len(got) != len(want) {
		t.Fatalf("got %d lines %+v", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestLineTracker(t *testing.T) {
	in := "{\n  \"a\": 1,\n\n  \"b\": [\n  ]\n}"
	tr := &lineTracker{r: strings.NewReader(in)}
	if _, err := io.ReadAll(tr); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		needle string
		line   int64
	}{{"{", 1}, {`"a"`, 2}, {`"b"`, 4}, {"]", 5}, {"}", 6}} {
		if got := tr.lineAt(int64(strings.Index(in, tc.needle))); got != tc.line {
			t.Errorf("%s at line %d, want %d", tc.needle, got, tc.line)
		}
	}
}

func TestStableReason(t *testing.T) {
	for in, want := range map[string]string{
		`sha256 "XYZ" is not a valid sha256`:           "sha256 is not a valid sha256",
		`"1.2.3" is not a valid IP address`:            "is not a valid IP address",
		`md5 "a\"b" is not a valid md5`:                "md5 is not a valid md5",
		"no file hash":                                 "no file hash",
		`url longer than 8192 bytes`:                   "url longer than 8192 bytes",
		`unterminated "quote stays as it is`:           `unterminated "quote stays as it is`,
		`file attributes must be a JSON object`:        "file attributes must be a JSON object",
		`id "x" differs from the attributes' hash "y"`: "id differs from the attributes' hash",
	} {
		if got := stableReason(in); got != want {
			t.Errorf("stableReason(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRejectText(t *testing.T) {
	s := strings.Repeat("é", MaxRejectText) // 2 bytes each
	got := rejectText([]byte(s))
	if !utf8.ValidString(got) || !strings.HasSuffix(got, "...") || len(got) > MaxRejectText+3 {
		t.Errorf("rejectText cut badly: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if got := rejectText([]byte("short\xff")); got != "short\uFFFD" {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
}

package filetrail

import (
	"net/url"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	cases := []Cursor{
		{Kind: CursorFiles, Time: 0, ID: "d41d8cd98f00b204e9800998ecf8427e"},
		{Kind: CursorFiles, Time: 1700000000, ID: "ddecc35aa198f401948c73a0d53fd93c4ecb770198ad7db308de026745c56b71"},
		{Kind: CursorIPs, Time: 1, ID: "2001:db8::1"},
		{Kind: CursorIPs, Time: 1 << 40, ID: "192.0.2.7"},
	}
	for _, c := range cases {
		s := c.Encode()
		if url.QueryEscape(s) != s {
			t.Errorf("cursor %q is not URL-safe", s)
		}
		if s != c.Encode() {
			t.Errorf("encoding of %+v is not deterministic", c)
		}
		got, err := DecodeCursor(c.Kind, s)
		if err != nil || got != c {
			t.Errorf("DecodeCursor(%q) = %+v, %v; want %+v", s, got, err, c)
		}
	}
}

func TestDecodeCursorRejects(t *testing.T) {
	files := Cursor{Kind: CursorFiles, Time: 5, ID: "d41d8cd98f00b204e9800998ecf8427e"}.Encode()
	ips := Cursor{Kind: CursorIPs, Time: 5, ID: "192.0.2.1"}.Encode()
	for _, tc := range []struct {
		kind CursorKind
		text string
	}{
		{CursorFiles, ""},
		{CursorFiles, "not a cursor!"},
		{CursorFiles, files + "="},
		{CursorFiles, ips},  // foreign: an IP cursor on a file list
		{CursorIPs, files},  // and the reverse
		{CursorFiles, "Zg"}, // kind byte only
		{CursorFiles, Cursor{Kind: CursorFiles, Time: 5, ID: "D41D8CD98F00B204E9800998ECF8427E"}.Encode()},
		{CursorFiles, Cursor{Kind: CursorFiles, Time: -5, ID: "d41d8cd98f00b204e9800998ecf8427e"}.Encode()},
		{CursorIPs, Cursor{Kind: CursorIPs, Time: 5, ID: "::ffff:192.0.2.1"}.Encode()},
		{CursorIPs, Cursor{Kind: CursorIPs, Time: 5, ID: "2001:DB8::1"}.Encode()},
	} {
		if _, err := DecodeCursor(tc.kind, tc.text); ErrorCode(err) != CodeInvalidArgument {
			t.Errorf("DecodeCursor(%c, %q) error = %v, want InvalidArgumentError", tc.kind, tc.text, err)
		}
	}
}

// FuzzDecodeCursor checks that any text either fails with InvalidArgument or
// decodes to a cursor that encodes back to the same text.
func FuzzDecodeCursor(f *testing.F) {
	f.Add("ZgLk")
	f.Add(Cursor{Kind: CursorFiles, Time: 1700000000, ID: "d41d8cd98f00b204e9800998ecf8427e"}.Encode())
	f.Add(Cursor{Kind: CursorIPs, Time: 3, ID: "2001:db8::1"}.Encode())
	f.Fuzz(func(t *testing.T, s string) {
		for _, kind := range []CursorKind{CursorFiles, CursorIPs} {
			c, err := DecodeCursor(kind, s)
			if err != nil {
				if ErrorCode(err) != CodeInvalidArgument {
					t.Fatalf("DecodeCursor(%q) error code = %v", s, ErrorCode(err))
				}
				continue
			}
			if c.Encode() != s || c.Kind != kind {
				t.Fatalf("DecodeCursor(%q) = %+v, which encodes to %q", s, c, c.Encode())
			}
		}
	})
}

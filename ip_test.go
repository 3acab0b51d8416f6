package filetrail

import (
	"net/netip"
	"testing"
)

func TestParseIP(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3.4":                "1.2.3.4",
		" 1.2.3.4\n":             "1.2.3.4",
		"::ffff:1.2.3.4":         "1.2.3.4",
		"2001:DB8:0:0:0:0:0:1":   "2001:db8::1",
		"2001:db8:0:0:1:0:0:1":   "2001:db8::1:0:0:1",
		"fe80:0000::0001":        "fe80::1",
		"2001:0db8:85a3::8a2e:0": "2001:db8:85a3::8a2e:0",
	} {
		got, err := ParseIP(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseIP(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "fe80::1%eth0", "example.org", "1.2.3.4/24", "01.2.3.4"} {
		if _, err := ParseIP(in); ErrorCode(err) != CodeInvalidArgument {
			t.Errorf("ParseIP(%q) error = %v, want InvalidArgumentError", in, err)
		}
	}
}

// FuzzParseIP checks that a parsed address is canonical: parsing its text
// gives the same address and text, and it is never IPv4-mapped or zoned.
func FuzzParseIP(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "::ffff:10.0.0.1", "2001:db8::1", "fe80::1%lo", "::", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseIP(s)
		if err != nil {
			if ErrorCode(err) != CodeInvalidArgument {
				t.Fatalf("ParseIP(%q) error code = %v", s, ErrorCode(err))
			}
			return
		}
		if a.Is4In6() || a.Zone() != "" || !a.IsValid() {
			t.Fatalf("ParseIP(%q) = %v is not canonical", s, a)
		}
		b, err := ParseIP(a.String())
		if err != nil || b != a || b.String() != a.String() {
			t.Fatalf("ParseIP(%q) = %v does not round-trip: %v, %v", s, a, b, err)
		}
		if a != netip.MustParseAddr(a.String()) {
			t.Fatalf("canonical text of %v parses differently", a)
		}
	})
}

package filetrail

import (
	"strings"
	"testing"
)

// TestHashKinds: HashKindOf checks the characters and the length;
// KindOfValid, for hashes already validated, the length alone, and the two
// agree on every valid hash.
func TestHashKinds(t *testing.T) {
	md5, sha1, sha256 := strings.Repeat("a", 32), strings.Repeat("B", 40), strings.Repeat("0f", 32)
	for _, c := range []struct {
		in          string
		kind, valid HashKind // HashKindOf, KindOfValid
	}{
		{md5, HashMD5, HashMD5},
		{sha1, HashSHA1, HashSHA1},
		{sha256, HashSHA256, HashSHA256},
		{"", HashInvalid, HashInvalid},
		{strings.Repeat("a", 33), HashInvalid, HashInvalid},
		{strings.Repeat("g", 32), HashInvalid, HashMD5}, // not hex: only HashKindOf looks
		{strings.Repeat("a", 63) + " ", HashInvalid, HashSHA256},
	} {
		if got := HashKindOf(c.in); got != c.kind {
			t.Errorf("HashKindOf(%q) = %v, want %v", c.in, got, c.kind)
		}
		if got := KindOfValid(c.in); got != c.valid {
			t.Errorf("KindOfValid(%q) = %v, want %v", c.in, got, c.valid)
		}
	}
	h, err := Hashes{SHA256: " " + strings.ToUpper(sha256), SHA1: sha1, MD5: md5}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Hashes{SHA256: sha256, SHA1: strings.ToLower(sha1), MD5: md5}); h != want {
		t.Errorf("Normalize gave %+v, want %+v", h, want)
	}
	for _, x := range h.All() {
		if KindOfValid(x) != HashKindOf(x) {
			t.Errorf("normalized hash %q: KindOfValid %v, HashKindOf %v", x, KindOfValid(x), HashKindOf(x))
		}
	}
	for _, bad := range []Hashes{{SHA1: md5}, {MD5: strings.Repeat("g", 32)}, {SHA256: sha256[:63] + "\u00e9"}, {MD5: md5 + " x"}} {
		if _, err := bad.Normalize(); err == nil {
			t.Errorf("%+v was accepted", bad)
		}
	}
	if h, err := (Hashes{MD5: " \t"}).Normalize(); err != nil || !h.IsZero() {
		t.Errorf("blanks gave %+v, %v; want no hash", h, err)
	}
}

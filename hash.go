package filetrail

import "strings"

// HashKind names the algorithm of a file hash by its hex length.
type HashKind int

// Hash kinds, weakest first.
const (
	HashInvalid HashKind = iota
	HashMD5
	HashSHA1
	HashSHA256
)

// Hashes are the known hashes of one file, lower-case hex; any may be empty.
type Hashes struct {
	SHA256 string
	SHA1   string
	MD5    string
}

// Strongest returns the strongest known hash, the file's id until a stronger
// one arrives (DESIGN.md "File identity"), or "" when none is known.
func (h Hashes) Strongest() string {
	switch {
	case h.SHA256 != "":
		return h.SHA256
	case h.SHA1 != "":
		return h.SHA1
	default:
		return h.MD5
	}
}

// All returns the hashes of h, strongest first, "" for a kind h lacks. It
// is an array, so loops over a batch's hashes allocate nothing.
func (h Hashes) All() [3]string { return [3]string{h.SHA256, h.SHA1, h.MD5} }

// IsZero reports whether no hash is known.
func (h Hashes) IsZero() bool { return h.SHA256 == "" && h.SHA1 == "" && h.MD5 == "" }

// Normalize lower-cases each hash and checks it has the right form for its
// field. It returns an InvalidArgument error naming the first bad value.
func (h Hashes) Normalize() (Hashes, error) {
	var ok bool
	var out Hashes
	if out.SHA256, ok = normalizeHash(h.SHA256, HashSHA256); !ok {
		return Hashes{}, badHash("sha256", h.SHA256)
	}
	if out.SHA1, ok = normalizeHash(h.SHA1, HashSHA1); !ok {
		return Hashes{}, badHash("sha1", h.SHA1)
	}
	if out.MD5, ok = normalizeHash(h.MD5, HashMD5); !ok {
		return Hashes{}, badHash("md5", h.MD5)
	}
	return out, nil
}

func badHash(name, value string) error {
	return Errorf(CodeInvalidArgument, "%s %q is not a valid %s", name, value, name)
}

// normalizeHash returns s without surrounding blanks, lower-cased, and
// whether that is "" or a hash of the given kind. It reads s once and
// allocates only when s has upper-case digits: ingestion normalises every
// hash of every record twice (the reader, then the store).
func normalizeHash(s string, kind HashKind) (string, bool) {
	s = strings.TrimSpace(s)
	upper := false
	for i := 0; i < len(s); i++ {
		switch hexDigits[s[i]] {
		case notHex:
			return "", false
		case upperHex:
			upper = true
		}
	}
	if s != "" && KindOfValid(s) != kind {
		return "", false
	}
	if upper {
		s = strings.ToLower(s)
	}
	return s, true
}

// Classes of the bytes of a hash, in hexDigits.
const (
	notHex = iota
	lowerHex
	upperHex
)

// hexDigits classifies every byte value: a digit or a-f, A-F, or another.
var hexDigits = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = lowerHex
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = lowerHex
		t[c-'a'+'A'] = upperHex
	}
	return t
}()

// HashKindOf reports the kind of a hash in lower- or upper-case hex, or
// HashInvalid.
func HashKindOf(s string) HashKind {
	for i := 0; i < len(s); i++ {
		if hexDigits[s[i]] == notHex {
			return HashInvalid
		}
	}
	return KindOfValid(s)
}

// KindOfValid returns the kind of a valid hash (a field of normalized
// Hashes, or a value HashKindOf classified) from its length alone: it is
// HashKindOf without the check of every character, for the hot paths of
// ingestion, which only ever see validated hashes. A length of no kind
// gives HashInvalid.
func KindOfValid(hash string) HashKind {
	switch len(hash) {
	case 32:
		return HashMD5
	case 40:
		return HashSHA1
	case 64:
		return HashSHA256
	}
	return HashInvalid
}

// ParseHash returns the lower-case form of a file hash given in a URL, or an
// InvalidArgument error.
func ParseHash(s string) (string, HashKind, error) {
	k := HashKindOf(s)
	if k == HashInvalid {
		return "", k, Errorf(CodeInvalidArgument, "%q is not a valid file hash (md5, sha1 or sha256)", s)
	}
	return strings.ToLower(s), k, nil
}

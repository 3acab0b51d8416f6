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
	var out Hashes
	for _, f := range []struct {
		in   string
		out  *string
		kind HashKind
		name string
	}{{h.SHA256, &out.SHA256, HashSHA256, "sha256"}, {h.SHA1, &out.SHA1, HashSHA1, "sha1"}, {h.MD5, &out.MD5, HashMD5, "md5"}} {
		v := strings.ToLower(strings.TrimSpace(f.in))
		if v == "" {
			continue
		}
		if HashKindOf(v) != f.kind {
			return Hashes{}, Errorf(CodeInvalidArgument, "%s %q is not a valid %s", f.name, f.in, f.name)
		}
		*f.out = v
	}
	return out, nil
}

// HashKindOf reports the kind of a hash in lower- or upper-case hex, or
// HashInvalid.
func HashKindOf(s string) HashKind {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
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

package filetrail

import (
	"encoding/base64"
	"encoding/binary"
)

// CursorKind tells which kind of list a cursor belongs to, so that a cursor
// from one list is refused by another ("foreign cursor", API.md §4.7).
type CursorKind byte

// Cursor kinds. The byte values are part of the cursor text: never change them.
const (
	// CursorFiles positions in a list of files (an IP's downloaded_files).
	CursorFiles CursorKind = 'f'
	// CursorIPs positions in a list of IP addresses (a file's itw_ips).
	CursorIPs CursorKind = 'i'
)

// Cursor is a keyset position in a list ordered by Time descending, then ID
// descending: the next page holds the items strictly after (Time, ID).
type Cursor struct {
	Kind CursorKind
	Time int64  // first_seen of the last item of the previous page
	ID   string // id of that item: a file id (hash) or a canonical IP
}

// Encode returns the cursor's opaque text: URL-safe base64 (no padding) of
// the kind byte, the time as a signed varint, and the id. The same cursor
// always encodes to the same text.
func (c Cursor) Encode() string {
	buf := make([]byte, 0, 1+binary.MaxVarintLen64+len(c.ID))
	buf = append(buf, byte(c.Kind))
	buf = binary.AppendVarint(buf, c.Time)
	buf = append(buf, c.ID...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// DecodeCursor parses a cursor text for a list of the given kind. A
// malformed cursor, or one from another kind of list, gives an
// InvalidArgument error; it never panics.
func DecodeCursor(kind CursorKind, s string) (Cursor, error) {
	bad := Errorf(CodeInvalidArgument, "invalid cursor %q", truncate(s, 100))
	if s == "" || len(s) > 200 {
		return Cursor{}, bad
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) < 2 || CursorKind(raw[0]) != kind {
		return Cursor{}, bad
	}
	t, n := binary.Varint(raw[1:])
	if n <= 0 || t < 0 {
		return Cursor{}, bad
	}
	c := Cursor{Kind: kind, Time: t, ID: string(raw[1+n:])}
	switch kind {
	case CursorFiles:
		if HashKindOf(c.ID) == HashInvalid || c.ID != lower(c.ID) {
			return Cursor{}, bad
		}
	case CursorIPs:
		a, err := ParseIP(c.ID)
		if err != nil || a.String() != c.ID {
			return Cursor{}, bad
		}
	default:
		return Cursor{}, bad
	}
	// Deterministic: only the canonical text of a cursor is accepted.
	if c.Encode() != s {
		return Cursor{}, bad
	}
	return c, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

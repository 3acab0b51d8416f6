package analyze

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// VersionInfo is the content of a PE version resource (VS_VERSIONINFO).
type VersionInfo struct {
	// Fixed is VS_FIXEDFILEINFO; nil when absent or malformed.
	Fixed *FixedFileInfo
	// Strings are the String pairs of the first StringTable, in file order.
	Strings []VersionString
	// LangID and CodePage come from the first StringTable's key
	// ("040904b0"), or from VarFileInfo\Translation when no table has a
	// valid key. Valid is false when neither is present.
	LangID, CodePage uint16
	HasLang          bool
}

// VersionString is one StringFileInfo entry.
type VersionString struct{ Key, Value string }

// FixedFileInfo is VS_FIXEDFILEINFO.
type FixedFileInfo struct {
	FileVersionMS, FileVersionLS       uint32
	ProductVersionMS, ProductVersionLS uint32
	FileFlagsMask, FileFlags           uint32
	FileOS, FileType, FileSubtype      uint32
}

const (
	// maxVersionDepth bounds recursion: VS_VERSIONINFO > StringFileInfo >
	// StringTable > String is depth 3.
	maxVersionDepth = 4
	// maxVersionStrings bounds the pairs kept.
	maxVersionStrings = 256
)

// verNode is one node of the version resource tree: every node starts
// with wLength, wValueLength, wType and a NUL-terminated UTF-16 key, then
// the value and the children, each DWORD-aligned.
type verNode struct {
	key      string
	value    []byte // raw value bytes
	wType    uint16
	children []byte
	length   int // bytes consumed, aligned
}

// parseVerNode parses the node at the start of b. A node whose length is
// shorter than its own header, or longer than b, is an error: the caller
// stops there, so a zero length can never loop.
func parseVerNode(b []byte) (verNode, error) {
	if len(b) < 6 {
		return verNode{}, fmt.Errorf("version node truncated")
	}
	le := binary.LittleEndian
	length := int(le.Uint16(b))
	valueLen := int(le.Uint16(b[2:]))
	n := verNode{wType: le.Uint16(b[4:])}
	if length < 6 || length > len(b) {
		return verNode{}, fmt.Errorf("version node length %d out of range", length)
	}
	b = b[:length]
	// key
	var u []uint16
	i := 6
	for ; i+1 < len(b); i += 2 {
		c := le.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	n.key = string(utf16.Decode(u))
	i = align4(i + 2)
	if i > len(b) {
		i = len(b)
	}
	// value: text values count UTF-16 units, binary ones bytes.
	vbytes := valueLen
	if n.wType == 1 {
		vbytes = valueLen * 2
	}
	end := i + vbytes
	if end > len(b) {
		end = len(b)
	}
	n.value = b[i:end]
	c := align4(end)
	if c > len(b) {
		c = len(b)
	}
	n.children = b[c:]
	n.length = align4(length)
	return n, nil
}

func align4(i int) int { return (i + 3) &^ 3 }

// eachVerChild calls fn for every child node in b, stopping at the first
// malformed one.
func eachVerChild(b []byte, fn func(verNode)) {
	for len(b) >= 6 {
		n, err := parseVerNode(b)
		if err != nil {
			return
		}
		fn(n)
		if n.length >= len(b) {
			return
		}
		b = b[n.length:]
	}
}

// ParseVersionInfo parses a VS_VERSIONINFO resource. It is bounded by the
// input: every step consumes at least one node header, recursion is capped.
func ParseVersionInfo(b []byte) (*VersionInfo, error) {
	root, err := parseVerNode(b)
	if err != nil {
		return nil, err
	}
	if root.key != "VS_VERSION_INFO" {
		return nil, fmt.Errorf("version resource key %q", root.key)
	}
	vi := &VersionInfo{}
	if len(root.value) >= 52 && binary.LittleEndian.Uint32(root.value) == 0xFEEF04BD {
		v := root.value
		le := binary.LittleEndian
		vi.Fixed = &FixedFileInfo{
			FileVersionMS: le.Uint32(v[8:]), FileVersionLS: le.Uint32(v[12:]),
			ProductVersionMS: le.Uint32(v[16:]), ProductVersionLS: le.Uint32(v[20:]),
			FileFlagsMask: le.Uint32(v[24:]), FileFlags: le.Uint32(v[28:]),
			FileOS: le.Uint32(v[32:]), FileType: le.Uint32(v[36:]), FileSubtype: le.Uint32(v[40:]),
		}
	}
	tableSeen := false
	eachVerChild(root.children, func(n verNode) {
		switch n.key {
		case "StringFileInfo":
			eachVerChild(n.children, func(table verNode) {
				if tableSeen {
					return
				}
				tableSeen = true
				var lang, cp uint16
				if _, err := fmt.Sscanf(table.key, "%04x%04x", &lang, &cp); err == nil && len(table.key) == 8 {
					vi.LangID, vi.CodePage, vi.HasLang = lang, cp, true
				}
				eachVerChild(table.children, func(s verNode) {
					if len(vi.Strings) < maxVersionStrings {
						vi.Strings = append(vi.Strings, VersionString{Key: s.key, Value: utf16String(s.value)})
					}
				})
			})
		case "VarFileInfo":
			eachVerChild(n.children, func(v verNode) {
				if v.key == "Translation" && len(v.value) >= 4 && !vi.HasLang {
					vi.LangID = binary.LittleEndian.Uint16(v.value)
					vi.CodePage = binary.LittleEndian.Uint16(v.value[2:])
					vi.HasLang = true
				}
			})
		}
	})
	return vi, nil
}

// utf16String decodes little-endian UTF-16 up to the first NUL.
func utf16String(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// String returns the value of the version string key, or "".
func (v *VersionInfo) String(key string) string {
	for _, s := range v.Strings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

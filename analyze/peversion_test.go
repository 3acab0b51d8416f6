package analyze

import (
	"encoding/binary"
	"testing"
	"unicode/utf16"
)

// verBuild encodes one version-resource node (test helper).
func verBuild(key string, wType uint16, value []byte, valueLen int, children ...[]byte) []byte {
	b := make([]byte, 6)
	for _, u := range utf16.Encode([]rune(key)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	b = append(b, 0, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	b = append(b, value...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	for _, c := range children {
		b = append(b, c...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	binary.LittleEndian.PutUint16(b[0:], uint16(len(b)))
	binary.LittleEndian.PutUint16(b[2:], uint16(valueLen))
	binary.LittleEndian.PutUint16(b[4:], wType)
	return b
}

func wide(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return append(b, 0, 0)
}

func verString(k, v string) []byte {
	w := wide(v)
	return verBuild(k, 1, w, len(w)/2)
}

func fixedInfo() []byte {
	v := make([]byte, 52)
	le := binary.LittleEndian
	le.PutUint32(v[0:], 0xFEEF04BD)
	le.PutUint32(v[8:], 1<<16|2)
	le.PutUint32(v[12:], 3<<16|4)
	le.PutUint32(v[16:], 5<<16|6)
	le.PutUint32(v[24:], 0x3f)
	le.PutUint32(v[28:], 0x2)
	le.PutUint32(v[32:], 0x40004)
	le.PutUint32(v[36:], 2)
	return v
}

func TestParseVersionInfo(t *testing.T) {
	table := verBuild("040904b0", 1, nil, 0,
		verString("CompanyName", "Example Corp"),
		verString("OriginalFilename", "x.dll"),
		verString("FileVersion", "1.2.3.4"))
	trans := make([]byte, 4)
	binary.LittleEndian.PutUint16(trans, 0x0407)
	binary.LittleEndian.PutUint16(trans[2:], 1252)
	root := verBuild("VS_VERSION_INFO", 0, fixedInfo(), 52,
		verBuild("StringFileInfo", 1, nil, 0, table),
		verBuild("VarFileInfo", 1, nil, 0, verBuild("Translation", 0, trans, 4)))
	vi, err := ParseVersionInfo(root)
	if err != nil {
		t.Fatal(err)
	}
	if vi.String("CompanyName") != "Example Corp" || vi.String("OriginalFilename") != "x.dll" || vi.String("FileVersion") != "1.2.3.4" {
		t.Fatalf("strings: %+v", vi.Strings)
	}
	if vi.Fixed == nil || versionQuad(vi.Fixed.FileVersionMS, vi.Fixed.FileVersionLS) != "1.2.3.4" || vi.Fixed.FileType != 2 {
		t.Fatalf("fixed: %+v", vi.Fixed)
	}
	// The string table's key wins over VarFileInfo.
	if !vi.HasLang || vi.LangID != 0x0409 || vi.CodePage != 0x04b0 {
		t.Fatalf("lang %#x cp %#x has %v", vi.LangID, vi.CodePage, vi.HasLang)
	}
	ex := exifVersionFields(vi)
	for k, want := range map[string]string{
		"FileVersionNumber": "1.2.3.4", "ProductVersionNumber": "5.6.0.0", "FileFlagsMask": "0x003f",
		"FileFlags": "Pre-release", "FileOS": "Windows NT 32-bit", "ObjectFileType": "Dynamic link library",
		"LanguageCode": "English (U.S.)", "CharacterSet": "Unicode", "OriginalFileName": "x.dll",
	} {
		if ex[k] != want {
			t.Errorf("exiftool %s = %v, want %q", k, ex[k], want)
		}
	}
}

// A zero-length StringTable made saferwall/pe loop forever; the own parser
// stops at it.
func TestParseVersionInfoZeroLengthTable(t *testing.T) {
	table := verBuild("040904b0", 1, nil, 0, verString("CompanyName", "Example"))
	binary.LittleEndian.PutUint16(table[0:], 0)
	root := verBuild("VS_VERSION_INFO", 0, fixedInfo(), 52, verBuild("StringFileInfo", 1, nil, 0, table))
	vi, err := ParseVersionInfo(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(vi.Strings) != 0 || vi.Fixed == nil {
		t.Fatalf("got strings %v fixed %v; want no strings, fixed info kept", vi.Strings, vi.Fixed)
	}
}

func TestParseVersionInfoRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":     nil,
		"short":     {1, 2, 3},
		"wrong key": verBuild("NOT_VERSION", 0, nil, 0),
		"too long":  {0xff, 0xff, 0, 0, 0, 0, 'V', 0},
	} {
		if _, err := ParseVersionInfo(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

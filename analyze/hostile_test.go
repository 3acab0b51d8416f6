package analyze

import (
	"encoding/binary"
	"os"
	"strings"
	"testing"
)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/binaries/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mutate returns a copy of data changed by fn.
func mutate(data []byte, fn func(b []byte, h *peHeaders)) []byte {
	b := append([]byte(nil), data...)
	h, err := parsePEHeaders(b)
	if err != nil {
		panic(err)
	}
	fn(b, h)
	return b
}

func sectionHeaderOffset(h *peHeaders, i int) int64 {
	return h.OptionalOffset + int64(h.SizeOfOptionalHeader) + int64(i)*40
}

// hostileInputs are crafted from a real MinGW PE: truncated headers,
// oversized counts and sizes, pointers past the end, a resource directory
// that contains itself, and the Rich-header layout that panics saferwall.
func hostileInputs(t testing.TB) map[string][]byte {
	base := readSample(t, "gcc-386-mingw-exec")
	small := readSample(t, "gcc-386-mingw-no-symbols-exec")
	le := binary.LittleEndian
	in := map[string][]byte{
		"empty":            nil,
		"MZ only":          []byte("MZ"),
		"truncated at 64":  base[:64],
		"truncated at 200": base[:200],
		"truncated at 400": base[:400],
		"truncated at 1k":  base[:1024],
		"e_lfanew huge": mutate(base, func(b []byte, h *peHeaders) {
			le.PutUint32(b[0x3c:], 0xfffffff0)
		}),
		"65535 sections": mutate(base, func(b []byte, h *peHeaders) {
			le.PutUint16(b[h.PEOffset+6:], 0xffff)
		}),
		"SizeOfOptionalHeader huge": mutate(base, func(b []byte, h *peHeaders) {
			le.PutUint16(b[h.PEOffset+20:], 0xffff)
		}),
		"SizeOfRawData 0xFFFFFF00": mutate(base, func(b []byte, h *peHeaders) {
			le.PutUint32(b[sectionHeaderOffset(h, 0)+16:], 0xFFFFFF00)
		}),
		"PointerToRawData past EOF": mutate(base, func(b []byte, h *peHeaders) {
			last := len(h.Sections) - 1
			le.PutUint32(b[sectionHeaderOffset(h, last)+20:], 0x7ffffff0)
			le.PutUint32(b[sectionHeaderOffset(h, last)+16:], 0x1000)
		}),
		"all data directories huge": mutate(base, func(b []byte, h *peHeaders) {
			dirs := h.OptionalOffset + 96
			for i := int64(0); i < 16; i++ {
				le.PutUint32(b[dirs+i*8:], 0x7fff0000)
				le.PutUint32(b[dirs+i*8+4:], 0xffffffff)
			}
		}),
		"resource directory loop": mutate(base, func(b []byte, h *peHeaders) {
			// Point the resource directory at .data and make its only
			// entry a subdirectory at offset 0: itself.
			var data peSection
			for _, s := range h.Sections {
				if s.Name == ".data" {
					data = s
				}
			}
			dirs := h.OptionalOffset + 96
			le.PutUint32(b[dirs+2*8:], data.VirtualAddress)
			le.PutUint32(b[dirs+2*8+4:], 64)
			p := b[data.PointerToRawData:]
			clear(p[:24])
			le.PutUint16(p[14:], 1)          // one ID entry
			le.PutUint32(p[16:], 3)          // RT_ICON
			le.PutUint32(p[20:], 0x80000000) // subdirectory at offset 0
		}),
		"rich header DanS next to Rich": richNextToDanS(small),
	}
	return in
}

// richNextToDanS gives a MinGW sample (no Rich header) a Rich header
// whose "DanS" marker sits right before "Rich": the PE headers move from
// 0x80 to 0x100 to make room. saferwall/pe's ParseRichHeader panics on it.
func richNextToDanS(base []byte) []byte {
	b := append([]byte(nil), base...)
	le := binary.LittleEndian
	if le.Uint32(b[0x3c:]) != 0x80 {
		panic("sample's PE header is not at 0x80")
	}
	copy(b[0x100:0x400], base[0x80:0x380])
	le.PutUint32(b[0x3c:], 0x100)
	clear(b[0x80:0x100])
	const key = 0x5a5a1234
	le.PutUint32(b[0x88:], le.Uint32([]byte("DanS"))^key)
	copy(b[0x8c:], "Rich")
	le.PutUint32(b[0x90:], key)
	return b
}

func TestHostileInputsKeepHashes(t *testing.T) {
	for name, data := range hostileInputs(t) {
		t.Run(name, func(t *testing.T) {
			r := Analyze(data)
			if r.Attributes["sha256"] != HashBytes(data).SHA256 || r.Attributes["size"] != int64(len(data)) {
				t.Fatalf("hashes missing: %v", r.Attributes)
			}
			if len(r.Failures) > 0 {
				t.Logf("failures (expected on hostile input): %+v", r.Failures)
			}
		})
	}
}

// The Rich-header crash of saferwall/pe is recovered: the pe_parse pass
// fails, the header-only attributes survive.
func TestParserPanicLosesOnePass(t *testing.T) {
	data := richNextToDanS(readSample(t, "gcc-386-mingw-no-symbols-exec"))
	if _, err := parsePEHeaders(data); err != nil {
		t.Fatalf("crafted sample is not a PE: %v", err)
	}
	r := Analyze(data)
	info, _ := r.Attributes["pe_info"].(Attributes)
	if info == nil || info["sections"] == nil || info["entry_point"] == nil {
		t.Fatalf("header attributes lost: %v", r.Attributes)
	}
	if len(r.Failures) != 1 || r.Failures[0].Step != "pe_parse" || !strings.HasPrefix(r.Failures[0].Err, "panic:") {
		t.Fatalf("failures %+v, want one recovered panic in pe_parse", r.Failures)
	}
}

func TestOverlayIgnoresRangesPastEOF(t *testing.T) {
	base := readSample(t, "gcc-386-mingw-exec")
	h, _ := parsePEHeaders(base)
	want := h.overlayOffset(int64(len(base)))
	if want <= 0 {
		t.Fatalf("sample has no overlay (%d)", want)
	}
	bad := hostileInputs(t)["PointerToRawData past EOF"]
	hb, _ := parsePEHeaders(bad)
	got := hb.overlayOffset(int64(len(bad)))
	if got < 0 || got > int64(len(bad)) {
		t.Fatalf("overlay offset %d outside the file", got)
	}
	if d := hb.sectionData(bad, hb.Sections[len(hb.Sections)-1]); d != nil {
		t.Fatalf("section past EOF has %d bytes of data", len(d))
	}
}

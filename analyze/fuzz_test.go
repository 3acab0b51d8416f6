package analyze

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	pe "github.com/saferwall/pe"
)

// seedBinaries adds the project's test binaries (and truncations of them)
// to a fuzz corpus.
func seedBinaries(f *testing.F) {
	ps, _ := filepath.Glob("../testdata/binaries/*")
	for _, p := range ps {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > 64<<10 {
			b = b[:64<<10]
		}
		f.Add(b)
		f.Add(b[:len(b)/3])
	}
}

func FuzzPEHeaders(f *testing.F) {
	seedBinaries(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parsePEHeaders(data)
		if err != nil {
			return
		}
		if len(h.Sections) > maxPESections || len(h.DataDirs) > 16 {
			t.Fatalf("%d sections, %d directories", len(h.Sections), len(h.DataDirs))
		}
		n := int64(len(data))
		if off := h.overlayOffset(n); off < -1 || off > n {
			t.Fatalf("overlay offset %d outside [−1, %d]", off, n)
		}
		for _, s := range h.Sections {
			d := h.sectionData(data, s)
			if int64(len(d)) > int64(s.SizeOfRawData) {
				t.Fatalf("section data %d > raw size %d", len(d), s.SizeOfRawData)
			}
			h.offsetFromRVA(s.VirtualAddress, n)
		}
		_ = exifHeaderFields(h)
	})
}

func FuzzParseVersionInfo(f *testing.F) {
	table := verBuild("040904b0", 1, nil, 0, verString("CompanyName", "Example"), verString("FileVersion", "1.0"))
	f.Add(verBuild("VS_VERSION_INFO", 0, fixedInfo(), 52, verBuild("StringFileInfo", 1, nil, 0, table)))
	zero := append([]byte(nil), table...)
	binary.LittleEndian.PutUint16(zero, 0)
	f.Add(verBuild("VS_VERSION_INFO", 0, fixedInfo(), 52, verBuild("StringFileInfo", 1, nil, 0, zero)))
	f.Fuzz(func(t *testing.T, b []byte) {
		vi, err := ParseVersionInfo(b)
		if err != nil {
			return
		}
		if len(vi.Strings) > maxVersionStrings {
			t.Fatalf("%d strings", len(vi.Strings))
		}
		_ = exifVersionFields(vi)
	})
}

// FuzzResources fuzzes the own resource walker and data mapping over
// whatever tree saferwall/pe builds (saferwall's own panics are out of
// scope here and skipped).
func FuzzResources(f *testing.F) {
	seedBinaries(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &sample{data: data}
		h, err := parsePEHeaders(data)
		if err != nil {
			return
		}
		s.hdr = h
		if !parsedBySaferwall(s) {
			return
		}
		leaves := resourceLeaves(s.pe.Resources)
		if len(leaves) > maxResourceLeaves {
			t.Fatalf("%d leaves", len(leaves))
		}
		for _, l := range leaves {
			if d := s.resourceData(l); int64(len(d)) > int64(l.size) {
				t.Fatalf("resource data %d > size %d", len(d), l.size)
			}
		}
		if _, err := peResourcesPass(s); err != nil {
			t.Fatal(err)
		}
		if _, err := peVersionPass(s); err != nil {
			return
		}
	})
}

func parsedBySaferwall(s *sample) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	f, err := pe.NewBytes(s.data, &pe.Options{DisableCertValidation: true, DisableSignatureValidation: true, Logger: discardLogger{}})
	if err != nil || f.Parse() != nil {
		return false
	}
	s.pe = f
	return true
}

// FuzzELF fuzzes the elf_info builder (own readelf tables and segment
// mapping over Go's debug/elf); a panic anywhere in it fails.
func FuzzELF(f *testing.F) {
	seedBinaries(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.HasPrefix(data, []byte("\x7fELF")) {
			return
		}
		s := &sample{data: data, isELF: true}
		a, err := elfPass(s)
		if err == nil && a["elf_info"] == nil {
			t.Fatal("no elf_info and no error")
		}
	})
}

// FuzzAnalyze runs every pass: no panic may escape and the hashes are
// always there.
func FuzzAnalyze(f *testing.F) {
	seedBinaries(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Analyze(data)
		if r.Attributes["sha256"] == nil || r.Attributes["size"] != int64(len(data)) {
			t.Fatalf("hashes missing: %v", r.Attributes)
		}
	})
}

package analyze

import (
	"encoding/binary"
	"errors"
)

// peHeaders is what the hand-written PE header reader extracts: the values
// needed for sections, overlay, exiftool fields and pe_info's scalars. It
// never trusts a size: every read is bounds-checked against the data.
type peHeaders struct {
	PEOffset             int64 // e_lfanew
	Machine              uint16
	NumberOfSections     uint16
	TimeDateStamp        uint32
	SizeOfOptionalHeader uint16
	Characteristics      uint16
	OptionalOffset       int64
	Magic                uint16 // 0x10b PE32, 0x20b PE32+
	LinkerMajor          uint8
	LinkerMinor          uint8
	SizeOfCode           uint32
	SizeOfInitData       uint32
	SizeOfUninitData     uint32
	EntryPoint           uint32
	ImageBase            uint64
	SectionAlignment     uint32
	FileAlignment        uint32
	OSMajor, OSMinor     uint16
	ImageMajor           uint16
	ImageMinor           uint16
	SubsysMajor          uint16
	SubsysMinor          uint16
	Subsystem            uint16
	DllCharacteristics   uint16
	DataDirs             []peDataDir
	Sections             []peSection
}

type peDataDir struct{ RVA, Size uint32 }

type peSection struct {
	Name             string
	VirtualSize      uint32
	VirtualAddress   uint32
	SizeOfRawData    uint32
	PointerToRawData uint32
	Characteristics  uint32
}

const (
	pe32     = 0x10b
	pe32Plus = 0x20b
	// maxPESections caps the section table read (the format allows 96 for
	// loaders, 65535 in the field; VT lists at most 256).
	maxPESections = 256
	dirSecurity   = 4
)

var errNotPE = errors.New("not a PE file")

// IsDLL reports the IMAGE_FILE_DLL characteristic.
func (h *peHeaders) IsDLL() bool { return h.Characteristics&0x2000 != 0 }

// Is64 reports a PE32+ optional header.
func (h *peHeaders) Is64() bool { return h.Magic == pe32Plus }

// parsePEHeaders reads the DOS, COFF and optional headers and the section
// table of data. It fails only when data is not a PE at all; a truncated
// optional header or section table gives what could be read.
func parsePEHeaders(data []byte) (*peHeaders, error) {
	if len(data) < 64 || data[0] != 'M' || data[1] != 'Z' {
		return nil, errNotPE
	}
	le := binary.LittleEndian
	h := &peHeaders{PEOffset: int64(le.Uint32(data[0x3c:]))}
	p := h.PEOffset
	if p+24 > int64(len(data)) || string(data[p:p+4]) != "PE\x00\x00" {
		return nil, errNotPE
	}
	fh := data[p+4 : p+24]
	h.Machine = le.Uint16(fh[0:])
	h.NumberOfSections = le.Uint16(fh[2:])
	h.TimeDateStamp = le.Uint32(fh[4:])
	h.SizeOfOptionalHeader = le.Uint16(fh[16:])
	h.Characteristics = le.Uint16(fh[18:])
	h.OptionalOffset = p + 24
	oh := sliceAt(data, h.OptionalOffset, int64(h.SizeOfOptionalHeader))
	if len(oh) >= 2 {
		h.Magic = le.Uint16(oh)
	}
	var dirOff int
	switch {
	case h.Magic == pe32 && len(oh) >= 96:
		h.ImageBase = uint64(le.Uint32(oh[28:]))
		dirOff = 96
	case h.Magic == pe32Plus && len(oh) >= 112:
		h.ImageBase = le.Uint64(oh[24:])
		dirOff = 112
	}
	if dirOff > 0 {
		h.LinkerMajor, h.LinkerMinor = oh[2], oh[3]
		h.SizeOfCode = le.Uint32(oh[4:])
		h.SizeOfInitData = le.Uint32(oh[8:])
		h.SizeOfUninitData = le.Uint32(oh[12:])
		h.EntryPoint = le.Uint32(oh[16:])
		h.SectionAlignment = le.Uint32(oh[32:])
		h.FileAlignment = le.Uint32(oh[36:])
		h.OSMajor, h.OSMinor = le.Uint16(oh[40:]), le.Uint16(oh[42:])
		h.ImageMajor, h.ImageMinor = le.Uint16(oh[44:]), le.Uint16(oh[46:])
		h.SubsysMajor, h.SubsysMinor = le.Uint16(oh[48:]), le.Uint16(oh[50:])
		h.Subsystem = le.Uint16(oh[68:])
		h.DllCharacteristics = le.Uint16(oh[70:])
		n := le.Uint32(oh[dirOff-4:])
		if n > 16 {
			n = 16
		}
		for i := uint32(0); i < n; i++ {
			o := dirOff + int(i)*8
			if o+8 > len(oh) {
				break
			}
			h.DataDirs = append(h.DataDirs, peDataDir{RVA: le.Uint32(oh[o:]), Size: le.Uint32(oh[o+4:])})
		}
	}
	secOff := h.OptionalOffset + int64(h.SizeOfOptionalHeader)
	n := int(h.NumberOfSections)
	if n > maxPESections {
		n = maxPESections
	}
	for i := 0; i < n; i++ {
		s := sliceAt(data, secOff+int64(i)*40, 40)
		if len(s) < 40 {
			break
		}
		name := s[:8]
		for j, c := range name {
			if c == 0 {
				name = name[:j]
				break
			}
		}
		h.Sections = append(h.Sections, peSection{
			Name:             string(name),
			VirtualSize:      le.Uint32(s[8:]),
			VirtualAddress:   le.Uint32(s[12:]),
			SizeOfRawData:    le.Uint32(s[16:]),
			PointerToRawData: le.Uint32(s[20:]),
			Characteristics:  le.Uint32(s[36:]),
		})
	}
	return h, nil
}

// sliceAt returns data[off:off+n] clipped to data; nil when off is outside.
func sliceAt(data []byte, off, n int64) []byte {
	if off < 0 || n < 0 || off >= int64(len(data)) {
		return nil
	}
	end := off + n
	if end > int64(len(data)) || end < off {
		end = int64(len(data))
	}
	return data[off:end]
}

// adjustFileAlignment is pefile's adjust_FileAlignment: raw pointers are
// rounded down to 512 when the file alignment is at least 512.
func (h *peHeaders) adjustFileAlignment(v uint32) uint32 {
	if h.FileAlignment < 0x200 {
		return v
	}
	return v / 0x200 * 0x200
}

// adjustSectionAlignment is pefile's adjust_SectionAlignment.
func (h *peHeaders) adjustSectionAlignment(v uint32) uint32 {
	sa := h.SectionAlignment
	if sa < 0x1000 {
		sa = h.FileAlignment
	}
	if sa != 0 && v%sa != 0 {
		return sa * (v / sa)
	}
	return v
}

// sectionData is pefile's SectionStructure.get_data(): from the adjusted raw
// pointer, SizeOfRawData bytes, never past PointerToRawData+SizeOfRawData
// nor the end of the file.
func (h *peHeaders) sectionData(data []byte, s peSection) []byte {
	start := int64(h.adjustFileAlignment(s.PointerToRawData))
	end := start + int64(s.SizeOfRawData)
	if lim := int64(s.PointerToRawData) + int64(s.SizeOfRawData); end > lim {
		end = lim
	}
	if start >= int64(len(data)) || end <= start {
		return nil
	}
	if end > int64(len(data)) {
		end = int64(len(data))
	}
	return data[start:end]
}

// offsetFromRVA is pefile's get_offset_from_rva: through the section that
// contains rva, else rva itself when it lies inside the file (headers).
func (h *peHeaders) offsetFromRVA(rva uint32, fileSize int64) (int64, bool) {
	for _, s := range h.Sections {
		va := int64(h.adjustSectionAlignment(s.VirtualAddress))
		size := int64(s.VirtualSize)
		if int64(s.SizeOfRawData) > size {
			size = int64(s.SizeOfRawData)
		}
		if int64(rva) >= va && int64(rva) < va+size {
			return int64(rva) - va + int64(h.adjustFileAlignment(s.PointerToRawData)), true
		}
	}
	if int64(rva) < fileSize {
		return int64(rva), true
	}
	return 0, false
}

// overlayOffset is pefile's get_overlay_data_start_offset: the end of the
// furthest of the optional header, the sections' raw data and the data
// directories other than the certificate table, counting only ranges that
// end inside the file. It returns -1 when nothing follows.
func (h *peHeaders) overlayOffset(fileSize int64) int64 {
	var largest int64
	consider := func(off, size int64) {
		if end := off + size; end <= fileSize && end > largest {
			largest = end
		}
	}
	consider(h.OptionalOffset, int64(h.SizeOfOptionalHeader))
	for _, s := range h.Sections {
		consider(int64(s.PointerToRawData), int64(s.SizeOfRawData))
	}
	for i, d := range h.DataDirs {
		if i == dirSecurity {
			continue
		}
		if off, ok := h.offsetFromRVA(d.RVA, fileSize); ok {
			consider(off, int64(d.Size))
		}
	}
	if fileSize > largest {
		return largest
	}
	return -1
}

// sectionFlags is VirusTotal's r/w/x string for section characteristics.
func sectionFlags(c uint32) string {
	s := ""
	if c&0x40000000 != 0 {
		s += "r"
	}
	if c&0x80000000 != 0 {
		s += "w"
	}
	if c&0x20000000 != 0 {
		s += "x"
	}
	return s
}

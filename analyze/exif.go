package analyze

import (
	"fmt"
	"strings"
	"time"
)

// The exiftool attribute: ExifTool's tag names and value wording for the
// PE header and version resource (the subset VirusTotal shows for PE
// files), computed here rather than by running exiftool. Every value is a
// string, as in VirusTotal's exiftool object.

var exifMachines = map[uint16]string{
	0x14c: "Intel 386 or later, and compatibles", 0x8664: "AMD AMD64", 0x1c0: "ARM little endian",
	0x1c4: "ARMv7 (or higher) Thumb mode only", 0x200: "Intel Itanium",
	0x166: "MIPS little-endian WCE v2", 0x184: "Alpha AXP",
}

var exifSubsystems = map[uint16]string{
	0: "Unknown", 1: "Native", 2: "Windows GUI", 3: "Windows command line", 5: "OS/2 command line",
	7: "POSIX command line", 9: "Windows CE GUI", 10: "EFI application", 11: "EFI boot service",
	12: "EFI runtime driver", 13: "EFI ROM", 14: "XBOX", 16: "Windows boot application",
}

var exifCharacteristics = []struct {
	bit  uint16
	name string
}{
	{0x0001, "No relocs"}, {0x0002, "Executable"}, {0x0004, "No line numbers"}, {0x0008, "No symbols"},
	{0x0010, "Aggressive working-set trim"}, {0x0020, "Large address aware"}, {0x0080, "Bytes reversed lo"},
	{0x0100, "32-bit"}, {0x0200, "No debug"}, {0x0400, "Removable run from swap"},
	{0x0800, "Net run from swap"}, {0x1000, "System file"}, {0x2000, "DLL"},
	{0x4000, "Uniprocessor only"}, {0x8000, "Bytes reversed hi"},
}

// exifTime is ExifTool's PE time stamp: UTC with "+00:00", or all zeros
// for a zero stamp.
func exifTime(sec uint32) string {
	if sec == 0 {
		return "0000:00:00 00:00:00"
	}
	return time.Unix(int64(sec), 0).UTC().Format("2006:01:02 15:04:05") + "+00:00"
}

func exifBits(v uint16) string {
	var names []string
	for _, c := range exifCharacteristics {
		if v&c.bit != 0 {
			names = append(names, c.name)
		}
	}
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

func exifHeaderFields(h *peHeaders) Attributes {
	a := Attributes{
		"TimeStamp":                exifTime(h.TimeDateStamp),
		"ImageFileCharacteristics": exifBits(h.Characteristics),
		"FileType":                 "Win32 EXE",
		"FileTypeExtension":        "exe",
		"MIMEType":                 "application/octet-stream",
	}
	// ExifTool says Win64 for the AMD64 and IA-64 machine types only.
	word := "Win32"
	if h.Machine == 0x8664 || h.Machine == 0x200 {
		word = "Win64"
	}
	a["FileType"] = word + " EXE"
	if h.IsDLL() {
		a["FileType"], a["FileTypeExtension"] = word+" DLL", "dll"
	}
	if m, ok := exifMachines[h.Machine]; ok {
		a["MachineType"] = m
	} else {
		a["MachineType"] = fmt.Sprintf("Unknown (0x%x)", h.Machine)
	}
	if h.Magic != pe32 && h.Magic != pe32Plus {
		return a
	}
	a["PEType"] = "PE32"
	if h.Is64() {
		a["PEType"] = "PE32+"
	}
	a["LinkerVersion"] = fmt.Sprintf("%d.%d", h.LinkerMajor, h.LinkerMinor)
	a["CodeSize"] = fmt.Sprint(h.SizeOfCode)
	a["InitializedDataSize"] = fmt.Sprint(h.SizeOfInitData)
	a["UninitializedDataSize"] = fmt.Sprint(h.SizeOfUninitData)
	a["EntryPoint"] = fmt.Sprintf("0x%04x", h.EntryPoint)
	a["OSVersion"] = fmt.Sprintf("%d.%d", h.OSMajor, h.OSMinor)
	a["ImageVersion"] = fmt.Sprintf("%d.%d", h.ImageMajor, h.ImageMinor)
	a["SubsystemVersion"] = fmt.Sprintf("%d.%d", h.SubsysMajor, h.SubsysMinor)
	if s, ok := exifSubsystems[h.Subsystem]; ok {
		a["Subsystem"] = s
	} else {
		a["Subsystem"] = fmt.Sprintf("Unknown (%d)", h.Subsystem)
	}
	return a
}

var exifFileOS = map[uint32]string{
	0x00001: "DOS", 0x00002: "OS/2 16-bit", 0x00003: "OS/2 32-bit", 0x00004: "Win32",
	0x10000: "DOS", 0x10001: "Windows 16-bit", 0x10004: "Windows 32-bit", 0x20000: "OS/2 16-bit",
	0x20002: "OS/2 16-bit PM-16", 0x30000: "OS/2 32-bit", 0x30003: "OS/2 32-bit PM-32",
	0x40000: "Windows NT", 0x40004: "Windows NT 32-bit",
}

var exifObjectTypes = map[uint32]string{
	0: "Unknown", 1: "Executable application", 2: "Dynamic link library", 3: "Driver",
	4: "Font", 5: "VxD", 7: "Static library",
}

var exifFileFlags = []struct {
	bit  uint32
	name string
}{
	{0x01, "Debug"}, {0x02, "Pre-release"}, {0x04, "Patched"}, {0x08, "Private build"},
	{0x10, "Info inferred"}, {0x20, "Special build"},
}

var exifCharsets = map[uint16]string{
	0: "ASCII", 932: "Windows, Japan (Shift - JIS X-0208)", 949: "Windows, Korea (Shift - KSC 5601)",
	950: "Windows, Taiwan (Big5)", 1200: "Unicode", 1250: "Windows, Latin2 (Eastern European)",
	1251: "Windows, Cyrillic", 1252: "Windows, Latin1", 1253: "Windows, Greek", 1254: "Windows, Turkish",
	1255: "Windows, Hebrew", 1256: "Windows, Arabic",
}

var exifLanguages = map[uint16]string{
	0x0000: "Neutral", 0x0409: "English (U.S.)", 0x0809: "English (British)", 0x0407: "German",
	0x040c: "French", 0x0410: "Italian", 0x0411: "Japanese", 0x0412: "Korean", 0x0419: "Russian",
	0x0804: "Chinese (Simplified)", 0x0404: "Chinese (Traditional)", 0x040a: "Spanish (Castilian)",
	0x0416: "Portuguese (Brazilian)", 0x0413: "Dutch", 0x041d: "Swedish", 0x0415: "Polish",
	0x7f00: "Invariant",
}

func versionQuad(ms, ls uint32) string {
	return fmt.Sprintf("%d.%d.%d.%d", ms>>16, ms&0xffff, ls>>16, ls&0xffff)
}

// exifVersionFields are ExifTool's fields from the version resource.
func exifVersionFields(vi *VersionInfo) Attributes {
	a := Attributes{}
	if f := vi.Fixed; f != nil {
		a["FileVersionNumber"] = versionQuad(f.FileVersionMS, f.FileVersionLS)
		a["ProductVersionNumber"] = versionQuad(f.ProductVersionMS, f.ProductVersionLS)
		a["FileFlagsMask"] = fmt.Sprintf("0x%04x", f.FileFlagsMask)
		var flags []string
		for _, fl := range exifFileFlags {
			if f.FileFlags&fl.bit != 0 {
				flags = append(flags, fl.name)
			}
		}
		if flags == nil {
			a["FileFlags"] = "(none)"
		} else {
			a["FileFlags"] = strings.Join(flags, ", ")
		}
		a["FileOS"] = exifName(exifFileOS, f.FileOS, "Unknown (0x%x)")
		a["ObjectFileType"] = exifName(exifObjectTypes, f.FileType, "Unknown (%d)")
		a["FileSubtype"] = fmt.Sprint(f.FileSubtype)
	}
	if vi.HasLang {
		a["LanguageCode"] = exifName(exifLanguages, vi.LangID, "%04X")
		a["CharacterSet"] = exifName(exifCharsets, vi.CodePage, "%04X")
	}
	for _, s := range vi.Strings {
		if s.Key != "" && isExifName(s.Key) {
			if n, ok := exifStringNames[s.Key]; ok {
				a[n] = s.Value
			} else {
				a[s.Key] = s.Value
			}
		}
	}
	return a
}

// exifStringNames are the version strings ExifTool renames.
var exifStringNames = map[string]string{"OriginalFilename": "OriginalFileName"}

// isExifName accepts version-string keys usable as ExifTool tag names
// (letters and digits).
func isExifName(k string) bool {
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// exifName returns the name names gives code, else code printed with
// unknown (a fmt format taking the code as its only operand), as ExifTool
// prints a value its table does not know.
func exifName[K comparable](names map[K]string, code K, unknown string) string {
	if s, ok := names[code]; ok {
		return s
	}
	return fmt.Sprintf(unknown, code)
}

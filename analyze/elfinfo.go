package analyze

import (
	"bytes"
	"debug/elf"
	"fmt"
	"strings"
)

// readelf's wording for header values.
var elfMachines = map[elf.Machine]string{
	elf.EM_386: "Intel 80386", elf.EM_X86_64: "Advanced Micro Devices X86-64", elf.EM_ARM: "ARM",
	elf.EM_AARCH64: "AArch64", elf.EM_MIPS: "MIPS R3000", elf.EM_RISCV: "RISC-V",
	elf.EM_PPC: "PowerPC", elf.EM_PPC64: "PowerPC64", elf.EM_SPARC: "Sparc", elf.EM_SPARCV9: "Sparc v9",
	elf.EM_S390: "IBM S/390", elf.EM_SH: "Renesas / SuperH SH", elf.EM_68K: "MC68000",
	elf.EM_LOONGARCH: "LoongArch",
}

var elfOSABIs = map[elf.OSABI]string{
	elf.ELFOSABI_NONE: "UNIX - System V", elf.ELFOSABI_HPUX: "UNIX - HP-UX", elf.ELFOSABI_NETBSD: "UNIX - NetBSD",
	elf.ELFOSABI_LINUX: "UNIX - Linux", elf.ELFOSABI_SOLARIS: "UNIX - Solaris", elf.ELFOSABI_FREEBSD: "UNIX - FreeBSD",
	elf.ELFOSABI_OPENBSD: "UNIX - OpenBSD", elf.ELFOSABI_ARM: "ARM", elf.ELFOSABI_STANDALONE: "Standalone App",
}

var elfTypes = map[elf.Type]string{
	elf.ET_NONE: "NONE (None)", elf.ET_REL: "REL (Relocatable file)", elf.ET_EXEC: "EXEC (Executable file)",
	elf.ET_DYN: "DYN (Shared object file)", elf.ET_CORE: "CORE (Core file)",
}

var elfSectionFlagLetters = []struct {
	flag   elf.SectionFlag
	letter string
}{
	{elf.SHF_WRITE, "W"}, {elf.SHF_ALLOC, "A"}, {elf.SHF_EXECINSTR, "X"}, {elf.SHF_MERGE, "M"},
	{elf.SHF_STRINGS, "S"}, {elf.SHF_INFO_LINK, "I"}, {elf.SHF_LINK_ORDER, "L"},
	{elf.SHF_OS_NONCONFORMING, "O"}, {elf.SHF_GROUP, "G"}, {elf.SHF_TLS, "T"}, {elf.SHF_COMPRESSED, "C"},
}

// elfName strips the Go constant prefix ("SHT_PROGBITS" -> "PROGBITS");
// unknown values print as their number.
func elfName(s, prefix string) string { return strings.TrimPrefix(s, prefix) }

func elfSectionFlags(f elf.SectionFlag) string {
	var b strings.Builder
	for _, l := range elfSectionFlagLetters {
		if f&l.flag != 0 {
			b.WriteString(l.letter)
		}
	}
	return b.String()
}

func orUnknown[K comparable](m map[K]string, k K, n uint64) string {
	if s, ok := m[k]; ok {
		return s
	}
	return fmt.Sprintf("<unknown: %x>", n)
}

// maxELFSymbols bounds the import and export lists.
const maxELFSymbols = 4096

// elfPass builds elf_info with Go's debug/elf and readelf's wording.
func elfPass(s *sample) (Attributes, error) {
	if !s.isELF {
		return nil, nil
	}
	f, err := elf.NewFile(bytes.NewReader(s.data))
	if err != nil {
		return nil, err
	}
	s.elfClass64 = f.Class == elf.ELFCLASS64
	data := "2's complement, little endian"
	if f.Data == elf.ELFDATA2MSB {
		data = "2's complement, big endian"
	}
	info := Attributes{"header": Attributes{
		"class":               strings.TrimPrefix(f.Class.String(), "ELFCLASS"),
		"data":                data,
		"machine":             orUnknown(elfMachines, f.Machine, uint64(f.Machine)),
		"os_abi":              orUnknown(elfOSABIs, f.OSABI, uint64(f.OSABI)),
		"type":                orUnknown(elfTypes, f.Type, uint64(f.Type)),
		"hdr_version":         fmt.Sprintf("%d (current)", f.Version),
		"obj_version":         "0x1",
		"abi_version":         f.ABIVersion,
		"entrypoint":          f.Entry,
		"num_prog_headers":    len(f.Progs),
		"num_section_headers": len(f.Sections),
	}}
	if f.Class == elf.ELFCLASS32 {
		info["header"].(Attributes)["class"] = "ELF32"
	} else if f.Class == elf.ELFCLASS64 {
		info["header"].(Attributes)["class"] = "ELF64"
	}
	var secs []Attributes
	for _, sec := range f.Sections {
		if sec.Type == elf.SHT_NULL || len(secs) == maxListLen {
			continue
		}
		secs = append(secs, Attributes{
			"name": sec.Name, "section_type": elfName(sec.Type.String(), "SHT_"),
			"virtual_address": sec.Addr, "physical_offset": sec.Offset, "size": sec.Size,
			"flags": elfSectionFlags(sec.Flags),
		})
	}
	if secs != nil {
		info["section_list"] = secs
	}
	var segs []Attributes
	for _, p := range f.Progs {
		if len(segs) == maxListLen {
			break
		}
		var names []string
		for _, sec := range f.Sections {
			if sec.Type == elf.SHT_NULL || sec.Flags&elf.SHF_ALLOC == 0 {
				continue
			}
			if sec.Addr >= p.Vaddr && sec.Addr+sec.Size <= p.Vaddr+p.Memsz && (sec.Size > 0 || sec.Addr < p.Vaddr+p.Memsz) {
				names = append(names, sec.Name)
			}
		}
		if names == nil {
			names = []string{}
		}
		segs = append(segs, Attributes{"segment_type": elfName(p.Type.String(), "PT_"), "resources": names})
	}
	if segs != nil {
		info["segment_list"] = segs
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		info["shared_libraries"] = libs
	}
	if syms, err := f.DynamicSymbols(); err == nil {
		var imports, exports []Attributes
		for _, sym := range syms {
			t := elf.ST_TYPE(sym.Info)
			if sym.Name == "" || (t != elf.STT_FUNC && t != elf.STT_OBJECT) {
				continue
			}
			e := Attributes{"name": sym.Name, "type": elfName(t.String(), "STT_")}
			if sym.Section == elf.SHN_UNDEF {
				if len(imports) < maxELFSymbols {
					imports = append(imports, e)
				}
			} else if b := elf.ST_BIND(sym.Info); b == elf.STB_GLOBAL || b == elf.STB_WEAK {
				if len(exports) < maxELFSymbols {
					exports = append(exports, e)
				}
			}
		}
		if imports != nil {
			info["import_list"] = imports
		}
		if exports != nil {
			info["export_list"] = exports
		}
	}
	if bytes.Contains(s.data, []byte("UPX!")) {
		info["packers"] = []string{"upx"}
	}
	return Attributes{"elf_info": info}, nil
}

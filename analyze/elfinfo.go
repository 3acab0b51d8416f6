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

// elfSectionFlagLetters are readelf's letters, in bit order.
var elfSectionFlagLetters = []struct {
	flag   elf.SectionFlag
	letter string
}{
	{elf.SHF_WRITE, "W"}, {elf.SHF_ALLOC, "A"}, {elf.SHF_EXECINSTR, "X"}, {elf.SHF_MERGE, "M"},
	{elf.SHF_STRINGS, "S"}, {elf.SHF_INFO_LINK, "I"}, {elf.SHF_LINK_ORDER, "L"},
	{elf.SHF_OS_NONCONFORMING, "O"}, {elf.SHF_GROUP, "G"}, {elf.SHF_TLS, "T"}, {elf.SHF_COMPRESSED, "C"},
	{0x80000000, "E"},
}

const (
	shfMaskOS   = 0x0ff00000
	shfMaskProc = 0xf0000000
)

// procSectionTypes are readelf's names of processor-specific section
// types (SHT_LOPROC + n) per machine.
var procSectionTypes = map[elf.Machine]map[uint32]string{
	elf.EM_ARM:     {1: "ARM_EXIDX", 2: "ARM_PREEMPTMAP", 3: "ARM_ATTRIBUTES", 4: "ARM_DEBUGOVERLAY", 5: "ARM_OVERLAYSECTION"},
	elf.EM_AARCH64: {3: "AARCH64_ATTRIBUTES"},
	elf.EM_RISCV:   {3: "RISCV_ATTRIBUTES"},
	elf.EM_X86_64:  {1: "X86_64_UNWIND"},
	elf.EM_MIPS: {0: "MIPS_LIBLIST", 1: "MIPS_MSYM", 2: "MIPS_CONFLICT", 3: "MIPS_GPTAB", 4: "MIPS_UCODE",
		5: "MIPS_DEBUG", 6: "MIPS_REGINFO", 0xd: "MIPS_OPTIONS", 0x1e: "MIPS_DWARF", 0x2a: "MIPS_ABIFLAGS"},
}

// elfSectionType is readelf's name of a section type.
func elfSectionType(t elf.SectionType, m elf.Machine) string {
	const loproc, hiproc, loos, hios, louser = 0x70000000, 0x7fffffff, 0x60000000, 0x6fffffff, 0x80000000
	v := uint32(t)
	if v >= loproc && v <= hiproc {
		if n, ok := procSectionTypes[m][v-loproc]; ok {
			return n
		}
		return fmt.Sprintf("LOPROC+%#x", v-loproc)
	}
	n := elfName(t.String(), "SHT_")
	if _, err := fmt.Sscan(n, new(uint64)); err == nil || strings.HasPrefix(n, "SectionType(") {
		switch {
		case v >= loos && v <= hios:
			return fmt.Sprintf("LOOS+%#x", v-loos)
		case v >= louser:
			return fmt.Sprintf("LOUSER+%#x", v-louser)
		}
		return fmt.Sprintf("%08x: <unknown>", v)
	}
	return n
}

// elfSectionFlags is readelf -W's flag column: known letters in bit order,
// then o (OS-specific), p (processor-specific), x (unknown).
func elfSectionFlags(f elf.SectionFlag, m elf.Machine) string {
	var b strings.Builder
	rest := f
	for _, l := range elfSectionFlagLetters {
		if f&l.flag != 0 {
			b.WriteString(l.letter)
			rest &^= l.flag
		}
	}
	if m == elf.EM_X86_64 && rest&0x10000000 != 0 {
		b.WriteString("l")
		rest &^= 0x10000000
	}
	if rest&shfMaskOS != 0 {
		b.WriteString("o")
	}
	if rest&shfMaskProc != 0 {
		b.WriteString("p")
	}
	if rest&^(shfMaskOS|shfMaskProc) != 0 {
		b.WriteString("x")
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
			"name": sec.Name, "section_type": elfSectionType(sec.Type, f.Machine),
			"virtual_address": sec.Addr, "physical_offset": sec.Offset, "size": sec.Size,
			"flags": elfSectionFlags(sec.Flags, f.Machine),
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

// readelfNames are readelf's names where they differ from Go's constant
// names without prefix.
var readelfNames = map[string]string{
	"GNU_VERSYM": "VERSYM", "GNU_VERNEED": "VERNEED", "GNU_VERDEF": "VERDEF",
}

// elfName strips the Go constant prefix ("SHT_PROGBITS" -> "PROGBITS") and
// uses readelf's name where it differs.
func elfName(s, prefix string) string {
	s = strings.TrimPrefix(s, prefix)
	if r, ok := readelfNames[s]; ok {
		return r
	}
	return s
}

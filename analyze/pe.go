package analyze

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	pe "github.com/saferwall/pe"
	pelog "github.com/saferwall/pe/log"
)

// maxListLen caps lists as VirusTotal does.
const maxListLen = 256

var errNoPE = errors.New("no PE headers")

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// peHeadersPass produces the attributes that need only the headers (read by
// the hand-written reader): entry_point, machine_type, timestamp,
// sections, overlay, creation_date and the exiftool header fields.
func peHeadersPass(s *sample) (Attributes, error) {
	h := s.hdr
	if h == nil {
		return nil, nil
	}
	info := Attributes{
		"entry_point":  h.EntryPoint,
		"machine_type": h.Machine,
		"timestamp":    h.TimeDateStamp,
	}
	var secs []Attributes
	for i, sec := range h.Sections {
		if i == maxListLen {
			break
		}
		d := h.sectionData(s.data, sec)
		st := Stats(d)
		secs = append(secs, Attributes{
			"name":            sec.Name,
			"virtual_address": sec.VirtualAddress,
			"virtual_size":    sec.VirtualSize,
			"raw_size":        sec.SizeOfRawData,
			"entropy":         round2(st.Entropy),
			"chi2":            round2(st.Chi2),
			"md5":             md5hex(d),
			"flags":           sectionFlags(sec.Characteristics),
		})
	}
	if secs != nil {
		info["sections"] = secs
	}
	if off := h.overlayOffset(int64(len(s.data))); off >= 0 {
		d := s.data[off:]
		st := Stats(d)
		info["overlay"] = Attributes{
			"offset":  off,
			"size":    len(d),
			"md5":     md5hex(d),
			"entropy": asFloat32(st.Entropy),
			"chi2":    round2(st.Chi2),
		}
		s.overlay = true
	}
	return Attributes{
		"pe_info":       info,
		"creation_date": h.TimeDateStamp,
		"exiftool":      exifHeaderFields(h),
	}, nil
}

// discardLogger swallows saferwall's log output (its default writes to
// stdout).
type discardLogger struct{}

func (discardLogger) Log(pelog.Level, ...any) error { return nil }

// peParsePass runs saferwall/pe over the sample: imports, exports, debug
// directory, Rich header and authentihash.
func peParsePass(s *sample) (Attributes, error) {
	if s.hdr == nil {
		return nil, nil
	}
	if int64(len(s.data)) >= 1<<32 {
		return nil, errors.New("PE parser: file of 4 GiB or more")
	}
	f, err := pe.NewBytes(s.data, &pe.Options{
		DisableCertValidation:      true,
		DisableSignatureValidation: true,
		Logger:                     discardLogger{},
		OmitExceptionDirectory:     true,
		OmitRelocDirectory:         true,
	})
	if err != nil {
		return nil, err
	}
	if err := f.Parse(); err != nil {
		return nil, err
	}
	s.pe = f
	info := Attributes{}
	a := Attributes{"pe_info": info}
	if imps := importList(f); len(imps) > 0 {
		info["import_list"] = imps
		info["imphash"] = Imphash(f.Imports)
	}
	var exports []string
	for _, e := range f.Export.Functions {
		if e.Name != "" && len(exports) < maxListLen {
			exports = append(exports, e.Name)
		}
	}
	if exports != nil {
		info["exports"] = exports
	}
	if dbg := debugEntries(f); dbg != nil {
		info["debug"] = dbg
	}
	if len(f.RichHeader.CompIDs) > 0 {
		info["rich_pe_header_hash"] = f.RichHeaderHash()
	}
	if ah := f.Authentihash(); len(ah) > 0 {
		a["authentihash"] = hex.EncodeToString(ah)
	}
	s.assembly = f.HasCLR
	for _, imp := range f.Imports {
		for _, fn := range imp.Functions {
			if debugEnvImports[fn.Name] {
				s.debugEnv = true
			}
		}
	}
	return a, nil
}

// debugEnvImports are imports that give the detect-debug-environment tag.
var debugEnvImports = map[string]bool{
	"IsDebuggerPresent": true, "CheckRemoteDebuggerPresent": true,
	"NtQueryInformationProcess": true, "OutputDebugStringA": true, "OutputDebugStringW": true,
}

// importList is VT's import_list: one entry per DLL, names as in the file,
// functions sorted case-insensitively (ordinal imports named as in the
// imphash: a known name or "ord<N>").
func importList(f *pe.File) []Attributes {
	var out []Attributes
	for _, imp := range f.Imports {
		if len(out) == maxListLen {
			break
		}
		var fns []string
		for _, fn := range imp.Functions {
			name := fn.Name
			if fn.ByOrdinal {
				name = pe.OrdLookup(imp.Name, uint64(fn.Ordinal), true)
			}
			if name != "" {
				fns = append(fns, name)
			}
		}
		sort.SliceStable(fns, func(i, j int) bool { return strings.ToLower(fns[i]) < strings.ToLower(fns[j]) })
		out = append(out, Attributes{"library_name": imp.Name, "imported_functions": fns})
	}
	return out
}

// Imphash is pefile's get_imphash over the import directory in file
// order: "<lib>.<func>" lowercased, the library's extension dropped when
// it is dll, ocx or sys (after the last dot), ordinals named through
// pefile's frozen ws2_32/oleaut32 tables or "ord<N>"; joined by commas;
// MD5. No imports gives "".
func Imphash(imports []pe.Import) string {
	var parts []string
	for _, imp := range imports {
		lib := strings.ToLower(imp.Name)
		if i := strings.LastIndexByte(lib, '.'); i >= 0 {
			switch lib[i+1:] {
			case "dll", "ocx", "sys":
				lib = lib[:i]
			}
		}
		for _, fn := range imp.Functions {
			name := fn.Name
			if fn.ByOrdinal {
				name = pe.OrdLookup(imp.Name, uint64(fn.Ordinal), true)
			}
			if name == "" {
				continue
			}
			parts = append(parts, lib+"."+strings.ToLower(name))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return md5hex([]byte(strings.Join(parts, ",")))
}

var debugTypeNames = map[uint32]string{
	0: "IMAGE_DEBUG_TYPE_UNKNOWN", 1: "IMAGE_DEBUG_TYPE_COFF", 2: "IMAGE_DEBUG_TYPE_CODEVIEW",
	3: "IMAGE_DEBUG_TYPE_FPO", 4: "IMAGE_DEBUG_TYPE_MISC", 5: "IMAGE_DEBUG_TYPE_EXCEPTION",
	6: "IMAGE_DEBUG_TYPE_FIXUP", 7: "IMAGE_DEBUG_TYPE_OMAP_TO_SRC", 8: "IMAGE_DEBUG_TYPE_OMAP_FROM_SRC",
	9: "IMAGE_DEBUG_TYPE_BORLAND", 10: "IMAGE_DEBUG_TYPE_RESERVED10", 11: "IMAGE_DEBUG_TYPE_CLSID",
	12: "IMAGE_DEBUG_TYPE_VC_FEATURE", 13: "IMAGE_DEBUG_TYPE_POGO", 14: "IMAGE_DEBUG_TYPE_ILTCG",
	15: "IMAGE_DEBUG_TYPE_MPX", 16: "IMAGE_DEBUG_TYPE_REPRO", 20: "IMAGE_DEBUG_TYPE_EX_DLLCHARACTERISTICS",
}

// vtTime formats Unix seconds as VT's debug timestamps: "%a %b %d
// %H:%M:%S %Y" in UTC.
func vtTime(sec uint32) string {
	return time.Unix(int64(sec), 0).UTC().Format("Mon Jan 02 15:04:05 2006")
}

func guidString(g pe.GUID) string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", g.Data1, g.Data2, g.Data3, g.Data4[:2], g.Data4[2:])
}

func debugEntries(f *pe.File) []Attributes {
	var out []Attributes
	for _, d := range f.Debugs {
		if len(out) == maxListLen {
			break
		}
		t := uint32(d.Struct.Type)
		name, ok := debugTypeNames[t]
		if !ok {
			name = fmt.Sprint(t)
		}
		e := Attributes{
			"type": t, "type_str": name, "timestamp": vtTime(d.Struct.TimeDateStamp),
			"offset": d.Struct.PointerToRawData, "size": d.Struct.SizeOfData,
		}
		switch cv := d.Info.(type) {
		case pe.CVInfoPDB70:
			e["codeview"] = Attributes{"signature": "RSDS", "guid": guidString(cv.Signature),
				"age": cv.Age, "name": strings.TrimRight(cv.PDBFileName, "\x00")}
		case pe.CVInfoPDB20:
			e["codeview"] = Attributes{"signature": "NB10", "offset": cv.CVHeader.Offset,
				"timestamp": vtTime(cv.Signature), "age": cv.Age, "name": strings.TrimRight(cv.PDBFileName, "\x00")}
		}
		out = append(out, e)
	}
	return out
}

// resourceLeaf is one resource data entry of the type/name/language tree.
type resourceLeaf struct {
	typeName string
	typeID   uint32
	langID   uint32
	rva      uint32
	size     uint32
}

// maxResourceLeaves bounds the walk over a (possibly crafted) tree.
const maxResourceLeaves = 4096

// resourceLeaves walks the three-level resource tree saferwall parsed.
func resourceLeaves(root pe.ResourceDirectory) []resourceLeaf {
	var out []resourceLeaf
	for _, t := range root.Entries {
		typeName := t.Name
		if typeName == "" {
			typeName = resourceTypeName(t.ID)
		}
		for _, n := range t.Directory.Entries {
			if !n.IsResourceDir {
				continue
			}
			for _, l := range n.Directory.Entries {
				if l.IsResourceDir || len(out) >= maxResourceLeaves {
					continue
				}
				out = append(out, resourceLeaf{typeName: typeName, typeID: t.ID, langID: l.ID,
					rva: l.Data.Struct.OffsetToData, size: l.Data.Struct.Size})
			}
		}
	}
	return out
}

// resourceData returns the bytes of a leaf (its RVA mapped through the
// sections, pefile's get_data), clipped to the file.
func (s *sample) resourceData(l resourceLeaf) []byte {
	off, ok := s.hdr.offsetFromRVA(l.rva, int64(len(s.data)))
	if !ok {
		return nil
	}
	return sliceAt(s.data, off, int64(l.size))
}

func peResourcesPass(s *sample) (Attributes, error) {
	if s.pe == nil {
		return nil, nil
	}
	leaves := resourceLeaves(s.pe.Resources)
	if len(leaves) == 0 {
		return nil, nil
	}
	types, langs := map[string]int{}, map[string]int{}
	var details []Attributes
	for _, l := range leaves {
		d := s.resourceData(l)
		sum := sha256.Sum256(d)
		st := Stats(d)
		lang := langName(l.langID)
		types[l.typeName]++
		langs[lang]++
		if len(details) < maxListLen {
			details = append(details, Attributes{
				"type": l.typeName, "lang": lang, "sha256": hex.EncodeToString(sum[:]),
				"entropy": asFloat32(st.Entropy), "chi2": round2(st.Chi2),
			})
		}
	}
	return Attributes{"pe_info": Attributes{
		"resource_details": details, "resource_types": types, "resource_langs": langs,
	}}, nil
}

// rtVersion is the RT_VERSION resource type.
const rtVersion = 16

// versionInfo finds and parses the first RT_VERSION resource.
func (s *sample) versionInfo() (*VersionInfo, error) {
	if s.pe == nil {
		return nil, nil
	}
	for _, l := range resourceLeaves(s.pe.Resources) {
		if l.typeID == rtVersion && l.typeName == "RT_VERSION" {
			return ParseVersionInfo(s.resourceData(l))
		}
	}
	return nil, nil
}

// versionStrings maps version-resource keys to signature_info's keys.
var versionStrings = []struct{ key, sig string }{
	{"Comments", "comments"}, {"LegalCopyright", "copyright"}, {"FileDescription", "description"},
	{"FileVersion", "file version"}, {"InternalName", "internal name"},
	{"OriginalFilename", "original name"}, {"ProductName", "product"},
}

func peVersionPass(s *sample) (Attributes, error) {
	vi, err := s.versionInfo()
	if vi == nil {
		return nil, err
	}
	sig := Attributes{}
	for _, k := range versionStrings {
		if v := vi.String(k.key); v != "" {
			sig[k.sig] = v
		}
	}
	a := Attributes{"exiftool": exifVersionFields(vi)}
	if len(sig) > 0 {
		a["signature_info"] = sig
	}
	return a, nil
}

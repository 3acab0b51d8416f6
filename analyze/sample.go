package analyze

import (
	"bytes"
	"os"
	"regexp"
	"strings"

	"github.com/filetrail/filetrail/analyze/magic"
	pe "github.com/saferwall/pe"
)

// sample is what the passes share about one input.
type sample struct {
	data  []byte
	file  *os.File   // nil, or an open file holding exactly data
	hdr   *peHeaders // nil when not a PE
	pe    *pe.File   // saferwall's parse; nil until pe_parse succeeds
	isELF bool
	// facts for tags
	overlay, signed, assembly, debugEnv bool
	elfClass64                          bool
}

func magicPass(s *sample) (Attributes, error) {
	a := Attributes{}
	if h, err := parsePEHeaders(s.data); err == nil {
		s.hdr = h
	}
	s.isELF = bytes.HasPrefix(s.data, []byte("\x7fELF"))
	for k, v := range fileType(s) {
		a[k] = v
	}
	// The MIME type only matters for formats fileType does not know.
	_, known := a["type_description"]
	want := magic.All
	if known {
		want = magic.Description
	}
	var r magic.Result
	var err error
	if s.file != nil {
		r, err = magic.File(s.file, want)
	} else {
		r, err = magic.Bytes(s.data, want)
	}
	if err != nil {
		return a, err
	}
	a["magic"] = vtMagic(r.Description, s.hdr != nil)
	if !known {
		for k, v := range mimeType(r.MIME, r.Description) {
			a[k] = v
		}
	}
	return a, nil
}

// peSectionsSuffix is the ", N sections" that libmagic 5.40+ appends to
// PE descriptions and VirusTotal's libmagic does not.
var peSectionsSuffix = regexp.MustCompile(`, \d+ sections$`)

// vtMagic adapts a libmagic description to VirusTotal's wording.
func vtMagic(desc string, isPE bool) string {
	if isPE {
		return peSectionsSuffix.ReplaceAllString(desc, "")
	}
	return desc
}

// fileType is VirusTotal's type taxonomy for the formats filetrail
// recognises itself (PE, ELF).
func fileType(s *sample) Attributes {
	switch {
	case s.hdr != nil:
		bits, word := "win32", "Win32"
		if s.hdr.Is64() {
			bits, word = "win64", "Win64"
		}
		if s.hdr.IsDLL() {
			return Attributes{"type_description": word + " DLL", "type_tag": "pedll", "type_extension": "dll",
				"type_tags": []string{"executable", "windows", bits, "pe", "pedll"}}
		}
		return Attributes{"type_description": word + " EXE", "type_tag": "peexe", "type_extension": "exe",
			"type_tags": []string{"executable", "windows", bits, "pe", "peexe"}}
	case s.isELF:
		return Attributes{"type_description": "ELF", "type_tag": "elf",
			"type_tags": []string{"executable", "linux", "elf"}}
	}
	return nil
}

// mimeTypes maps libmagic MIME types to VT's type_description, type_tag
// and type_extension for common non-executable formats.
var mimeTypes = map[string][3]string{
	"application/pdf":                       {"PDF", "pdf", "pdf"},
	"application/zip":                       {"ZIP", "zip", "zip"},
	"application/gzip":                      {"GZIP", "gzip", "gz"},
	"application/x-gzip":                    {"GZIP", "gzip", "gz"},
	"application/x-bzip2":                   {"BZIP2", "bzip2", "bz2"},
	"application/x-xz":                      {"XZ", "xz", "xz"},
	"application/x-7z-compressed":           {"7ZIP", "7zip", "7z"},
	"application/x-rar":                     {"RAR", "rar", "rar"},
	"application/x-tar":                     {"TAR", "tar", "tar"},
	"text/html":                             {"HTML", "html", "html"},
	"text/x-shellscript":                    {"Shell script", "shell", "sh"},
	"text/x-python":                         {"Python", "python", "py"},
	"text/x-perl":                           {"Perl", "perl", "pl"},
	"text/xml":                              {"XML", "xml", "xml"},
	"application/json":                      {"JSON", "json", "json"},
	"image/png":                             {"PNG", "png", "png"},
	"image/jpeg":                            {"JPEG", "jpeg", "jpg"},
	"image/gif":                             {"GIF", "gif", "gif"},
	"application/x-java-applet":             {"Java Bytecode", "class", "class"},
	"application/java-archive":              {"JAR", "jar", "jar"},
	"application/msword":                    {"MS Word Document", "doc", "doc"},
	"application/vnd.ms-excel":              {"MS Excel Spreadsheet", "xls", "xls"},
	"application/x-mach-binary":             {"Mach-O", "macho", ""},
	"application/vnd.debian.binary-package": {"DEB", "deb", "deb"},
	"application/x-rpm":                     {"RPM", "rpm", "rpm"},
}

// mimeType returns VT type attributes for a MIME type ("" values omitted);
// plain text maps to "Text", anything unknown to nothing.
func mimeType(mime, desc string) Attributes {
	t, ok := mimeTypes[mime]
	if !ok {
		if strings.HasPrefix(mime, "text/") {
			t = [3]string{"Text", "text", "txt"}
		} else if mime == "application/x-dosexec" && strings.Contains(desc, "COM executable") {
			t = [3]string{"DOS COM", "com", "com"}
		} else if mime == "application/x-dosexec" {
			t = [3]string{"DOS EXE", "dosexe", "exe"}
		} else {
			return nil
		}
	}
	a := Attributes{"type_description": t[0], "type_tag": t[1]}
	if t[2] != "" {
		a["type_extension"] = t[2]
	}
	return a
}

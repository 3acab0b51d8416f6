package filetrail

import "strings"

// MaxURLLength and MaxNameLength bound the text a sighting may carry.
const (
	MaxURLLength    = 8192
	MaxNameLength   = 1024
	MaxSourceLength = 128
)

// ValidateSighting normalises a sighting (hashes lower-cased, IP unmapped)
// and checks it: at least one well-formed hash, a non-negative size and time,
// bounded text. A bad sighting gives an InvalidArgument error saying why.
func ValidateSighting(s Sighting) (Sighting, error) {
	h, err := s.Hashes().Normalize()
	if err != nil {
		return s, err
	}
	if h.IsZero() {
		return s, Errorf(CodeInvalidArgument, "no file hash")
	}
	s.SHA256, s.SHA1, s.MD5 = h.SHA256, h.SHA1, h.MD5
	if s.IP.IsValid() {
		s.IP = s.IP.Unmap().WithZone("")
	}
	switch {
	case s.SeenAt <= 0:
		return s, Errorf(CodeInvalidArgument, "missing or invalid seen_at")
	case s.Size < 0:
		return s, Errorf(CodeInvalidArgument, "negative size")
	case len(s.URL) > MaxURLLength:
		return s, Errorf(CodeInvalidArgument, "url longer than %d bytes", MaxURLLength)
	case len(s.FileName) > MaxNameLength:
		return s, Errorf(CodeInvalidArgument, "filename longer than %d bytes", MaxNameLength)
	case len(s.Source) > MaxSourceLength:
		return s, Errorf(CodeInvalidArgument, "source longer than %d bytes", MaxSourceLength)
	}
	s.FileName = strings.TrimSpace(s.FileName)
	return s, nil
}

// ValidateFileFact normalises a file fact's hashes and checks it has at least
// one, a known Origin and an attributes object.
func ValidateFileFact(f FileFact) (FileFact, error) {
	h, err := f.Hashes.Normalize()
	if err != nil {
		return f, err
	}
	if h.IsZero() {
		return f, Errorf(CodeInvalidArgument, "no file hash")
	}
	if f.Origin < OriginHint || f.Origin > OriginAnalysis {
		return f, Errorf(CodeInvalidArgument, "unknown origin %d", f.Origin)
	}
	if len(f.Source) > MaxSourceLength {
		return f, Errorf(CodeInvalidArgument, "source longer than %d bytes", MaxSourceLength)
	}
	f.Hashes = h
	return f, nil
}

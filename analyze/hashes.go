package analyze

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"

	"github.com/filetrail/filetrail/analyze/internal/ssdeep"
)

// Hashes are the whole-file digests that never need a format parser. They
// are computed in the calling process, so a sample always gets them.
type Hashes struct {
	MD5    string `json:"md5"`
	SHA1   string `json:"sha1"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	SSDeep string `json:"ssdeep,omitempty"`
	TLSH   string `json:"tlsh,omitempty"`
}

// HashBytes computes md5, sha1, sha256, size, ssdeep and tlsh of data. The
// three groups run in parallel goroutines. Every input has an ssdeep digest
// (an empty one is "3::", as the reference tool prints) up to ssdeep's
// largest input (about 206 GB); tlsh is empty when the input is too short
// or too uniform for a meaningful TLSH (see TLSH).
func HashBytes(data []byte) Hashes {
	h := Hashes{Size: int64(len(data))}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer func() { _ = recover() }()
		if s, err := ssdeep.Digest(data); err == nil {
			h.SSDeep = s
		}
	}()
	go func() {
		defer wg.Done()
		defer func() { _ = recover() }()
		h.TLSH = TLSH(data)
	}()
	m := md5.Sum(data)
	s1 := sha1.Sum(data)
	s256 := sha256.Sum256(data)
	h.MD5 = hex.EncodeToString(m[:])
	h.SHA1 = hex.EncodeToString(s1[:])
	h.SHA256 = hex.EncodeToString(s256[:])
	wg.Wait()
	return h
}

// tlshMinLength is the shortest input TLSH hashes (TLSH >= 3.17 default).
const tlshMinLength = 50

// TLSH returns the TLSH digest of data in VirusTotal's form ("T1" and 70
// upper-case hex digits), or "" when TLSH cannot hash it: fewer than 50
// bytes, or fewer than half of the 128 buckets non-empty (the reference
// implementation's "cannot hash" rule).
func TLSH(data []byte) string {
	if len(data) < tlshMinLength {
		return ""
	}
	d, ok := tlshFill(data).digest()
	if !ok {
		return ""
	}
	return "T1" + strings.ToUpper(hex.EncodeToString(d[:]))
}

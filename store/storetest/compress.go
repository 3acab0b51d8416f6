package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/internal/stitch"
)

// DocumentCompressor is a store that can write the compressed copies of
// documents stored without one.
type DocumentCompressor interface {
	filetrail.Store
	CompressDocuments(ctx context.Context, progress func(done, total int64)) (int64, error)
}

// RunCompressDocuments checks CompressDocuments on an empty store s: after
// 1,200 files are written and strip has removed the compressed copies of
// some (returning how many), those are served as text in the compressed
// form until CompressDocuments writes their copies, which then hold exactly
// the documents' bytes; a second run finds nothing to do.
func RunCompressDocuments(t *testing.T, s DocumentCompressor, strip func() int64) {
	ip := netip.MustParseAddr("192.0.2.1")
	var b filetrail.Batch
	for i := range 1200 { // more than one batch of compressBatch
		h := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		b.Sightings = append(b.Sightings, filetrail.Sighting{IP: ip, URL: "http://u", SHA256: hex.EncodeToString(h[:]), FileName: "f.exe", SeenAt: 1700000000 + int64(i), Source: "zeek"})
	}
	if _, err := s.Apply(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	stripped := strip()

	texts := map[string]string{}
	page := func(form filetrail.AttributeForm) []filetrail.FileEdge {
		p, err := s.DownloadedFiles(t.Context(), ip, filetrail.PageRequest{Limit: filetrail.MaxPageLimit}, form)
		if err != nil || len(p.Items) != filetrail.MaxPageLimit {
			t.Fatalf("DownloadedFiles: %d items, %v", len(p.Items), err)
		}
		return p.Items
	}
	for _, e := range page(filetrail.WithAttributes) {
		texts[e.FileID] = string(e.Attributes)
	}
	asText := 0
	for _, e := range page(filetrail.WithCompressedAttributes) {
		if (e.Attributes == nil) == (e.CompressedAttributes == nil) {
			t.Fatalf("%s: text %q and %d compressed bytes: want exactly one", e.FileID, e.Attributes, len(e.CompressedAttributes))
		}
		if e.Attributes != nil {
			asText++
			if string(e.Attributes) != texts[e.FileID] {
				t.Fatalf("%s: text fallback %s, want %s", e.FileID, e.Attributes, texts[e.FileID])
			}
		}
	}
	if asText == 0 {
		t.Fatalf("no document without a compressed copy on the page")
	}

	var calls int
	var last int64
	n, err := s.CompressDocuments(t.Context(), func(done, total int64) { calls++; last = done })
	if err != nil || n != stripped {
		t.Fatalf("CompressDocuments = %d, %v; want the %d stripped documents", n, err, stripped)
	}
	if calls < 3 || last != 1200 {
		t.Errorf("progress called %d times, last %d; want one call per batch ending at 1200", calls, last)
	}
	for _, e := range page(filetrail.WithCompressedAttributes) {
		plain, err := stitch.Decompress(e.CompressedAttributes)
		if err != nil || string(plain) != texts[e.FileID] {
			t.Fatalf("%s: compressed copy %q (%v), want %s", e.FileID, plain, err, texts[e.FileID])
		}
	}
	if n, err := s.CompressDocuments(t.Context(), nil); err != nil || n != 0 {
		t.Errorf("second CompressDocuments = %d, %v; want nothing left to do", n, err)
	}
}

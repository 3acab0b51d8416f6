package storetest

import (
	"testing"

	"github.com/filetrail/filetrail"
)

// testUnknownIP: an unknown IP has a zero summary and empty pages.
func testUnknownIP(t *testing.T, open Opener) {
	s := open(t)
	apply(t, s, sightings(sighting("192.0.2.1", hashesOf("x"), "u", "s", t0)))
	for _, ip := range []string{"192.0.2.99", "2001:db8::99"} {
		sum := summary(t, s, ip)
		if sum.FileCount != 0 || sum.FirstSeen != 0 || sum.LastSeen != 0 {
			t.Errorf("IPSummary(%s) = %+v, want zero", ip, sum)
		}
		for _, form := range attributeForms {
			p, err := s.DownloadedFiles(t.Context(), addr(ip), filetrail.PageRequest{Limit: 10}, form)
			if err != nil || len(p.Items) != 0 || p.Count != 0 || p.Next != nil {
				t.Errorf("DownloadedFiles(%s) = %d items, count %d, next %v, err %v; want an empty page", ip, len(p.Items), p.Count, p.Next, err)
			}
		}
	}
}

// testUnknownHash: File and ITWIPs of an unknown hash give NotFound.
func testUnknownHash(t *testing.T, open Opener) {
	s := open(t)
	known, unknown := hashesOf("known"), hashesOf("unknown")
	apply(t, s, sightings(sighting("192.0.2.1", only(known, "sha256"), "u", "s", t0)))
	for _, h := range []string{unknown.SHA256, unknown.SHA1, unknown.MD5, known.MD5} {
		_, err := s.File(t.Context(), h)
		wantCode(t, err, filetrail.CodeNotFound, "File("+h+")")
		_, err = s.ITWIPs(t.Context(), h, filetrail.PageRequest{Limit: 10})
		wantCode(t, err, filetrail.CodeNotFound, "ITWIPs("+h+")")
	}
}

// testFileByAnyHash: a file is found by each of its hashes, always with its
// sha256 id.
func testFileByAnyHash(t *testing.T, open Opener) {
	s := open(t)
	h := hashesOf("any")
	apply(t, s, sightings(sighting("192.0.2.1", h, "u", "s", t0)))
	want := getFile(t, s, h.SHA256)
	if want.ID != h.SHA256 || want.IPCount != 1 {
		t.Fatalf("File(sha256) = {%s, %d}, want {%s, 1}", want.ID, want.IPCount, h.SHA256)
	}
	for _, hash := range []string{h.SHA1, h.MD5} {
		got := getFile(t, s, hash)
		if got.ID != want.ID || got.IPCount != want.IPCount || !sameJSON(got.Attributes, want.Attributes) {
			t.Errorf("File(%s) = %+v, want %+v", hash, got, want)
		}
	}
}

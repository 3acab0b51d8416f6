package storetest

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"

	"github.com/filetrail/filetrail/internal/stitch"

	"github.com/filetrail/filetrail"
)

// t0 is the base time of the fixtures (2023-11-14).
const t0 int64 = 1_700_000_000

// hashesOf returns the real md5, sha1 and sha256 of label's bytes: a file
// with every hash known.
func hashesOf(label string) filetrail.Hashes {
	s256 := sha256.Sum256([]byte(label))
	s1 := sha1.Sum([]byte(label))
	m := md5.Sum([]byte(label))
	return filetrail.Hashes{SHA256: hex.EncodeToString(s256[:]), SHA1: hex.EncodeToString(s1[:]), MD5: hex.EncodeToString(m[:])}
}

// only keeps the hashes of h named in which ("sha256", "sha1", "md5").
func only(h filetrail.Hashes, which ...string) filetrail.Hashes {
	var out filetrail.Hashes
	for _, w := range which {
		switch w {
		case "sha256":
			out.SHA256 = h.SHA256
		case "sha1":
			out.SHA1 = h.SHA1
		case "md5":
			out.MD5 = h.MD5
		default:
			panic("unknown hash kind " + w)
		}
	}
	return out
}

// addr parses a test IP; "" gives the zero Addr (a sighting without IP).
func addr(s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	return netip.MustParseAddr(s)
}

// sighting builds a sighting of the file with hashes h.
func sighting(ip string, h filetrail.Hashes, url, source string, at int64) filetrail.Sighting {
	return filetrail.Sighting{IP: addr(ip), URL: url, SHA256: h.SHA256, SHA1: h.SHA1, MD5: h.MD5, SeenAt: at, Source: source}
}

// fact builds a file fact with the given attributes object.
func fact(h filetrail.Hashes, origin filetrail.Origin, source string, attrs string) filetrail.FileFact {
	return filetrail.FileFact{Hashes: h, Origin: origin, Source: source, Attributes: json.RawMessage(attrs)}
}

func sightings(ss ...filetrail.Sighting) *filetrail.Batch { return &filetrail.Batch{Sightings: ss} }

func facts(fs ...filetrail.FileFact) *filetrail.Batch { return &filetrail.Batch{Files: fs} }

// apply applies batches and fails the test on error.
func apply(t testing.TB, s filetrail.Store, bs ...*filetrail.Batch) filetrail.ApplyResult {
	t.Helper()
	var total filetrail.ApplyResult
	for _, b := range bs {
		r, err := s.Apply(t.Context(), b)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		total.NewEdges += r.NewEdges
		total.NewFiles += r.NewFiles
	}
	return total
}

// wantCode fails the test unless err carries code.
func wantCode(t testing.TB, err error, code filetrail.Code, what string) {
	t.Helper()
	if got := filetrail.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

// getFile returns the file known by hash, failing the test on error.
func getFile(t testing.TB, s filetrail.Store, hash string) filetrail.File {
	t.Helper()
	f, err := s.File(t.Context(), hash)
	if err != nil {
		t.Fatalf("File(%s): %v", hash, err)
	}
	return f
}

// summary returns the IP's summary, failing the test on error.
func summary(t testing.TB, s filetrail.Store, ip string) filetrail.IPSummary {
	t.Helper()
	sum, err := s.IPSummary(t.Context(), addr(ip))
	if err != nil {
		t.Fatalf("IPSummary(%s): %v", ip, err)
	}
	return sum
}

// attributeForms are every AttributeForm.
var attributeForms = []filetrail.AttributeForm{filetrail.WithoutAttributes, filetrail.WithAttributes, filetrail.WithCompressedAttributes}

// asText checks that an item carries its document in the form asked for and
// returns it with the document as text: a compressed document is
// decompressed into Attributes.
func asText(t testing.TB, form filetrail.AttributeForm, it filetrail.FileEdge) filetrail.FileEdge {
	t.Helper()
	hasText, hasCompressed := it.Attributes != nil, it.CompressedAttributes != nil
	switch {
	case form == filetrail.WithoutAttributes && (hasText || hasCompressed),
		form == filetrail.WithAttributes && (!hasText || hasCompressed),
		form == filetrail.WithCompressedAttributes && hasText == hasCompressed:
		t.Fatalf("item %s asked with form %d has text %q and %d compressed bytes", it.FileID, form, it.Attributes, len(it.CompressedAttributes))
	}
	if hasCompressed {
		plain, err := stitch.Decompress(it.CompressedAttributes)
		if err != nil {
			t.Fatalf("item %s: compressed attributes: %v", it.FileID, err)
		}
		it.Attributes, it.CompressedAttributes = plain, nil
	}
	return it
}

// allFiles iterates every page of ip's downloaded_files at the given limit
// and returns the items in order. It checks the page invariants on the way:
// at most limit items, never an empty page with a cursor, a cursor after
// every full page but the last, the same Count on every page and equal to
// the number of items.
//
// With WithCompressedAttributes each item must carry exactly one of the two
// forms; a compressed document must decompress to a valid fragment, and is
// returned as text in Attributes (CompressedAttributes cleared) so callers
// compare one form.
func allFiles(t testing.TB, s filetrail.Store, ip string, limit int, form filetrail.AttributeForm) []filetrail.FileEdge {
	t.Helper()
	var items []filetrail.FileEdge
	req := filetrail.PageRequest{Limit: limit}
	count := int64(-1)
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("DownloadedFiles(%s, limit %d): more than 10000 pages", ip, limit)
		}
		p, err := s.DownloadedFiles(t.Context(), addr(ip), req, form)
		if err != nil {
			t.Fatalf("DownloadedFiles(%s, limit %d, page %d): %v", ip, limit, pages, err)
		}
		checkPage(t, fmt.Sprintf("DownloadedFiles(%s, limit %d, page %d)", ip, limit, pages), len(p.Items), limit, p.Count, &count, p.Next)
		for i := range p.Items {
			p.Items[i] = asText(t, form, p.Items[i])
		}
		items = append(items, p.Items...)
		if p.Next == nil {
			break
		}
		last := p.Items[len(p.Items)-1]
		if p.Next.Kind != filetrail.CursorFiles || p.Next.Time != last.FirstSeen || p.Next.ID != last.FileID {
			t.Fatalf("DownloadedFiles(%s): cursor %+v does not point at the last item (%d, %s)", ip, *p.Next, last.FirstSeen, last.FileID)
		}
		req.After = p.Next
	}
	if int64(len(items)) != count {
		t.Fatalf("DownloadedFiles(%s, limit %d): %d items over all pages, Count %d", ip, limit, len(items), count)
	}
	return items
}

// allIPs is allFiles for a file's itw_ips.
func allIPs(t testing.TB, s filetrail.Store, hash string, limit int) []filetrail.IPEdge {
	t.Helper()
	var items []filetrail.IPEdge
	req := filetrail.PageRequest{Limit: limit}
	count := int64(-1)
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("ITWIPs(%s, limit %d): more than 10000 pages", hash, limit)
		}
		p, err := s.ITWIPs(t.Context(), hash, req)
		if err != nil {
			t.Fatalf("ITWIPs(%s, limit %d, page %d): %v", hash, limit, pages, err)
		}
		checkPage(t, fmt.Sprintf("ITWIPs(%s, limit %d, page %d)", hash, limit, pages), len(p.Items), limit, p.Count, &count, p.Next)
		items = append(items, p.Items...)
		if p.Next == nil {
			break
		}
		last := p.Items[len(p.Items)-1]
		if p.Next.Kind != filetrail.CursorIPs || p.Next.Time != last.FirstSeen || p.Next.ID != last.IP.String() {
			t.Fatalf("ITWIPs(%s): cursor %+v does not point at the last item (%d, %s)", hash, *p.Next, last.FirstSeen, last.IP)
		}
		req.After = p.Next
	}
	if int64(len(items)) != count {
		t.Fatalf("ITWIPs(%s, limit %d): %d items over all pages, Count %d", hash, limit, len(items), count)
	}
	return items
}

func checkPage(t testing.TB, what string, n, limit int, count int64, firstCount *int64, next *filetrail.Cursor) {
	t.Helper()
	switch {
	case n > limit:
		t.Fatalf("%s: %d items, limit %d", what, n, limit)
	case n == 0 && next != nil:
		t.Fatalf("%s: empty page with a cursor", what)
	case n < limit && next != nil:
		t.Fatalf("%s: short page (%d of %d) with a cursor", what, n, limit)
	case *firstCount >= 0 && count != *firstCount:
		t.Fatalf("%s: Count %d, earlier pages said %d", what, count, *firstCount)
	}
	*firstCount = count
}

// fileIDs returns the file ids of edges, in order.
func fileIDs(es []filetrail.FileEdge) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.FileID
	}
	return ids
}

// ipTexts returns the IP texts of edges, in order.
func ipTexts(es []filetrail.IPEdge) []string {
	ips := make([]string, len(es))
	for i, e := range es {
		ips[i] = e.IP.String()
	}
	return ips
}

// edgeContext returns the context JSON EdgeContext gives for evidence.
func edgeContext(ev ...filetrail.Evidence) json.RawMessage {
	_, _, ctx := filetrail.EdgeContext(ev)
	return ctx
}

func sameJSON(a, b json.RawMessage) bool { return bytes.Equal(a, b) }

package postgres_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/store/sqlite"
)

// dump reads everything a client can see of the workload's IPs and files
// from s, page by page at the given limit, and writes it as text: page
// boundaries, cursors, counts and the stored JSON bytes.
func dump(t *testing.T, s filetrail.Store, w workload, limit int) []byte {
	t.Helper()
	ctx := t.Context()
	var out bytes.Buffer
	ips := append([]netip.Addr{netip.MustParseAddr("192.0.2.99")}, w.ips...) // + an unknown IP
	for _, ip := range ips {
		sum, err := s.IPSummary(ctx, ip)
		if err != nil {
			t.Fatalf("IPSummary(%s): %v", ip, err)
		}
		fmt.Fprintf(&out, "ip %s count=%d first=%d last=%d\n", sum.IP.Unmap(), sum.FileCount, sum.FirstSeen, sum.LastSeen)
		for _, form := range []filetrail.AttributeForm{filetrail.WithAttributes, filetrail.WithoutAttributes, filetrail.WithCompressedAttributes} {
			req := filetrail.PageRequest{Limit: limit}
			for {
				p, err := s.DownloadedFiles(ctx, ip, req, form)
				if err != nil {
					t.Fatalf("DownloadedFiles(%s): %v", ip, err)
				}
				fmt.Fprintf(&out, " page count=%d items=%d\n", p.Count, len(p.Items))
				for _, e := range p.Items {
					fmt.Fprintf(&out, "  %s %d %d %s %s %x\n", e.FileID, e.FirstSeen, e.LastSeen, e.Context, e.Attributes, e.CompressedAttributes)
				}
				if p.Next == nil {
					break
				}
				fmt.Fprintf(&out, " next %s\n", p.Next.Encode())
				req.After = p.Next
			}
		}
	}
	for _, h := range w.files {
		for _, hash := range []string{h.SHA256, h.SHA1, h.MD5} {
			f, err := s.File(ctx, hash)
			if err != nil {
				fmt.Fprintf(&out, "file %s: %s\n", hash, filetrail.ErrorCode(err))
				continue
			}
			fmt.Fprintf(&out, "file %s: %s ips=%d %s\n", hash, f.ID, f.IPCount, f.Attributes)
			req := filetrail.PageRequest{Limit: limit}
			for {
				p, err := s.ITWIPs(ctx, hash, req)
				if err != nil {
					t.Fatalf("ITWIPs(%s): %v", hash, err)
				}
				fmt.Fprintf(&out, " page count=%d items=%d\n", p.Count, len(p.Items))
				for _, e := range p.Items {
					fmt.Fprintf(&out, "  %s %d %d %s\n", e.IP, e.FirstSeen, e.LastSeen, e.Context)
				}
				if p.Next == nil {
					break
				}
				fmt.Fprintf(&out, " next %s\n", p.Next.Encode())
				req.After = p.Next
			}
		}
	}
	return out.Bytes()
}

func applyAll(t *testing.T, s filetrail.Store, bs []*filetrail.Batch) {
	t.Helper()
	for i, b := range bs {
		if _, err := s.Apply(t.Context(), b); err != nil {
			t.Fatalf("Apply batch %d: %v", i, err)
		}
	}
}

// sameDump fails the test at the first line where two dumps differ.
func sameDump(t *testing.T, what string, want, got []byte) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range min(len(wl), len(gl)) {
		if wl[i] != gl[i] {
			t.Fatalf("%s: line %d differs:\nwant %.600s\ngot  %.600s", what, i+1, wl[i], gl[i])
		}
	}
	t.Fatalf("%s: %d lines, want %d", what, len(gl), len(wl))
}

// TestSameBytesAsSQLite feeds the same batches to SQLite and PostgreSQL and
// requires every page, cursor, count and document to be byte-identical;
// then feeds them to another PostgreSQL store shuffled and repeated, which
// must change nothing.
func TestSameBytesAsSQLite(t *testing.T) {
	w := newWorkload(t, 1, 1500, 60, 12)

	lite, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "parity.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	defer lite.Close()
	applyAll(t, lite, w.batches)
	pg := open(t)
	applyAll(t, pg, w.batches)

	want := dump(t, lite, w, 7)
	if !bytes.Contains(want, []byte(`"last_analysis_results"`)) || !bytes.Contains(want, []byte(`"urls":["http`)) {
		t.Fatal("the workload produced no VT report or no URL: the comparison would be weak")
	}
	sameDump(t, "PostgreSQL vs SQLite", want, dump(t, pg, w, 7))

	pg2 := open(t)
	applyAll(t, pg2, w.shuffled(2))
	sameDump(t, "PostgreSQL (shuffled, repeated) vs SQLite", want, dump(t, pg2, w, 7))
}

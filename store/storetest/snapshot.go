package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/filetrail/filetrail"
)

// snapshot records every read answer of s about the given IPs and hashes:
// each IP's summary and all pages of its downloaded_files with and without
// attributes at several limits, each hash's file (or error code), and all
// pages of its itw_ips at several limits. Two stores holding the same facts
// give byte-identical snapshots.
func snapshot(t testing.TB, s filetrail.Store, ips, hashes []string) []byte {
	t.Helper()
	type page struct {
		Items any
		Count int64
		Next  string
	}
	var out []any
	add := func(label string, v any) { out = append(out, []any{label, v}) }
	cursor := func(c *filetrail.Cursor) string {
		if c == nil {
			return ""
		}
		return c.Encode()
	}
	for _, ip := range ips {
		add("summary "+ip, summary(t, s, ip))
		for _, limit := range []int{1, 2, 7, filetrail.MaxPageLimit} {
			for _, attrs := range attributeForms {
				req := filetrail.PageRequest{Limit: limit}
				for {
					p, err := s.DownloadedFiles(t.Context(), addr(ip), req, attrs)
					if err != nil {
						t.Fatalf("DownloadedFiles(%s): %v", ip, err)
					}
					add(fmt.Sprintf("files %s %d %v", ip, limit, attrs), page{p.Items, p.Count, cursor(p.Next)})
					if p.Next == nil {
						break
					}
					req.After = p.Next
				}
			}
		}
	}
	for _, h := range hashes {
		f, err := s.File(t.Context(), h)
		add("file "+h, []any{f, filetrail.ErrorCode(err)})
		if err != nil {
			continue
		}
		for _, limit := range []int{1, 3, filetrail.MaxPageLimit} {
			req := filetrail.PageRequest{Limit: limit}
			for {
				p, err := s.ITWIPs(t.Context(), h, req)
				if err != nil {
					t.Fatalf("ITWIPs(%s): %v", h, err)
				}
				add(fmt.Sprintf("ips %s %d", h, limit), page{p.Items, p.Count, cursor(p.Next)})
				if p.Next == nil {
					break
				}
				req.After = p.Next
			}
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return b
}

// sameSnapshot fails the test when a and b differ, showing where.
func sameSnapshot(t testing.TB, what string, a, b []byte) {
	t.Helper()
	if bytes.Equal(a, b) {
		return
	}
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-300)
	t.Fatalf("%s: reads differ at byte %d:\n  %s\nvs\n  %s", what, i, a[lo:min(len(a), i+300)], b[lo:min(len(b), i+300)])
}

package ingest_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/ingest"
	"github.com/filetrail/filetrail/store/sqlite"
)

// ingestFiles ingests the named files (formats detected) into st with the
// given batch size, and returns the summary.
func ingestFiles(t *testing.T, st filetrail.EvidenceWriter, batch int, names ...string) ingest.Summary {
	t.Helper()
	ctx := context.Background()
	w := ingest.NewWriter(st, ingest.WriterOptions{BatchSize: batch})
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			t.Fatal(err)
		}
		err = ingest.Run(ctx, w, ingest.Input{Name: n, R: f}, ingest.AutoFormat, ingest.ReaderOptions{})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return w.Summary()
}

// snapshot renders everything the API can read about the given IPs and
// hashes.
func snapshot(t *testing.T, st filetrail.EvidenceReader, ips []netip.Addr, hashes []string) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, ip := range ips {
		sum, err := st.IPSummary(ctx, ip)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "ip %v %+v\n", ip, sum)
		req := filetrail.PageRequest{Limit: 2}
		for {
			page, err := st.DownloadedFiles(ctx, ip, req, filetrail.WithAttributes)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Items {
				fmt.Fprintf(&b, "  edge %s %d %d %s %s\n", e.FileID, e.FirstSeen, e.LastSeen, e.Context, e.Attributes)
			}
			if page.Next == nil {
				break
			}
			req.After = page.Next
		}
	}
	for _, h := range hashes {
		f, err := st.File(ctx, h)
		if err != nil {
			t.Fatalf("File(%s): %v", h, err)
		}
		fmt.Fprintf(&b, "file %s -> %s %d %s\n", h, f.ID, f.IPCount, f.Attributes)
		page, err := st.ITWIPs(ctx, h, filetrail.PageRequest{Limit: filetrail.MaxPageLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Items {
			fmt.Fprintf(&b, "  itw %v %d %d %s\n", e.IP, e.FirstSeen, e.LastSeen, e.Context)
		}
	}
	return b.String()
}

// TestIngestTwiceChangesNothing ingests the real sample data into a real
// store, then again (with another batch size and order), and checks that
// the second pass creates nothing and leaves every read identical.
func TestIngestTwiceChangesNothing(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "twice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// The real Zeek files.log, read alone: each complete download is a
	// sighting of its tx_hosts (without URL: no http.log joins it).
	inputs := []string{"../testdata/zeek/zat-tsv-2013/files.log"}
	var hashes []string
	for _, r := range loadReports(t) {
		inputs = append(inputs, "../testdata/vt-file-objects/"+r.name)
		hashes = append(hashes, r.sha256, r.sha1, r.md5)
	}
	ipSet := map[netip.Addr]bool{}
	for _, row := range tsvRows(t, inputs[0]) {
		if row["is_orig"] == "T" || row["missing_bytes"] != "0" || (row["total_bytes"] != "-" && row["total_bytes"] != row["seen_bytes"]) {
			continue // an upload or a partial file: skipped
		}
		for _, ip := range strings.Split(row["tx_hosts"], ",") {
			if a, err := netip.ParseAddr(ip); err == nil {
				ipSet[a] = true
			}
		}
		for _, h := range []string{row["sha1"], row["md5"]} {
			if h != "-" && !slices.Contains(hashes, h) {
				hashes = append(hashes, h)
			}
		}
	}
	var ips []netip.Addr
	for ip := range ipSet {
		ips = append(ips, ip)
	}
	slices.SortFunc(ips, netip.Addr.Compare)

	first := ingestFiles(t, st, 1000, inputs...)
	if first.Rejected != 0 || first.NewEdges == 0 || first.NewFiles == 0 {
		t.Fatalf("first pass %+v", first)
	}
	before := snapshot(t, st, ips, hashes)

	reversed := slices.Clone(inputs)
	slices.Reverse(reversed)
	second := ingestFiles(t, st, 3, reversed...)
	if second.NewEdges != 0 || second.NewFiles != 0 || second.Rejected != 0 || second.Sightings != first.Sightings || second.FileFacts != first.FileFacts {
		t.Errorf("second pass %+v, first %+v", second, first)
	}
	if after := snapshot(t, st, ips, hashes); after != before {
		t.Errorf("the second pass changed what the store answers:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

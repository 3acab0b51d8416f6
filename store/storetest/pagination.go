package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/filetrail/filetrail"
)

// fanOut applies n files served by one IP (for DownloadedFiles) and one
// file served by n IPs (for ITWIPs), first_seen drawn from 7 values so that
// ties are common. It returns the expected orders.
func fanOut(t *testing.T, s filetrail.Store, n int) (ip string, files []string, hash string, ips []string) {
	t.Helper()
	ip = "198.51.100.1"
	shared := hashesOf("shared")
	type item struct {
		id string
		at int64
	}
	var fileItems, ipItems []item
	var b filetrail.Batch
	for i := range n {
		h := hashesOf(fmt.Sprint("fan ", i))
		at := t0 + int64(i%7)*100
		id := h.SHA256
		if i%5 == 0 {
			h = only(h, "md5") // weak ids sort among the others
			id = h.MD5
		}
		b.Sightings = append(b.Sightings, sighting(ip, h, "u", "s", at), sighting(ip, h, "u", "s", at+1000))
		fileItems = append(fileItems, item{id, at})
		other := fmt.Sprintf("203.0.113.%d", i)
		if i%3 == 0 {
			other = addr(fmt.Sprintf("2001:db8::%x", i)).String()
		}
		b.Sightings = append(b.Sightings, sighting(other, shared, "u", "s", at))
		ipItems = append(ipItems, item{other, at})
	}
	apply(t, s, &b)
	order := func(items []item) []string {
		slices.SortFunc(items, func(a, b item) int { return cmp.Or(cmp.Compare(b.at, a.at), strings.Compare(b.id, a.id)) })
		out := make([]string, len(items))
		for i, it := range items {
			out[i] = it.id
		}
		return out
	}
	return ip, order(fileItems), shared.SHA256, order(ipItems)
}

// testPaginationFiles: at every limit, the pages of downloaded_files hold
// every edge exactly once, newest first by first_seen, ties by id
// descending, the last page without cursor.
func testPaginationFiles(t *testing.T, open Opener) {
	s := open(t)
	ip, want, _, _ := fanOut(t, s, 25)
	for limit := 1; limit <= filetrail.MaxPageLimit; limit++ {
		for _, form := range attributeForms {
			if got := fileIDs(allFiles(t, s, ip, limit, form)); !slices.Equal(got, want) {
				t.Fatalf("limit %d: files\n %v\nwant\n %v", limit, got, want)
			}
		}
	}
}

// testPaginationIPs: the same for itw_ips, ties by IP text descending.
func testPaginationIPs(t *testing.T, open Opener) {
	s := open(t)
	_, _, hash, want := fanOut(t, s, 25)
	for limit := 1; limit <= filetrail.MaxPageLimit; limit++ {
		if got := ipTexts(allIPs(t, s, hash, limit)); !slices.Equal(got, want) {
			t.Fatalf("limit %d: ips\n %v\nwant\n %v", limit, got, want)
		}
	}
}

// testPaginationCursors: a cursor gives the items strictly after it, even
// when no item sits at the cursor; a cursor of the other kind is refused;
// a cursor past the end gives an empty last page.
func testPaginationCursors(t *testing.T, open Opener) {
	s := open(t)
	ip, files, hash, ips := fanOut(t, s, 12)
	all := allFiles(t, s, ip, filetrail.MaxPageLimit, filetrail.WithoutAttributes)
	for i, e := range all {
		for _, c := range []filetrail.Cursor{
			{Kind: filetrail.CursorFiles, Time: e.FirstSeen, ID: e.FileID},
			// Between e and the next item: same time, an id just above e's.
			{Kind: filetrail.CursorFiles, Time: e.FirstSeen, ID: e.FileID + "0"},
		} {
			p, err := s.DownloadedFiles(t.Context(), addr(ip), filetrail.PageRequest{Limit: 3, After: &c}, filetrail.WithoutAttributes)
			if err != nil {
				t.Fatalf("after %+v: %v", c, err)
			}
			wantIDs := files[i+1 : min(len(files), i+4)]
			if c.ID != e.FileID {
				wantIDs = files[i:min(len(files), i+3)]
			}
			if got := fileIDs(p.Items); !slices.Equal(got, wantIDs) {
				t.Errorf("after %+v: %v, want %v", c, got, wantIDs)
			}
			if p.Count != int64(len(files)) {
				t.Errorf("after %+v: Count %d, want %d", c, p.Count, len(files))
			}
		}
	}
	first := allIPs(t, s, hash, 1)[0]
	ipPage, err := s.ITWIPs(t.Context(), hash, filetrail.PageRequest{Limit: 2, After: &filetrail.Cursor{Kind: filetrail.CursorIPs, Time: first.FirstSeen, ID: first.IP.String()}})
	if err != nil || !slices.Equal(ipTexts(ipPage.Items), ips[1:3]) {
		t.Errorf("ITWIPs after the first: %v (%v), want %v", ipTexts(ipPage.Items), err, ips[1:3])
	}

	_, err = s.DownloadedFiles(t.Context(), addr(ip), filetrail.PageRequest{Limit: 3, After: &filetrail.Cursor{Kind: filetrail.CursorIPs, Time: t0, ID: "192.0.2.1"}}, filetrail.WithoutAttributes)
	wantCode(t, err, filetrail.CodeInvalidArgument, "DownloadedFiles with an itw_ips cursor")
	_, err = s.ITWIPs(t.Context(), hash, filetrail.PageRequest{Limit: 3, After: &filetrail.Cursor{Kind: filetrail.CursorFiles, Time: t0, ID: hash}})
	wantCode(t, err, filetrail.CodeInvalidArgument, "ITWIPs with a downloaded_files cursor")

	end := &filetrail.Cursor{Kind: filetrail.CursorFiles, Time: 0, ID: strings.Repeat("0", 64)}
	p, err := s.DownloadedFiles(t.Context(), addr(ip), filetrail.PageRequest{Limit: 3, After: end}, filetrail.WithAttributes)
	if err != nil || len(p.Items) != 0 || p.Next != nil || p.Count != int64(len(files)) {
		t.Errorf("past the end: %d items, next %v, count %d, err %v; want an empty last page", len(p.Items), p.Next, p.Count, err)
	}
	lastIP := &filetrail.Cursor{Kind: filetrail.CursorIPs, Time: 0, ID: "0.0.0.0"}
	q, err := s.ITWIPs(t.Context(), hash, filetrail.PageRequest{Limit: 3, After: lastIP})
	if err != nil || len(q.Items) != 0 || q.Next != nil {
		t.Errorf("ITWIPs past the end: %d items, next %v, err %v; want an empty last page", len(q.Items), q.Next, err)
	}
}

// testPaginationLimits: limits outside 1..MaxPageLimit are refused.
func testPaginationLimits(t *testing.T, open Opener) {
	s := open(t)
	h := hashesOf("limits")
	apply(t, s, sightings(sighting("192.0.2.1", h, "u", "s", t0)))
	for _, limit := range []int{0, -1, filetrail.MaxPageLimit + 1} {
		_, err := s.DownloadedFiles(t.Context(), addr("192.0.2.1"), filetrail.PageRequest{Limit: limit}, filetrail.WithoutAttributes)
		wantCode(t, err, filetrail.CodeInvalidArgument, fmt.Sprintf("DownloadedFiles limit %d", limit))
		_, err = s.ITWIPs(t.Context(), h.SHA256, filetrail.PageRequest{Limit: limit})
		wantCode(t, err, filetrail.CodeInvalidArgument, fmt.Sprintf("ITWIPs limit %d", limit))
	}
}

// testConcurrentIngest: an iteration over an IP's pages, while another
// goroutine ingests (older sightings of existing edges, new edges, other
// IPs), returns every edge that existed when it started.
func testConcurrentIngest(t *testing.T, open Opener) {
	s := open(t)
	const ip = "192.0.2.200"
	const n = 150
	var b filetrail.Batch
	var hs []filetrail.Hashes
	for i := range n {
		h := hashesOf(fmt.Sprint("conc ", i))
		hs = append(hs, h)
		b.Sightings = append(b.Sightings, sighting(ip, h, "u", "s", t0+int64(i)*10))
	}
	apply(t, s, &b)

	for round := range 3 {
		var wg sync.WaitGroup
		stop := make(chan struct{})
		errs := make(chan error, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 { // bounded, so that the iteration ends
				select {
				case <-stop:
					return
				default:
				}
				var w filetrail.Batch
				for j := range 10 {
					k := (i*10 + j) % n
					// Older evidence moves existing edges later in the order.
					w.Sightings = append(w.Sightings, sighting(ip, hs[k], "u2", "s2", t0-int64(round*100000+i*100+j)))
					nh := hashesOf(fmt.Sprint("conc new ", round, i, j))
					w.Sightings = append(w.Sightings, sighting(ip, nh, "u", "s", t0+int64((i*7+j)%(n*10))), sighting("192.0.2.201", nh, "u", "s", t0))
				}
				if _, err := s.Apply(t.Context(), &w); err != nil {
					errs <- err
					return
				}
			}
		}()
		seen := map[string]bool{}
		req := filetrail.PageRequest{Limit: 7}
		for pages := 0; ; pages++ {
			p, err := s.DownloadedFiles(t.Context(), addr(ip), req, filetrail.AttributeForm(round%3))
			if err != nil {
				close(stop)
				wg.Wait()
				t.Fatalf("DownloadedFiles: %v", err)
			}
			if len(p.Items) == 0 && p.Next != nil {
				t.Errorf("empty page with a cursor")
			}
			for _, e := range p.Items {
				seen[e.FileID] = true
			}
			if p.Next == nil || pages > 10000 {
				break
			}
			req.After = p.Next
		}
		close(stop)
		wg.Wait()
		select {
		case err := <-errs:
			t.Fatalf("concurrent Apply: %v", err)
		default:
		}
		for i, h := range hs {
			if !seen[h.SHA256] {
				t.Fatalf("round %d: iteration missed edge %d (%s) that existed when it started", round, i, h.SHA256)
			}
		}
	}
}

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"

	"github.com/jackc/pgx/v5"

	"github.com/filetrail/filetrail"
)

// readRetries bounds how often a read that straddled a concurrent merge of
// a file into a stronger id (two statements, two snapshots) is repeated.
const readRetries = 3

// errMoved marks a read that saw a file id that a concurrent Apply merged
// away between its statements.
var errMoved = errors.New("file merged during the read")

// ipKey is the stored form of an IP address: its canonical text.
func ipKey(ip netip.Addr) (string, error) {
	if !ip.IsValid() {
		return "", filetrail.Errorf(filetrail.CodeInvalidArgument, "missing IP address")
	}
	return ip.Unmap().WithZone("").String(), nil
}

// IPSummary returns what is known of ip; an unknown IP gives a zero summary.
func (s *Store) IPSummary(ctx context.Context, ip netip.Addr) (filetrail.IPSummary, error) {
	key, err := ipKey(ip)
	if err != nil {
		return filetrail.IPSummary{}, err
	}
	sum := filetrail.IPSummary{IP: ip.Unmap()}
	err = s.pool.QueryRow(ctx, `SELECT file_count, first_seen, last_seen FROM ip_stats WHERE ip = $1`, key).
		Scan(&sum.FileCount, &sum.FirstSeen, &sum.LastSeen)
	if errors.Is(err, pgx.ErrNoRows) {
		return sum, nil
	}
	return sum, wrap(err, "read ip summary")
}

func checkPage(req filetrail.PageRequest, kind filetrail.CursorKind) error {
	if req.Limit < 1 || req.Limit > filetrail.MaxPageLimit {
		return filetrail.Errorf(filetrail.CodeInvalidArgument, "limit must be between 1 and %d", filetrail.MaxPageLimit)
	}
	if req.After != nil && req.After.Kind != kind {
		return filetrail.Errorf(filetrail.CodeInvalidArgument, "cursor belongs to another list")
	}
	return nil
}

// DownloadedFiles returns a page of the files ip served: one keyset range
// read on edges (index edges_ip_page) with the count in the same round
// trip, then, when attributes are asked for, one multi-get of the file
// documents.
func (s *Store) DownloadedFiles(ctx context.Context, ip netip.Addr, req filetrail.PageRequest, withAttributes bool) (filetrail.FilePage, error) {
	key, err := ipKey(ip)
	if err != nil {
		return filetrail.FilePage{}, err
	}
	if err := checkPage(req, filetrail.CursorFiles); err != nil {
		return filetrail.FilePage{}, err
	}
	for try := 1; ; try++ {
		page, err := s.downloadedFiles(ctx, key, req, withAttributes)
		if errors.Is(err, errMoved) && try < readRetries {
			continue
		}
		if errors.Is(err, errMoved) {
			return filetrail.FilePage{}, filetrail.Errorf(filetrail.CodeTransient, "files are being merged, retry later")
		}
		return page, wrap(err, "read downloaded files")
	}
}

func (s *Store) downloadedFiles(ctx context.Context, ip string, req filetrail.PageRequest, withAttributes bool) (filetrail.FilePage, error) {
	var page filetrail.FilePage
	b := &pgx.Batch{}
	b.Queue(`SELECT file_count FROM ip_stats WHERE ip = $1`, ip).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(&page.Count); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return nil
	})
	scan := func(r pgx.Rows) error {
		var e filetrail.FileEdge
		var ctxText string
		_, err := pgx.ForEachRow(r, []any{&e.FileID, &e.FirstSeen, &e.LastSeen, &ctxText}, func() error {
			e.Context = json.RawMessage(ctxText)
			page.Items = append(page.Items, e)
			return nil
		})
		return err
	}
	if req.After == nil {
		b.Queue(`SELECT file_id, first_seen, last_seen, context FROM edges WHERE ip = $1
			ORDER BY first_seen DESC, file_id DESC LIMIT $2`, ip, req.Limit+1).Query(scan)
	} else {
		b.Queue(`SELECT file_id, first_seen, last_seen, context FROM edges WHERE ip = $1 AND (first_seen, file_id) < ($2, $3)
			ORDER BY first_seen DESC, file_id DESC LIMIT $4`, ip, req.After.Time, req.After.ID, req.Limit+1).Query(scan)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return filetrail.FilePage{}, err
	}
	if len(page.Items) > req.Limit {
		page.Items = page.Items[:req.Limit]
		last := page.Items[req.Limit-1]
		page.Next = &filetrail.Cursor{Kind: filetrail.CursorFiles, Time: last.FirstSeen, ID: last.FileID}
	}
	if !withAttributes || len(page.Items) == 0 {
		return page, nil
	}
	ids := make([]string, len(page.Items))
	for i, e := range page.Items {
		ids[i] = e.FileID
	}
	attrs := make(map[string]json.RawMessage, len(ids))
	r, err := s.pool.Query(ctx, `SELECT file_id, attributes FROM files WHERE file_id = ANY($1)`, ids)
	if err != nil {
		return filetrail.FilePage{}, err
	}
	var id, a string
	if _, err := pgx.ForEachRow(r, []any{&id, &a}, func() error { attrs[id] = json.RawMessage(a); return nil }); err != nil {
		return filetrail.FilePage{}, err
	}
	for i := range page.Items {
		a, ok := attrs[page.Items[i].FileID]
		if !ok {
			return filetrail.FilePage{}, errMoved
		}
		page.Items[i].Attributes = a
	}
	return page, nil
}

// resolve returns the id of the file known by hash, or NotFound.
func (s *Store) resolve(ctx context.Context, hash string) (string, error) {
	h, _, err := filetrail.ParseHash(hash)
	if err != nil {
		return "", err
	}
	var id string
	err = s.pool.QueryRow(ctx, `SELECT file_id FROM hashes WHERE hash = $1`, h).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", filetrail.Errorf(filetrail.CodeNotFound, "File %q not found", hash)
	}
	return id, err
}

// File returns a file by any of its hashes.
func (s *Store) File(ctx context.Context, hash string) (filetrail.File, error) {
	for try := 1; ; try++ {
		f, err := s.file(ctx, hash)
		if errors.Is(err, errMoved) && try < readRetries {
			continue
		}
		if errors.Is(err, errMoved) {
			return filetrail.File{}, filetrail.Errorf(filetrail.CodeTransient, "file %q is being merged, retry later", hash)
		}
		return f, wrap(err, "read file")
	}
}

func (s *Store) file(ctx context.Context, hash string) (filetrail.File, error) {
	id, err := s.resolve(ctx, hash)
	if err != nil {
		return filetrail.File{}, err
	}
	f := filetrail.File{ID: id}
	var attrs string
	err = s.pool.QueryRow(ctx, `SELECT attributes, ip_count FROM files WHERE file_id = $1`, id).Scan(&attrs, &f.IPCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return filetrail.File{}, errMoved
	}
	f.Attributes = json.RawMessage(attrs)
	return f, err
}

// ITWIPs returns a page of the IPs that served the file known by hash
// (index edges_file_page).
func (s *Store) ITWIPs(ctx context.Context, hash string, req filetrail.PageRequest) (filetrail.IPPage, error) {
	if err := checkPage(req, filetrail.CursorIPs); err != nil {
		return filetrail.IPPage{}, err
	}
	for try := 1; ; try++ {
		page, err := s.itwIPs(ctx, hash, req)
		if errors.Is(err, errMoved) && try < readRetries {
			continue
		}
		if errors.Is(err, errMoved) {
			return filetrail.IPPage{}, filetrail.Errorf(filetrail.CodeTransient, "file %q is being merged, retry later", hash)
		}
		return page, wrap(err, "read itw ips")
	}
}

func (s *Store) itwIPs(ctx context.Context, hash string, req filetrail.PageRequest) (filetrail.IPPage, error) {
	id, err := s.resolve(ctx, hash)
	if err != nil {
		return filetrail.IPPage{}, err
	}
	var page filetrail.IPPage
	found := false
	b := &pgx.Batch{}
	b.Queue(`SELECT ip_count FROM files WHERE file_id = $1`, id).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&page.Count)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	scan := func(r pgx.Rows) error {
		var e filetrail.IPEdge
		var ip, ctxText string
		_, err := pgx.ForEachRow(r, []any{&ip, &e.FirstSeen, &e.LastSeen, &ctxText}, func() error {
			a, err := netip.ParseAddr(ip)
			if err != nil {
				return err
			}
			e.IP, e.Context = a, json.RawMessage(ctxText)
			page.Items = append(page.Items, e)
			return nil
		})
		return err
	}
	if req.After == nil {
		b.Queue(`SELECT ip, first_seen, last_seen, context FROM edges WHERE file_id = $1
			ORDER BY first_seen DESC, ip DESC LIMIT $2`, id, req.Limit+1).Query(scan)
	} else {
		b.Queue(`SELECT ip, first_seen, last_seen, context FROM edges WHERE file_id = $1 AND (first_seen, ip) < ($2, $3)
			ORDER BY first_seen DESC, ip DESC LIMIT $4`, id, req.After.Time, req.After.ID, req.Limit+1).Query(scan)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return filetrail.IPPage{}, err
	}
	if !found {
		return filetrail.IPPage{}, errMoved
	}
	if len(page.Items) > req.Limit {
		page.Items = page.Items[:req.Limit]
		last := page.Items[req.Limit-1]
		page.Next = &filetrail.Cursor{Kind: filetrail.CursorIPs, Time: last.FirstSeen, ID: last.IP.String()}
	}
	return page, nil
}

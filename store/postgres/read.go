package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// IPSummary returns what is known of ip; an unknown IP gives a zero summary.
func (s *Store) IPSummary(ctx context.Context, ip netip.Addr) (filetrail.IPSummary, error) {
	key, err := filetrail.IPKey(ip)
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

// DownloadedFiles returns a page of the files ip served: one keyset range
// read on edges (index edges_ip_page) with the count in the same round
// trip, then, when attributes are asked for, one multi-get of the file
// documents.
func (s *Store) DownloadedFiles(ctx context.Context, ip netip.Addr, req filetrail.PageRequest, form filetrail.AttributeForm) (filetrail.FilePage, error) {
	key, err := filetrail.IPKey(ip)
	if err != nil {
		return filetrail.FilePage{}, err
	}
	if err := req.Check(filetrail.CursorFiles); err != nil {
		return filetrail.FilePage{}, err
	}
	docs, ok := documentQueries[form]
	if !ok {
		return filetrail.FilePage{}, filetrail.Errorf(filetrail.CodeInvalidArgument, "unknown attribute form %d", form)
	}
	return retryMoved("read downloaded files", "files are being merged, retry later", func() (filetrail.FilePage, error) {
		return s.downloadedFiles(ctx, key, req, docs)
	})
}

// documentQueries read the documents of a page's files per attribute form:
// the JSON text and the compressed copy. A document written before the
// compressed copy existed comes as text. "" reads none.
var documentQueries = map[filetrail.AttributeForm]string{
	filetrail.WithoutAttributes:        "",
	filetrail.WithAttributes:           `SELECT file_id, attributes, NULL::bytea FROM files WHERE file_id = ANY($1)`,
	filetrail.WithCompressedAttributes: `SELECT file_id, CASE WHEN attributes_deflate IS NULL THEN attributes END, attributes_deflate FROM files WHERE file_id = ANY($1)`,
}

// document is one file's document in the form a page asked for.
type document struct {
	text       json.RawMessage
	compressed []byte
}

func (s *Store) downloadedFiles(ctx context.Context, ip string, req filetrail.PageRequest, docsQuery string) (filetrail.FilePage, error) {
	var page filetrail.FilePage
	b := &pgx.Batch{}
	b.Queue(`SELECT file_count FROM ip_stats WHERE ip = $1`, ip).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(&page.Count); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return nil
	})
	queueEdgePage(b, pageOfIP, ip, req, func(id string, e edgeRow) error {
		page.Items = append(page.Items, filetrail.FileEdge{FileID: id, FirstSeen: e.firstSeen, LastSeen: e.lastSeen, Context: e.context})
		return nil
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return filetrail.FilePage{}, err
	}
	page.Items, page.Next = trimPage(page.Items, req.Limit, func(last filetrail.FileEdge) filetrail.Cursor {
		return filetrail.Cursor{Kind: filetrail.CursorFiles, Time: last.FirstSeen, ID: last.FileID}
	})
	if docsQuery == "" || len(page.Items) == 0 {
		return page, nil
	}
	ids := make([]string, len(page.Items))
	for i, e := range page.Items {
		ids[i] = e.FileID
	}
	docs := make(map[string]document, len(ids))
	r, err := s.pool.Query(ctx, docsQuery, ids)
	if err != nil {
		return filetrail.FilePage{}, err
	}
	var id string
	var text *string
	var compressed []byte
	if _, err := pgx.ForEachRow(r, []any{&id, &text, &compressed}, func() error {
		d := document{compressed: compressed}
		if text != nil {
			d.text = json.RawMessage(*text)
		}
		docs[id] = d
		return nil
	}); err != nil {
		return filetrail.FilePage{}, err
	}
	for i := range page.Items {
		d, ok := docs[page.Items[i].FileID]
		if !ok {
			return filetrail.FilePage{}, errMoved
		}
		page.Items[i].Attributes, page.Items[i].CompressedAttributes = d.text, d.compressed
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
	return retryMoved("read file", fmt.Sprintf("file %q is being merged, retry later", hash), func() (filetrail.File, error) {
		return s.file(ctx, hash)
	})
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
	if err := req.Check(filetrail.CursorIPs); err != nil {
		return filetrail.IPPage{}, err
	}
	return retryMoved("read itw ips", fmt.Sprintf("file %q is being merged, retry later", hash), func() (filetrail.IPPage, error) {
		return s.itwIPs(ctx, hash, req)
	})
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
	queueEdgePage(b, pageOfFile, id, req, func(ip string, e edgeRow) error {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return err
		}
		page.Items = append(page.Items, filetrail.IPEdge{IP: a, FirstSeen: e.firstSeen, LastSeen: e.lastSeen, Context: e.context})
		return nil
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return filetrail.IPPage{}, err
	}
	if !found {
		return filetrail.IPPage{}, errMoved
	}
	page.Items, page.Next = trimPage(page.Items, req.Limit, func(last filetrail.IPEdge) filetrail.Cursor {
		return filetrail.Cursor{Kind: filetrail.CursorIPs, Time: last.FirstSeen, ID: last.IP.String()}
	})
	return page, nil
}

// retryMoved calls read again while it fails with errMoved, at most
// readRetries calls in all; a read still failing with errMoved then gives a
// Transient error saying moved, any other error is wrapped with what.
func retryMoved[T any](what, moved string, read func() (T, error)) (T, error) {
	for try := 1; ; try++ {
		v, err := read()
		if errors.Is(err, errMoved) && try < readRetries {
			continue
		}
		if errors.Is(err, errMoved) {
			var zero T
			return zero, filetrail.Errorf(filetrail.CodeTransient, "%s", moved)
		}
		return v, wrap(err, what)
	}
}

// edgePage names the two keyset-paged lists of edges: the column a page is
// for, and the column that lists and orders it.
type edgePage struct{ by, lists string }

var (
	// pageOfIP lists the files an IP served (index edges_ip_page).
	pageOfIP = edgePage{by: "ip", lists: "file_id"}
	// pageOfFile lists the IPs that served a file (index edges_file_page).
	pageOfFile = edgePage{by: "file_id", lists: "ip"}
)

// edgeRow is an edge as a page read gives it, but for the listed column.
type edgeRow struct {
	firstSeen, lastSeen int64
	context             json.RawMessage
}

// queueEdgePage queues on b the read of one page of the edges whose p.by
// column is key: newest first_seen first, ties by p.lists descending,
// strictly after req.After when set, at most req.Limit+1 rows (the extra
// one tells trimPage that a next page exists). add gets each row, in order,
// with its p.lists value; an error from add ends the read with it.
func queueEdgePage(b *pgx.Batch, p edgePage, key string, req filetrail.PageRequest, add func(listed string, e edgeRow) error) {
	scan := func(r pgx.Rows) error {
		var listed, ctxText string
		var e edgeRow
		_, err := pgx.ForEachRow(r, []any{&listed, &e.firstSeen, &e.lastSeen, &ctxText}, func() error {
			e.context = json.RawMessage(ctxText)
			return add(listed, e)
		})
		return err
	}
	sel := `SELECT ` + p.lists + `, first_seen, last_seen, context FROM edges WHERE ` + p.by + ` = $1`
	order := `ORDER BY first_seen DESC, ` + p.lists + ` DESC`
	if req.After == nil {
		b.Queue(sel+` `+order+` LIMIT $2`, key, req.Limit+1).Query(scan)
	} else {
		b.Queue(sel+` AND (first_seen, `+p.lists+`) < ($2, $3) `+order+` LIMIT $4`, key, req.After.Time, req.After.ID, req.Limit+1).Query(scan)
	}
}

// trimPage cuts items, read with one row beyond limit, to limit and returns
// them with the cursor after the last one kept (made by next), or with a
// nil cursor when no item was beyond limit.
func trimPage[E any](items []E, limit int, next func(last E) filetrail.Cursor) ([]E, *filetrail.Cursor) {
	if len(items) <= limit {
		return items, nil
	}
	items = items[:limit]
	c := next(items[limit-1])
	return items, &c
}

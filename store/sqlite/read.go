package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/netip"
	"strconv"

	"github.com/filetrail/filetrail"
)

// IPSummary returns the IP's aggregates; an unknown IP gives a zero summary.
func (s *Store) IPSummary(ctx context.Context, ip netip.Addr) (filetrail.IPSummary, error) {
	key, err := filetrail.IPKey(ip)
	if err != nil {
		return filetrail.IPSummary{}, err
	}
	sum := filetrail.IPSummary{IP: ip.Unmap()}
	err = s.r.QueryRowContext(ctx, "SELECT file_count, first_seen, last_seen FROM ips WHERE ip = ?", key).
		Scan(&sum.FileCount, &sum.FirstSeen, &sum.LastSeen)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return filetrail.IPSummary{}, mapErr(err, "ip summary")
	}
	return sum, nil
}

// DownloadedFiles returns a page of the files ip served, newest first by
// first_seen, ties by file id descending: one keyset range read on
// edges_by_ip, LIMIT n+1, joined to the file documents in the form asked.
// The stored bytes are returned as they are.
func (s *Store) DownloadedFiles(ctx context.Context, ip netip.Addr, req filetrail.PageRequest, form filetrail.AttributeForm) (filetrail.FilePage, error) {
	key, err := filetrail.IPKey(ip)
	if err != nil {
		return filetrail.FilePage{}, err
	}
	if err := req.Check(filetrail.CursorFiles); err != nil {
		return filetrail.FilePage{}, err
	}
	docs, ok := documentColumns[form]
	if !ok {
		return filetrail.FilePage{}, filetrail.Errorf(filetrail.CodeInvalidArgument, "unknown attribute form %d", form)
	}
	// One statement, so one snapshot: the page and the count (an
	// uncorrelated subquery, evaluated once) agree.
	q := "SELECT e.file_id, e.first_seen, e.last_seen, e.context, " + docs +
		", (SELECT file_count FROM ips WHERE ip = CAST(?1 AS TEXT)) FROM edges e"
	if form != filetrail.WithoutAttributes {
		q += " LEFT JOIN files f ON f.id = e.file_id"
	}
	// CAST: compared with a bare parameter, SQLite's constant propagation
	// marks the statement to be compiled again whenever ?1 is bound, that
	// is, on every page; the cast keeps it compiled in the driver's cache.
	q += " WHERE e.ip = CAST(?1 AS TEXT)"
	args := []any{key}
	if req.After != nil {
		q += " AND (e.first_seen, e.file_id) < (?2, ?3)"
		args = append(args, req.After.Time, req.After.ID)
	}
	q += " ORDER BY e.first_seen DESC, e.file_id DESC" + limitClause(req.Limit+1)

	page := filetrail.FilePage{Items: make([]filetrail.FileEdge, 0, req.Limit+1)}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return filetrail.FilePage{}, mapErr(err, "downloaded files")
	}
	defer rows.Close()
	// The byte columns are scanned without database/sql's copy (RawBytes)
	// and copied once into one buffer for the page: a page of 40 documents
	// is up to a megabyte, so each copy saved matters.
	var buf pageBuffer
	for rows.Next() {
		var e filetrail.FileEdge
		var ctxJSON, attrs, compressed sql.RawBytes
		if err := rows.Scan(&e.FileID, &e.FirstSeen, &e.LastSeen, &ctxJSON, &attrs, &compressed, &page.Count); err != nil {
			return filetrail.FilePage{}, mapErr(err, "downloaded files")
		}
		if form != filetrail.WithoutAttributes && attrs == nil && compressed == nil {
			attrs = sql.RawBytes("{}") // no file row: an empty document
		}
		buf.add(ctxJSON, attrs, compressed)
		page.Items = append(page.Items, e)
	}
	if err := rows.Err(); err != nil {
		return filetrail.FilePage{}, mapErr(err, "downloaded files")
	}
	buf.fill(page.Items)
	if len(page.Items) == 0 { // unknown IP, or past the end: the count alone
		err := s.r.QueryRowContext(ctx, "SELECT file_count FROM ips WHERE ip = ?", key).Scan(&page.Count)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return filetrail.FilePage{}, mapErr(err, "downloaded files")
		}
	}
	if len(page.Items) > req.Limit {
		page.Items = page.Items[:req.Limit]
		last := page.Items[req.Limit-1]
		page.Next = &filetrail.Cursor{Kind: filetrail.CursorFiles, Time: last.FirstSeen, ID: last.FileID}
	}
	return page, nil
}

// limitClause is " LIMIT n" with n in the text. SQLite's planner reads a
// LIMIT's value, so a statement with a bound LIMIT is compiled again each
// time it runs (every bind expires it); with the value in the text, each
// page size is one statement the driver's cache keeps compiled. n is a
// validated page size, an int: nothing else reaches the SQL text.
func limitClause(n int) string { return " LIMIT " + strconv.Itoa(n) }

// pageBuffer holds the byte columns of a page's rows in one buffer.
type pageBuffer struct {
	b     []byte
	spans [][3]bufSpan // per row: context, attributes, compressed attributes
}

// A bufSpan is where a value is in pageBuffer.b; null marks SQL NULL.
type bufSpan struct {
	start, end int
	null       bool
}

func (p *pageBuffer) add(vals ...[]byte) {
	var row [3]bufSpan
	for i, v := range vals {
		row[i] = bufSpan{start: len(p.b), end: len(p.b) + len(v), null: v == nil}
		p.b = append(p.b, v...)
	}
	p.spans = append(p.spans, row)
}

// fill sets each item's Context, Attributes and CompressedAttributes from
// its row, nil for NULL.
func (p *pageBuffer) fill(items []filetrail.FileEdge) {
	at := func(s bufSpan) []byte {
		if s.null {
			return nil
		}
		return p.b[s.start:s.end:s.end]
	}
	for i := range items {
		row := p.spans[i]
		items[i].Context = at(row[0])
		items[i].Attributes = at(row[1])
		items[i].CompressedAttributes = at(row[2])
	}
}

// documentColumns are the two document columns of a page row per form:
// the JSON text and the compressed copy. A document written before the
// compressed copy existed comes as text.
var documentColumns = map[filetrail.AttributeForm]string{
	filetrail.WithoutAttributes:        "NULL, NULL",
	filetrail.WithAttributes:           "f.attributes, NULL",
	filetrail.WithCompressedAttributes: "CASE WHEN f.attributes_deflate IS NULL THEN f.attributes END, f.attributes_deflate",
}

// fileIDOf returns the id of the file known by hash, or NotFound.
func fileIDOf(ctx context.Context, q querier, hash string) (string, error) {
	h, kind, err := filetrail.ParseHash(hash)
	if err != nil {
		return "", err
	}
	lookup := "SELECT file_id FROM hashes WHERE hash = ?"
	if kind == filetrail.HashSHA256 {
		lookup = "SELECT id FROM files WHERE id = ?" // a sha256 is its file's id
	}
	var id string
	if err := q.QueryRowContext(ctx, lookup, h).Scan(&id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", filetrail.Errorf(filetrail.CodeNotFound, "File %q not found", h)
		}
		return "", err
	}
	return id, nil
}

// notFoundIfNoRows turns a missing file row into NotFound. (A hash whose
// links conflicted can outlive the file it named; see resolve.)
func notFoundIfNoRows(err error, hash string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return filetrail.Errorf(filetrail.CodeNotFound, "File %q not found", hash)
	}
	return err
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// File returns the file known by any of its hashes; NotFound when unknown.
func (s *Store) File(ctx context.Context, hash string) (filetrail.File, error) {
	var f filetrail.File
	err := s.read(ctx, "file", func(tx *sql.Tx) error {
		id, err := fileIDOf(ctx, tx, hash)
		if err != nil {
			return err
		}
		var attrs []byte
		if err := tx.QueryRowContext(ctx, "SELECT id, attributes, ip_count FROM files WHERE id = ?", id).Scan(&f.ID, &attrs, &f.IPCount); err != nil {
			return notFoundIfNoRows(err, hash)
		}
		f.Attributes = json.RawMessage(attrs)
		return nil
	})
	if err != nil {
		return filetrail.File{}, err
	}
	return f, nil
}

// ITWIPs returns a page of the IPs that served the file known by hash,
// newest first by first_seen, ties by IP text descending.
func (s *Store) ITWIPs(ctx context.Context, hash string, req filetrail.PageRequest) (filetrail.IPPage, error) {
	if err := req.Check(filetrail.CursorIPs); err != nil {
		return filetrail.IPPage{}, err
	}
	page := filetrail.IPPage{Items: []filetrail.IPEdge{}}
	err := s.read(ctx, "itw ips", func(tx *sql.Tx) error {
		id, err := fileIDOf(ctx, tx, hash)
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "SELECT ip_count FROM files WHERE id = ?", id).Scan(&page.Count); err != nil {
			return notFoundIfNoRows(err, hash)
		}
		q := "SELECT ip, first_seen, last_seen, context FROM edges WHERE file_id = ?"
		args := []any{id}
		if req.After != nil {
			q += " AND (first_seen, ip) < (?, ?)"
			args = append(args, req.After.Time, req.After.ID)
		}
		q += " ORDER BY first_seen DESC, ip DESC" + limitClause(req.Limit+1)
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e filetrail.IPEdge
			var ipText string
			var ctxJSON []byte
			if err := rows.Scan(&ipText, &e.FirstSeen, &e.LastSeen, &ctxJSON); err != nil {
				return err
			}
			if e.IP, err = netip.ParseAddr(ipText); err != nil {
				return err
			}
			e.Context = json.RawMessage(ctxJSON)
			page.Items = append(page.Items, e)
		}
		return rows.Err()
	})
	if err != nil {
		return filetrail.IPPage{}, err
	}
	if len(page.Items) > req.Limit {
		page.Items = page.Items[:req.Limit]
		last := page.Items[req.Limit-1]
		page.Next = &filetrail.Cursor{Kind: filetrail.CursorIPs, Time: last.FirstSeen, ID: last.IP.String()}
	}
	return page, nil
}

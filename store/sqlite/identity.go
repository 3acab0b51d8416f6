package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/filetrail/filetrail"
)

// File identity follows filetrail.IdentityResolver. A sha256 only ever
// names the file of that id; the hashes table maps every known md5 and sha1
// to its file id. When a record links an md5- or sha1-only file to a
// stronger hash, the weak file is merged into the strong one: its evidence,
// edges, facts, names, hints and hashes move, and the per-IP counts are
// fixed.

// newResolver returns the identity resolver of the transaction, reading
// the stored state through the applier's caches (see prefetch), which
// hold every hash of the batch once prefetch has run: their number is the
// resolver's size hint.
func (a *applier) newResolver() *filetrail.IdentityResolver {
	return filetrail.NewIdentityResolver(len(a.hashFile), a.storedFile, func(id string) (filetrail.Hashes, bool, error) {
		f, err := a.file(id)
		if err != nil || f == nil {
			return filetrail.Hashes{}, false, err
		}
		return f.hashes, true, nil
	})
}

// storedFile returns the id of the stored file hash names, or "".
func (a *applier) storedFile(hash string) (string, error) {
	if id, ok := a.hashFile[hash]; ok {
		return id, nil
	}
	q := "SELECT file_id FROM hashes WHERE hash = ?"
	if filetrail.KindOfValid(hash) == filetrail.HashSHA256 {
		q = "SELECT id FROM files WHERE id = ?"
	}
	var id string
	err := a.tx.QueryRowContext(a.ctx, q, hash).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	a.hashFile[hash] = id
	return id, nil
}

// file returns the stored row of file id, or nil if there is none, reading
// it once.
func (a *applier) file(id string) (*fileRow, error) {
	if f, ok := a.files[id]; ok {
		return f, nil
	}
	_, f, err := scanFileRow(a.tx.QueryRowContext(a.ctx, "SELECT "+fileRowColumns+" FROM files WHERE id = ?", id))
	switch {
	case err == nil:
	case errors.Is(err, sql.ErrNoRows):
		f = nil
	default:
		return nil, err
	}
	a.files[id] = f
	return f, nil
}

const fileRowColumns = "id, sha256, sha1, md5, names, hint_size, hint_first, hint_last, ip_count"

// scanFileRow reads the fileRowColumns of a stored file.
func scanFileRow(r interface{ Scan(...any) error }) (string, *fileRow, error) {
	f := &fileRow{hints: hints{names: map[string]bool{}}}
	var id string
	var names []byte
	if err := r.Scan(&id, &f.hashes.SHA256, &f.hashes.SHA1, &f.hashes.MD5, &names,
		&f.hints.size, &f.hints.seen.first, &f.hints.seen.last, &f.ipCount); err != nil {
		return "", nil, err
	}
	var list []string
	if err := json.Unmarshal(names, &list); err != nil {
		return "", nil, fmt.Errorf("file %s: names: %w", id, err)
	}
	for _, n := range list {
		f.hints.names[n] = true
	}
	return id, f, nil
}

// moveFile merges the stored data of file from into file to and deletes
// from: evidence and edges (an IP that served both keeps one edge and its
// count drops by one), facts (the superseding one per origin and source)
// and hashes. Its names and hints are merged in memory (planFiles), its
// moved edges re-derived (writeEdges).
func (a *applier) moveFile(from string, fromHashes filetrail.Hashes, to string) error {
	// A merged file is never a sha256 one: the length condition lets a
	// first load's partial index answer (firstload.go).
	rows, err := a.tx.QueryContext(a.ctx, "SELECT ip FROM edges WHERE file_id = ? AND length(file_id) < 64", from)
	if err != nil {
		return err
	}
	var ips []string
	for rows.Next() {
		var ip string
		if err := rows.Scan(&ip); err != nil {
			rows.Close()
			return err
		}
		ips = append(ips, ip)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, ip := range ips {
		if err := a.exec(`INSERT INTO evidence (ip, file_id, url, source, first_seen, last_seen)
			SELECT ip, ?, url, source, first_seen, last_seen FROM evidence WHERE ip = ? AND file_id = ? AND true
			ON CONFLICT (ip, file_id, url, source) DO UPDATE SET
				first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`,
			to, ip, from); err != nil {
			return err
		}
		if err := a.exec("DELETE FROM evidence WHERE ip = ? AND file_id = ?", ip, from); err != nil {
			return err
		}
		if err := a.exec("DELETE FROM edges WHERE ip = ? AND file_id = ?", ip, from); err != nil {
			return err
		}
		// The edge is re-derived under to; writeEdges counts it again if
		// to had no edge with ip.
		if err := a.exec("UPDATE ips SET file_count = file_count - 1 WHERE ip = ?", ip); err != nil {
			return err
		}
		a.movedEdges[edgeKey{ip, to}] = true
	}
	steps := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO facts (file_id, origin, source, evidence_time, digest, attributes)
			SELECT ?, origin, source, evidence_time, digest, attributes FROM facts WHERE file_id = ? AND true
			ON CONFLICT (file_id, origin, source) DO UPDATE SET
				evidence_time = excluded.evidence_time, digest = excluded.digest, attributes = excluded.attributes
			WHERE ` + supersedes, []any{to, from}},
		{"DELETE FROM facts WHERE file_id = ?", []any{from}},
		{"UPDATE hashes SET file_id = ? WHERE hash IN (?, ?, ?) AND file_id = ?", []any{to, fromHashes.SHA256, fromHashes.SHA1, fromHashes.MD5, from}},
		{"DELETE FROM files WHERE id = ?", []any{from}},
	}
	for _, st := range steps {
		if err := a.exec(st.q, st.args...); err != nil {
			return err
		}
	}
	return nil
}

// supersedes is the SQL form of StoredFact.Supersedes for an upsert into
// facts: the incoming row (excluded) replaces the stored one.
const supersedes = `(excluded.evidence_time > facts.evidence_time OR
	(excluded.evidence_time = facts.evidence_time AND excluded.digest > facts.digest))`

// prefetch reads, in bulk, the hashes table rows of every hash of the batch
// and the file rows they and the records' strongest hashes name, so that
// the identity resolver rarely goes to the database. An empty store (the
// first batch of a first load) is not asked for each of them: it has none.
func (a *applier) prefetch(hs []filetrail.Hashes) error {
	var empty bool
	err := a.tx.QueryRowContext(a.ctx, "SELECT NOT EXISTS (SELECT 1 FROM files) AND NOT EXISTS (SELECT 1 FROM hashes)").Scan(&empty)
	if err != nil {
		return err
	}
	ids := make(map[string]bool, len(hs))
	var weak []string
	for _, h := range hs {
		for _, x := range h.All() {
			if _, known := a.hashFile[x]; x == "" || known {
				continue
			}
			a.hashFile[x] = "" // not stored, unless read below
			if filetrail.KindOfValid(x) == filetrail.HashSHA256 {
				ids[x] = true // a sha256 names the file of that id, if any
			} else {
				weak = append(weak, x)
			}
		}
	}
	if empty {
		weak = nil // none is stored: nothing to ask
	}
	err = queryKeys(a.ctx, a.tx, "SELECT hash, file_id FROM hashes WHERE hash IN (%K)", 1, stringKeys(weak), func(r *sql.Rows) error {
		var h, id string
		if err := r.Scan(&h, &id); err != nil {
			return err
		}
		a.hashFile[h] = id
		ids[id] = true
		return nil
	})
	if err != nil {
		return err
	}
	for _, h := range hs {
		ids[h.Strongest()] = true
	}
	var want []string
	for id := range ids {
		if _, ok := a.files[id]; !ok {
			want = append(want, id)
			a.files[id] = nil // not stored, unless read below
		}
	}
	if empty {
		return nil // no file is stored
	}
	return queryKeys(a.ctx, a.tx, "SELECT "+fileRowColumns+" FROM files WHERE id IN (%K)", 1, stringKeys(want), func(r *sql.Rows) error {
		id, f, err := scanFileRow(r)
		if err != nil {
			return err
		}
		a.files[id] = f
		if _, ok := a.hashFile[id]; ok && filetrail.KindOfValid(id) == filetrail.HashSHA256 {
			a.hashFile[id] = id
		}
		return nil
	})
}

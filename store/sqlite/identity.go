package sqlite

import (
	"cmp"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/filetrail/filetrail"
)

// File identity (DESIGN.md "File identity"): a file's id is its strongest
// known hash. A sha256 only ever names the file of that id; the hashes table
// maps every known md5 and sha1 to its file id. When a
// record links an md5- or sha1-only file to a stronger hash, the weak file is
// merged into the strong one: its evidence, edges, facts, names, hints and
// hashes move, and the per-IP counts are fixed.

// final follows merges from id to the file it ends up in.
func (a *applier) final(id string) string {
	for {
		next, ok := a.forward[id]
		if !ok {
			return id
		}
		id = next
	}
}

// lookup returns the current id of the file known by hash, or "".
func (a *applier) lookup(hash string) (string, error) {
	id, ok := a.hashFile[hash]
	if !ok {
		q := "SELECT file_id FROM hashes WHERE hash = ?"
		if filetrail.HashKindOf(hash) == filetrail.HashSHA256 {
			q = "SELECT id FROM files WHERE id = ?"
		}
		err := a.tx.QueryRowContext(a.ctx, q, hash).Scan(&id)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return "", err
		}
		a.hashFile[hash] = id
	}
	if id == "" {
		return "", nil
	}
	return a.final(id), nil
}

// file returns the applier's record of file id, reading its row once.
func (a *applier) file(id string) (*fileRow, error) {
	if f, ok := a.files[id]; ok {
		return f, nil
	}
	_, f, err := scanFileRow(a.tx.QueryRowContext(a.ctx, "SELECT "+fileRowColumns+" FROM files WHERE id = ?", id))
	switch {
	case err == nil:
	case errors.Is(err, sql.ErrNoRows):
		f = newFileRow(id)
	default:
		return nil, err
	}
	a.files[id] = f
	return f, nil
}

// newFileRow is the record of a file not yet stored.
func newFileRow(id string) *fileRow {
	return &fileRow{hashes: addHash(filetrail.Hashes{}, id), names: map[string]bool{}}
}

const fileRowColumns = "id, sha256, sha1, md5, names"

// scanFileRow reads the fileRowColumns of a stored file.
func scanFileRow(r interface{ Scan(...any) error }) (string, *fileRow, error) {
	f := &fileRow{existed: true, names: map[string]bool{}}
	var id string
	var names []byte
	if err := r.Scan(&id, &f.hashes.SHA256, &f.hashes.SHA1, &f.hashes.MD5, &names); err != nil {
		return "", nil, err
	}
	var list []string
	if err := json.Unmarshal(names, &list); err != nil {
		return "", nil, fmt.Errorf("file %s: names: %w", id, err)
	}
	for _, n := range list {
		f.names[n] = true
	}
	return id, f, nil
}

// fits reports whether hash may be one of h: h has no hash of its kind, or
// has this one.
func fits(h filetrail.Hashes, hash string) bool {
	switch filetrail.HashKindOf(hash) {
	case filetrail.HashSHA256:
		return h.SHA256 == "" || h.SHA256 == hash
	case filetrail.HashSHA1:
		return h.SHA1 == "" || h.SHA1 == hash
	default:
		return h.MD5 == "" || h.MD5 == hash
	}
}

// addHash sets the field of h that hash's kind names, when it is empty.
func addHash(h filetrail.Hashes, hash string) filetrail.Hashes {
	switch filetrail.HashKindOf(hash) {
	case filetrail.HashSHA256:
		h.SHA256 = cmp.Or(h.SHA256, hash)
	case filetrail.HashSHA1:
		h.SHA1 = cmp.Or(h.SHA1, hash)
	case filetrail.HashMD5:
		h.MD5 = cmp.Or(h.MD5, hash)
	}
	return h
}

func unionHashes(h, o filetrail.Hashes) filetrail.Hashes {
	for _, x := range []string{o.SHA256, o.SHA1, o.MD5} {
		h = addHash(h, x)
	}
	return h
}

// resolve returns the id of the file a record with hashes h is about, and
// records what the record teaches: the file id is the strongest of the
// record's own strongest hash and the ids of the files its hashes already
// name (the record's own wins a tie); every md5/sha1-only file among those
// is merged into it; each of the record's hashes is registered for it,
// except a hash that already names another sha256 file or whose kind the
// file already has with another value (conflicting links keep the first).
// So the hashes that name a file are those of its hash columns.
func (a *applier) resolve(h filetrail.Hashes) (string, error) {
	target := h.Strongest()
	var found []string
	for _, x := range []string{h.SHA256, h.SHA1, h.MD5} {
		if x == "" {
			continue
		}
		id, err := a.lookup(x)
		if err != nil {
			return "", err
		}
		if id != "" && !slices.Contains(found, id) {
			found = append(found, id)
		}
	}
	for _, id := range found {
		if len(id) > len(target) {
			target = id
		}
	}
	t, err := a.file(target)
	if err != nil {
		return "", err
	}
	for _, id := range found {
		if id == target || filetrail.HashKindOf(id) == filetrail.HashSHA256 {
			continue
		}
		w, err := a.file(id)
		if err != nil {
			return "", err
		}
		a.forward[id] = target
		a.merged = append(a.merged, id)
		t.hashes = unionHashes(t.hashes, w.hashes)
		for n := range w.names {
			t.names[n] = true
		}
		t.absorbed = t.absorbed || w.existed || w.absorbed
	}
	for _, x := range []string{h.SHA256, h.SHA1, h.MD5} {
		if x == "" {
			continue
		}
		cur, err := a.lookup(x)
		if err != nil {
			return "", err
		}
		if (cur == "" || cur == target) && fits(t.hashes, x) {
			a.hashFile[x] = target
			if filetrail.HashKindOf(x) != filetrail.HashSHA256 {
				a.newHash[x] = target
			}
			t.hashes = addHash(t.hashes, x)
		}
	}
	return target, nil
}

// moveFile merges the stored data of file from into file to and deletes
// from: evidence and edges (an IP that served both keeps one edge and its
// count drops by one), facts (the superseding one per origin and source),
// hints and hashes (names were merged in memory).
func (a *applier) moveFile(from string, fromHashes filetrail.Hashes, to string) error {
	rows, err := a.tx.QueryContext(a.ctx, "SELECT ip FROM edges WHERE file_id = ?", from)
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
		// The edge is re-derived under to; deriveEdges counts it again if
		// to had no edge with ip.
		if err := a.exec("UPDATE ips SET file_count = file_count - 1 WHERE ip = ?", ip); err != nil {
			return err
		}
		k := edgeKey{ip, to}
		a.touchedEdges[k] = true
		a.keptEdges[k] = true
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
		{`UPDATE files SET hint_size = max(files.hint_size, o.hint_size),
				hint_first = CASE WHEN files.hint_first = 0 THEN o.hint_first WHEN o.hint_first = 0 THEN files.hint_first ELSE min(files.hint_first, o.hint_first) END,
				hint_last = max(files.hint_last, o.hint_last)
			FROM (SELECT hint_size, hint_first, hint_last FROM files WHERE id = ?) AS o WHERE files.id = ?`, []any{from, to}},
		{"UPDATE hashes SET file_id = ? WHERE hash IN (?, ?, ?) AND file_id = ?", []any{to, fromHashes.SHA256, fromHashes.SHA1, fromHashes.MD5, from}},
		{"DELETE FROM files WHERE id = ?", []any{from}},
	}
	for _, st := range steps {
		if err := a.exec(st.q, st.args...); err != nil {
			return err
		}
	}
	a.touchedFiles[to] = true
	return nil
}

// supersedes is the SQL form of StoredFact.Supersedes for an upsert into
// facts: the incoming row (excluded) replaces the stored one.
const supersedes = `(excluded.evidence_time > facts.evidence_time OR
	(excluded.evidence_time = facts.evidence_time AND excluded.digest > facts.digest))`

// prefetch reads, in bulk, the hashes table rows of every hash of the batch
// and the file rows they and the records' strongest hashes name, so that
// resolve rarely goes to the database.
func (a *applier) prefetch(hs []filetrail.Hashes) error {
	seen := map[string]bool{}
	var hashes []string
	for _, h := range hs {
		for _, x := range []string{h.SHA256, h.SHA1, h.MD5} {
			if x != "" && !seen[x] {
				seen[x] = true
				hashes = append(hashes, x)
			}
		}
	}
	ids := map[string]bool{}
	var weak []string
	for _, h := range hashes {
		a.hashFile[h] = ""
		if filetrail.HashKindOf(h) == filetrail.HashSHA256 {
			ids[h] = true // a sha256 names the file of that id, if any
		} else {
			weak = append(weak, h)
		}
	}
	err := queryKeys(a.ctx, a.tx, "SELECT hash, file_id FROM hashes WHERE hash IN (%K)", 1, stringKeys(weak), func(r *sql.Rows) error {
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
			a.files[id] = newFileRow(id)
		}
	}
	return queryKeys(a.ctx, a.tx, "SELECT "+fileRowColumns+" FROM files WHERE id IN (%K)", 1, stringKeys(want), func(r *sql.Rows) error {
		id, f, err := scanFileRow(r)
		if err != nil {
			return err
		}
		a.files[id] = f
		if _, ok := a.hashFile[id]; ok && filetrail.HashKindOf(id) == filetrail.HashSHA256 {
			a.hashFile[id] = id
		}
		return nil
	})
}

package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/filetrail/filetrail"
)

// Apply validates the whole batch, then merges it in one write transaction
// (see filetrail.EvidenceWriter). An invalid record fails the batch with
// InvalidArgument before anything is written.
//
// The transaction runs in phases: resolve every record to its file id
// (merging md5/sha1-only files into the file that a record links them to),
// move the data of merged files, write the new hashes, evidence, hints and
// facts, then re-derive the edges and file documents the batch touched and
// the counts they change.
func (s *Store) Apply(ctx context.Context, b *filetrail.Batch) (filetrail.ApplyResult, error) {
	if b == nil || b.Len() == 0 {
		return filetrail.ApplyResult{}, nil
	}
	sightings := make([]filetrail.Sighting, len(b.Sightings))
	for i, sg := range b.Sightings {
		v, err := filetrail.ValidateSighting(sg)
		if err != nil {
			return filetrail.ApplyResult{}, recordErr("sighting", i, err)
		}
		sightings[i] = v
	}
	facts := make([]filetrail.FileFact, len(b.Files))
	stored := make([]filetrail.StoredFact, len(b.Files))
	for i, f := range b.Files {
		v, err := filetrail.ValidateFileFact(f)
		if err == nil {
			stored[i], err = filetrail.NewStoredFact(v)
		}
		if err != nil {
			return filetrail.ApplyResult{}, recordErr("file fact", i, err)
		}
		facts[i] = v
	}
	var res filetrail.ApplyResult
	err := s.write(ctx, "apply", func(tx *sql.Tx) error {
		a := newApplier(ctx, tx)
		var err error
		res, err = a.run(sightings, facts, stored)
		return err
	})
	if err != nil {
		return filetrail.ApplyResult{}, err
	}
	return res, nil
}

// recordErr names the bad record of a batch, keeping the error's code.
func recordErr(kind string, i int, err error) error {
	code := filetrail.ErrorCode(err)
	return filetrail.Errorf(code, "%s %d: %s", kind, i, filetrail.ErrorMessage(err))
}

type edgeKey struct{ ip, file string }

type evidenceKey struct {
	ip, file, url, source string
}

type span struct{ first, last int64 }

func (s *span) add(first, last int64) {
	if s.first == 0 || first < s.first {
		s.first = first
	}
	s.last = max(s.last, last)
}

type factKey struct {
	file   string
	origin filetrail.Origin
	source string
}

// hints are the sighting hints of one file gathered from a batch.
type hints struct {
	names map[string]bool
	size  int64
	seen  span
}

// fileRow is a stored file's row as the batch found it.
type fileRow struct {
	hashes filetrail.Hashes
	names  map[string]bool // file names from sightings
}

// applier holds the state of one Apply transaction.
type applier struct {
	ctx context.Context
	tx  *sql.Tx

	hashFile map[string]string   // hash → stored file id ("" none), as read
	files    map[string]*fileRow // stored file rows, by id; nil: not stored

	touchedEdges map[edgeKey]bool
	keptEdges    map[edgeKey]bool // edges that existed before under a merged file
	touchedFiles map[string]bool
}

func newApplier(ctx context.Context, tx *sql.Tx) *applier {
	return &applier{
		ctx: ctx, tx: tx,
		hashFile:     map[string]string{},
		files:        map[string]*fileRow{},
		touchedEdges: map[edgeKey]bool{},
		keptEdges:    map[edgeKey]bool{},
		touchedFiles: map[string]bool{},
	}
}

func (a *applier) exec(q string, args ...any) error {
	_, err := a.tx.ExecContext(a.ctx, q, args...)
	return err
}

// run applies validated records.
func (a *applier) run(sightings []filetrail.Sighting, facts []filetrail.FileFact, stored []filetrail.StoredFact) (filetrail.ApplyResult, error) {
	var res filetrail.ApplyResult
	// Phase 1: identity.
	all := make([]filetrail.Hashes, 0, len(sightings)+len(facts))
	for _, sg := range sightings {
		all = append(all, sg.Hashes())
	}
	for _, f := range facts {
		all = append(all, f.Hashes)
	}
	if err := a.prefetch(all); err != nil {
		return res, err
	}
	ids := a.newResolver()
	fileOf := make([]string, len(all))
	for i, h := range all {
		id, err := ids.Resolve(h)
		if err != nil {
			return res, err
		}
		fileOf[i] = id
	}
	for i := range fileOf {
		fileOf[i] = ids.Final(fileOf[i])
	}
	sightFile, factFile := fileOf[:len(sightings)], fileOf[len(sightings):]

	// Phase 2: file rows (hashes and hints), merged files moved in, hashes.
	// A file's names are its stored ones, those of the stored files merged
	// into it and the batch's.
	names := map[string]map[string]bool{}
	addNames := func(id string, from map[string]bool) {
		if names[id] == nil {
			names[id] = map[string]bool{}
		}
		for n := range from {
			names[id][n] = true
		}
	}
	merges := ids.Merges()
	for _, m := range merges {
		if f := a.files[m.From]; m.Existed && f != nil {
			addNames(m.Into, f.names)
		}
	}
	fileHints := gatherHints(sightings, sightFile)
	var rows [][]any
	for _, f := range ids.Files() {
		if f.IsNew() {
			res.NewFiles++
		}
		if row := a.files[f.ID]; f.Existed && row != nil {
			addNames(f.ID, row.names)
		}
		h := fileHints[f.ID]
		if h == nil {
			h = &hints{}
		}
		addNames(f.ID, h.names)
		list, err := json.Marshal(sortedKeys(names[f.ID]))
		if err != nil {
			return res, err
		}
		rows = append(rows, []any{f.ID, f.Hashes.SHA256, f.Hashes.SHA1, f.Hashes.MD5, string(list), h.size, h.seen.first, h.seen.last})
	}
	err := execValues(a.ctx, a.tx, "INSERT INTO files (id, sha256, sha1, md5, names, hint_size, hint_first, hint_last)",
		`ON CONFLICT (id) DO UPDATE SET sha256 = excluded.sha256, sha1 = excluded.sha1, md5 = excluded.md5,
			names = excluded.names, hint_size = max(hint_size, excluded.hint_size),
			hint_first = CASE WHEN hint_first = 0 THEN excluded.hint_first WHEN excluded.hint_first = 0 THEN hint_first
				ELSE min(hint_first, excluded.hint_first) END,
			hint_last = max(hint_last, excluded.hint_last)
		WHERE sha256 != excluded.sha256 OR sha1 != excluded.sha1 OR md5 != excluded.md5 OR names != excluded.names
			OR excluded.hint_size > hint_size OR excluded.hint_last > hint_last
			OR (excluded.hint_first != 0 AND (hint_first = 0 OR excluded.hint_first < hint_first))
		RETURNING id`, 8, rows, a.touchFile)
	if err != nil {
		return res, err
	}
	for _, m := range merges {
		if m.Existed {
			if err := a.moveFile(m.From, m.Hashes, m.Into); err != nil {
				return res, err
			}
		}
	}
	rows = rows[:0]
	for _, l := range ids.Registrations() {
		if filetrail.HashKindOf(l.Hash) != filetrail.HashSHA256 { // a sha256 names the file of that id
			rows = append(rows, []any{l.Hash, l.FileID})
		}
	}
	if err := execValues(a.ctx, a.tx, "INSERT INTO hashes (hash, file_id)",
		"ON CONFLICT (hash) DO UPDATE SET file_id = excluded.file_id WHERE file_id != excluded.file_id", 2, rows, nil); err != nil {
		return res, err
	}

	// Phase 3: evidence and facts.
	if err := a.writeEvidence(sightings, sightFile); err != nil {
		return res, err
	}
	if err := a.writeFacts(stored, factFile); err != nil {
		return res, err
	}

	// Phase 4: derived rows.
	if res.NewEdges, err = a.deriveEdges(); err != nil {
		return res, err
	}
	return res, a.deriveFiles()
}

// touchFile records the file id of a RETURNING row as touched.
func (a *applier) touchFile(r *sql.Rows) error {
	var id string
	if err := r.Scan(&id); err != nil {
		return err
	}
	a.touchedFiles[id] = true
	return nil
}

// gatherHints folds the sightings' hints per file.
func gatherHints(sightings []filetrail.Sighting, fileOf []string) map[string]*hints {
	out := map[string]*hints{}
	for i, sg := range sightings {
		h := out[fileOf[i]]
		if h == nil {
			h = &hints{names: map[string]bool{}}
			out[fileOf[i]] = h
		}
		if sg.FileName != "" {
			h.names[sg.FileName] = true
		}
		h.size = max(h.size, sg.Size)
		h.seen.add(sg.SeenAt, sg.SeenAt)
	}
	return out
}

// writeEvidence merges the sightings with an IP into evidence rows
// (aggregated in memory first); the edges whose evidence changed are
// touched.
func (a *applier) writeEvidence(sightings []filetrail.Sighting, fileOf []string) error {
	evidence := map[evidenceKey]*span{}
	for i, sg := range sightings {
		if !sg.IP.IsValid() {
			continue
		}
		k := evidenceKey{sg.IP.String(), fileOf[i], sg.URL, sg.Source}
		e := evidence[k]
		if e == nil {
			e = &span{}
			evidence[k] = e
		}
		e.add(sg.SeenAt, sg.SeenAt)
	}
	keys := make([]evidenceKey, 0, len(evidence))
	for k := range evidence {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y evidenceKey) int {
		return cmp.Or(cmp.Compare(x.ip, y.ip), cmp.Compare(x.file, y.file), cmp.Compare(x.url, y.url), cmp.Compare(x.source, y.source))
	})
	rows := make([][]any, len(keys))
	for i, k := range keys {
		rows[i] = []any{k.ip, k.file, k.url, k.source, evidence[k].first, evidence[k].last}
	}
	return execValues(a.ctx, a.tx, "INSERT INTO evidence (ip, file_id, url, source, first_seen, last_seen)",
		`ON CONFLICT (ip, file_id, url, source) DO UPDATE SET
			first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)
		WHERE excluded.first_seen < first_seen OR excluded.last_seen > last_seen
		RETURNING ip, file_id`, 6, rows, func(r *sql.Rows) error {
			var k edgeKey
			if err := r.Scan(&k.ip, &k.file); err != nil {
				return err
			}
			a.touchedEdges[k] = true
			return nil
		})
}

// writeFacts keeps, per file, origin and source, the superseding fact; a
// file whose facts change is touched.
func (a *applier) writeFacts(stored []filetrail.StoredFact, fileOf []string) error {
	best := map[factKey]filetrail.StoredFact{}
	for i, f := range stored {
		k := factKey{fileOf[i], f.Origin, f.Source}
		if old, ok := best[k]; !ok || f.Supersedes(old) {
			best[k] = f
		}
	}
	keys := make([]factKey, 0, len(best))
	for k := range best {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y factKey) int {
		return cmp.Or(cmp.Compare(x.file, y.file), cmp.Compare(x.origin, y.origin), cmp.Compare(x.source, y.source))
	})
	rows := make([][]any, len(keys))
	for i, k := range keys {
		f := best[k]
		rows[i] = []any{k.file, int(k.origin), k.source, f.EvidenceTime, f.Digest, string(f.Attributes)}
	}
	return execValues(a.ctx, a.tx, "INSERT INTO facts (file_id, origin, source, evidence_time, digest, attributes)",
		`ON CONFLICT (file_id, origin, source) DO UPDATE SET
			evidence_time = excluded.evidence_time, digest = excluded.digest, attributes = excluded.attributes
		WHERE `+supersedes+` RETURNING file_id`, 6, rows, a.touchFile)
}

// edgeKeys returns the keys of m as sorted query keys.
func edgeKeys(m map[edgeKey]bool) ([]edgeKey, [][]any) {
	keys := make([]edgeKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y edgeKey) int { return cmp.Or(cmp.Compare(x.ip, y.ip), cmp.Compare(x.file, y.file)) })
	args := make([][]any, len(keys))
	for i, k := range keys {
		args[i] = []any{k.ip, k.file}
	}
	return keys, args
}

// deriveEdges rebuilds every touched edge from its evidence with
// EdgeContext, writes those that changed, and updates the per-IP and
// per-file counts and spans. It returns the number of edges that did not
// exist before the batch.
func (a *applier) deriveEdges() (int, error) {
	keys, args := edgeKeys(a.touchedEdges)
	evidence := map[edgeKey][]filetrail.Evidence{}
	err := queryKeys(a.ctx, a.tx, `WITH k(ip, f) AS (VALUES %K)
		SELECT e.ip, e.file_id, e.url, e.source, e.first_seen, e.last_seen
		FROM k CROSS JOIN evidence e ON e.ip = k.ip AND e.file_id = k.f`, 2, args, func(r *sql.Rows) error {
		var k edgeKey
		var e filetrail.Evidence
		if err := r.Scan(&k.ip, &k.file, &e.URL, &e.Source, &e.FirstSeen, &e.LastSeen); err != nil {
			return err
		}
		evidence[k] = append(evidence[k], e)
		return nil
	})
	if err != nil {
		return 0, err
	}
	type edge struct {
		first, last int64
		ctx         string
	}
	old := map[edgeKey]edge{}
	err = queryKeys(a.ctx, a.tx, `WITH k(ip, f) AS (VALUES %K)
		SELECT e.ip, e.file_id, e.first_seen, e.last_seen, e.context
		FROM k CROSS JOIN edges e ON e.ip = k.ip AND e.file_id = k.f`, 2, args, func(r *sql.Rows) error {
		var k edgeKey
		var e edge
		if err := r.Scan(&k.ip, &k.file, &e.first, &e.last, &e.ctx); err != nil {
			return err
		}
		old[k] = e
		return nil
	})
	if err != nil {
		return 0, err
	}
	type ipDelta struct {
		files int64
		seen  span
	}
	ipDeltas := map[string]*ipDelta{}
	fileDeltas := map[string]int64{}
	newEdges := 0
	var rows [][]any
	for _, k := range keys {
		ev := evidence[k]
		if len(ev) == 0 {
			continue
		}
		first, last, ctxJSON := filetrail.EdgeContext(ev)
		e := edge{first, last, string(ctxJSON)}
		prev, existed := old[k]
		if existed && prev == e {
			continue
		}
		rows = append(rows, []any{k.ip, k.file, e.first, e.last, e.ctx})
		d := ipDeltas[k.ip]
		if d == nil {
			d = &ipDelta{}
			ipDeltas[k.ip] = d
		}
		d.seen.add(first, last)
		if !existed {
			d.files++
			fileDeltas[k.file]++
			if !a.keptEdges[k] {
				newEdges++
			}
		}
	}
	err = execValues(a.ctx, a.tx, "INSERT INTO edges (ip, file_id, first_seen, last_seen, context)",
		`ON CONFLICT (ip, file_id) DO UPDATE SET
			first_seen = excluded.first_seen, last_seen = excluded.last_seen, context = excluded.context`, 5, rows, nil)
	if err != nil {
		return 0, err
	}
	rows = rows[:0]
	for _, ip := range sortedKeys(ipDeltas) {
		d := ipDeltas[ip]
		rows = append(rows, []any{ip, d.files, d.seen.first, d.seen.last})
	}
	err = execValues(a.ctx, a.tx, "INSERT INTO ips (ip, file_count, first_seen, last_seen)",
		`ON CONFLICT (ip) DO UPDATE SET file_count = file_count + excluded.file_count,
			first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`, 4, rows, nil)
	if err != nil {
		return 0, err
	}
	rows = rows[:0]
	for _, id := range sortedKeys(fileDeltas) {
		rows = append(rows, []any{id, fileDeltas[id]})
	}
	err = execValues(a.ctx, a.tx, "INSERT INTO files (id, ip_count)",
		"ON CONFLICT (id) DO UPDATE SET ip_count = ip_count + excluded.ip_count", 2, rows, nil)
	return newEdges, err
}

// deriveFiles rebuilds the attributes document of every touched file with
// MergeFile from its hashes, stored facts and hints, and writes those that
// changed.
func (a *applier) deriveFiles() error {
	ids := sortedKeys(a.touchedFiles)
	keys := stringKeys(ids)
	type file struct {
		h     filetrail.Hashes
		hints filetrail.FileHints
		facts []filetrail.StoredFact
		attrs string
	}
	files := map[string]*file{}
	err := queryKeys(a.ctx, a.tx, "SELECT id, sha256, sha1, md5, names, hint_size, hint_first, hint_last, attributes FROM files WHERE id IN (%K)", 1, keys,
		func(r *sql.Rows) error {
			var id string
			var names []byte
			f := &file{}
			if err := r.Scan(&id, &f.h.SHA256, &f.h.SHA1, &f.h.MD5, &names, &f.hints.Size, &f.hints.FirstSeen, &f.hints.LastSeen, &f.attrs); err != nil {
				return err
			}
			if err := json.Unmarshal(names, &f.hints.Names); err != nil {
				return fmt.Errorf("file %s: names: %w", id, err)
			}
			files[id] = f
			return nil
		})
	if err != nil {
		return err
	}
	err = queryKeys(a.ctx, a.tx, "SELECT file_id, origin, source, evidence_time, digest, attributes FROM facts WHERE file_id IN (%K)", 1, keys,
		func(r *sql.Rows) error {
			var id string
			var sf filetrail.StoredFact
			var attrs []byte
			if err := r.Scan(&id, &sf.Origin, &sf.Source, &sf.EvidenceTime, &sf.Digest, &attrs); err != nil {
				return err
			}
			sf.Attributes = json.RawMessage(attrs)
			if f := files[id]; f != nil {
				f.facts = append(f.facts, sf)
			}
			return nil
		})
	if err != nil {
		return err
	}
	var rows [][]any
	for _, id := range ids {
		f := files[id]
		if f == nil {
			continue // merged away
		}
		if doc := filetrail.MergeFile(f.h, f.facts, f.hints); string(doc) != f.attrs {
			rows = append(rows, []any{id, string(doc), filetrail.CompressAttributes(doc)})
		}
	}
	return execValues(a.ctx, a.tx, "INSERT INTO files (id, attributes, attributes_deflate)",
		"ON CONFLICT (id) DO UPDATE SET attributes = excluded.attributes, attributes_deflate = excluded.attributes_deflate", 3, rows, nil)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/filetrail/filetrail"
)

// Apply validates the whole batch, then merges it in one write transaction
// (see filetrail.EvidenceWriter). An invalid record fails the batch with
// InvalidArgument before anything is written.
//
// The transaction reads what the batch needs once, merges in memory and
// writes each changed row once: resolve every record to its file id
// (merging md5/sha1-only files into the file that a record links them to,
// whose stored data is moved first); decide each file's new state, reading
// the stored facts of those whose document must be rebuilt, and build
// those documents in the background; meanwhile read the stored evidence
// of the batch's edges and write the evidence, edges and per-IP counts
// that change; then write each changed file row, with its new document,
// and the new hashes.
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
		a := newApplier(ctx, tx, len(sightings)+len(facts))
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

// evKey is an evidence row's key within its edge.
type evKey struct{ url, source string }

type span struct{ first, last int64 }

// add widens s to [first, last]; a zero first is unknown.
func (s *span) add(first, last int64) {
	if first != 0 && (s.first == 0 || first < s.first) {
		s.first = first
	}
	s.last = max(s.last, last)
}

type factKey struct {
	origin filetrail.Origin
	source string
}

// hints are the sighting hints of one file: its names, the largest size,
// the first and last sighting.
type hints struct {
	names map[string]bool
	size  int64
	seen  span
}

// merge folds o into h.
func (h *hints) merge(o *hints) {
	for n := range o.names {
		h.names[n] = true
	}
	h.size = max(h.size, o.size)
	h.seen.add(o.seen.first, o.seen.last)
}

// fileRow is a stored file's row as the batch found it.
type fileRow struct {
	hashes  filetrail.Hashes
	hints   hints // names from the names column, the hint_* columns
	ipCount int64
}

// applier holds the state of one Apply transaction.
type applier struct {
	ctx context.Context
	tx  *sql.Tx

	hashFile map[string]string   // hash → stored file id ("" none), as read
	files    map[string]*fileRow // stored file rows, by id; nil: not stored

	movedEdges map[edgeKey]bool // edges that existed before under a merged file
}

// newApplier returns the applier of a transaction applying about records
// records (a size hint). Its maps start at one entry per record: records
// carry one to three hashes, and recurring files share theirs (a batch of
// sensor sightings holds about one distinct hash per two records), so a
// larger start would mostly be memory held for the whole transaction.
func newApplier(ctx context.Context, tx *sql.Tx, records int) *applier {
	return &applier{
		ctx: ctx, tx: tx,
		hashFile:   make(map[string]string, records),
		files:      make(map[string]*fileRow, records/2),
		movedEdges: map[edgeKey]bool{},
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

	// Phase 2: the stored data of merged files moves into their final file
	// (their rows, as read, are merged in memory below).
	absorbed := map[string][]*fileRow{}
	for _, m := range ids.Merges() {
		if !m.Existed {
			continue
		}
		f, err := a.file(m.From)
		if err != nil {
			return res, err
		}
		if f != nil {
			absorbed[m.Into] = append(absorbed[m.Into], f)
		}
		if err := a.moveFile(m.From, m.Hashes, m.Into); err != nil {
			return res, err
		}
	}

	// Phase 3: the files' new state; their documents are built in the
	// background while phase 4 writes the edges.
	files := ids.Files()
	for _, f := range files {
		if f.IsNew() {
			res.NewFiles++
		}
	}
	plan, err := a.planFiles(files, absorbed, gatherHints(sightings, sightFile), stored, factFile)
	if err != nil {
		return res, err
	}
	docs := buildDocuments(plan.rebuild)

	// Phase 4: evidence, edges, per-IP counts.
	newFiles := map[string]bool{}
	for _, f := range files {
		if f.IsNew() {
			newFiles[f.ID] = true
		}
	}
	fileDeltas, newEdges, err := a.writeEdges(sightings, sightFile, newFiles)
	docs.Wait()
	if err != nil {
		return res, err
	}
	res.NewEdges = newEdges

	// Phase 5: files, facts and hashes.
	if err := a.writeFiles(plan, fileDeltas); err != nil {
		return res, err
	}
	var rows [][]any
	for _, l := range ids.Registrations() {
		// A sha256 names the file of that id; a hash already naming its
		// file needs no write.
		if filetrail.KindOfValid(l.Hash) != filetrail.HashSHA256 && a.hashFile[l.Hash] != l.FileID {
			rows = append(rows, []any{l.Hash, l.FileID})
		}
	}
	sortByKey(rows)
	return res, execValues(a.ctx, a.tx, "INSERT INTO hashes (hash, file_id)",
		"ON CONFLICT (hash) DO UPDATE SET file_id = excluded.file_id WHERE file_id != excluded.file_id", 2, rows)
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

// writeEdges merges the evidence of the sightings with an IP into the
// stored evidence of their edges (read once), writes the evidence rows that
// change, re-derives with EdgeContext and writes every edge whose evidence
// changed (and every edge moved by a merge), and updates the per-IP counts
// and spans. It returns the number of edges each file gained and the number
// of edges that did not exist before the batch.
//
// An edge exists exactly when it has evidence, so the stored evidence tells
// which edges are new; only edges moved by a merge are looked up. The
// evidence of an edge of a new file (newFiles: neither it nor a file merged
// into it was stored) is not read: there is none.
func (a *applier) writeEdges(sightings []filetrail.Sighting, fileOf []string, newFiles map[string]bool) (map[string]int64, int, error) {
	// The batch's evidence, one record per (edge, URL, source), sorted by
	// edge then evidence key: the sightings' records sorted, equal keys
	// folded together.
	batch := make([]evRecord, 0, len(sightings))
	for i, sg := range sightings {
		if !sg.IP.IsValid() {
			continue
		}
		r := evRecord{edge: edgeKey{sg.IP.String(), fileOf[i]}, ev: evKey{sg.URL, sg.Source}}
		r.span.add(sg.SeenAt, sg.SeenAt)
		batch = append(batch, r)
	}
	slices.SortFunc(batch, compareEvRecords)
	batch = foldEvRecords(batch)
	// Every edge to write, in key order: the batch's and the moved ones.
	var keys []edgeKey
	for i, r := range batch {
		if i == 0 || r.edge != batch[i-1].edge {
			keys = append(keys, r.edge)
		}
	}
	if len(a.movedEdges) > 0 {
		for k := range a.movedEdges {
			if _, found := slices.BinarySearchFunc(batch, k, func(r evRecord, k edgeKey) int { return compareEdgeKeys(r.edge, k) }); !found {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, compareEdgeKeys)
	}
	var args [][]any
	for _, k := range keys {
		if !newFiles[k.file] || a.movedEdges[k] {
			args = append(args, []any{k.ip, k.file})
		}
	}
	// The stored evidence of those edges, sorted like batch.
	var stored []evRecord
	err := queryKeys(a.ctx, a.tx, `WITH k(ip, f) AS (VALUES %K)
		SELECT e.ip, e.file_id, e.url, e.source, e.first_seen, e.last_seen
		FROM k CROSS JOIN evidence e ON e.ip = k.ip AND e.file_id = k.f`, 2, args, func(r *sql.Rows) error {
		var e evRecord
		if err := r.Scan(&e.edge.ip, &e.edge.file, &e.ev.url, &e.ev.source, &e.span.first, &e.span.last); err != nil {
			return err
		}
		stored = append(stored, e)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	slices.SortFunc(stored, compareEvRecords)
	// A moved edge has evidence under its new key before its edge row is
	// written: whether the row exists is read.
	movedExists := map[edgeKey]bool{}
	_, movedArgs := edgeKeys(a.movedEdges)
	err = queryKeys(a.ctx, a.tx, `WITH k(ip, f) AS (VALUES %K)
		SELECT e.ip, e.file_id FROM k CROSS JOIN edges e ON e.ip = k.ip AND e.file_id = k.f`, 2, movedArgs, func(r *sql.Rows) error {
		var k edgeKey
		if err := r.Scan(&k.ip, &k.file); err != nil {
			return err
		}
		movedExists[k] = true
		return nil
	})
	if err != nil {
		return nil, 0, err
	}

	type ipDelta struct {
		files int64
		seen  span
	}
	ipDeltas := map[string]*ipDelta{}
	fileDeltas := map[string]int64{}
	newEdges := 0
	// edgeRows are upserted; ctxRows are stored edges whose first_seen
	// stays: only their last_seen and context change, which leaves the
	// two indexes (both hold first_seen) untouched.
	var evRows, edgeRows, ctxRows [][]any
	var ev []filetrail.Evidence
	for _, k := range keys {
		var add, old []evRecord
		add, batch = cutEdge(batch, k)
		old, stored = cutEdge(stored, k)
		hadOld := len(old) > 0
		changed := a.movedEdges[k] // a moved edge is always rewritten
		ev = ev[:0]
		var oldFirst int64 // the stored edge's first_seen: the least of its evidence
		for i, o := range old {
			if i == 0 || o.span.first < oldFirst {
				oldFirst = o.span.first
			}
		}
		// Merge the stored and the batch's evidence, both in key order;
		// the batch's rows that change are written.
		for len(add) > 0 || len(old) > 0 {
			var c int
			switch {
			case len(add) == 0:
				c = 1
			case len(old) == 0:
				c = -1
			default:
				c = compareEvKeys(add[0].ev, old[0].ev)
			}
			var e evRecord
			switch {
			case c > 0: // stored, not in the batch
				e, old = old[0], old[1:]
			case c < 0: // new evidence
				e, add = add[0], add[1:]
				evRows = append(evRows, []any{k.ip, k.file, e.ev.url, e.ev.source, e.span.first, e.span.last})
				changed = true
			default: // stored evidence seen again: written when it widens
				e = add[0]
				s := old[0].span
				add, old = add[1:], old[1:]
				if e.span.first < s.first || e.span.last > s.last {
					e.span = span{min(s.first, e.span.first), max(s.last, e.span.last)}
					evRows = append(evRows, []any{k.ip, k.file, e.ev.url, e.ev.source, e.span.first, e.span.last})
					changed = true
				} else {
					e.span = s
				}
			}
			ev = append(ev, filetrail.Evidence{URL: e.ev.url, Source: e.ev.source, FirstSeen: e.span.first, LastSeen: e.span.last})
		}
		if !changed || len(ev) == 0 {
			continue
		}
		first, last, ctxJSON := filetrail.EdgeContext(ev)
		if hadOld && !a.movedEdges[k] && first == oldFirst {
			ctxRows = append(ctxRows, []any{k.ip, k.file, last, string(ctxJSON)})
		} else {
			edgeRows = append(edgeRows, []any{k.ip, k.file, first, last, string(ctxJSON)})
		}
		d := ipDeltas[k.ip]
		if d == nil {
			d = &ipDelta{}
			ipDeltas[k.ip] = d
		}
		d.seen.add(first, last)
		existed := hadOld
		if a.movedEdges[k] {
			existed = movedExists[k]
		}
		if !existed {
			d.files++
			fileDeltas[k.file]++
			if !a.movedEdges[k] {
				newEdges++
			}
		}
	}
	err = execValues(a.ctx, a.tx, "INSERT INTO evidence (ip, file_id, url, source, first_seen, last_seen)",
		`ON CONFLICT (ip, file_id, url, source) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen`, 6, evRows)
	if err != nil {
		return nil, 0, err
	}
	err = execValues(a.ctx, a.tx, "INSERT INTO edges (ip, file_id, first_seen, last_seen, context)",
		`ON CONFLICT (ip, file_id) DO UPDATE SET
			first_seen = excluded.first_seen, last_seen = excluded.last_seen, context = excluded.context`, 5, edgeRows)
	if err != nil {
		return nil, 0, err
	}
	err = execValues(a.ctx, a.tx, "UPDATE edges SET last_seen = v.column3, context = v.column4 FROM (",
		") AS v WHERE edges.ip = v.column1 AND edges.file_id = v.column2", 4, ctxRows)
	if err != nil {
		return nil, 0, err
	}
	var ipRows [][]any
	for _, ip := range sortedKeys(ipDeltas) {
		d := ipDeltas[ip]
		ipRows = append(ipRows, []any{ip, d.files, d.seen.first, d.seen.last})
	}
	err = execValues(a.ctx, a.tx, "INSERT INTO ips (ip, file_count, first_seen, last_seen)",
		`ON CONFLICT (ip) DO UPDATE SET file_count = file_count + excluded.file_count,
			first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`, 4, ipRows)
	return fileDeltas, newEdges, err
}

// evRecord is one evidence row: its edge, its key within the edge, its span.
type evRecord struct {
	edge edgeKey
	ev   evKey
	span span
}

// The comparisons below stop at the first field that differs (cmp.Or
// would compare every field): they sort whole batches.

func compareEdgeKeys(x, y edgeKey) int {
	if c := strings.Compare(x.ip, y.ip); c != 0 {
		return c
	}
	return strings.Compare(x.file, y.file)
}

func compareEvRecords(x, y evRecord) int {
	if c := compareEdgeKeys(x.edge, y.edge); c != 0 {
		return c
	}
	return compareEvKeys(x.ev, y.ev)
}

// foldEvRecords folds the records of equal keys of sorted rs into one
// (their spans added) and returns the shortened slice.
func foldEvRecords(rs []evRecord) []evRecord {
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].edge == r.edge && out[n-1].ev == r.ev {
			out[n-1].span.add(r.span.first, r.span.last)
			continue
		}
		out = append(out, r)
	}
	return out
}

// cutEdge splits the records of edge k off the head of sorted rs, whose
// edges are all at or after k: it returns them and the rest.
func cutEdge(rs []evRecord, k edgeKey) (of, rest []evRecord) {
	n := 0
	for n < len(rs) && rs[n].edge == k {
		n++
	}
	return rs[:n], rs[n:]
}

func compareEvKeys(x, y evKey) int {
	if c := strings.Compare(x.url, y.url); c != 0 {
		return c
	}
	return strings.Compare(x.source, y.source)
}

// edgeKeys returns the keys of m as sorted query keys.
func edgeKeys(m map[edgeKey]bool) ([]edgeKey, [][]any) {
	keys := make([]edgeKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareEdgeKeys)
	args := make([][]any, len(keys))
	for i, k := range keys {
		args[i] = []any{k.ip, k.file}
	}
	return keys, args
}

// fileState is a file as the batch leaves it.
type fileState struct {
	id      string
	hashes  filetrail.Hashes
	hints   hints
	ipCount int64                            // stored count (the batch's new edges are added by writeFiles)
	facts   map[factKey]filetrail.StoredFact // stored, then the batch's superseding ones
	rebuild bool                             // the document depends on something that changed
	doc     json.RawMessage
	deflate []byte
}

// filePlan is what planFiles decided: every final file's state, those
// whose document is rebuilt, and the facts to write.
type filePlan struct {
	states   []*fileState
	rebuild  []*fileState
	factRows [][]any
}

// planFiles merges each final file of the batch, as stored, with the
// stored files merged into it and the batch's hints and facts. A file's
// document is rebuilt with MergeFile only when an input of MergeFile
// changed (hashes, names, hints, facts): for those, the stored facts are
// read and the batch's superseding facts kept.
func (a *applier) planFiles(files []filetrail.ResolvedFile, absorbed map[string][]*fileRow, batchHints map[string]*hints,
	stored []filetrail.StoredFact, factFile []string) (*filePlan, error) {
	plan := &filePlan{}
	batchFacts := map[string]map[factKey]filetrail.StoredFact{}
	for i, f := range stored {
		m := batchFacts[factFile[i]]
		if m == nil {
			m = map[factKey]filetrail.StoredFact{}
			batchFacts[factFile[i]] = m
		}
		k := factKey{f.Origin, f.Source}
		if old, ok := m[k]; !ok || f.Supersedes(old) {
			m[k] = f
		}
	}
	states := make([]*fileState, 0, len(files))
	var readFacts []string
	for _, f := range files {
		st := &fileState{id: f.ID, hashes: f.Hashes, hints: hints{names: map[string]bool{}}}
		row := a.files[f.ID]
		if !f.Existed {
			row = nil
		}
		if row != nil {
			st.hints.merge(&row.hints)
			st.ipCount = row.ipCount
		}
		for _, o := range absorbed[f.ID] {
			st.hints.merge(&o.hints)
		}
		if h := batchHints[f.ID]; h != nil {
			st.hints.merge(h)
		}
		st.rebuild = row == nil || len(absorbed[f.ID]) > 0 || row.hashes != f.Hashes ||
			len(st.hints.names) != len(row.hints.names) || st.hints.size != row.hints.size || st.hints.seen != row.hints.seen
		// Stored facts are read for the stored files whose document is
		// rebuilt or that get facts (a new file has none, unless merged
		// ones moved theirs in).
		if (row != nil || len(absorbed[f.ID]) > 0) && (st.rebuild || batchFacts[f.ID] != nil) {
			readFacts = append(readFacts, f.ID)
		}
		states = append(states, st)
	}
	byID := make(map[string]*fileState, len(states))
	for _, st := range states {
		byID[st.id] = st
	}
	err := queryKeys(a.ctx, a.tx, "SELECT file_id, origin, source, evidence_time, digest, attributes FROM facts WHERE file_id IN (%K)", 1, stringKeys(readFacts),
		func(r *sql.Rows) error {
			var id string
			var sf filetrail.StoredFact
			var attrs []byte
			if err := r.Scan(&id, &sf.Origin, &sf.Source, &sf.EvidenceTime, &sf.Digest, &attrs); err != nil {
				return err
			}
			sf.Attributes = json.RawMessage(attrs)
			if st := byID[id]; st != nil {
				if st.facts == nil {
					st.facts = map[factKey]filetrail.StoredFact{}
				}
				st.facts[factKey{sf.Origin, sf.Source}] = sf
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	for _, st := range states {
		bf := batchFacts[st.id]
		for _, k := range slices.SortedFunc(maps.Keys(bf), compareFactKeys) {
			f := bf[k]
			if old, ok := st.facts[k]; ok && !f.Supersedes(old) {
				continue
			}
			if st.facts == nil {
				st.facts = map[factKey]filetrail.StoredFact{}
			}
			st.facts[k] = f
			st.rebuild = true
			plan.factRows = append(plan.factRows, []any{st.id, int(k.origin), k.source, f.EvidenceTime, f.Digest, string(f.Attributes)})
		}
	}
	plan.states = states
	for _, st := range states {
		if st.rebuild {
			plan.rebuild = append(plan.rebuild, st)
		}
	}
	return plan, nil
}

// writeFiles writes the batch's facts and each changed file row once: the
// whole row with its new document when it was rebuilt (after
// buildDocuments), else its IP count when the batch's new edges (fileDeltas)
// changed it.
func (a *applier) writeFiles(plan *filePlan, fileDeltas map[string]int64) error {
	err := execValues(a.ctx, a.tx, "INSERT INTO facts (file_id, origin, source, evidence_time, digest, attributes)",
		`ON CONFLICT (file_id, origin, source) DO UPDATE SET
			evidence_time = excluded.evidence_time, digest = excluded.digest, attributes = excluded.attributes`, 6, plan.factRows)
	if err != nil {
		return err
	}
	var rows, metaRows [][]any
	for _, st := range plan.states {
		st.ipCount += fileDeltas[st.id]
		switch {
		case st.rebuild:
			names, err := json.Marshal(sortedKeys(st.hints.names))
			if err != nil {
				return err
			}
			rows = append(rows, []any{st.id, st.hashes.SHA256, st.hashes.SHA1, st.hashes.MD5, string(names),
				st.hints.size, st.hints.seen.first, st.hints.seen.last, st.ipCount, string(st.doc), st.deflate})
		case fileDeltas[st.id] != 0:
			metaRows = append(metaRows, []any{st.id, st.ipCount})
		}
	}
	sortByKey(rows)
	sortByKey(metaRows)
	// The one place a file's attributes document (and its compressed copy)
	// is written.
	err = execValues(a.ctx, a.tx, "INSERT INTO files (id, sha256, sha1, md5, names, hint_size, hint_first, hint_last, ip_count, attributes, attributes_deflate)",
		`ON CONFLICT (id) DO UPDATE SET sha256 = excluded.sha256, sha1 = excluded.sha1, md5 = excluded.md5, names = excluded.names,
			hint_size = excluded.hint_size, hint_first = excluded.hint_first, hint_last = excluded.hint_last, ip_count = excluded.ip_count,
			attributes = excluded.attributes, attributes_deflate = excluded.attributes_deflate`, 11, rows)
	if err != nil {
		return err
	}
	return execValues(a.ctx, a.tx, "INSERT INTO files (id, ip_count)",
		"ON CONFLICT (id) DO UPDATE SET ip_count = excluded.ip_count", 2, metaRows)
}

func compareFactKeys(x, y factKey) int {
	return cmp.Or(cmp.Compare(x.origin, y.origin), cmp.Compare(x.source, y.source))
}

// buildDocuments sets doc (MergeFile) and deflate (its compressed copy) of
// every state, in the background, spread over the available CPUs but one,
// left to the transaction's goroutine (it writes the edges meanwhile, and
// it is what the whole batch waits for): both are pure functions of the
// state, which nothing else may use until the returned group's Wait
// returns.
func buildDocuments(states []*fileState) *sync.WaitGroup {
	build := func(st *fileState) {
		facts := slices.Collect(maps.Values(st.facts))
		st.doc = filetrail.MergeFile(st.hashes, facts, filetrail.FileHints{
			Names: sortedKeys(st.hints.names), Size: st.hints.size, FirstSeen: st.hints.seen.first, LastSeen: st.hints.seen.last,
		})
		st.deflate = filetrail.CompressAttributes(st.doc)
	}
	var wg sync.WaitGroup
	if len(states) == 0 {
		return &wg
	}
	workers := min(max(runtime.GOMAXPROCS(0)-1, 1), len(states)/64+1)
	per := (len(states) + workers - 1) / workers
	for part := range slices.Chunk(states, per) {
		wg.Go(func() {
			for _, st := range part {
				build(st)
			}
		})
	}
	return &wg
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

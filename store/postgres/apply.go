package postgres

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/filetrail/filetrail"
)

// applyLockKey is the pg_advisory_xact_lock key that serialises Apply
// transactions ("ftapply" in ASCII). A file's identity (its strongest hash)
// can change when a batch links hashes, which moves rows of every table
// touching that file; one writer at a time keeps that simple and exact.
// Readers never wait for it.
const applyLockKey = 0x66746170706c79

// pair is an edge's key.
type pair struct{ ip, file string }

// evKey is an evidence row's key within its edge.
type evKey struct{ url, source string }

// digest is evidence's ev_key column: a digest of (url, source) that fits
// in an index entry whatever the URL's length.
func (k evKey) digest() []byte {
	h := sha256.New()
	h.Write([]byte(k.url))
	h.Write([]byte{0})
	h.Write([]byte(k.source))
	return h.Sum(nil)[:16]
}

type factKey struct {
	origin filetrail.Origin
	source string
}

// storedFile is a files row and what hangs off it.
type storedFile struct {
	id      string
	hashes  filetrail.Hashes
	ipCount int64
	hints   filetrail.FileHints // Names filled from file_names
}

// component is one file as the batch leaves it, with the stored files
// merged into it.
type component struct {
	id       string           // the file's id
	hashes   filetrail.Hashes // its known hashes (see filetrail.IdentityResolver)
	isNew    bool             // no file of the component was stored before
	existing []*storedFile    // stored files that end up as this one
	olds     []string         // their ids other than id: merged into id
	register []string         // hashes to point at id

	hints    filetrail.FileHints              // the batch's hints
	facts    map[factKey]filetrail.StoredFact // batch facts, merged with each other
	allHints filetrail.FileHints              // stored and batch hints merged
	rebuild  bool                             // the document must be rebuilt
	newPairs int64                            // edges (ip, id) that did not exist before
}

func (c *component) stored(id string) *storedFile {
	for _, f := range c.existing {
		if f.id == id {
			return f
		}
	}
	return nil
}

// Apply merges a batch in one transaction; see filetrail.EvidenceWriter.
func (s *Store) Apply(ctx context.Context, b *filetrail.Batch) (filetrail.ApplyResult, error) {
	if b == nil || b.Len() == 0 {
		return filetrail.ApplyResult{}, nil
	}
	sightings, facts, factHashes, err := validateBatch(b)
	if err != nil {
		return filetrail.ApplyResult{}, err
	}
	var res filetrail.ApplyResult
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		a := &applier{s: s, tx: tx}
		var err error
		res, err = a.apply(ctx, sightings, facts, factHashes)
		return err
	})
	if err != nil {
		return filetrail.ApplyResult{}, wrap(err, "apply")
	}
	return res, nil
}

func validateBatch(b *filetrail.Batch) ([]filetrail.Sighting, []filetrail.StoredFact, []filetrail.Hashes, error) {
	sightings := make([]filetrail.Sighting, 0, len(b.Sightings))
	for i, sg := range b.Sightings {
		v, err := filetrail.ValidateSighting(sg)
		if err != nil {
			return nil, nil, nil, filetrail.Errorf(filetrail.CodeInvalidArgument, "sighting %d: %s", i, filetrail.ErrorMessage(err))
		}
		sightings = append(sightings, v)
	}
	facts := make([]filetrail.StoredFact, 0, len(b.Files))
	hashes := make([]filetrail.Hashes, 0, len(b.Files))
	for i, f := range b.Files {
		v, err := filetrail.ValidateFileFact(f)
		if err == nil {
			var sf filetrail.StoredFact
			sf, err = filetrail.NewStoredFact(v)
			facts = append(facts, sf)
			hashes = append(hashes, v.Hashes)
		}
		if err != nil {
			return nil, nil, nil, filetrail.Errorf(filetrail.CodeInvalidArgument, "file fact %d: %s", i, filetrail.ErrorMessage(err))
		}
	}
	return sightings, facts, hashes, nil
}

type applier struct {
	s  *Store
	tx pgx.Tx
}

func (a *applier) apply(ctx context.Context, sightings []filetrail.Sighting, facts []filetrail.StoredFact, factHashes []filetrail.Hashes) (filetrail.ApplyResult, error) {
	tx := a.tx
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(applyLockKey)); err != nil {
		return filetrail.ApplyResult{}, err
	}

	// 1. Identity: read which stored files the batch's hashes name, then
	// resolve every record to its file in memory.
	records := make([]filetrail.Hashes, 0, len(sightings)+len(facts))
	for _, sg := range sightings {
		records = append(records, sg.Hashes())
	}
	records = append(records, factHashes...)
	var batchHashes []string
	seen := map[string]bool{}
	for _, h := range records {
		for _, x := range h.All() {
			if x != "" && !seen[x] {
				seen[x] = true
				batchHashes = append(batchHashes, x)
			}
		}
	}
	mapped, err := a.lookupHashes(ctx, batchHashes)
	if err != nil {
		return filetrail.ApplyResult{}, err
	}
	stored, err := a.loadFiles(ctx, slices.Compact(slices.Sorted(maps.Values(mapped))))
	if err != nil {
		return filetrail.ApplyResult{}, err
	}

	rs := newResolver(len(batchHashes), mapped, stored)
	targets := make([]string, len(records))
	for i, h := range records {
		if targets[i], err = rs.Resolve(h); err != nil {
			return filetrail.ApplyResult{}, err
		}
	}
	comps := map[string]*component{} // by final file id
	for _, f := range rs.Files() {
		c := &component{id: f.ID, hashes: f.Hashes, isNew: f.IsNew(), facts: map[factKey]filetrail.StoredFact{}}
		if s := stored[f.ID]; s != nil {
			c.existing = append(c.existing, s)
		}
		comps[f.ID] = c
	}
	merges := rs.Merges() // in id order: the statements do not depend on merge order
	slices.SortFunc(merges, func(x, y filetrail.FileMerge) int { return cmp.Compare(x.From, y.From) })
	for _, m := range merges {
		if s := stored[m.From]; s != nil {
			c := comps[m.Into]
			c.existing = append(c.existing, s)
			c.olds = append(c.olds, m.From)
		}
	}
	for _, l := range rs.Registrations() {
		if mapped[l.Hash] != l.FileID {
			c := comps[l.FileID]
			c.register = append(c.register, l.Hash)
		}
	}
	compOf := func(i int) *component { return comps[rs.Final(targets[i])] }

	// 2. What the batch says of each file: hints and facts.
	for i, sg := range sightings {
		c := compOf(i)
		c.hints = mergeHints(c.hints, filetrail.FileHints{Names: nonEmpty(sg.FileName), Size: sg.Size, FirstSeen: sg.SeenAt, LastSeen: sg.SeenAt})
	}
	for i, f := range facts {
		c := compOf(len(sightings) + i)
		k := factKey{f.Origin, f.Source}
		if old, ok := c.facts[k]; !ok || f.Supersedes(old) {
			c.facts[k] = f
		}
	}

	// 3. Edges and their evidence.
	res := filetrail.ApplyResult{}
	batchEv := map[pair]map[evKey]filetrail.Evidence{}
	for i, sg := range sightings {
		if !sg.IP.IsValid() {
			continue
		}
		addEvidence(batchEv, pair{sg.IP.String(), compOf(i).id},
			filetrail.Evidence{URL: sg.URL, Source: sg.Source, FirstSeen: sg.SeenAt, LastSeen: sg.SeenAt})
	}
	ipDelta, err := a.applyEdges(ctx, comps, batchEv, &res)
	if err != nil {
		return res, err
	}

	// 4. Files: merge stored and batch knowledge, recompute documents.
	if err := a.applyFiles(ctx, comps, &res); err != nil {
		return res, err
	}

	// 5. IP statistics.
	return res, a.applyIPStats(ctx, ipDelta, batchEv)
}

func nonEmpty(name string) []string {
	if name == "" {
		return nil
	}
	return []string{name}
}

// sameHints reports whether two sets of hints are equal (names as sets).
func sameHints(a, b filetrail.FileHints) bool {
	a, b = mergeHints(filetrail.FileHints{}, a), mergeHints(filetrail.FileHints{}, b) // sorted names
	return slices.Equal(a.Names, b.Names) && a.Size == b.Size && a.FirstSeen == b.FirstSeen && a.LastSeen == b.LastSeen
}

// mergeHints folds two sets of hints: names united, size and last seen the
// maximum, first seen the minimum of the known ones (0 is unknown).
func mergeHints(a, b filetrail.FileHints) filetrail.FileHints {
	out := filetrail.FileHints{Size: max(a.Size, b.Size), LastSeen: max(a.LastSeen, b.LastSeen)}
	switch {
	case a.FirstSeen == 0:
		out.FirstSeen = b.FirstSeen
	case b.FirstSeen == 0:
		out.FirstSeen = a.FirstSeen
	default:
		out.FirstSeen = min(a.FirstSeen, b.FirstSeen)
	}
	names := map[string]bool{}
	for _, n := range slices.Concat(a.Names, b.Names) {
		names[n] = true
	}
	out.Names = slices.Sorted(maps.Keys(names))
	return out
}

func (a *applier) lookupHashes(ctx context.Context, hashes []string) (map[string]string, error) {
	rows, err := a.tx.Query(ctx, `SELECT hash, file_id FROM hashes WHERE hash = ANY($1)`, hashes)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	var h, id string
	_, err = pgx.ForEachRow(rows, []any{&h, &id}, func() error { m[h] = id; return nil })
	return m, err
}

func (a *applier) loadFiles(ctx context.Context, ids []string) (map[string]*storedFile, error) {
	out := map[string]*storedFile{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := a.tx.Query(ctx, `SELECT file_id, sha256, sha1, md5, ip_count, hint_size, hint_first, hint_last FROM files WHERE file_id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	var f storedFile
	_, err = pgx.ForEachRow(rows, []any{&f.id, &f.hashes.SHA256, &f.hashes.SHA1, &f.hashes.MD5, &f.ipCount, &f.hints.Size, &f.hints.FirstSeen, &f.hints.LastSeen}, func() error {
		c := f
		out[c.id] = &c
		return nil
	})
	if err != nil {
		return nil, err
	}
	rows, err = a.tx.Query(ctx, `SELECT file_id, name FROM file_names WHERE file_id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	var id, name string
	_, err = pgx.ForEachRow(rows, []any{&id, &name}, func() error {
		if f := out[id]; f != nil {
			f.hints.Names = append(f.hints.Names, name)
		}
		return nil
	})
	return out, err
}

// applyEdges moves the edges of files merged into a stronger id, merges the
// batch's evidence, rewrites every edge whose evidence changed, and returns
// the change of each IP's file count. It counts new edges into res and each
// component's new (ip, id) pairs into newPairs.
func (a *applier) applyEdges(ctx context.Context, comps map[string]*component, batchEv map[pair]map[evKey]filetrail.Evidence, res *filetrail.ApplyResult) (map[string]int64, error) {
	tx := a.tx
	byID := map[string]*component{}
	var olds []string
	for _, c := range comps {
		byID[c.id] = c
		olds = append(olds, c.olds...)
		for _, o := range c.olds {
			byID[o] = c
		}
	}
	slices.Sort(olds)

	// Edges of the files that are merged away.
	type oldEdge struct{ ip, file string }
	var oldEdges []oldEdge
	if len(olds) > 0 {
		rows, err := tx.Query(ctx, `SELECT ip, file_id FROM edges WHERE file_id = ANY($1)`, olds)
		if err != nil {
			return nil, err
		}
		var e oldEdge
		if _, err := pgx.ForEachRow(rows, []any{&e.ip, &e.file}, func() error { oldEdges = append(oldEdges, e); return nil }); err != nil {
			return nil, err
		}
	}

	// touched: every (ip, id) whose edge must be rewritten, with whether
	// any of the component's files already had an edge to ip.
	touched := map[pair]bool{}
	for p := range batchEv {
		touched[p] = false
	}
	for _, e := range oldEdges {
		touched[pair{e.ip, byID[e.file].id}] = true
	}
	if len(touched) == 0 {
		return nil, nil
	}
	finalPairs := slices.SortedFunc(maps.Keys(touched), comparePairs)
	readPairs := slices.Clone(finalPairs)
	for _, e := range oldEdges {
		readPairs = append(readPairs, pair(e))
	}

	// Which (ip, id) edges exist, and all evidence of the touched and
	// merged-away edges.
	ips, files := splitPairs(finalPairs)
	exists := map[pair]bool{}
	rows, err := tx.Query(ctx, `SELECT e.ip, e.file_id FROM edges e JOIN unnest($1::text[], $2::text[]) AS p(ip, file_id) ON e.ip = p.ip AND e.file_id = p.file_id`, ips, files)
	if err != nil {
		return nil, err
	}
	var p pair
	if _, err := pgx.ForEachRow(rows, []any{&p.ip, &p.file}, func() error { exists[p] = true; return nil }); err != nil {
		return nil, err
	}
	ips, files = splitPairs(readPairs)
	rows, err = tx.Query(ctx, `SELECT e.ip, e.file_id, e.url, e.source, e.first_seen, e.last_seen FROM evidence e JOIN unnest($1::text[], $2::text[]) AS p(ip, file_id) ON e.ip = p.ip AND e.file_id = p.file_id`, ips, files)
	if err != nil {
		return nil, err
	}
	all := map[pair]map[evKey]filetrail.Evidence{}
	storedEv := map[pair]map[evKey]filetrail.Evidence{} // under the final id only
	var ev filetrail.Evidence
	if _, err := pgx.ForEachRow(rows, []any{&p.ip, &p.file, &ev.URL, &ev.Source, &ev.FirstSeen, &ev.LastSeen}, func() error {
		fp := pair{p.ip, byID[p.file].id}
		addEvidence(all, fp, ev)
		if fp == p {
			addEvidence(storedEv, fp, ev)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for p, evs := range batchEv {
		for _, e := range evs {
			addEvidence(all, p, e)
		}
	}

	// Remove the merged-away edges.
	ipDelta := map[string]int64{}
	if len(oldEdges) > 0 {
		oldIPs := make([]string, len(oldEdges))
		for i, e := range oldEdges {
			oldIPs[i] = e.ip
			ipDelta[e.ip]--
		}
		slices.Sort(oldIPs)
		oldIPs = slices.Compact(oldIPs)
		if _, err := tx.Exec(ctx, `DELETE FROM evidence WHERE ip = ANY($1) AND file_id = ANY($2)`, oldIPs, olds); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM edges WHERE file_id = ANY($1)`, olds); err != nil {
			return nil, err
		}
	}

	// Write the evidence that changed and the edges it belongs to.
	var evIP, evFile, evURL, evSource []string
	var evKeyCol [][]byte
	var evFirst, evLast []int64
	var edIP, edFile, edCtx []string
	var edFirst, edLast []int64
	for _, p := range finalPairs {
		changed := touched[p] // moved edges are always rewritten
		evs := all[p]
		for _, k := range slices.SortedFunc(maps.Keys(evs), compareEvKeys) {
			e := evs[k]
			if old, ok := storedEv[p][k]; ok && old == e {
				continue
			}
			changed = true
			evIP, evFile, evKeyCol, evURL, evSource = append(evIP, p.ip), append(evFile, p.file), append(evKeyCol, k.digest()), append(evURL, k.url), append(evSource, k.source)
			evFirst, evLast = append(evFirst, e.FirstSeen), append(evLast, e.LastSeen)
		}
		if !exists[p] {
			ipDelta[p.ip]++
			c := byID[p.file]
			c.newPairs++
			if !touched[p] {
				res.NewEdges++ // no file of the component had an edge to ip
			}
		}
		if !changed {
			continue
		}
		first, last, ctxJSON := filetrail.EdgeContext(slices.Collect(maps.Values(evs)))
		edIP, edFile, edCtx = append(edIP, p.ip), append(edFile, p.file), append(edCtx, string(ctxJSON))
		edFirst, edLast = append(edFirst, first), append(edLast, last)
	}
	if err := a.s.upsert(ctx, tx, "evidence", len(evIP), []column{
		textCol("ip", evIP), textCol("file_id", evFile), byteaCol("ev_key", evKeyCol), textCol("url", evURL),
		textCol("source", evSource), int64Col("first_seen", evFirst), int64Col("last_seen", evLast),
	}, `ON CONFLICT (ip, file_id, ev_key) DO UPDATE SET first_seen = least(t.first_seen, excluded.first_seen), last_seen = greatest(t.last_seen, excluded.last_seen)`); err != nil {
		return nil, err
	}
	if err := a.s.upsert(ctx, tx, "edges", len(edIP), []column{
		textCol("ip", edIP), textCol("file_id", edFile), int64Col("first_seen", edFirst), int64Col("last_seen", edLast), textCol("context", edCtx),
	}, `ON CONFLICT (ip, file_id) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen, context = excluded.context`); err != nil {
		return nil, err
	}
	return ipDelta, nil
}

func addEvidence(m map[pair]map[evKey]filetrail.Evidence, p pair, e filetrail.Evidence) {
	evs := m[p]
	if evs == nil {
		evs = map[evKey]filetrail.Evidence{}
		m[p] = evs
	}
	k := evKey{e.URL, e.Source}
	if old, ok := evs[k]; ok {
		e.Merge(old)
	}
	evs[k] = e
}

func comparePairs(a, b pair) int {
	return cmp.Or(cmp.Compare(a.ip, b.ip), cmp.Compare(a.file, b.file))
}

func compareEvKeys(a, b evKey) int {
	return cmp.Or(cmp.Compare(a.url, b.url), cmp.Compare(a.source, b.source))
}

func splitPairs(ps []pair) (ips, files []string) {
	ips, files = make([]string, len(ps)), make([]string, len(ps))
	for i, p := range ps {
		ips[i], files[i] = p.ip, p.file
	}
	return ips, files
}

// applyFiles merges each component's stored files, facts and names with the
// batch's, rebuilds its document with MergeFile when anything it depends on
// changed, and points every hash of the component at its id.
func (a *applier) applyFiles(ctx context.Context, comps map[string]*component, res *filetrail.ApplyResult) error {
	tx := a.tx
	// A component's document is rebuilt when anything MergeFile reads
	// changed; only then are its stored facts read.
	var existingIDs []string
	for _, c := range comps {
		if c.isNew {
			res.NewFiles++
		}
		final := c.stored(c.id)
		for _, f := range c.existing {
			c.allHints = mergeHints(c.allHints, f.hints)
		}
		c.allHints = mergeHints(c.allHints, c.hints)
		c.rebuild = final == nil || len(c.olds) > 0 || len(c.facts) > 0 || final.hashes != c.hashes || !sameHints(final.hints, c.allHints)
		if c.rebuild {
			for _, f := range c.existing {
				existingIDs = append(existingIDs, f.id)
			}
		}
	}
	slices.Sort(existingIDs)

	// Stored facts, by file id.
	storedFacts := map[string][]filetrail.StoredFact{}
	if len(existingIDs) > 0 {
		rows, err := tx.Query(ctx, `SELECT file_id, origin, source, attributes, evidence_time, digest FROM file_facts WHERE file_id = ANY($1)`, existingIDs)
		if err != nil {
			return err
		}
		var id, attrs string
		var f filetrail.StoredFact
		var origin int16
		if _, err := pgx.ForEachRow(rows, []any{&id, &origin, &f.Source, &attrs, &f.EvidenceTime, &f.Digest}, func() error {
			f.Origin, f.Attributes = filetrail.Origin(origin), json.RawMessage(attrs)
			storedFacts[id] = append(storedFacts[id], f)
			return nil
		}); err != nil {
			return err
		}
	}

	var fID, fSHA256, fSHA1, fMD5, fAttrs []string
	var fDeflate [][]byte
	var fIPCount, fSize, fFirst, fLast []int64
	var ffID, ffSource, ffAttrs, ffDigest []string
	var ffOrigin []int16
	var ffTime []int64
	var nID, nName []string
	var hHash, hID []string
	var cID []string // files whose document stands but whose IP count changed
	var cCount []int64
	var olds []string
	for _, r := range slices.Sorted(maps.Keys(comps)) {
		c := comps[r]
		final := c.stored(c.id)
		olds = append(olds, c.olds...)

		// Facts: the stored ones of every merged file, then the batch's.
		kept := map[factKey]filetrail.StoredFact{}
		keptFromFinal := map[factKey]string{} // digest stored under c.id
		for _, f := range c.existing {
			for _, sf := range storedFacts[f.id] {
				k := factKey{sf.Origin, sf.Source}
				if f.id == c.id {
					keptFromFinal[k] = sf.Digest
				}
				if old, ok := kept[k]; !ok || sf.Supersedes(old) {
					kept[k] = sf
				}
			}
		}
		for k, sf := range c.facts {
			if old, ok := kept[k]; !ok || sf.Supersedes(old) {
				kept[k] = sf
			}
		}
		for _, k := range slices.SortedFunc(maps.Keys(kept), compareFactKeys) {
			sf := kept[k]
			if d, ok := keptFromFinal[k]; ok && d == sf.Digest {
				continue
			}
			ffID, ffOrigin, ffSource, ffAttrs, ffDigest, ffTime = append(ffID, c.id), append(ffOrigin, int16(sf.Origin)), append(ffSource, sf.Source),
				append(ffAttrs, string(sf.Attributes)), append(ffDigest, sf.Digest), append(ffTime, sf.EvidenceTime)
		}

		hints := c.allHints
		var finalNames []string
		var ipCount int64
		if final != nil {
			finalNames = final.hints.Names
			ipCount = final.ipCount
		}
		for _, n := range hints.Names {
			if !slices.Contains(finalNames, n) {
				nID, nName = append(nID, c.id), append(nName, n)
			}
		}
		ipCount += c.newPairs
		if !c.rebuild {
			if ipCount != final.ipCount {
				cID, cCount = append(cID, c.id), append(cCount, ipCount)
			}
			continue
		}
		attrs := filetrail.MergeFile(c.hashes, slices.Collect(maps.Values(kept)), hints)
		fID, fSHA256, fSHA1, fMD5, fAttrs = append(fID, c.id), append(fSHA256, c.hashes.SHA256), append(fSHA1, c.hashes.SHA1), append(fMD5, c.hashes.MD5), append(fAttrs, string(attrs))
		fDeflate = append(fDeflate, filetrail.CompressAttributes(attrs))
		fIPCount, fSize, fFirst, fLast = append(fIPCount, ipCount), append(fSize, hints.Size), append(fFirst, hints.FirstSeen), append(fLast, hints.LastSeen)

		for _, x := range c.register {
			hHash, hID = append(hHash, x), append(hID, c.id)
		}
	}

	if len(olds) > 0 {
		slices.Sort(olds)
		for _, q := range []string{
			`DELETE FROM files WHERE file_id = ANY($1)`,
			`DELETE FROM file_facts WHERE file_id = ANY($1)`,
			`DELETE FROM file_names WHERE file_id = ANY($1)`,
		} {
			if _, err := tx.Exec(ctx, q, olds); err != nil {
				return err
			}
		}
		// Hashes that named a merged-away file now name its component's id.
		// One statement per merged file (routable on Citus), sent in one
		// round trip.
		repoint := &pgx.Batch{}
		for _, r := range slices.Sorted(maps.Keys(comps)) {
			for _, o := range comps[r].olds {
				repoint.Queue(`UPDATE hashes SET file_id = $1 WHERE file_id = $2`, r, o)
			}
		}
		if err := tx.SendBatch(ctx, repoint).Close(); err != nil {
			return err
		}
	}
	if err := a.s.upsert(ctx, tx, "files", len(fID), []column{
		textCol("file_id", fID), textCol("sha256", fSHA256), textCol("sha1", fSHA1), textCol("md5", fMD5), textCol("attributes", fAttrs), byteaCol("attributes_deflate", fDeflate),
		int64Col("ip_count", fIPCount), int64Col("hint_size", fSize), int64Col("hint_first", fFirst), int64Col("hint_last", fLast),
	}, `ON CONFLICT (file_id) DO UPDATE SET sha256 = excluded.sha256, sha1 = excluded.sha1, md5 = excluded.md5, attributes = excluded.attributes, attributes_deflate = excluded.attributes_deflate,
		ip_count = excluded.ip_count, hint_size = excluded.hint_size, hint_first = excluded.hint_first, hint_last = excluded.hint_last`); err != nil {
		return err
	}
	// The rows exist (only stored files keep their document), so this
	// upsert only ever updates; it is an upsert to be one routable
	// set-based statement.
	if err := a.s.upsert(ctx, tx, "files", len(cID), []column{textCol("file_id", cID), textCol("attributes", make([]string, len(cID))), int64Col("ip_count", cCount)},
		`ON CONFLICT (file_id) DO UPDATE SET ip_count = excluded.ip_count`); err != nil {
		return err
	}
	if err := a.s.upsert(ctx, tx, "file_facts", len(ffID), []column{
		textCol("file_id", ffID), int16Col("origin", ffOrigin), textCol("source", ffSource), textCol("attributes", ffAttrs),
		int64Col("evidence_time", ffTime), textCol("digest", ffDigest),
	}, `ON CONFLICT (file_id, origin, source) DO UPDATE SET attributes = excluded.attributes, evidence_time = excluded.evidence_time, digest = excluded.digest`); err != nil {
		return err
	}
	if err := a.s.upsert(ctx, tx, "file_names", len(nID), []column{textCol("file_id", nID), textCol("name", nName)},
		`ON CONFLICT (file_id, name) DO NOTHING`); err != nil {
		return err
	}
	return a.s.upsert(ctx, tx, "hashes", len(hHash), []column{textCol("hash", hHash), textCol("file_id", hID)},
		`ON CONFLICT (hash) DO UPDATE SET file_id = excluded.file_id WHERE t.file_id IS DISTINCT FROM excluded.file_id`)
}

func compareFactKeys(a, b factKey) int {
	return cmp.Or(cmp.Compare(a.origin, b.origin), cmp.Compare(a.source, b.source))
}

// applyIPStats adds each IP's change of file count and widens its time
// range by the batch's evidence.
func (a *applier) applyIPStats(ctx context.Context, delta map[string]int64, batchEv map[pair]map[evKey]filetrail.Evidence) error {
	type stat struct{ n, first, last int64 }
	stats := map[string]*stat{}
	for ip, d := range delta {
		stats[ip] = &stat{n: d}
	}
	for p, evs := range batchEv {
		st := stats[p.ip]
		if st == nil {
			st = &stat{}
			stats[p.ip] = st
		}
		for _, e := range evs {
			if st.first == 0 || e.FirstSeen < st.first {
				st.first = e.FirstSeen
			}
			st.last = max(st.last, e.LastSeen)
		}
	}
	var ips []string
	var ns, firsts, lasts []int64
	for _, ip := range slices.Sorted(maps.Keys(stats)) {
		st := stats[ip]
		if st.n == 0 && st.first == 0 {
			continue // only moved edges: nothing changes
		}
		ips, ns, firsts, lasts = append(ips, ip), append(ns, st.n), append(firsts, st.first), append(lasts, st.last)
	}
	// first_seen 0 (no new evidence) never lowers a stored first_seen.
	return a.s.upsert(ctx, a.tx, "ip_stats", len(ips), []column{
		textCol("ip", ips), int64Col("file_count", ns), int64Col("first_seen", firsts), int64Col("last_seen", lasts),
	}, `ON CONFLICT (ip) DO UPDATE SET file_count = t.file_count + excluded.file_count,
		first_seen = CASE WHEN excluded.first_seen = 0 THEN t.first_seen ELSE least(t.first_seen, excluded.first_seen) END,
		last_seen = greatest(t.last_seen, excluded.last_seen)`)
}

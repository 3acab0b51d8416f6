package filetrail

import (
	"cmp"
	"maps"
	"slices"
)

// IdentityResolver decides, record by record, which file each record of a
// batch is about (DESIGN.md "File identity"), and what a store must persist
// afterwards. It works on what the store already holds through two lookup
// functions, and keeps the batch's changes in memory; it writes nothing. It
// is what makes every store give the same files for the same records.
//
// The rules, applied to one record with hashes h in batch order:
//
//   - A file's id is its strongest known hash. A hash names at most one
//     file; once a file is merged into another, its hashes name that one.
//   - The record's file is the strongest of: the file that h's own
//     strongest hash currently names (or, if none, a new file with that
//     hash as id), and the files that h's other hashes currently name. The
//     own hash's file wins a tie of strength.
//   - Every md5- or sha1-only file among those is merged into the record's
//     file, unless their hashes conflict (a kind both have, with different
//     values): conflicting links keep the first, and the conflicting file
//     stays a file of its own. Two sha256 files are never merged.
//   - Each of h's hashes is registered for the record's file unless it
//     already names another file or the file already has another hash of
//     its kind. So the hashes that name a file are exactly its Hashes.
//   - A file's Hashes keep the first value known of each kind: the stored
//     file's, then those of the files merged into it, in merge order, then
//     the records'.
//
// A merge only ever points a final file (one not merged away) at another
// final file, so merges form no cycle and Final always terminates, whatever
// the lookups return. And as two files whose ids are of one kind always
// conflict, a file is only ever merged into a stronger one.
//
// An IdentityResolver is not safe for concurrent use.
type IdentityResolver struct {
	storedFile func(hash string) (string, error)
	storedHash func(id string) (Hashes, bool, error)

	hashFile map[string]string        // hash → file id: stored (cached) or set by the batch; "" none
	forward  map[string]string        // merged file id → the file id it was merged into
	files    map[string]*ResolvedFile // every file a record resolved to or merged, by id
	merges   []string                 // merged file ids, in merge order
	register map[string]string        // hash → file id to register it for (see Final)
}

// ResolvedFile is the state of a file after the records resolved so far.
type ResolvedFile struct {
	ID     string
	Hashes Hashes // the first value known of each kind
	// Existed reports that the store held the file before the batch.
	Existed bool
	// Absorbed reports that a file the store held before the batch was
	// merged into this one (directly or through other merges).
	Absorbed bool
}

// IsNew reports whether the file is new to the store: neither it nor any
// file merged into it was stored before the batch.
func (f ResolvedFile) IsNew() bool { return !f.Existed && !f.Absorbed }

// FileMerge is one merge: the file From (with its Hashes when merged, those
// of the files merged into it included) ends up in the final file Into.
type FileMerge struct {
	From   string
	Hashes Hashes
	// Existed reports that the store held From before the batch.
	Existed bool
	Into    string
}

// HashLink is a hash to point at a file id.
type HashLink struct {
	Hash   string
	FileID string
}

// NewIdentityResolver returns a resolver over a store's current state.
// fileOf returns the id of the stored file that hash names, or "" if none
// (for a sha256, the stored file of that id, if any). hashesOf returns the
// stored file id's Hashes and true, or false when no such file is stored.
// The resolver calls each at most once per argument and passes their
// errors on. hashes is about how many distinct hashes the records to
// resolve hold: a size hint for the resolver's maps (0 is fine; an
// oversized hint costs memory, the maps being kept for the whole batch).
func NewIdentityResolver(hashes int, fileOf func(hash string) (string, error), hashesOf func(id string) (Hashes, bool, error)) *IdentityResolver {
	return &IdentityResolver{
		storedFile: fileOf, storedHash: hashesOf,
		hashFile: make(map[string]string, hashes), forward: map[string]string{},
		files: make(map[string]*ResolvedFile, hashes/2), register: make(map[string]string, hashes),
	}
}

// Final returns the file id ends up in after the merges so far: id itself
// unless it was merged into another file.
func (r *IdentityResolver) Final(id string) string {
	for {
		next, ok := r.forward[id]
		if !ok {
			return id
		}
		id = next
	}
}

// current returns the final id of the file hash names, or "" if none.
func (r *IdentityResolver) current(hash string) (string, error) {
	id, ok := r.hashFile[hash]
	if !ok {
		var err error
		if id, err = r.storedFile(hash); err != nil {
			return "", err
		}
		r.hashFile[hash] = id
	}
	if id == "" {
		return "", nil
	}
	return r.Final(id), nil
}

// file returns the state of file id, reading the stored file once.
func (r *IdentityResolver) file(id string) (*ResolvedFile, error) {
	if f, ok := r.files[id]; ok {
		return f, nil
	}
	h, ok, err := r.storedHash(id)
	if err != nil {
		return nil, err
	}
	f := &ResolvedFile{ID: id, Hashes: h, Existed: ok}
	if !ok {
		f.Hashes = Hashes{}.with(id)
	}
	r.files[id] = f
	return f, nil
}

// Resolve returns the id of the file a record with hashes h is about, and
// records what the record teaches (see IdentityResolver). h must hold at
// least one valid hash. The id is final when returned; a later record may
// merge that file into another, so map ids through Final once every record
// is resolved.
func (r *IdentityResolver) Resolve(h Hashes) (string, error) {
	own := h.Strongest()
	if own == "" {
		return "", Errorf(CodeInvalidArgument, "a record without a hash has no file")
	}
	target, err := r.current(own)
	if err != nil {
		return "", err
	}
	if target == "" {
		target = r.Final(own)
	}
	var found []string
	for _, x := range h.All() {
		if x == "" {
			continue
		}
		id, err := r.current(x)
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
	t, err := r.file(target)
	if err != nil {
		return "", err
	}
	for _, id := range found {
		if id == target || KindOfValid(id) == HashSHA256 {
			continue
		}
		w, err := r.file(id)
		if err != nil {
			return "", err
		}
		if t.Hashes.conflicts(w.Hashes) {
			continue
		}
		r.forward[id] = target
		r.merges = append(r.merges, id)
		t.Hashes = t.Hashes.union(w.Hashes)
		t.Absorbed = t.Absorbed || w.Existed || w.Absorbed
	}
	for _, x := range h.All() {
		if x == "" {
			continue
		}
		cur, err := r.current(x)
		if err != nil {
			return "", err
		}
		if (cur == "" || cur == target) && t.Hashes.fits(x) {
			r.hashFile[x] = target
			r.register[x] = target
			t.Hashes = t.Hashes.with(x)
		}
	}
	return target, nil
}

// Files returns the final files (not merged into another) that the records
// resolved to or merged, sorted by id.
func (r *IdentityResolver) Files() []ResolvedFile {
	var out []ResolvedFile
	for _, id := range slices.Sorted(maps.Keys(r.files)) {
		if _, gone := r.forward[id]; !gone {
			out = append(out, *r.files[id])
		}
	}
	return out
}

// Merges returns every merge, in merge order, each with the final file its
// From ends up in. A store moves the data of each merged file that existed
// into Into, and deletes From.
func (r *IdentityResolver) Merges() []FileMerge {
	out := make([]FileMerge, len(r.merges))
	for i, id := range r.merges {
		f := r.files[id]
		out[i] = FileMerge{From: id, Hashes: f.Hashes, Existed: f.Existed, Into: r.Final(id)}
	}
	return out
}

// Registrations returns the hashes the records registered, sorted by hash,
// each with the final file it names. Some may already name that file in
// the store; hashes re-pointed by merges are not listed (see Merges).
func (r *IdentityResolver) Registrations() []HashLink {
	out := make([]HashLink, 0, len(r.register))
	for _, x := range slices.Sorted(maps.Keys(r.register)) {
		out = append(out, HashLink{Hash: x, FileID: r.Final(r.register[x])})
	}
	return out
}

// with returns h with hash set in the field of its kind, when that field is
// empty (the first value of each kind is kept). hash must be valid or ""
// (see KindOfValid); "" leaves h as is.
func (h Hashes) with(hash string) Hashes {
	switch KindOfValid(hash) {
	case HashSHA256:
		h.SHA256 = cmp.Or(h.SHA256, hash)
	case HashSHA1:
		h.SHA1 = cmp.Or(h.SHA1, hash)
	case HashMD5:
		h.MD5 = cmp.Or(h.MD5, hash)
	}
	return h
}

// union returns h with the hashes of o in the fields h lacks.
func (h Hashes) union(o Hashes) Hashes {
	for _, x := range o.All() {
		h = h.with(x)
	}
	return h
}

// fits reports whether hash may be one of h: h has no hash of its kind, or
// has this one.
func (h Hashes) fits(hash string) bool {
	return !h.conflicts(Hashes{}.with(hash))
}

// conflicts reports whether h and o have a kind of hash with different
// values.
func (h Hashes) conflicts(o Hashes) bool {
	differ := func(a, b string) bool { return a != "" && b != "" && a != b }
	return differ(h.SHA256, o.SHA256) || differ(h.SHA1, o.SHA1) || differ(h.MD5, o.MD5)
}

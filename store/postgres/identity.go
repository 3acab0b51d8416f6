package postgres

import (
	"cmp"
	"slices"

	"github.com/filetrail/filetrail"
)

// resolver decides, record by record and in batch order, which file each
// record of a batch is about. It works in memory on what was read before
// (the stored ids of the batch's hashes and those files' rows), and follows
// the same rules as every filetrail store, so that the same batches give
// the same files:
//
//   - a record's file id is the strongest of its own strongest hash and
//     the ids of the files its hashes already name (its own hash wins a
//     tie of strength);
//   - every md5- or sha1-only file among those is merged into it; two
//     sha256 files are never merged;
//   - each of the record's hashes is registered for the file, except a
//     hash that already names another file (conflicting links keep the
//     first one);
//   - a file's Hashes keep the first value known of each kind: the stored
//     row's, then those of the files merged into it, then the records'.
type resolver struct {
	mapped   map[string]string      // hash → stored file id, before the batch
	stored   map[string]*storedFile // stored files, by id
	hashFile map[string]string      // hash → file id, as the batch changes it
	forward  map[string]string      // merged file id → the id it was merged into
	files    map[string]*fileState  // every file a record resolved to or merged
	register map[string]string      // hash → file id to register it for
}

type fileState struct {
	hashes   filetrail.Hashes
	existed  bool // stored before the batch
	absorbed bool // a file stored before the batch was merged into it
}

func newResolver(mapped map[string]string, stored map[string]*storedFile) *resolver {
	return &resolver{
		mapped: mapped, stored: stored,
		hashFile: map[string]string{}, forward: map[string]string{},
		files: map[string]*fileState{}, register: map[string]string{},
	}
}

// final follows merges from id to the file it ends up in.
func (r *resolver) final(id string) string {
	for range len(r.forward) + 1 {
		next, ok := r.forward[id]
		if !ok {
			return id
		}
		id = next
	}
	return id
}

// lookup returns the current file id of hash, or "".
func (r *resolver) lookup(hash string) string {
	id, ok := r.hashFile[hash]
	if !ok {
		id = r.mapped[hash]
	}
	if id == "" {
		return ""
	}
	return r.final(id)
}

func (r *resolver) file(id string) *fileState {
	if f, ok := r.files[id]; ok {
		return f
	}
	f := &fileState{}
	if s := r.stored[id]; s != nil {
		f.hashes, f.existed = s.hashes, true
	} else {
		f.hashes = addHash(f.hashes, id)
	}
	r.files[id] = f
	return f
}

// resolve returns the id of the file a record with hashes h is about.
func (r *resolver) resolve(h filetrail.Hashes) string {
	target := r.final(h.Strongest())
	var found []string
	for _, x := range []string{h.SHA256, h.SHA1, h.MD5} {
		if x == "" {
			continue
		}
		if id := r.lookup(x); id != "" && !slices.Contains(found, id) {
			found = append(found, id)
		}
	}
	for _, id := range found {
		if len(id) > len(target) {
			target = id
		}
	}
	t := r.file(target)
	for _, id := range found {
		if id == target || filetrail.HashKindOf(id) == filetrail.HashSHA256 {
			continue
		}
		w := r.file(id)
		r.forward[id] = target
		t.hashes = unionHashes(t.hashes, w.hashes)
		t.absorbed = t.absorbed || w.existed || w.absorbed
	}
	for _, x := range []string{h.SHA256, h.SHA1, h.MD5} {
		if x == "" {
			continue
		}
		if cur := r.lookup(x); cur == "" || cur == target {
			r.hashFile[x] = target
			r.register[x] = target
			t.hashes = addHash(t.hashes, x)
		}
	}
	return target
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

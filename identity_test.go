package filetrail

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"testing"
)

// Readable hashes: s256(1) is the sha256 "00…01", and so on.
func s256(i int) string { return fmt.Sprintf("%064x", i) }
func s1(i int) string   { return fmt.Sprintf("%040x", i) }
func m5(i int) string   { return fmt.Sprintf("%032x", i) }

// memStore is the part of a store that file identity reads and writes:
// which file each hash names, and each file's Hashes. persist writes what a
// resolver decided the way the stores do.
type memStore struct {
	hashFile map[string]string
	files    map[string]Hashes
}

func newMemStore() *memStore {
	return &memStore{hashFile: map[string]string{}, files: map[string]Hashes{}}
}

func (s *memStore) resolver() *IdentityResolver {
	return NewIdentityResolver(0,
		func(hash string) (string, error) { return s.hashFile[hash], nil },
		func(id string) (Hashes, bool, error) { h, ok := s.files[id]; return h, ok, nil },
	)
}

func (s *memStore) persist(r *IdentityResolver) {
	for _, m := range r.Merges() {
		delete(s.files, m.From)
		for h, id := range s.hashFile {
			if id == m.From {
				s.hashFile[h] = m.Into
			}
		}
	}
	for _, l := range r.Registrations() {
		s.hashFile[l.Hash] = l.FileID
	}
	for _, f := range r.Files() {
		s.files[f.ID] = f.Hashes
	}
}

// apply resolves one batch of records, checking the resolver's invariants
// after each record, persists it and returns each record's final file id.
func (s *memStore) apply(t testing.TB, batch []Hashes) ([]string, *IdentityResolver) {
	t.Helper()
	r := s.resolver()
	ids := make([]string, len(batch))
	for i, h := range batch {
		id, err := r.Resolve(h)
		if err != nil {
			t.Fatalf("Resolve(%+v): %v", h, err)
		}
		checkForest(t, r)
		ids[i] = id
	}
	for i := range ids {
		ids[i] = r.Final(ids[i])
	}
	s.persist(r)
	return ids, r
}

// checkForest fails unless following merges from any file ends, within as
// many steps as there are merges, at a file that was not merged.
func checkForest(t testing.TB, r *IdentityResolver) {
	t.Helper()
	for from := range r.forward {
		id := from
		for range len(r.forward) + 1 {
			next, ok := r.forward[id]
			if !ok {
				break
			}
			id = next
		}
		if _, ok := r.forward[id]; ok {
			t.Fatalf("merges from %s form a cycle: %v", from, r.forward)
		}
	}
}

// check fails unless the stored state is consistent: every file's id is its
// strongest hash, each of its hashes names it, and every hash names a file
// that has it.
func (s *memStore) check(t testing.TB) {
	t.Helper()
	for id, h := range s.files {
		if h.Strongest() != id {
			t.Fatalf("file %s has hashes %+v: id is not its strongest hash", id, h)
		}
		for _, x := range h.All() {
			if x != "" && s.hashFile[x] != id {
				t.Fatalf("file %s has hash %s, which names %q", id, x, s.hashFile[x])
			}
		}
	}
	for x, id := range s.hashFile {
		h, ok := s.files[id]
		all := h.All()
		if !ok || x == "" || !slices.Contains(all[:], x) {
			t.Fatalf("hash %s names %s (hashes %+v, stored %v), which lacks it", x, id, h, ok)
		}
	}
}

func TestIdentityResolver(t *testing.T) {
	type step struct {
		batch []Hashes
		want  []string // final file id of each record
	}
	tests := []struct {
		name  string
		steps []step
		names map[string]string // hash → file id it names at the end ("" none)
		files map[string]Hashes // every file at the end
	}{{
		name:  "weak hash is its own file",
		steps: []step{{[]Hashes{{MD5: m5(1)}, {SHA1: s1(1)}}, []string{m5(1), s1(1)}}},
		names: map[string]string{m5(1): m5(1), s1(1): s1(1)},
		files: map[string]Hashes{m5(1): {MD5: m5(1)}, s1(1): {SHA1: s1(1)}},
	}, {
		name: "md5-only file merged into sha256",
		steps: []step{
			{[]Hashes{{MD5: m5(1)}, {SHA256: s256(1)}}, []string{m5(1), s256(1)}},
			{[]Hashes{{SHA256: s256(1), MD5: m5(1)}, {MD5: m5(1)}}, []string{s256(1), s256(1)}},
		},
		names: map[string]string{m5(1): s256(1), s256(1): s256(1)},
		files: map[string]Hashes{s256(1): {SHA256: s256(1), MD5: m5(1)}},
	}, {
		name: "merge chain md5, sha1, sha256",
		steps: []step{
			{[]Hashes{{MD5: m5(1)}, {SHA1: s1(1)}}, []string{m5(1), s1(1)}},
			{[]Hashes{{SHA1: s1(1), MD5: m5(1)}}, []string{s1(1)}},
			{[]Hashes{{SHA256: s256(1), SHA1: s1(1)}, {MD5: m5(1)}}, []string{s256(1), s256(1)}},
		},
		names: map[string]string{m5(1): s256(1), s1(1): s256(1), s256(1): s256(1)},
		files: map[string]Hashes{s256(1): {SHA256: s256(1), SHA1: s1(1), MD5: m5(1)}},
	}, {
		name: "merge chain in one batch",
		steps: []step{{[]Hashes{{MD5: m5(1)}, {SHA1: s1(1), MD5: m5(1)}, {SHA256: s256(1), SHA1: s1(1)}, {MD5: m5(1)}},
			[]string{s256(1), s256(1), s256(1), s256(1)}}},
		names: map[string]string{m5(1): s256(1), s1(1): s256(1), s256(1): s256(1)},
		files: map[string]Hashes{s256(1): {SHA256: s256(1), SHA1: s1(1), MD5: m5(1)}},
	}, {
		name: "two sha256 files are never merged",
		steps: []step{
			{[]Hashes{{SHA256: s256(1), MD5: m5(1)}}, []string{s256(1)}},
			{[]Hashes{{SHA256: s256(2), MD5: m5(1)}}, []string{s256(2)}},
		},
		names: map[string]string{m5(1): s256(1), s256(1): s256(1), s256(2): s256(2)},
		files: map[string]Hashes{s256(1): {SHA256: s256(1), MD5: m5(1)}, s256(2): {SHA256: s256(2)}},
	}, {
		name: "own strongest hash wins a tie",
		steps: []step{
			{[]Hashes{{SHA1: s1(1), MD5: m5(1)}}, []string{s1(1)}},
			{[]Hashes{{SHA1: s1(2), MD5: m5(1)}}, []string{s1(2)}},
		},
		names: map[string]string{m5(1): s1(1), s1(1): s1(1), s1(2): s1(2)},
		files: map[string]Hashes{s1(1): {SHA1: s1(1), MD5: m5(1)}, s1(2): {SHA1: s1(2)}},
	}, {
		name: "a file keeps the first hash of each kind",
		steps: []step{
			{[]Hashes{{SHA256: s256(1), SHA1: s1(1)}}, []string{s256(1)}},
			{[]Hashes{{SHA256: s256(1), SHA1: s1(2), MD5: m5(1)}}, []string{s256(1)}},
		},
		names: map[string]string{s256(1): s256(1), s1(1): s256(1), s1(2): "", m5(1): s256(1)},
		files: map[string]Hashes{s256(1): {SHA256: s256(1), SHA1: s1(1), MD5: m5(1)}},
	}, {
		// A=a, B=b (with md5 x); {a, x} must not merge B into A; {b}
		// must then find B (a merge would make the files point at each
		// other).
		name: "conflicting link keeps the first, separate batches",
		steps: []step{
			{[]Hashes{{SHA1: s1(1)}, {SHA1: s1(2), MD5: m5(9)}}, []string{s1(1), s1(2)}},
			{[]Hashes{{SHA1: s1(1), MD5: m5(9)}}, []string{s1(1)}},
			{[]Hashes{{SHA1: s1(2)}, {MD5: m5(9)}, {SHA1: s1(1)}}, []string{s1(2), s1(2), s1(1)}},
		},
		names: map[string]string{s1(1): s1(1), s1(2): s1(2), m5(9): s1(2)},
		files: map[string]Hashes{s1(1): {SHA1: s1(1)}, s1(2): {SHA1: s1(2), MD5: m5(9)}},
	}, {
		name: "conflicting link keeps the first, one batch",
		steps: []step{{[]Hashes{{SHA1: s1(1)}, {SHA1: s1(2), MD5: m5(9)}, {SHA1: s1(1), MD5: m5(9)}, {SHA1: s1(2)}, {MD5: m5(9)}},
			[]string{s1(1), s1(2), s1(1), s1(2), s1(2)}}},
		names: map[string]string{s1(1): s1(1), s1(2): s1(2), m5(9): s1(2)},
		files: map[string]Hashes{s1(1): {SHA1: s1(1)}, s1(2): {SHA1: s1(2), MD5: m5(9)}},
	}, {
		name: "conflicting link keeps the first, reverse order",
		steps: []step{
			{[]Hashes{{SHA1: s1(1), MD5: m5(9)}}, []string{s1(1)}},
			{[]Hashes{{SHA1: s1(2), MD5: m5(9)}, {SHA1: s1(2)}, {MD5: m5(9)}}, []string{s1(2), s1(2), s1(1)}},
		},
		names: map[string]string{s1(1): s1(1), s1(2): s1(2), m5(9): s1(1)},
		files: map[string]Hashes{s1(1): {SHA1: s1(1), MD5: m5(9)}, s1(2): {SHA1: s1(2)}},
	}, {
		// M=m (md5) was merged into A; a record {m} is about A, and
		// {b, m} (b a new sha1) ties A by strength: its own hash b wins,
		// and A, whose sha1 conflicts, stays apart.
		name: "own strongest hash resolves through merges",
		steps: []step{
			{[]Hashes{{MD5: m5(1)}}, []string{m5(1)}},
			{[]Hashes{{SHA1: s1(1), MD5: m5(1)}, {MD5: m5(1)}}, []string{s1(1), s1(1)}},
			{[]Hashes{{MD5: m5(1)}, {SHA1: s1(2), MD5: m5(1)}}, []string{s1(1), s1(2)}},
		},
		names: map[string]string{m5(1): s1(1), s1(1): s1(1), s1(2): s1(2)},
		files: map[string]Hashes{s1(1): {SHA1: s1(1), MD5: m5(1)}, s1(2): {SHA1: s1(2)}},
	}, {
		// Two weak files that each fit the sha256 but conflict with each
		// other: the first (by the record's hash order) is merged.
		name: "weak files conflicting with each other",
		steps: []step{
			{[]Hashes{{SHA1: s1(1), MD5: m5(1)}, {MD5: m5(2)}}, []string{s1(1), m5(2)}},
			{[]Hashes{{SHA256: s256(1), SHA1: s1(1), MD5: m5(2)}}, []string{s256(1)}},
		},
		names: map[string]string{s256(1): s256(1), s1(1): s256(1), m5(1): s256(1), m5(2): m5(2)},
		files: map[string]Hashes{s256(1): {SHA256: s256(1), SHA1: s1(1), MD5: m5(1)}, m5(2): {MD5: m5(2)}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newMemStore()
			for i, st := range tc.steps {
				got, _ := s.apply(t, st.batch)
				if !slices.Equal(got, st.want) {
					t.Fatalf("step %d: files %v, want %v", i, got, st.want)
				}
				s.check(t)
			}
			for x, want := range tc.names {
				if got := s.hashFile[x]; got != want {
					t.Errorf("hash %s names %q, want %q", x, got, want)
				}
			}
			if !maps.Equal(s.files, tc.files) {
				t.Errorf("files %+v, want %+v", s.files, tc.files)
			}
		})
	}
}

func TestIdentityResolverOutputs(t *testing.T) {
	s := newMemStore()
	s.apply(t, []Hashes{{MD5: m5(1)}, {SHA1: s1(1)}})
	r := s.resolver()
	for _, h := range []Hashes{{SHA1: s1(2), MD5: m5(1)}, {SHA256: s256(1), SHA1: s1(2)}, {SHA256: s256(2)}} {
		if _, err := r.Resolve(h); err != nil {
			t.Fatal(err)
		}
	}
	wantMerges := []FileMerge{
		{From: m5(1), Hashes: Hashes{MD5: m5(1)}, Existed: true, Into: s256(1)},
		{From: s1(2), Hashes: Hashes{SHA1: s1(2), MD5: m5(1)}, Existed: false, Into: s256(1)},
	}
	if got := r.Merges(); !slices.Equal(got, wantMerges) {
		t.Errorf("Merges() = %+v, want %+v", got, wantMerges)
	}
	wantFiles := []ResolvedFile{
		{ID: s256(1), Hashes: Hashes{SHA256: s256(1), SHA1: s1(2), MD5: m5(1)}, Absorbed: true},
		{ID: s256(2), Hashes: Hashes{SHA256: s256(2)}},
	}
	if got := r.Files(); !slices.Equal(got, wantFiles) {
		t.Errorf("Files() = %+v, want %+v", got, wantFiles)
	}
	if f := r.Files(); f[0].IsNew() || !f[1].IsNew() {
		t.Errorf("IsNew of %s, %s = %v, %v; want false, true", f[0].ID, f[1].ID, f[0].IsNew(), f[1].IsNew())
	}
	wantLinks := []HashLink{{m5(1), s256(1)}, {s1(2), s256(1)}, {s256(2), s256(2)}, {s256(1), s256(1)}}
	slices.SortFunc(wantLinks, func(a, b HashLink) int { return cmp.Compare(a.Hash, b.Hash) })
	if got := r.Registrations(); !slices.Equal(got, wantLinks) {
		t.Errorf("Registrations() = %v, want %v", got, wantLinks)
	}
}

func TestIdentityResolverErrors(t *testing.T) {
	boom := errors.New("boom")
	r := NewIdentityResolver(0, func(string) (string, error) { return "", boom }, func(string) (Hashes, bool, error) { return Hashes{}, false, nil })
	if _, err := r.Resolve(Hashes{MD5: m5(1)}); !errors.Is(err, boom) {
		t.Errorf("Resolve with a failing hash lookup: %v, want boom", err)
	}
	r = NewIdentityResolver(0, func(string) (string, error) { return "", nil }, func(string) (Hashes, bool, error) { return Hashes{}, false, boom })
	if _, err := r.Resolve(Hashes{MD5: m5(1)}); !errors.Is(err, boom) {
		t.Errorf("Resolve with a failing file lookup: %v, want boom", err)
	}
	if _, err := r.Resolve(Hashes{}); ErrorCode(err) != CodeInvalidArgument {
		t.Errorf("Resolve(no hash) = %v, want InvalidArgument", err)
	}
}

// identityRecords decodes data into batches of records over a small
// universe of hashes (2 sha256, 3 sha1, 3 md5), so that links, merges and
// conflicting links are frequent. Each byte is one record's hash choice: 0
// ends the batch.
func identityRecords(data []byte) [][]Hashes {
	var batches [][]Hashes
	var cur []Hashes
	for _, b := range data {
		if b == 0 {
			batches = append(batches, cur)
			cur = nil
			continue
		}
		var h Hashes
		if v := int(b) % 3; v > 0 {
			h.SHA256 = s256(v)
		}
		if v := int(b) / 3 % 4; v > 0 {
			h.SHA1 = s1(v)
		}
		if v := int(b) / 12 % 4; v > 0 {
			h.MD5 = m5(v)
		}
		if !h.IsZero() {
			cur = append(cur, h)
		}
	}
	return append(batches, cur)
}

// checkIdentityRun applies the batches and checks, after each record, that
// merges form no cycle and, after each batch, that the stored state is
// consistent, that each record's file is named by one of its hashes and is
// at least as strong as its own strongest hash, and that a hash keeps
// naming the file it named or the one that file was merged into.
func checkIdentityRun(t testing.TB, batches [][]Hashes) {
	s := newMemStore()
	for _, batch := range batches {
		before := maps.Clone(s.hashFile)
		ids, r := s.apply(t, batch)
		s.check(t)
		for i, h := range batch {
			if len(ids[i]) < len(h.Strongest()) {
				t.Fatalf("record %+v: file %s is weaker than its strongest hash", h, ids[i])
			}
			all := h.All()
			if !slices.ContainsFunc(all[:], func(x string) bool { return x != "" && s.hashFile[x] == ids[i] }) {
				t.Fatalf("record %+v: file %s is named by none of its hashes", h, ids[i])
			}
		}
		for x, id := range before {
			if got := s.hashFile[x]; got != r.Final(id) {
				t.Fatalf("hash %s named %s, now names %s, want %s", x, id, got, r.Final(id))
			}
		}
	}
}

func FuzzIdentityResolver(f *testing.F) {
	// The conflict scenario: sha1 1, (sha1 2, md5 1) | (sha1 1, md5 1) | sha1 2.
	f.Add([]byte{3, 6 + 12, 0, 3 + 12, 0, 6})
	f.Add([]byte{3 + 12, 0, 6 + 12, 6, 12})
	f.Add([]byte{1 + 12, 2 + 12, 0, 1 + 3, 2 + 6 + 24})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkIdentityRun(t, identityRecords(data))
	})
}

// TestIdentityResolverProperty runs the fuzz checks over random sequences
// of records.
func TestIdentityResolverProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for range 2000 {
		data := make([]byte, 1+rng.Intn(40))
		for i := range data {
			data[i] = byte(rng.Intn(48))
		}
		checkIdentityRun(t, identityRecords(data))
	}
}

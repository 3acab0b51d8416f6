package filetrail

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// MaxEdgeURLs is how many distinct URLs an edge's context keeps (API.md §4.11).
const MaxEdgeURLs = 10

// Evidence is the merged evidence of one edge for one (URL, source): the
// earliest and latest time a sighting with that URL and source was seen.
// A store keeps one Evidence per (IP, file, URL, source), merging with
// min/max, and derives the edge from all of them with EdgeContext.
type Evidence struct {
	URL       string // may be empty
	Source    string
	FirstSeen int64
	LastSeen  int64
}

// Merge folds o (same URL and source) into e: earliest first, latest last.
func (e *Evidence) Merge(o Evidence) {
	e.FirstSeen = min(e.FirstSeen, o.FirstSeen)
	e.LastSeen = max(e.LastSeen, o.LastSeen)
}

// EdgeContext derives an edge from its evidence: first_seen is the minimum,
// last_seen the maximum, and ctx is the context_attributes JSON object
// {"first_seen", "last_seen", "urls", "sources"}: urls are the most recent
// distinct non-empty URLs (by their latest sighting, ties by URL), at most
// MaxEdgeURLs; sources are the distinct non-empty sources, sorted. The
// result depends only on the set of evidence, not its order.
func EdgeContext(ev []Evidence) (first, last int64, ctx json.RawMessage) {
	if len(ev) == 0 {
		return 0, 0, json.RawMessage(`{}`)
	}
	// Sorting, not maps: this runs for every edge written. Not searching
	// either: an edge may hold any number of evidence rows (a feed can give
	// one file thousands of URLs on one IP), so the cost stays n log n.
	type urlSeen struct {
		url  string
		last int64
	}
	first, last = ev[0].FirstSeen, ev[0].LastSeen
	urls := make([]urlSeen, 0, len(ev))
	sources := make([]string, 0, len(ev))
	for _, e := range ev {
		first, last = min(first, e.FirstSeen), max(last, e.LastSeen)
		if e.URL != "" {
			urls = append(urls, urlSeen{e.URL, e.LastSeen})
		}
		if e.Source != "" {
			sources = append(sources, e.Source)
		}
	}
	// Each URL once, with its latest sighting: sorted by URL, latest
	// first, and the first of each URL's run kept.
	slices.SortFunc(urls, func(a, b urlSeen) int {
		if c := strings.Compare(a.url, b.url); c != 0 {
			return c
		}
		return cmp.Compare(b.last, a.last)
	})
	urls = slices.CompactFunc(urls, func(a, b urlSeen) bool { return a.url == b.url })
	slices.SortFunc(urls, func(a, b urlSeen) int {
		if c := cmp.Compare(b.last, a.last); c != 0 {
			return c
		}
		return strings.Compare(a.url, b.url)
	})
	if len(urls) > MaxEdgeURLs {
		urls = urls[:MaxEdgeURLs]
	}
	slices.Sort(sources)
	sources = slices.Compact(sources)
	// The bytes of json.Marshal on {first_seen, last_seen, urls, sources}.
	b := make([]byte, 0, 64+64*len(urls)+16*len(sources))
	b = append(b, `{"first_seen":`...)
	b = strconv.AppendInt(b, first, 10)
	b = append(b, `,"last_seen":`...)
	b = strconv.AppendInt(b, last, 10)
	b = append(b, `,"urls":[`...)
	for i, u := range urls {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, u.url)
	}
	b = append(b, `],"sources":`...)
	b = appendJSONStrings(b, sources)
	b = append(b, '}')
	return first, last, b
}

// appendJSONStrings appends ss as json.Marshal encodes a non-nil []string.
func appendJSONStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString appends s as json.Marshal encodes it: quoted as it is
// when it holds only printable ASCII that needs no escape, else through
// json.Marshal (control characters, quotes, backslashes, HTML characters,
// invalid UTF-8, U+2028/U+2029).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// FileHints is what sightings tell about a file, merged: the set of file
// names, the largest reported size, and the earliest and latest sighting.
// A store keeps it per file with set union and min/max.
type FileHints struct {
	Names     []string // distinct, any order
	Size      int64
	FirstSeen int64 // 0 when the file has no sighting
	LastSeen  int64
}

// StoredFact is a FileFact prepared for storage: attributes compacted and
// cleaned, and the rank that decides which of two facts of the same
// (Origin, Source) is kept.
type StoredFact struct {
	Origin     Origin
	Source     string
	Attributes json.RawMessage // compact JSON object
	// EvidenceTime is the newest date the attributes carry
	// (last_analysis_date, last_modification_date, ...), Unix seconds.
	EvidenceTime int64
	// Digest is the hex SHA-256 of Attributes: the tie-breaker.
	Digest string
}

// Supersedes reports whether f replaces o when both have the same Origin
// and Source: the newer evidence wins, ties by the greater digest. It is a
// total order, so keeping the superseding fact is order-independent.
func (f StoredFact) Supersedes(o StoredFact) bool {
	if f.EvidenceTime != o.EvidenceTime {
		return f.EvidenceTime > o.EvidenceTime
	}
	return f.Digest > o.Digest
}

// reservedAttributes may never appear in attributes (API.md §2).
var reservedAttributes = map[string]bool{"id": true, "type": true, "relationships": true, "context_attributes": true, "error": true}

// NewStoredFact validates and cleans a fact's attributes: they must be a
// JSON object; reserved names are dropped; every date attribute (a name
// ending in "_date") is made an integer of Unix seconds or dropped.
func NewStoredFact(f FileFact) (StoredFact, error) {
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(f.Attributes, &attrs); err != nil || attrs == nil {
		return StoredFact{}, Errorf(CodeInvalidArgument, "file attributes must be a JSON object")
	}
	var newest int64
	for name, v := range attrs {
		if reservedAttributes[name] {
			delete(attrs, name)
			continue
		}
		if isDateAttribute(name) {
			d, ok := unixSeconds(v)
			if !ok {
				delete(attrs, name)
				continue
			}
			attrs[name] = json.RawMessage(itoa(d))
			if name != "creation_date" && name != "first_submission_date" {
				newest = max(newest, d)
			}
		}
	}
	out, err := marshalAttributes(attrs)
	if err != nil {
		return StoredFact{}, Errorf(CodeInvalidArgument, "file attributes: %v", err)
	}
	sum := sha256.Sum256(out)
	return StoredFact{Origin: f.Origin, Source: f.Source, Attributes: out, EvidenceTime: newest, Digest: hex.EncodeToString(sum[:])}, nil
}

func isDateAttribute(name string) bool { return strings.HasSuffix(name, "_date") }

// unixSeconds reads a date attribute: an integer, or a float truncated.
func unixSeconds(v json.RawMessage) (int64, bool) {
	var f float64
	if err := json.Unmarshal(v, &f); err != nil || f < 0 || f > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// Attributes whose values are merged across facts rather than taken from
// the most trusted one.
var (
	unionAttributes = map[string]bool{"names": true, "tags": true}
	minAttributes   = map[string]bool{"first_submission_date": true, "first_seen_itw_date": true}
	maxAttributes   = map[string]bool{"last_submission_date": true, "last_seen_itw_date": true, "last_modification_date": true, "times_submitted": true}
	// analysisGroup travels together, from the fact with the newest scan.
	analysisGroup = []string{"last_analysis_date", "last_analysis_results", "last_analysis_stats"}
)

// MergeFile builds a file's attributes JSON object from its hashes, its
// stored facts (at most one per Origin and Source) and its sighting hints.
// It is a pure function of its inputs as sets: the order of facts and names
// does not matter. The rules:
//   - each attribute comes from the fact of highest Origin, then newest
//     EvidenceTime, then greatest Digest;
//   - "names" and "tags" are the sorted union over facts (and hint names);
//   - first_* dates are the minimum, last_* dates and times_submitted the
//     maximum over facts and hints (sightings give first_seen_itw_date and
//     last_seen_itw_date; last_modification_date is the newest evidence);
//   - last_analysis_date/results/stats come together from the fact with the
//     newest last_analysis_date;
//   - md5, sha1, sha256 and size are filled from the hashes and hints when
//     no fact gives them; meaningful_name falls back to the first name.
func MergeFile(h Hashes, facts []StoredFact, hints FileHints) json.RawMessage {
	facts = slices.Clone(facts)
	slices.SortFunc(facts, func(a, b StoredFact) int {
		if a.Origin != b.Origin {
			return cmp.Compare(b.Origin, a.Origin)
		}
		if a.Supersedes(b) {
			return -1
		}
		if b.Supersedes(a) {
			return 1
		}
		return 0
	})
	out := map[string]json.RawMessage{}
	unions := map[string]map[string]bool{"names": {}}
	for _, n := range hints.Names {
		if n != "" {
			unions["names"][n] = true
		}
	}
	dates := map[string]int64{}
	foldDate := func(name string, v int64) {
		old, ok := dates[name]
		switch {
		case !ok:
			dates[name] = v
		case minAttributes[name]:
			dates[name] = min(old, v)
		default:
			dates[name] = max(old, v)
		}
	}
	var analysis map[string]json.RawMessage
	var analysisDate int64 = -1
	for _, f := range facts {
		var attrs map[string]json.RawMessage
		if json.Unmarshal(f.Attributes, &attrs) != nil {
			continue // NewStoredFact guarantees an object; skip defensively
		}
		if d, ok := unixSeconds(attrs["last_analysis_date"]); ok && d > analysisDate {
			analysisDate, analysis = d, attrs
		}
		for name, v := range attrs {
			switch {
			case unionAttributes[name]:
				var vals []string
				if json.Unmarshal(v, &vals) == nil {
					if unions[name] == nil {
						unions[name] = map[string]bool{}
					}
					for _, s := range vals {
						unions[name][s] = true
					}
				}
			case minAttributes[name] || maxAttributes[name]:
				if d, ok := unixSeconds(v); ok {
					foldDate(name, d)
				}
			case slices.Contains(analysisGroup, name):
			default:
				if _, taken := out[name]; !taken {
					out[name] = v
				}
			}
		}
		if f.EvidenceTime > 0 {
			foldDate("last_modification_date", f.EvidenceTime)
		}
	}
	if analysis != nil {
		for _, name := range analysisGroup {
			if v, ok := analysis[name]; ok {
				out[name] = v
			}
		}
	}
	if hints.FirstSeen > 0 {
		foldDate("first_seen_itw_date", hints.FirstSeen)
		foldDate("last_seen_itw_date", hints.LastSeen)
		foldDate("last_modification_date", hints.LastSeen)
	}
	for name, d := range dates {
		out[name] = json.RawMessage(itoa(d))
	}
	for name, set := range unions {
		if len(set) > 0 {
			out[name] = appendJSONStrings(nil, sortedKeys(set))
		}
	}
	setString := func(name, v string) {
		if _, ok := out[name]; !ok && v != "" {
			out[name] = appendJSONString(nil, v)
		}
	}
	setString("sha256", h.SHA256)
	setString("sha1", h.SHA1)
	setString("md5", h.MD5)
	if _, ok := out["size"]; !ok && hints.Size > 0 {
		out["size"] = json.RawMessage(itoa(hints.Size))
	}
	if names := unions["names"]; len(names) > 0 {
		setString("meaningful_name", sortedKeys(names)[0])
	}
	// Every value is compact already: cut from a StoredFact's compact
	// attributes or written above.
	b, _ := encodeAttributes(out, false)
	return b
}

// marshalAttributes encodes an attribute map compactly with sorted keys, so
// equal maps give equal bytes: exactly the bytes of json.Marshal on the map
// of compacted values (keys in byte order, <, >, & and U+2028/U+2029 escaped
// in strings), in one pass over the values instead of json.Marshal's two
// (compacting, then re-checking every raw value).
func marshalAttributes(attrs map[string]json.RawMessage) (json.RawMessage, error) {
	return encodeAttributes(attrs, true)
}

// encodeAttributes is marshalAttributes; with compact false, the values
// are trusted to be compact JSON already and copied as they are (the
// output then equals marshalAttributes' only for such values, and the
// error is always nil).
func encodeAttributes(attrs map[string]json.RawMessage, compact bool) (json.RawMessage, error) {
	size := 2
	for name, v := range attrs {
		size += len(name) + len(v) + 4
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	buf.WriteByte('{')
	for i, name := range slices.Sorted(maps.Keys(attrs)) {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(appendJSONString(buf.AvailableBuffer(), name))
		buf.WriteByte(':')
		if !compact {
			buf.Write(attrs[name])
		} else if err := json.Compact(buf, attrs[name]); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	if !needsHTMLEscape(buf.Bytes()) {
		return buf.Bytes(), nil
	}
	var escaped bytes.Buffer
	json.HTMLEscape(&escaped, buf.Bytes())
	return escaped.Bytes(), nil
}

// needsHTMLEscape reports whether json.HTMLEscape would change b: whether
// it holds <, >, & or U+2028 or U+2029 (E2 80 A8, E2 80 A9 in UTF-8). It
// is bytes.ContainsAny(b, "<>&\u2028\u2029") in one pass over bytes:
// ContainsAny decodes b rune by rune once its set has a non-ASCII rune,
// which took a quarter of MergeFile's time.
func needsHTMLEscape(b []byte) bool {
	for i, c := range b {
		switch c {
		case '<', '>', '&':
			return true
		case 0xE2:
			if i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xA8 || b[i+2] == 0xA9) {
				return true
			}
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

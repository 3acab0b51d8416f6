// Package dataset generates the benchmark dataset: real VirusTotal file
// documents (templates) under hashes derived from an index, served by a few
// big IPs with many files each and many small IPs with a power-law handful.
// Everything is a pure function of Params and the templates, so a dataset
// can be regenerated, and positions in it (cursors) computed, without a
// store.
package dataset

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/filetrail/filetrail"
)

// Params fully determine a dataset: two runs with equal Params (and equal
// templates, see Dataset.Fingerprint) produce the same facts.
type Params struct {
	Seed uint64 `json:"seed"`
	// BigIPs is how many IPs serve BigEdges files each. Every big IP serves
	// files 0..BigEdges-1 (the files are shared, the edges are distinct).
	BigIPs   int `json:"big_ips"`
	BigEdges int `json:"big_edges"`
	// SmallIPs serve a power-law number of files each: 1 + Zipf(SmallZipfS),
	// at most SmallMaxEdges, drawn from all Files.
	SmallIPs      int     `json:"small_ips"`
	SmallMaxEdges int     `json:"small_max_edges"`
	SmallZipfS    float64 `json:"small_zipf_s"`
	// Files is the number of distinct file documents; at least BigEdges.
	Files int `json:"files"`
	// MinDocBytes pads a template whose attributes are smaller (with more
	// names, as real files collect), so every document is real-size.
	MinDocBytes int `json:"min_doc_bytes"`
}

// Validate reports the first inconsistent parameter.
func (p Params) Validate() error {
	switch {
	case p.BigIPs < 0 || p.BigIPs > 65535:
		return fmt.Errorf("big IPs must be 0..65535, got %d", p.BigIPs)
	case p.BigEdges < 0:
		return fmt.Errorf("big edges must be >= 0, got %d", p.BigEdges)
	case p.SmallIPs < 0:
		return fmt.Errorf("small IPs must be >= 0, got %d", p.SmallIPs)
	case p.Files < 1 || p.Files < p.BigEdges:
		return fmt.Errorf("files (%d) must be >= 1 and >= big edges (%d)", p.Files, p.BigEdges)
	case p.SmallIPs > 0 && (p.SmallMaxEdges < 1 || p.SmallMaxEdges > p.Files):
		return fmt.Errorf("small max edges must be 1..files (%d), got %d", p.Files, p.SmallMaxEdges)
	case p.SmallIPs > 0 && p.SmallZipfS <= 1:
		return fmt.Errorf("zipf exponent must be > 1, got %g", p.SmallZipfS)
	}
	return nil
}

// BaseTime is the Unix time of the oldest sighting of the dataset.
const BaseTime int64 = 1_600_000_000

// Sources named in the generated facts.
const (
	ReportSource   = "bench-report"
	SightingSource = "bench-sensor"
)

// Dataset generates the facts of a benchmark store from Params and a set of
// real VirusTotal file documents used as templates.
type Dataset struct {
	P         Params
	templates []template
	digest    string // hex SHA-256 over the templates' attributes
}

type template struct {
	// fields are the attributes the template keeps as they are, each
	// pre-encoded as `"name":value` (compact), in name order.
	fields []field
	names  []string
	ext    string
}

type field struct {
	name string
	enc  []byte
}

// ownAttributes are replaced in every document by the file's own values.
var ownAttributes = []string{"md5", "names", "sha1", "sha256"}

func newTemplate(attrs map[string]json.RawMessage) (template, error) {
	t := template{ext: "bin"}
	_ = json.Unmarshal(attrs["names"], &t.names)
	var ext string
	if json.Unmarshal(attrs["type_extension"], &ext) == nil && ext != "" {
		t.ext = ext
	}
	for name, v := range attrs {
		if slices.Contains(ownAttributes, name) {
			continue
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return t, fmt.Errorf("attribute %s: %w", name, err)
		}
		enc := append(quote(name), ':')
		t.fields = append(t.fields, field{name, append(enc, buf.Bytes()...)})
	}
	slices.SortFunc(t.fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
	return t, nil
}

// NewDataset loads the templates: every *.json file of dir holding one VT
// file object (a GET /files/{id} body or a bare {"type":"file"} object),
// in name order. Other JSON files (error bodies) are skipped.
func NewDataset(p Params, dir string) (*Dataset, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	d := &Dataset{P: p}
	h := sha256.New()
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		attrs, ok := fileAttributes(raw)
		if !ok {
			continue
		}
		t, err := newTemplate(attrs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		d.templates = append(d.templates, t)
		for _, f := range t.fields {
			h.Write(f.enc)
		}
		names, _ := json.Marshal(t.names)
		h.Write(names)
	}
	if len(d.templates) == 0 {
		return nil, fmt.Errorf("no VT file object in %s/*.json", dir)
	}
	d.digest = hex.EncodeToString(h.Sum(nil))
	return d, nil
}

// fileAttributes returns the attributes of a VT file object given as a
// {"data": {...}} body or a bare object.
func fileAttributes(raw []byte) (map[string]json.RawMessage, bool) {
	type object struct {
		Type       string                     `json:"type"`
		Attributes map[string]json.RawMessage `json:"attributes"`
	}
	var doc struct {
		object
		Data *object `json:"data"`
	}
	if json.Unmarshal(raw, &doc) != nil {
		return nil, false
	}
	o := doc.object
	if doc.Data != nil {
		o = *doc.Data
	}
	if o.Type != "file" || len(o.Attributes) == 0 {
		return nil, false
	}
	return o.Attributes, true
}

// Fingerprint identifies the dataset: its parameters and its templates. A
// seeded store can be reused when the fingerprints match.
func (d *Dataset) Fingerprint() string {
	p, _ := json.Marshal(d.P)
	sum := sha256.Sum256(append(p, d.digest...))
	return hex.EncodeToString(sum[:16])
}

// Hashes returns the hashes of file i, derived from the seed and i alone.
func (d *Dataset) Hashes(i int) filetrail.Hashes {
	key := "filetrail-bench:" + strconv.FormatUint(d.P.Seed, 10) + ":" + strconv.Itoa(i)
	s256 := sha256.Sum256([]byte(key))
	s1 := sha1.Sum([]byte(key))
	m5 := md5.Sum([]byte(key))
	return filetrail.Hashes{SHA256: hex.EncodeToString(s256[:]), SHA1: hex.EncodeToString(s1[:]), MD5: hex.EncodeToString(m5[:])}
}

// FileName is the name file i is downloaded as.
func (d *Dataset) FileName(i int) string {
	t := d.templates[i%len(d.templates)]
	return fmt.Sprintf("sample-%07d.%s", i, t.ext)
}

// Document returns the attributes of file i: its template's attributes with
// the file's own hashes and one more name, padded with names up to
// MinDocBytes. It is a compact JSON object with sorted keys.
func (d *Dataset) Document(i int) json.RawMessage {
	t := d.templates[i%len(d.templates)]
	h := d.Hashes(i)
	names := append(slices.Clone(t.names), d.FileName(i))
	own := map[string][]byte{"md5": quote(h.MD5), "sha1": quote(h.SHA1), "sha256": quote(h.SHA256)}
	size := 2 // braces
	for _, f := range t.fields {
		size += len(f.enc) + 1
	}
	for _, name := range ownAttributes {
		size += len(name) + 3
		if v, ok := own[name]; ok {
			size += len(v) + 1
		}
	}
	namesLen := func() int {
		n := 1
		for _, s := range names {
			n += len(quote(s)) + 1
		}
		return n
	}
	// Real files collect many names; pad with more of them.
	for n := 0; size+namesLen() < d.P.MinDocBytes; n++ {
		names = append(names, fmt.Sprintf("%s-copy%d.%s", h.MD5[:12], n, t.ext))
	}
	own["names"], _ = json.Marshal(names)
	out := make([]byte, 0, size+namesLen())
	out = append(out, '{')
	fields, k := t.fields, 0
	emit := func(enc []byte) {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, enc...)
	}
	for _, name := range ownAttributes {
		for k < len(fields) && fields[k].name < name {
			emit(fields[k].enc)
			k++
		}
		emit(append(append(quote(name), ':'), own[name]...))
	}
	for ; k < len(fields); k++ {
		emit(fields[k].enc)
	}
	return append(out, '}')
}

// Fact returns file i's report.
func (d *Dataset) Fact(i int) filetrail.FileFact {
	return filetrail.FileFact{Hashes: d.Hashes(i), Origin: filetrail.OriginReport, Source: ReportSource, Attributes: d.Document(i)}
}

// BigIP returns the address of big IP j (198.18.0.0/15 is reserved for
// benchmarks).
func BigIP(j int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18, byte((j + 1) >> 8), byte(j + 1)})
}

// SmallIP returns the address of small IP k: 198.19.0.0/16, then IPv6
// documentation addresses beyond 65,535.
func SmallIP(k int) netip.Addr {
	if k < 65535 {
		return netip.AddrFrom4([4]byte{198, 19, byte((k + 1) >> 8), byte(k + 1)})
	}
	var a [16]byte
	copy(a[:], []byte{0x20, 0x01, 0x0d, 0xb8})
	binary.BigEndian.PutUint64(a[8:], uint64(k))
	return netip.AddrFrom16(a)
}

// BigSeenAt is when big IP j served the file at rank r of its list (rank 0
// is the newest). Times are distinct, so the list order is the rank order.
func (d *Dataset) BigSeenAt(j, r int) int64 {
	return BaseTime + int64(d.P.BigEdges-r)*4 + int64(j%4)
}

// BigSighting is the sighting of big IP j serving its rank-r file, which is
// file r.
func (d *Dataset) BigSighting(j, r int) filetrail.Sighting {
	return d.sighting(BigIP(j), r, d.BigSeenAt(j, r))
}

// Sighting is ip serving file i at Unix time at: the same URL, names and
// source as the dataset's own sightings, for generators that place edges
// themselves.
func (d *Dataset) Sighting(ip netip.Addr, i int, at int64) filetrail.Sighting {
	return d.sighting(ip, i, at)
}

func (d *Dataset) sighting(ip netip.Addr, i int, at int64) filetrail.Sighting {
	h := d.Hashes(i)
	name := d.FileName(i)
	host := ip.String()
	if ip.Is6() {
		host = "[" + host + "]"
	}
	return filetrail.Sighting{
		IP: ip, URL: "http://" + host + "/dl/" + name,
		SHA256: h.SHA256, SHA1: h.SHA1, MD5: h.MD5,
		FileName: name, MIME: "application/octet-stream",
		SeenAt: at, Source: SightingSource,
	}
}

// SmallSightings returns the sightings of small IP k: a power-law number of
// distinct files, each seen once at a time within the dataset's span.
func (d *Dataset) SmallSightings(k int) []filetrail.Sighting {
	r := rand.New(rand.NewPCG(d.P.Seed, uint64(k)))
	n := 1
	if d.P.SmallMaxEdges > 1 {
		n += int(rand.NewZipf(r, d.P.SmallZipfS, 1, uint64(d.P.SmallMaxEdges-1)).Uint64())
	}
	span := int64(max(d.P.BigEdges, 1)) * 4
	ip := SmallIP(k)
	seen := make(map[int]bool, n)
	out := make([]filetrail.Sighting, 0, n)
	for len(out) < n {
		i := r.IntN(d.P.Files)
		if seen[i] {
			continue
		}
		seen[i] = true
		out = append(out, d.sighting(ip, i, BaseTime+r.Int64N(span)))
	}
	return out
}

// CursorAfter returns the cursor of big IP j's downloaded_files that
// starts right after the first p items (1 <= p < BigEdges): the cursor a
// client holds after reading p items, whatever its page sizes.
func (d *Dataset) CursorAfter(j, p int) (filetrail.Cursor, error) {
	if p < 1 || p >= d.P.BigEdges {
		return filetrail.Cursor{}, fmt.Errorf("position must be 1..%d, got %d", d.P.BigEdges-1, p)
	}
	r := p - 1
	return filetrail.Cursor{Kind: filetrail.CursorFiles, Time: d.BigSeenAt(j, r), ID: d.Hashes(r).SHA256}, nil
}

func quote(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

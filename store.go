package filetrail

import (
	"context"
	"encoding/json"
	"net/netip"
	"time"
)

// MaxPageLimit is the largest page a list request may ask for (API.md §4.6).
const MaxPageLimit = 40

// PageRequest asks for one page of a list.
type PageRequest struct {
	Limit int     // 1..MaxPageLimit
	After *Cursor // nil for the first page
}

// FileEdge is one item of an IP's downloaded_files: a file and the evidence
// that the IP served it.
type FileEdge struct {
	FileID    string // the file's id: sha256, or a weaker hash until one is known
	FirstSeen int64  // Unix seconds, first time the IP was seen serving the file
	LastSeen  int64
	// Context is the edge's context_attributes JSON object, as stored
	// (EdgeContext built it at write time).
	Context json.RawMessage
	// Attributes is the file's attributes JSON object as stored (MergeFile
	// built it at write time), when the page was asked WithAttributes, or
	// asked WithCompressedAttributes and the file has no compressed copy
	// (written before stores kept one); else nil.
	Attributes json.RawMessage
	// CompressedAttributes is the stored compressed copy of Attributes,
	// when the page was asked WithCompressedAttributes: an encoded
	// fragment of package internal/stitch (CompressAttributes made it).
	CompressedAttributes []byte
}

// AttributeForm says in which form a page carries each file's attributes.
type AttributeForm int

const (
	// WithoutAttributes: descriptors only, neither field set.
	WithoutAttributes AttributeForm = iota
	// WithAttributes: FileEdge.Attributes, the JSON text.
	WithAttributes
	// WithCompressedAttributes: FileEdge.CompressedAttributes, the
	// precompressed copy, for responses sent gzip-encoded.
	WithCompressedAttributes
)

// FilePage is one page of an IP's downloaded_files.
type FilePage struct {
	Items []FileEdge
	Count int64   // items in the whole list, maintained at write time
	Next  *Cursor // nil on the last page; never set on an empty page
}

// IPEdge is one item of a file's itw_ips: an IP that served the file.
type IPEdge struct {
	IP        netip.Addr
	FirstSeen int64
	LastSeen  int64
	Context   json.RawMessage // context_attributes, as for FileEdge
}

// IPPage is one page of a file's itw_ips.
type IPPage struct {
	Items []IPEdge
	Count int64
	Next  *Cursor
}

// IPSummary is what is known about one IP address.
type IPSummary struct {
	IP        netip.Addr
	FileCount int64 // number of files in downloaded_files
	FirstSeen int64 // 0 when nothing is known
	LastSeen  int64
}

// File is a stored file document.
type File struct {
	ID         string          // sha256, or a weaker hash until one is known
	Attributes json.RawMessage // JSON object built by MergeFile
	IPCount    int64           // number of IPs in itw_ips
}

// Store is everything filetrail keeps. Implementations: store/sqlite and
// store/postgres; store/storetest is the behaviour both must show.
//
// Every method is safe for concurrent use. Errors carry codes: NotFound for
// unknown things, InvalidArgument for bad input, Transient when the
// database cannot be reached.
type Store interface {
	EvidenceWriter
	EvidenceReader
	KeyStore
	// Ping reports whether the store can be reached (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// ChangeCounter is implemented by stores that can tell cheaply whether
// anything was written since an earlier look, by any process. The API's
// response cache uses it to keep serving a page past its TTL while the
// store has not changed (vtapi.Options.CacheTTL).
type ChangeCounter interface {
	// ChangeCount returns the store's change count: two calls return the
	// same value only if no write was committed in between, by this
	// process or another. The count may also move without a write (a
	// store counting more than filetrail's writes); it never comes back
	// to an earlier value.
	ChangeCount(ctx context.Context) (uint64, error)
}

// EvidenceWriter merges facts.
type EvidenceWriter interface {
	// Apply merges a batch in one transaction. Merging is idempotent and
	// order-independent: any sequence of batches holding the same set of
	// facts, in any order and repetition, leaves every read method answering
	// byte-identically. Records must be valid (see ValidateSighting,
	// ValidateFileFact); an invalid one fails the whole batch with
	// InvalidArgument.
	//
	// Merging rules: an edge (IP, file) exists for every sighting with a
	// valid IP; its first_seen is the minimum SeenAt, last_seen the maximum,
	// its context is EdgeContext of its evidence. A file's id is its
	// strongest known hash: a file first known by md5 or sha1 is merged into
	// its sha256 record as soon as a fact links the hashes, edges included.
	// A file's attributes are MergeFile of its facts and sighting hints.
	// Counts are maintained here, at write time.
	Apply(ctx context.Context, b *Batch) (ApplyResult, error)
}

// EvidenceReader answers the API's questions.
type EvidenceReader interface {
	// IPSummary returns what is known of ip; an unknown IP gives a zero
	// summary (FileCount 0), not an error.
	IPSummary(ctx context.Context, ip netip.Addr) (IPSummary, error)

	// DownloadedFiles returns a page of the files ip served, newest first by
	// FirstSeen, ties by FileID descending. form selects whether and how
	// each item carries the file's attributes. The page after req.After
	// holds the items strictly after it in that order. A cursor of another
	// kind gives InvalidArgument.
	DownloadedFiles(ctx context.Context, ip netip.Addr, req PageRequest, form AttributeForm) (FilePage, error)

	// File returns a file by any of its hashes (md5, sha1 or sha256, lower
	// case). An unknown hash gives NotFound.
	File(ctx context.Context, hash string) (File, error)

	// ITWIPs returns a page of the IPs that served the file known by hash,
	// newest first by FirstSeen, ties by IP text descending. An unknown
	// hash gives NotFound.
	ITWIPs(ctx context.Context, hash string, req PageRequest) (IPPage, error)
}

// KeyStore keeps API keys and their quota counters.
type KeyStore interface {
	// CreateKey stores a new key. A key whose Name or ID exists gives
	// AlreadyExists.
	CreateKey(ctx context.Context, k Key) error
	// KeyBySecretHash returns the key with that SecretHash, revoked or not;
	// NotFound when there is none.
	KeyBySecretHash(ctx context.Context, secretHash string) (Key, error)
	// ListKeys returns every key, oldest first.
	ListKeys(ctx context.Context) ([]Key, error)
	// RevokeKey marks the key with that ID or Name revoked at the given time;
	// NotFound when there is none. Revoking a revoked key changes nothing.
	RevokeKey(ctx context.Context, idOrName string, at time.Time) error
	// Admit counts one request of key k at time now against its quota
	// windows (Quota.Windows), atomically: when every window still has room,
	// each window's counter is incremented and the request is allowed;
	// otherwise nothing is counted and the answer names the exhausted
	// window and the time until it ends. Exact under any concurrency, also
	// across processes sharing the store: no more than Limit requests are
	// ever allowed in a window.
	Admit(ctx context.Context, k Key, now time.Time) (Admission, error)
}

// Check validates a page request for a list whose cursors are of the given
// kind: a limit of 1..MaxPageLimit and, when set, a cursor of that kind.
// Either failure is an InvalidArgument error.
func (r PageRequest) Check(kind CursorKind) error {
	if r.Limit < 1 || r.Limit > MaxPageLimit {
		return Errorf(CodeInvalidArgument, "limit must be between 1 and %d", MaxPageLimit)
	}
	if r.After != nil && r.After.Kind != kind {
		return Errorf(CodeInvalidArgument, "invalid cursor: it belongs to another list")
	}
	return nil
}

// IPKey returns the text a store keys an IP address by: its canonical form
// (IPv4-mapped IPv6 unmapped, no zone). The zero Addr is an InvalidArgument
// error.
func IPKey(ip netip.Addr) (string, error) {
	if !ip.IsValid() {
		return "", Errorf(CodeInvalidArgument, "missing IP address")
	}
	return ip.Unmap().WithZone("").String(), nil
}

package vtapi

import (
	"context"
	"encoding/json"
	"net/netip"

	"github.com/filetrail/filetrail"
)

// An objectKind is one VT object type and the collection that serves it:
// GET /api/v3/{collection}/{id} returns one object, and each of its
// relationships is served as a list (see relationship).
type objectKind struct {
	typ        string // VT object type, e.g. "ip_address"
	collection string // path segment, e.g. "ip_addresses"
	// parseID validates an id from a request path and returns it in the
	// form the store and the links use. A bad id is InvalidArgument.
	parseID func(raw string) (string, error)
	// load reads the object with the parsed id: its id as shown (which may
	// differ from the one asked, e.g. a file asked by md5 has its sha256 as
	// id) and its attributes object.
	load          func(ctx context.Context, st filetrail.Store, id string) (object, error)
	relationships []*relationship
}

type object struct {
	id         string
	attributes []byte // a JSON object
}

// relationship finds a relationship of the kind by name, or nil.
func (k *objectKind) relationship(name string) *relationship {
	for _, rel := range k.relationships {
		if rel.name == name {
			return rel
		}
	}
	return nil
}

// A relationship is a list of objects related to an object, served as
// GET /api/v3/{collection}/{id}/{name} (full objects, or descriptors with
// descriptors_only=true), GET /api/v3/{collection}/{id}/relationships/{name}
// (descriptors) and embedded in the object with ?relationships={name}.
type relationship struct {
	name        string
	description string // shown by /api/v3/metadata
	premium     bool   // only keys with the premium privilege may see it
	cursor      filetrail.CursorKind
	// load reads one page of the relationship of the object with the given
	// parsed id: descriptors for WithoutAttributes, else full objects, with
	// file documents in the form asked.
	load func(ctx context.Context, st filetrail.Store, id string, req filetrail.PageRequest, form filetrail.AttributeForm) (page, error)
}

// page is one page of a relationship, ready to render.
type page struct {
	count int64
	next  *filetrail.Cursor
	n     int
	// item appends item i in the form the page was loaded for: a full
	// object or a descriptor, both with the item's context_attributes.
	item func(out *body, base string, i int)
}

// VT types and collections of the objects filetrail serves.
const (
	ipType         = "ip_address"
	ipCollection   = "ip_addresses"
	fileType       = "file"
	fileCollection = "files"
)

// The object kinds filetrail serves.
var (
	ipKind = &objectKind{
		typ:        ipType,
		collection: ipCollection,
		parseID: func(raw string) (string, error) {
			a, err := filetrail.ParseIP(raw)
			if err != nil {
				return "", err
			}
			return a.String(), nil
		},
		load: loadIP,
		relationships: []*relationship{{
			name:        "downloaded_files",
			description: "Files downloaded from the IP address.",
			premium:     true,
			cursor:      filetrail.CursorFiles,
			load:        loadDownloadedFiles,
		}},
	}
	fileKind = &objectKind{
		typ:        fileType,
		collection: fileCollection,
		parseID: func(raw string) (string, error) {
			h, _, err := filetrail.ParseHash(raw)
			return h, err
		},
		load: loadFile,
		relationships: []*relationship{{
			name:        "itw_ips",
			description: "In-the-wild IP addresses from which the file was downloaded.",
			premium:     true,
			cursor:      filetrail.CursorIPs,
			load:        loadITWIPs,
		}},
	}
	objectKinds = []*objectKind{ipKind, fileKind}
)

// Privileges are the key privileges filetrail knows (API.md §6).
var privileges = []string{"premium", "admin"}

// parsedIP turns an id that parseID accepted back into an address.
func parsedIP(id string) (netip.Addr, error) {
	a, err := netip.ParseAddr(id)
	if err != nil {
		return a, filetrail.Errorf(filetrail.CodeInvalidArgument, "%q is not a valid IP address", id)
	}
	return a, nil
}

func loadIP(ctx context.Context, st filetrail.Store, id string) (object, error) {
	a, err := parsedIP(id)
	if err != nil {
		return object{}, err
	}
	sum, err := st.IPSummary(ctx, a)
	if err != nil {
		return object{}, err
	}
	return object{id: id, attributes: appendIPAttributes(nil, sum)}, nil
}

// appendIPAttributes appends an IP object's attributes: the time of the
// newest evidence about the IP, or {} when nothing is known of it.
func appendIPAttributes(b []byte, sum filetrail.IPSummary) []byte {
	if sum.LastSeen <= 0 {
		return append(b, '{', '}')
	}
	b = append(b, `{"last_modification_date":`...)
	b = appendInt(b, sum.LastSeen)
	return append(b, '}')
}

func loadFile(ctx context.Context, st filetrail.Store, hash string) (object, error) {
	f, err := st.File(ctx, hash)
	if err != nil {
		return object{}, fileNotFound(err, hash)
	}
	return object{id: f.ID, attributes: f.Attributes}, nil
}

// fileNotFound replaces a NotFound error of the store with VirusTotal's
// message for an unknown file, naming the (lower-case) hash asked for.
func fileNotFound(err error, hash string) error {
	if filetrail.ErrorCode(err) == filetrail.CodeNotFound {
		return filetrail.Errorf(filetrail.CodeNotFound, "File %q not found", hash)
	}
	return err
}

func loadDownloadedFiles(ctx context.Context, st filetrail.Store, id string, req filetrail.PageRequest, form filetrail.AttributeForm) (page, error) {
	a, err := parsedIP(id)
	if err != nil {
		return page{}, err
	}
	p, err := st.DownloadedFiles(ctx, a, req, form)
	if err != nil {
		return page{}, err
	}
	return page{count: p.Count, next: p.Next, n: len(p.Items), item: func(out *body, base string, i int) {
		e := &p.Items[i]
		if form == filetrail.WithoutAttributes {
			out.b = appendDescriptorHead(out.b, fileType, e.FileID)
		} else {
			out.b = appendObjectHead(out.b, base, fileType, fileCollection, e.FileID)
			out.b = append(out.b, `,"attributes":`...)
			out.appendDocument(e.Attributes, e.CompressedAttributes)
		}
		out.b = appendContext(out.b, e.Context)
	}}, nil
}

func loadITWIPs(ctx context.Context, st filetrail.Store, hash string, req filetrail.PageRequest, form filetrail.AttributeForm) (page, error) {
	full := form != filetrail.WithoutAttributes
	p, err := st.ITWIPs(ctx, hash, req)
	if err != nil {
		return page{}, fileNotFound(err, hash)
	}
	// A full IP object carries the IP's own attributes: one summary per item.
	var sums []filetrail.IPSummary
	if full {
		sums = make([]filetrail.IPSummary, len(p.Items))
		for i, e := range p.Items {
			if sums[i], err = st.IPSummary(ctx, e.IP); err != nil {
				return page{}, err
			}
		}
	}
	return page{count: p.Count, next: p.Next, n: len(p.Items), item: func(out *body, base string, i int) {
		e := &p.Items[i]
		id := e.IP.String()
		b := out.b
		if full {
			b = appendObjectHead(b, base, ipType, ipCollection, id)
			b = append(b, `,"attributes":`...)
			b = appendIPAttributes(b, sums[i])
		} else {
			b = appendDescriptorHead(b, ipType, id)
		}
		out.b = appendContext(b, e.Context)
	}}, nil
}

// appendObjectHead appends the start of an object, up to and without the
// comma before its attributes: {"type":..,"id":..,"links":{"self":..}}
func appendObjectHead(b []byte, base, typ, collection, id string) []byte {
	b = appendDescriptorHead(b, typ, id)
	b = append(b, `,"links":{"self":`...)
	b = appendURL(b, base, "/api/v3/", collection, "/", id)
	return append(b, '}')
}

// appendDescriptorHead appends {"type":..,"id":.. without the closing brace.
func appendDescriptorHead(b []byte, typ, id string) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, typ)
	b = append(b, `,"id":`...)
	return appendString(b, id)
}

// appendContext appends the item's context_attributes (when it has any)
// and closes the item.
func appendContext(b []byte, ctx json.RawMessage) []byte {
	if len(ctx) > 0 {
		b = append(b, `,"context_attributes":`...)
		b = append(b, ctx...)
	}
	return append(b, '}')
}

// appendURL appends the concatenation of parts as one JSON string.
func appendURL(b []byte, parts ...string) []byte {
	b = append(b, '"')
	for _, p := range parts {
		b = appendEscaped(b, p)
	}
	return append(b, '"')
}

package vtapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/internal/stitch"
)

// A body is a response being assembled. Routes append JSON text to b with
// the append helpers; stored file documents go through appendDocument.
// For a client that accepts gzip, documents are asked from the store in
// their precompressed form and kept aside as splices; send then stitches
// text and fragments into one gzip stream (package stitch), so no stored
// document is compressed per request.
type body struct {
	b       []byte   // the JSON text, less the spliced documents
	splices []splice // compressed documents, by ascending position in b
	gzip    bool     // the client accepts gzip
	member  []byte   // the gzip stream, built by send
}

// A splice is a precompressed document that belongs at offset at of the
// body's text.
type splice struct {
	at       int
	fragment stitch.Fragment
}

// maxPooledBuffer bounds the buffers kept for reuse, so that one huge
// response does not pin its memory for ever.
const maxPooledBuffer = 4 << 20

var bodyPool = sync.Pool{New: func() any { return &body{b: make([]byte, 0, 16<<10)} }}

// getBody returns an empty body, to be sent gzip-encoded when gzip is set.
func getBody(gzip bool) *body {
	bd := bodyPool.Get().(*body)
	bd.gzip = gzip
	return bd
}

// putBody recycles bd; it must not be used after.
func putBody(bd *body) {
	if cap(bd.b) > maxPooledBuffer || cap(bd.member) > maxPooledBuffer {
		return
	}
	bd.b, bd.splices, bd.member = bd.b[:0], bd.splices[:0], bd.member[:0]
	bodyPool.Put(bd)
}

// documentForm is the form in which file documents should be read for
// this body: compressed for a gzip response, else text.
func (bd *body) documentForm() filetrail.AttributeForm {
	if bd.gzip {
		return filetrail.WithCompressedAttributes
	}
	return filetrail.WithAttributes
}

// appendDocument adds a stored attributes document: as a splice when the
// store gave its compressed copy (only asked for gzip bodies, see
// documentForm), else as text ({} when empty).
func (bd *body) appendDocument(text json.RawMessage, compressed []byte) {
	if compressed != nil {
		f, err := stitch.Parse(compressed)
		if err != nil {
			// The stores write only valid copies: this is a bug or a
			// damaged database, answered as an internal error.
			panic("vtapi: corrupt compressed document in the store: " + err.Error())
		}
		bd.splices = append(bd.splices, splice{at: len(bd.b), fragment: f})
		return
	}
	bd.b = appendRaw(bd.b, text)
}

// send writes the body with the given status (see sendEncoded).
func (bd *body) send(w http.ResponseWriter, status int) {
	sendEncoded(w, status, bd.gzip, bd.encoded())
}

// encoded returns the bytes to send: the gzip stream when the client
// accepts gzip, else the text. They stay valid until the body is recycled.
func (bd *body) encoded() []byte {
	if bd.gzip {
		return bd.stitch()
	}
	if len(bd.splices) > 0 {
		panic("vtapi: compressed documents in a body sent as text")
	}
	return bd.b
}

// sendEncoded writes an encoded body with the given status and its
// Content-Length, marked gzip-encoded when gzip is set. Either way the
// response varies on Accept-Encoding.
func sendEncoded(w http.ResponseWriter, status int, gzip bool, out []byte) {
	h := w.Header()
	// The constant values are shared slices (net/http only reads them),
	// which saves three allocations on every response.
	h["Content-Type"] = headerJSON
	if vary := h["Vary"]; vary == nil {
		h["Vary"] = headerAcceptEncoding
	} else {
		h["Vary"] = append(vary, "Accept-Encoding")
	}
	if gzip {
		h["Content-Encoding"] = headerGzip
	}
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(status)
	w.Write(out) // a write error means the client is gone: nothing to do
}

// Header values every response shares. Their capacity is their length, so
// an append to one (Header.Add) copies it instead of writing into it.
var (
	headerJSON           = []string{"application/json"}
	headerAcceptEncoding = []string{"Accept-Encoding"}
	headerGzip           = []string{"gzip"}
)

// stitch builds the gzip stream of the body: the text between splices as
// plain runs, each splice's fragment as it is stored.
func (bd *body) stitch() []byte {
	var zw stitch.Writer
	zw.Reset(bd.member[:0])
	prev := 0
	for _, s := range bd.splices {
		zw.Plain(bd.b[prev:s.at])
		prev = s.at
		zw.Fragment(s.fragment)
	}
	zw.Plain(bd.b[prev:])
	bd.member = zw.Finish()
	return bd.member
}

// writeJSON sends a JSON text with the given status, gzip-compressed when
// the client accepts it (see body.send).
func writeJSON(w http.ResponseWriter, r *http.Request, status int, text []byte) {
	bd := getBody(acceptsGzip(r.Header.Values("Accept-Encoding")))
	defer putBody(bd)
	bd.b = append(bd.b, text...)
	bd.send(w, status)
}

// acceptsGzip reports whether Accept-Encoding header values accept gzip:
// a "gzip" (or "x-gzip") coding whose q value is not zero.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for coding := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(coding, ";")
			name = strings.TrimSpace(name)
			if !strings.EqualFold(name, "gzip") && !strings.EqualFold(name, "x-gzip") {
				continue
			}
			if !zeroQuality(params) {
				return true
			}
		}
	}
	return false
}

// zeroQuality reports whether coding parameters say q=0 (not acceptable).
func zeroQuality(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err == nil && q == 0
	}
	return false
}

package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"

	"github.com/filetrail/filetrail"
)

// DefaultVTSource is the source name of imported VT reports when none is
// given.
const DefaultVTSource = "vt-report"

// maxPendingContexts bounds the page items whose context_attributes wait
// for the page's links.self (see vtReader).
const maxPendingContexts = 10000

// vtReader reads VirusTotal API v3 file reports. An input is either
//
//   - one JSON document, pretty-printed or compact: a GET /files/{id} body
//     {"data": {"type": "file", "id": ..., "attributes": {...}}}, a bare
//     file object {"type": "file", ...}, or a page {"data": [file objects]};
//     several such documents may follow each other; or
//   - NDJSON: one such document per line.
//
// The input is read as NDJSON when its first non-blank line is a complete
// JSON value by itself: line by line, each line at most MaxLineBytes, a
// malformed line a reject, reading going on with the next line. Otherwise
// it is read as a token stream (memory stays flat whatever the size of a
// page): malformed JSON is a reject at its line, and reading resumes at the
// next line that starts with '{' in its first column (the next NDJSON line,
// or the next pretty-printed document), so a broken document costs only
// itself.
//
// Each file object gives a FileFact with Origin OriginReport, the source
// of ReaderOptions (default DefaultVTSource), the hashes of its attributes
// md5, sha1, sha256 and of its id, and its attributes object as they are.
// Objects of another type and VT error bodies are rejects.
//
// Round trip between filetrail servers: when a page's links.self names
// /ip_addresses/{ip}/downloaded_files (or its relationships/ form) and its
// items carry filetrail's context_attributes {first_seen, last_seen, urls,
// sources}, each item also gives sightings of the file on that IP: for
// each source (or the reader's source when there is none) and each URL (or
// none), one at first_seen and one at last_seen. Ingesting such a page
// elsewhere reproduces the edge with the same first and last seen, URLs and
// sources (which URL went with which source is not kept by the API, so
// every pair is recorded). Items of a descriptor page (no attributes) give
// only these sightings. When links.self comes after the items, the items'
// contexts wait for it, at most maxPendingContexts of them per document.
type vtReader struct{ opts ReaderOptions }

func (vr vtReader) source() string {
	if vr.opts.Source != "" {
		return vr.opts.Source
	}
	return DefaultVTSource
}

func (vr vtReader) Read(ctx context.Context, r io.Reader, sink Sink) error {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, readBufferSize)
	}
	consumed, first, firstNum, complete, err := readFirstLine(br, vr.opts.maxLine())
	if err != nil {
		return err
	}
	if first == nil {
		return nil // blank input
	}
	if complete && json.Valid(first) {
		return vr.readLines(ctx, first, firstNum, br, sink)
	}
	// A multi-line document, or a first line too long to hold (or not
	// JSON): stream it, replaying the bytes already consumed.
	return vr.readStream(ctx, &lineTracker{r: io.MultiReader(bytes.NewReader(consumed), br)}, sink)
}

// readStream reads the top-level JSON values of t with a token-streaming
// decoder. After malformed JSON (a reject at its line) it resumes at the
// next line that starts with '{' in its first column: the start of the
// next NDJSON line or of the next pretty-printed document, since the
// members of a pretty-printed document are indented.
func (vr vtReader) readStream(ctx context.Context, t *lineTracker, sink Sink) error {
	var src io.Reader = t
	var base int64 // offset in t of src's first byte
	for {
		dec := json.NewDecoder(src)
		start := base
		js := jsonStream{dec: dec, lineAt: func(off int64) int64 { return t.lineAt(start + off) }}
		err := vr.readValues(ctx, js, nil, sink)
		var se *syntaxError
		if !errors.As(err, &se) {
			return err
		}
		detail := se.err.Error()
		if se.startLine != se.line {
			detail += fmt.Sprintf(" (in the value starting at line %d)", se.startLine)
		}
		sink.Reject(Reject{Line: se.line, Reason: ReasonMalformedJSON, Detail: detail + "; skipped to the next line starting with '{'"})
		// What is left to read: dec's unread buffer, then what src has
		// buffered and dec has not read yet, then the rest of t.
		rest, _ := io.ReadAll(dec.Buffered())
		if br, ok := src.(*bufio.Reader); ok {
			more, _ := br.Peek(br.Buffered())
			rest = append(rest, more...)
		}
		br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(rest), t), readBufferSize)
		// Skip to the first line after the failed value's start that
		// starts with '{'. Each pass skips at least one line.
		failed := base + dec.InputOffset()
		pos := failed
		for {
			b, err := br.Peek(1)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if b[0] == '{' && pos > failed {
				src, base = br, pos
				break
			}
			n, err := discardLine(br)
			pos += n
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// discardLine skips the rest of the current line, its newline included,
// and returns how many bytes it skipped.
func discardLine(br *bufio.Reader) (int64, error) {
	var n int64
	for {
		frag, err := br.ReadSlice('\n')
		n += int64(len(frag))
		if !errors.Is(err, bufio.ErrBufferFull) {
			return n, err
		}
	}
}

// readFirstLine reads up to the end of the first non-blank line, keeping
// every byte read (blank lines included) so that they can be replayed. It
// stops early, with complete false, when the line grows beyond max bytes.
// first is nil for an input with no non-blank line.
func readFirstLine(br *bufio.Reader, max int) (consumed, first []byte, num int64, complete bool, err error) {
	num = 1
	start := 0
	for {
		frag, e := br.ReadSlice('\n')
		consumed = append(consumed, frag...)
		if e != nil && !errors.Is(e, bufio.ErrBufferFull) && !errors.Is(e, io.EOF) {
			return nil, nil, 0, false, e
		}
		line := consumed[start:]
		if errors.Is(e, bufio.ErrBufferFull) {
			if len(line) > max {
				return consumed, line, num, false, nil
			}
			continue
		}
		atEOF := errors.Is(e, io.EOF)
		if !isBlank(line) {
			trimmed := bytes.TrimRight(line, "\r\n")
			if len(trimmed) > max {
				return consumed, trimmed, num, false, nil
			}
			return consumed, trimmed, num, true, nil
		}
		if atEOF {
			return consumed, nil, 0, false, nil
		}
		start = len(consumed)
		num++
	}
}

// readLines reads NDJSON: the first line (already read) and the rest.
func (vr vtReader) readLines(ctx context.Context, first []byte, firstNum int64, br *bufio.Reader, sink Sink) error {
	line, num := first, firstNum
	lr := newLineReader(br, vr.opts.maxLine(), firstNum+1)
	for {
		if !isBlank(line) {
			js := jsonStream{dec: json.NewDecoder(bytes.NewReader(line)), lineAt: func(int64) int64 { return num }}
			err := vr.readValues(ctx, js, line, sink)
			var se *syntaxError
			if errors.As(err, &se) {
				sink.Reject(newReject(num, ReasonMalformedJSON, se.err.Error(), line))
			} else if err != nil {
				return err
			}
		}
		var tooLong bool
		var err error
		for {
			line, num, tooLong, err = lr.next()
			if err != nil || !tooLong {
				break
			}
			sink.Reject(newReject(num, ReasonLineTooLong, fmt.Sprintf("line longer than %d bytes", lr.max), line))
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// syntaxError is malformed JSON at a line.
type syntaxError struct {
	line      int64 // where the JSON breaks
	startLine int64 // where the value that broke starts
	err       error
}

func (e *syntaxError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }

// jsonStream is a JSON decoder that knows the line of each byte it read
// and reports malformed JSON as a *syntaxError at its line.
type jsonStream struct {
	dec    *json.Decoder
	lineAt func(off int64) int64 // offsets asked in increasing order
}

// token reads the next token inside a value: the end of the input there
// is malformed JSON.
func (js jsonStream) token() (json.Token, error) {
	tok, err := js.dec.Token()
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, js.syntax(err)
	}
	return tok, nil
}

// topToken reads the token that starts a top-level value; io.EOF means the
// input ended cleanly.
func (js jsonStream) topToken() (json.Token, error) {
	tok, err := js.dec.Token()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, js.syntax(err)
	}
	return tok, err
}

// decode reads the next value into v. A value of the wrong type for v is
// not a syntax error: the value is consumed and the *json.UnmarshalTypeError
// returned.
func (js jsonStream) decode(v any) error {
	err := js.dec.Decode(v)
	var te *json.UnmarshalTypeError
	if err == nil || errors.As(err, &te) {
		return err
	}
	return js.syntax(err)
}

// syntax describes the malformed JSON dec just met.
func (js jsonStream) syntax(err error) *syntaxError {
	start := js.lineAt(valueStart(js.dec))
	return &syntaxError{startLine: start, line: js.lineAt(errorOffset(js.dec)), err: err}
}

// valueStart returns the input offset where the value dec failed on
// starts: its position, past white space and a separator.
func valueStart(dec *json.Decoder) int64 {
	off := dec.InputOffset()
	rest, _ := io.ReadAll(dec.Buffered())
	for _, c := range rest {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != ',' && c != ':' {
			break
		}
		off++
	}
	return off
}

// errorOffset returns the input offset of the syntax error dec just met.
// A Decoder's own SyntaxError offsets are not relative to its input once
// it has decoded several values, so the value that failed (still in dec's
// buffer) is scanned again by a fresh decoder whose offsets start at it.
func errorOffset(dec *json.Decoder) int64 {
	base := dec.InputOffset()
	rest, _ := io.ReadAll(dec.Buffered())
	var v json.RawMessage
	var se *json.SyntaxError
	if err := json.NewDecoder(bytes.NewReader(rest)).Decode(&v); errors.As(err, &se) && se.Offset > 0 {
		return base + se.Offset - 1
	}
	return base
}

// tokenLine is the line of the token just read.
func (js jsonStream) tokenLine() int64 { return js.lineAt(js.dec.InputOffset() - 1) }

// docState is what one top-level document has told so far.
type docState struct {
	pageIP    netip.Addr // from links.self, when it names downloaded_files
	linksSeen bool
	pending   []pendingContext
}

// pendingContext is a page item's context waiting for links.self.
type pendingContext struct {
	hashes     filetrail.Hashes
	ctx        edgeContext
	line       int64
	text       string
	descriptor bool // the item had no attributes: the context is all it gives
}

// edgeContext is filetrail's context_attributes of a downloaded_files item.
type edgeContext struct {
	FirstSeen int64    `json:"first_seen"`
	LastSeen  int64    `json:"last_seen"`
	URLs      []string `json:"urls"`
	Sources   []string `json:"sources"`
}

// vtError is the error member of a VT error body.
type vtError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// readValues reads every top-level JSON value of js. raw is the line's
// text in NDJSON mode (nil for a streamed document). Malformed JSON gives
// a *syntaxError.
func (vr vtReader) readValues(ctx context.Context, js jsonStream, raw []byte, sink Sink) error {
	for {
		tok, err := js.topToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		line := js.tokenLine()
		if tok == json.Delim('{') {
			if err := vr.readDocument(ctx, js, line, raw, sink); err != nil {
				return err
			}
			continue
		}
		sink.Reject(newReject(line, ReasonNotObject, fmt.Sprintf("expected a JSON object, got %v", tokenText(tok)), raw))
		if tok == json.Delim('[') {
			if err := skipRest(js); err != nil {
				return err
			}
		}
	}
}

// readDocument reads the rest of a top-level object whose '{' was just read
// at line: a GET body or page (with "data"), a bare file object, or a VT
// error body.
func (vr vtReader) readDocument(ctx context.Context, js jsonStream, line int64, raw []byte, sink Sink) error {
	var st docState
	bare := map[string]json.RawMessage{}
	sawData := false
	var vtErr *vtError
	for js.dec.More() {
		keyTok, err := js.token()
		if err != nil {
			return err
		}
		key, _ := keyTok.(string)
		switch key {
		case "data":
			sawData = true
			if err := vr.readData(ctx, js, raw, &st, sink); err != nil {
				return err
			}
		case "error":
			if err := js.decode(&vtErr); err != nil {
				var se *syntaxError
				if errors.As(err, &se) {
					return err
				}
				vtErr = &vtError{}
			}
		default:
			var v json.RawMessage
			if err := js.decode(&v); err != nil {
				return err
			}
			bare[key] = v
			if key == "links" {
				st.linksSeen = true
				st.pageIP = downloadedFilesIP(v)
				if err := vr.flushPending(ctx, &st, sink); err != nil {
					return err
				}
			}
		}
	}
	if _, err := js.token(); err != nil { // the closing '}'
		return err
	}
	switch {
	case vtErr != nil:
		detail := "a VirusTotal error response"
		if vtErr.Code != "" || vtErr.Message != "" {
			detail = fmt.Sprintf("%s: %s", vtErr.Code, vtErr.Message)
		}
		sink.Reject(newReject(line, ReasonVTError, detail, raw))
	case !sawData && (bare["type"] != nil || bare["attributes"] != nil):
		text := raw
		if text == nil {
			text = firstBytesOf(bare)
		}
		if err := vr.item(ctx, bare, line, text, nil, sink); err != nil {
			return err
		}
	case !sawData:
		sink.Reject(newReject(line, ReasonNotVT, `no "data", "type" or "error" member`, raw))
	}
	// Contexts still waiting: links.self never came.
	return vr.flushPending(ctx, &st, sink)
}

// readData reads the value of a document's "data": one object, or an array
// of objects read one at a time.
func (vr vtReader) readData(ctx context.Context, js jsonStream, raw []byte, st *docState, sink Sink) error {
	tok, err := js.token()
	if err != nil {
		return err
	}
	start := js.tokenLine()
	switch tok {
	case json.Delim('['):
		for js.dec.More() {
			var obj json.RawMessage
			if err := js.decode(&obj); err != nil {
				return err
			}
			itemLine := js.lineAt(js.dec.InputOffset() - int64(len(obj)))
			text := raw
			if text == nil {
				text = obj
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(obj, &fields); err != nil || fields == nil {
				sink.Reject(newReject(itemLine, ReasonNotObject, "a page item must be a JSON object", text))
				continue
			}
			if err := vr.item(ctx, fields, itemLine, text, st, sink); err != nil {
				return err
			}
		}
		_, err := js.token() // ']'
		return err
	case json.Delim('{'):
		fields := map[string]json.RawMessage{}
		for js.dec.More() {
			k, err := js.token()
			if err != nil {
				return err
			}
			var v json.RawMessage
			if err := js.decode(&v); err != nil {
				return err
			}
			key, _ := k.(string)
			fields[key] = v
		}
		if _, err := js.token(); err != nil { // '}'
			return err
		}
		text := raw
		if text == nil {
			text = firstBytesOf(fields)
		}
		return vr.item(ctx, fields, start, text, nil, sink)
	default:
		sink.Reject(newReject(start, ReasonNotVT, fmt.Sprintf(`"data" is %v, not an object or an array`, tokenText(tok)), raw))
		return nil
	}
}

// item turns one object into records. st is the page state for an item of
// a "data" array, nil otherwise.
func (vr vtReader) item(ctx context.Context, fields map[string]json.RawMessage, line int64, text []byte, st *docState, sink Sink) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var typ, id string
	if err := unmarshalField(fields, "type", &typ); err != nil {
		sink.Reject(newReject(line, ReasonBadField, "type: "+err.Error(), text))
		return nil
	}
	if typ != "file" {
		detail := fmt.Sprintf("object of type %q", typ)
		if typ == "" {
			detail = "object without a type"
		}
		sink.Reject(newReject(line, ReasonNotFile, detail, text))
		return nil
	}
	if err := unmarshalField(fields, "id", &id); err != nil {
		sink.Reject(newReject(line, ReasonBadField, "id: "+err.Error(), text))
		return nil
	}
	attrs := fields["attributes"]
	if isNull(attrs) {
		attrs = nil
	}
	var h struct {
		MD5    string `json:"md5"`
		SHA1   string `json:"sha1"`
		SHA256 string `json:"sha256"`
	}
	if attrs != nil {
		if err := json.Unmarshal(attrs, &h); err != nil {
			r := jsonReject(err)
			if r.Reason == ReasonNotObject {
				r.Detail = "attributes must be a JSON object"
			} else {
				r.Detail = "attributes." + r.Detail
			}
			sink.Reject(newReject(line, r.Reason, r.Detail, text))
			return nil
		}
	}
	hashes := filetrail.Hashes{SHA256: h.SHA256, SHA1: h.SHA1, MD5: h.MD5}
	if id != "" {
		if err := mergeID(&hashes, id); err != nil {
			sink.Reject(newReject(line, ReasonHashMismatch, err.Error(), text))
			return nil
		}
	}
	ctxRaw := fields["context_attributes"]
	if isNull(ctxRaw) || st == nil {
		ctxRaw = nil // context outside a page tells nothing about an IP
	}
	if attrs == nil && ctxRaw == nil {
		sink.Reject(newReject(line, ReasonNoAttributes, "a file object needs attributes (or, in a downloaded_files page, context_attributes)", text))
		return nil
	}
	if attrs != nil {
		f := filetrail.FileFact{Hashes: hashes, Origin: filetrail.OriginReport, Source: vr.source(), Attributes: attrs}
		if err := sink.Record(ctx, Record{File: &f, Line: line, Raw: text}); err != nil {
			return err
		}
	}
	if ctxRaw == nil {
		return nil
	}
	var ec edgeContext
	if err := json.Unmarshal(ctxRaw, &ec); err != nil {
		sink.Reject(newReject(line, ReasonBadContext, jsonReject(err).Detail, text))
		return nil
	}
	p := pendingContext{hashes: hashes, ctx: ec, line: line, descriptor: attrs == nil}
	if st.linksSeen {
		return vr.emitContext(ctx, st.pageIP, p, text, sink)
	}
	if len(st.pending) >= maxPendingContexts {
		sink.Reject(newReject(line, ReasonBadContext, fmt.Sprintf("more than %d items before the page's links.self: their context cannot be tied to an IP", maxPendingContexts), text))
		return nil
	}
	p.text = rejectText(text)
	st.pending = append(st.pending, p)
	return nil
}

// mergeID records a file object's id (a sha256, or a weaker hash for a file
// filetrail knows only by it) in the hash field of its kind. An id that is
// not a hash, or that contradicts the attributes, is an error.
func mergeID(h *filetrail.Hashes, id string) error {
	var field *string
	switch filetrail.HashKindOf(id) {
	case filetrail.HashSHA256:
		field = &h.SHA256
	case filetrail.HashSHA1:
		field = &h.SHA1
	case filetrail.HashMD5:
		field = &h.MD5
	default:
		return fmt.Errorf("id %q is not a file hash", id)
	}
	switch {
	case *field == "":
		*field = id
	case !strings.EqualFold(*field, id):
		return fmt.Errorf("id %q differs from the attributes' hash %q", id, *field)
	}
	return nil
}

// flushPending emits the contexts that waited for links.self.
func (vr vtReader) flushPending(ctx context.Context, st *docState, sink Sink) error {
	pending := st.pending
	st.pending = nil
	for _, p := range pending {
		if err := vr.emitContext(ctx, st.pageIP, p, []byte(p.text), sink); err != nil {
			return err
		}
	}
	return nil
}

// emitContext turns an item's context_attributes into sightings on ip.
// When ip is the zero Addr (the page is not an IP's downloaded_files) the
// context is no evidence; an item that had nothing else is then a reject.
func (vr vtReader) emitContext(ctx context.Context, ip netip.Addr, p pendingContext, text []byte, sink Sink) error {
	if !ip.IsValid() {
		if p.descriptor {
			sink.Reject(newReject(p.line, ReasonNoAttributes, "a file descriptor outside an IP's downloaded_files page tells nothing", text))
		}
		return nil
	}
	sources := p.ctx.Sources
	if len(sources) == 0 {
		sources = []string{vr.source()}
	}
	urls := p.ctx.URLs
	if len(urls) == 0 {
		urls = []string{""}
	}
	times := []int64{p.ctx.FirstSeen}
	if p.ctx.LastSeen != p.ctx.FirstSeen {
		times = append(times, p.ctx.LastSeen)
	}
	for _, src := range sources {
		for _, u := range urls {
			for _, t := range times {
				s := filetrail.Sighting{IP: ip, URL: u, SHA256: p.hashes.SHA256, SHA1: p.hashes.SHA1, MD5: p.hashes.MD5, SeenAt: t, Source: src}
				if err := sink.Record(ctx, Record{Sighting: &s, Line: p.line, Raw: text}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// downloadedFilesIP returns the IP whose downloaded_files a page's links
// object points at (links.self path .../ip_addresses/{ip}/downloaded_files
// or .../ip_addresses/{ip}/relationships/downloaded_files), or the zero
// Addr.
func downloadedFilesIP(links json.RawMessage) netip.Addr {
	var l struct {
		Self string `json:"self"`
	}
	if json.Unmarshal(links, &l) != nil || l.Self == "" {
		return netip.Addr{}
	}
	u, err := url.Parse(l.Self)
	if err != nil {
		return netip.Addr{}
	}
	parts := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	for i := 0; i+2 < len(parts); i++ {
		if parts[i] != "ip_addresses" {
			continue
		}
		rest := parts[i+2:]
		if !(len(rest) == 1 && rest[0] == "downloaded_files") && !(len(rest) == 2 && rest[0] == "relationships" && rest[1] == "downloaded_files") {
			continue
		}
		seg, err := url.PathUnescape(parts[i+1])
		if err != nil {
			return netip.Addr{}
		}
		ip, err := filetrail.ParseIP(seg)
		if err != nil {
			return netip.Addr{}
		}
		return ip
	}
	return netip.Addr{}
}

// unmarshalField decodes fields[name] into v when present and not null.
func unmarshalField(fields map[string]json.RawMessage, name string, v any) error {
	raw := fields[name]
	if isNull(raw) {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("expected a string, got %s", rejectText(raw))
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// tokenText describes a JSON token for a message.
func tokenText(tok json.Token) string {
	switch t := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return t.String()
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// skipRest consumes tokens until the value whose opening delimiter was
// just read is closed.
func skipRest(js jsonStream) error {
	for depth := 1; depth > 0; {
		tok, err := js.token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '[', '{':
				depth++
			default:
				depth--
			}
		}
	}
	return nil
}

// firstBytesOf returns a compact JSON text of an object's members, cut to
// what a reject shows.
func firstBytesOf(fields map[string]json.RawMessage) []byte {
	b, err := json.Marshal(fields)
	if err != nil {
		return nil
	}
	if len(b) > MaxRejectText+1 {
		b = b[:MaxRejectText+1]
	}
	return b
}

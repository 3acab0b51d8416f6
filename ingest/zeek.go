package ingest

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/filetrail/filetrail"
)

// DefaultZeekSource is the source name of Zeek sightings when none is
// given.
const DefaultZeekSource = "zeek"

// zeekReader reads Zeek logs: files.log joined with http.log (and ftp.log
// for FTP data), in the TSV form (parsed by its #fields header, never by
// position: "-" is unset, "(empty)" an empty set, sets split on
// #set_separator) or the JSON form (one object per line; _path names the
// log, else the fields tell). Several logs may follow each other in one
// input (each TSV log with its own header), in any order: files.log rows
// wait for their http.log or ftp.log row, joined on the file id (fuid in
// resp_fuids, or ftp.log fuid), at most ReaderOptions.MaxPending of them,
// each for at most MaxPendingLines lines; as many http and ftp rows are
// remembered. A row pushed out of a bound, or still waiting at the end, is
// resolved without its partner. Rows of other logs (conn.log,
// ...) are ignored.
//
// A files.log row gives one sighting per sending host:
//
//   - certificates (source SSL, an X509 analyzer or an x509 MIME type) are
//     skipped as "certificate";
//   - the sender is id.resp_h when is_orig is F (modern layout) or each of
//     tx_hosts (legacy layout); is_orig T means the client sent it: an
//     "upload"; SMTP attachments are uploads too;
//   - HTTP: the joined http.log row gives the URL
//     http://host[:port]uri and the status, a status outside 2xx being an
//     "error response"; without a joined row the sighting has no URL;
//   - FTP_DATA: the joined ftp.log row must be a RETR (URL its arg, or
//     ftp://server/arg); STOR and APPE are uploads; without a joined row
//     the direction is unknown ("unknown sender");
//   - SMB: a file the server sent is a download from it, without URL;
//   - other sources are "unsupported protocol";
//   - missing_bytes > 0 or seen_bytes < total_bytes is a "partial file",
//     no md5, sha1 or sha256 "no file hash";
//   - a row whose sender is still unknown (legacy row with empty tx_hosts
//     and no joined http.log row) is skipped as "unknown sender".
//
// seen_at is the row's ts (epoch seconds, or ISO 8601 in JSON logs).
type zeekReader struct{ opts ReaderOptions }

// zeekRow is one log row, read either from TSV or from JSON.
type zeekRow interface {
	// get returns a field's value; ok is false when it is unset or absent.
	get(name string) (v string, ok bool)
	// set returns a set or vector field's members.
	set(name string) []string
	has(name string) bool
}

type tsvRow struct {
	h    *zeekHeader
	vals []string
}

func (r tsvRow) has(name string) bool { _, ok := r.h.index[name]; return ok }

func (r tsvRow) get(name string) (string, bool) {
	i, ok := r.h.index[name]
	if !ok || i >= len(r.vals) {
		return "", false
	}
	v := r.vals[i]
	if v == r.h.unset {
		return "", false
	}
	if v == r.h.empty {
		return "", true
	}
	return v, true
}

func (r tsvRow) set(name string) []string {
	v, ok := r.get(name)
	if !ok || v == "" {
		return nil
	}
	return strings.Split(v, r.h.setSep)
}

type jsonRow map[string]json.RawMessage

func (r jsonRow) has(name string) bool { _, ok := r[name]; return ok }

func (r jsonRow) get(name string) (string, bool) {
	raw, ok := r[name]
	if !ok {
		return "", false
	}
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", false
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case string(raw) == "true":
		return "T", true
	case string(raw) == "false":
		return "F", true
	case raw[0] == '[':
		return strings.Join(r.set(name), ","), true
	}
	return string(raw), true
}

func (r jsonRow) set(name string) []string {
	raw, ok := r[name]
	if !ok {
		return nil
	}
	var vs []json.RawMessage
	if json.Unmarshal(raw, &vs) != nil {
		if s, ok := r.get(name); ok && s != "" {
			return []string{s}
		}
		return nil
	}
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if s, ok := (jsonRow{"v": v}).get("v"); ok {
			out = append(out, s)
		}
	}
	return out
}

// zeekHeader is the state of a TSV log's header.
type zeekHeader struct {
	sep, setSep, empty, unset string
	path                      string
	fields                    []string
	index                     map[string]int
}

func newZeekHeader() *zeekHeader {
	return &zeekHeader{sep: "\t", setSep: ",", empty: "(empty)", unset: "-"}
}

// directive applies one header line ("#fields\tts\tuid...").
func (h *zeekHeader) directive(line string) {
	if rest, ok := strings.CutPrefix(line, "#separator "); ok {
		*h = *newZeekHeader()
		h.sep = unescapeZeek(rest)
		return
	}
	name, value, _ := strings.Cut(line[1:], h.sep)
	switch name {
	case "set_separator":
		h.setSep = value
	case "empty_field":
		h.empty = value
	case "unset_field":
		h.unset = value
	case "path":
		h.path = value
	case "fields":
		h.fields = strings.Split(value, h.sep)
		h.index = make(map[string]int, len(h.fields))
		for i, f := range h.fields {
			h.index[f] = i
		}
	}
}

// unescapeZeek decodes the \xHH escapes of a #separator value.
func unescapeZeek(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && s[i+1] == 'x' {
			if n, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// zeekLog tells which log a row belongs to: its path, else its fields.
func zeekLog(path string, r zeekRow) string {
	switch {
	case path != "":
		return path
	case r.has("fuid") && (r.has("tx_hosts") || r.has("seen_bytes") || r.has("source")):
		return "files"
	case r.has("resp_fuids") || (r.has("method") && r.has("uri")):
		return "http"
	case r.has("command") && r.has("arg"):
		return "ftp"
	}
	return ""
}

// zeekContext is what an http.log or ftp.log row tells about a file.
type zeekContext struct {
	log    string // "http" or "ftp"
	host   string
	uri    string
	server netip.Addr
	port   int
	status string
	cmd    string
}

type zeekPending struct {
	row  zeekRow
	num  int64
	line []byte
	sink Sink // of the input the row comes from
	held bool // queued, and announced to the sink as held
}

func (zr zeekReader) Read(ctx context.Context, r io.Reader, sink Sink) error {
	j := zr.newJoin()
	if err := j.feed(ctx, r, sink); err != nil {
		return j.stop(ctx, err)
	}
	return j.finish(ctx)
}

// RunZeek reads several Zeek logs of one sensor together (files.log,
// http.log and ftp.log, in any order, each with its own header) so that
// files.log rows join the http.log and ftp.log rows of the other inputs.
// Rejects name the input they come from. Like Run, it does not Flush w.
func RunZeek(ctx context.Context, w *Writer, ins []Input, opts ReaderOptions) error {
	j := zeekReader{opts: opts}.newJoin()
	for _, in := range ins {
		if err := j.feed(ctx, bufio.NewReaderSize(in.R, readBufferSize), w.Sink(in.Name)); err != nil {
			return j.stop(ctx, fmt.Errorf("%s: %w", in.Name, err))
		}
	}
	return j.finish(ctx)
}

// zeekJoin is the state of a streaming join of files.log rows with their
// http.log and ftp.log rows, across inputs.
type zeekJoin struct {
	zr       zeekReader
	contexts *fifo[string, zeekContext]
	pending  *pendingQueue[string, zeekPending]
}

func (zr zeekReader) newJoin() *zeekJoin {
	return &zeekJoin{
		zr:       zr,
		contexts: newFIFO[string, zeekContext](zr.opts.maxPending()),
		pending:  newPendingQueue[string, zeekPending](zr.opts.maxPending()),
	}
}

func (j *zeekJoin) emit(ctx context.Context, ps []zeekPending, c *zeekContext) error {
	for _, p := range ps {
		if err := j.zr.resolve(ctx, p, c, p.sink); err != nil {
			return err
		}
	}
	return nil
}

// stop ends a join on err: it resolves the waiting rows first when err
// comes from an ErrStopped cancellation, else drops them.
func (j *zeekJoin) stop(ctx context.Context, err error) error {
	if stopping(ctx, err) {
		err = errors.Join(err, j.finish(ctx))
	}
	return err
}

// finish resolves the rows still waiting, without their partner.
func (j *zeekJoin) finish(ctx context.Context) error {
	return j.emit(ctx, j.pending.drain(), nil)
}

// feed reads one input (one or more logs, each with its header).
func (j *zeekJoin) feed(ctx context.Context, r io.Reader, sink Sink) error {
	zr := j.zr
	h := newZeekHeader()
	return eachLine(ctx, r, zr.opts, sink, func(line []byte, num int64) error {
		if err := j.emit(ctx, j.pending.expire(num-zr.opts.maxPendingLines()), nil); err != nil {
			return err
		}
		var row zeekRow
		path := ""
		switch {
		case line[0] == '#':
			h.directive(string(line))
			return nil
		case bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")):
			var m jsonRow
			if err := json.Unmarshal(line, &m); err != nil {
				sink.Reject(lineJSONReject(num, err, line))
				return nil
			}
			row = m
			path, _ = m.get("_path")
		default:
			if h.fields == nil {
				sink.Reject(newReject(num, "TSV row before its #fields header", "a Zeek TSV log starts with its #separator and #fields header lines", line))
				return nil
			}
			vals := strings.Split(string(line), h.sep)
			if len(vals) != len(h.fields) {
				sink.Reject(newReject(num, "wrong number of fields", fmt.Sprintf("%d fields where #fields names %d", len(vals), len(h.fields)), line))
				return nil
			}
			row = tsvRow{h: h, vals: vals}
			path = h.path
		}
		switch zeekLog(path, row) {
		case "files":
			src, _ := row.get("source")
			fuid, _ := row.get("fuid")
			p := zeekPending{row: row, num: num, line: line, sink: sink}
			if fuid == "" || (src != "HTTP" && src != "FTP_DATA") {
				return zr.resolve(ctx, p, nil, sink)
			}
			if c, ok := j.contexts.get(fuid); ok {
				return zr.resolve(ctx, p, &c, sink)
			}
			if zr.opts.MaxPendingLines < 0 {
				return zr.resolve(ctx, p, nil, sink)
			}
			p.line = bytes.Clone(line)
			p.held = true
			hold(sink, num)
			if t, ok := row.(tsvRow); ok {
				hc := *t.h // the header may change before the row is resolved
				t.h = &hc
				p.row = t
			}
			return j.emit(ctx, j.pending.add(fuid, p, num), nil)
		case "http":
			c := zeekContext{log: "http", server: parseAddr(first(row.get("id.resp_h")))}
			c.host, _ = row.get("host")
			c.uri, _ = row.get("uri")
			c.status, _ = row.get("status_code")
			c.port, _ = strconv.Atoi(first(row.get("id.resp_p")))
			for _, fuid := range row.set("resp_fuids") {
				j.contexts.put(fuid, c)
				if err := j.emit(ctx, j.pending.take(fuid), &c); err != nil {
					return err
				}
			}
		case "ftp":
			fuid, ok := row.get("fuid")
			if !ok || fuid == "" {
				return nil
			}
			c := zeekContext{log: "ftp", server: parseAddr(first(row.get("id.resp_h")))}
			c.cmd, _ = row.get("command")
			c.uri, _ = row.get("arg")
			j.contexts.put(fuid, c)
			return j.emit(ctx, j.pending.take(fuid), &c)
		}
		return nil
	})
}

func first(s string, _ bool) string { return s }

// resolve turns a files.log row into sightings or a skip; c is its joined
// http.log or ftp.log row, or nil.
func (zr zeekReader) resolve(ctx context.Context, p zeekPending, c *zeekContext, sink Sink) error {
	if p.held {
		defer release(sink, p.num) // after the records reached the sink
	}
	row := p.row
	skipped := func(reason, detail string) error {
		sink.Reject(skip(p.num, reason, detail, p.line))
		return nil
	}
	src, _ := row.get("source")
	mime, _ := row.get("mime_type")
	if src == "SSL" || slices.Contains(row.set("analyzers"), "X509") || strings.Contains(mime, "x509") {
		return skipped(SkipCertificate, "file from source "+src)
	}
	var senders []netip.Addr
	isOrig, _ := row.get("is_orig")
	switch {
	case isOrig == "T":
		return skipped(SkipUpload, "file sent by the connection's originator")
	case src == "SMTP":
		return skipped(SkipUpload, "SMTP attachment")
	case row.has("tx_hosts"):
		for _, h := range row.set("tx_hosts") {
			ip := parseAddr(h)
			if !ip.IsValid() {
				sink.Reject(newReject(p.num, ReasonBadIP, fmt.Sprintf("tx_hosts member %q is not an address", h), p.line))
				return nil
			}
			senders = append(senders, ip)
		}
	case isOrig == "F":
		h, _ := row.get("id.resp_h")
		ip := parseAddr(h)
		if !ip.IsValid() {
			sink.Reject(newReject(p.num, ReasonBadIP, fmt.Sprintf("id.resp_h %q is not an address", h), p.line))
			return nil
		}
		senders = []netip.Addr{ip}
	}
	url := ""
	switch src {
	case "HTTP":
		if c != nil && c.log == "http" {
			if st, err := strconv.Atoi(c.status); err == nil && (st < 200 || st > 299) {
				return skipped(SkipErrorResponse, fmt.Sprintf("HTTP status %d", st))
			}
			url = downloadURL("http", c.host, c.server, c.port, c.uri)
		}
	case "FTP_DATA":
		if c == nil || c.log != "ftp" {
			return skipped(SkipUnknownSender, "FTP data without its ftp.log command")
		}
		switch cmd := strings.ToUpper(c.cmd); cmd {
		case "RETR":
			url = downloadURL("ftp", "", c.server, 0, c.uri)
		case "STOR", "APPE", "STOU":
			return skipped(SkipUpload, "FTP "+cmd)
		default:
			return skipped(SkipUnknownSender, fmt.Sprintf("FTP data of command %q", c.cmd))
		}
	case "SMB":
	default:
		return skipped(SkipUnsupported, fmt.Sprintf("file from source %q", src))
	}
	seen, _ := strconv.ParseInt(first(row.get("seen_bytes")), 10, 64)
	missing, _ := strconv.ParseInt(first(row.get("missing_bytes")), 10, 64)
	total, hasTotal := row.get("total_bytes")
	totalN, _ := strconv.ParseInt(total, 10, 64)
	if missing > 0 || (hasTotal && total != "" && seen < totalN) {
		return skipped(SkipPartial, fmt.Sprintf("seen %d of %s bytes, %d missing", seen, cmp.Or(total, "?"), missing))
	}
	md5, _ := row.get("md5")
	sha1, _ := row.get("sha1")
	sha256, _ := row.get("sha256")
	if !hasHash(md5, sha1, sha256) {
		return skipped(SkipNoHash, "files.log row without md5, sha1 or sha256")
	}
	if len(senders) == 0 && isOrig == "F" && c != nil && c.server.IsValid() {
		senders = []netip.Addr{c.server} // the responder of the joined row
	}
	if len(senders) == 0 {
		return skipped(SkipUnknownSender, "neither is_orig nor tx_hosts names the sender")
	}
	ts, _ := row.get("ts")
	t, err := parseZeekTime(ts)
	if err != nil {
		sink.Reject(newReject(p.num, ReasonBadSeenAt, err.Error(), p.line))
		return nil
	}
	name, _ := row.get("filename")
	for _, ip := range senders {
		s := filetrail.Sighting{
			IP: ip, URL: url, SHA256: sha256, SHA1: sha1, MD5: md5,
			Size: max(seen, 0), FileName: name, MIME: mime, SeenAt: t,
			Source: zr.opts.sourceOr(DefaultZeekSource),
		}
		if err := sink.Record(ctx, Record{Sighting: &s, Line: p.num, Raw: p.line}); err != nil {
			return err
		}
	}
	return nil
}

// parseZeekTime reads ts: epoch seconds with a fraction, or ISO 8601.
func parseZeekTime(s string) (int64, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 && f < 1e12 {
		return int64(f), nil
	}
	if t, err := parseLogTime(s); err == nil {
		return t, nil
	}
	return 0, fmt.Errorf("ts %q is neither epoch seconds nor an ISO 8601 time", s)
}

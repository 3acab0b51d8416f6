package ingest

import (
	"bytes"
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

// DefaultSuricataSource is the source name of Suricata sightings when none
// is given.
const DefaultSuricataSource = "suricata"

// suricataReader reads Suricata EVE JSON (one event per line). Only
// fileinfo events give records; http events are remembered to join them;
// every other event type is ignored without being counted (nor decoded:
// a broken line of another event type is not reported).
//
// A fileinfo event gives a sighting of a download when its sender is the
// server:
//
//   - HTTP: the server is the dest_ip of the http event with the same
//     flow_id and tx_id (http events are logged client to server); without
//     one, the endpoint on the HTTP port (http.http_port, else a well-known
//     HTTP port). Since Suricata 4.1 the fileinfo src_ip is the file's
//     sender, so a file whose src_ip is not the server is an upload. With
//     ReaderOptions.SuricataPre41 the addresses say nothing of direction:
//     a file of a GET or HEAD transaction is the response, hence a
//     download; a file of another method is skipped as "unknown sender".
//     A response status outside 2xx is skipped ("error response"). URL:
//     http.url when absolute, else http://hostname[:port]url.
//   - FTP data: RETR is a download from src_ip (4.1 and later), URL
//     ftp://src_ip/filename; STOR and APPE are uploads.
//   - SMB (port 445 or 139) and NFS (port 2049): a file sent by the file
//     server (src_ip, 4.1 and later) is a download, URL
//     smb://server/share/path or nfs://server/path; one sent to it is an
//     upload.
//   - SMTP attachments are uploads; other protocols are skipped as
//     "unsupported protocol"; before 4.1 non-HTTP files are "unknown
//     sender".
//
// Then a file whose state is not CLOSED or that has gaps is skipped as
// "partial file" and one without md5, sha1 or sha256 as "no file hash".
// The join holds at most ReaderOptions.MaxPending fileinfo events waiting
// for their http event, each for at most MaxPendingLines lines, and
// remembers as many http events; a fileinfo still waiting at the end (or
// pushed out by either bound) uses the port rule. When ctx ends the
// waiting events are dropped (Follow reads them again from its
// checkpoint), unless it ends with ErrStopped.
type suricataReader struct{ opts ReaderOptions }

type eveEvent struct {
	Timestamp string          `json:"timestamp"`
	FlowID    json.Number     `json:"flow_id"`
	EventType string          `json:"event_type"`
	SrcIP     string          `json:"src_ip"`
	SrcPort   int             `json:"src_port"`
	DestIP    string          `json:"dest_ip"`
	DestPort  int             `json:"dest_port"`
	AppProto  string          `json:"app_proto"`
	TxID      *json.Number    `json:"tx_id"`
	HTTP      *eveHTTP        `json:"http"`
	FileInfo  *eveFileInfo    `json:"fileinfo"`
	FTPData   *eveFTPData     `json:"ftp_data"`
	SMB       *eveSMB         `json:"smb"`
	NFS       json.RawMessage `json:"nfs"`
	SMTP      json.RawMessage `json:"smtp"`
	Email     json.RawMessage `json:"email"`
}

type eveHTTP struct {
	Hostname    string          `json:"hostname"`
	Port        int             `json:"http_port"`
	URL         string          `json:"url"`
	Method      string          `json:"http_method"`
	Status      json.RawMessage `json:"status"` // a number; a string in old versions
	ContentType string          `json:"http_content_type"`
}

type eveFileInfo struct {
	Filename string       `json:"filename"`
	Gaps     bool         `json:"gaps"`
	State    string       `json:"state"`
	MD5      string       `json:"md5"`
	SHA1     string       `json:"sha1"`
	SHA256   string       `json:"sha256"`
	Size     int64        `json:"size"`
	TxID     *json.Number `json:"tx_id"`
}

type eveFTPData struct {
	Command  string `json:"command"`
	Filename string `json:"filename"`
}

type eveSMB struct {
	Share    string `json:"share"`
	Filename string `json:"filename"`
}

// eveKey identifies a transaction: flow_id and tx_id.
type eveKey struct{ flow, tx string }

// eveServer is what an http event tells about its transaction.
type eveServer struct {
	ip   netip.Addr
	port int
}

// pendingFile is a fileinfo event waiting for its http event.
type pendingFile struct {
	ev   eveEvent
	num  int64
	line []byte
	held bool // queued, and announced to the sink as held
}

func (sr suricataReader) Read(ctx context.Context, r io.Reader, sink Sink) error {
	servers := newFIFO[eveKey, eveServer](sr.opts.maxPending())
	pending := newPendingQueue[eveKey, pendingFile](sr.opts.maxPending())
	emit := func(files []pendingFile, srv *eveServer) error {
		for _, f := range files {
			if err := sr.resolve(ctx, f, srv, sink); err != nil {
				return err
			}
		}
		return nil
	}
	err := eachLine(ctx, r, sr.opts, sink, func(line []byte, num int64) error {
		if err := emit(pending.expire(num-sr.opts.maxPendingLines()), nil); err != nil {
			return err
		}
		if t := bytes.TrimSpace(line); t[0] != '{' {
			sink.Reject(newReject(num, ReasonNotObject, "an EVE line must be a JSON object", line))
			return nil
		}
		if et, ok := eventTypeOf(line); ok && et != "fileinfo" && et != "http" {
			return nil // not a file event: not decoded (nor checked)
		}
		var ev eveEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			sink.Reject(lineJSONReject(num, err, line))
			return nil
		}
		switch ev.EventType {
		case "http":
			if ev.TxID == nil || ev.FlowID == "" {
				return nil
			}
			k := eveKey{string(ev.FlowID), string(*ev.TxID)}
			srv := eveServer{ip: parseAddr(ev.DestIP), port: ev.DestPort}
			servers.put(k, srv)
			return emit(pending.take(k), &srv)
		case "fileinfo":
			f := pendingFile{ev: ev, num: num, line: line}
			if !ev.isHTTP() || ev.FlowID == "" || ev.txID() == "" {
				return sr.resolve(ctx, f, nil, sink)
			}
			k := eveKey{string(ev.FlowID), ev.txID()}
			if srv, ok := servers.get(k); ok {
				return sr.resolve(ctx, f, &srv, sink)
			}
			if sr.opts.MaxPendingLines < 0 {
				return sr.resolve(ctx, f, nil, sink)
			}
			f.line = bytes.Clone(line)
			f.held = true
			hold(sink, num)
			return emit(pending.add(k, f, num), nil)
		}
		return nil
	})
	if err != nil {
		if stopping(ctx, err) {
			err = errors.Join(err, emit(pending.drain(), nil))
		}
		return err
	}
	return emit(pending.drain(), nil)
}

// eventTypeOf finds the event_type of an EVE line without decoding it; ok
// is false when the line does not show one plainly.
func eventTypeOf(line []byte) (string, bool) {
	i := bytes.Index(line, []byte(`"event_type"`))
	if i < 0 {
		return "", false
	}
	rest := bytes.TrimLeft(line[i+len(`"event_type"`):], " \t")
	if len(rest) == 0 || rest[0] != ':' {
		return "", false
	}
	rest = bytes.TrimLeft(rest[1:], " \t")
	if len(rest) == 0 || rest[0] != '"' {
		return "", false
	}
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 || bytes.IndexByte(rest[1:end+1], '\\') >= 0 {
		return "", false
	}
	return string(rest[1 : end+1]), true
}

func (ev *eveEvent) isHTTP() bool {
	return ev.HTTP != nil || strings.HasPrefix(ev.AppProto, "http")
}

// txID is the fileinfo's transaction: fileinfo.tx_id, else the event's.
func (ev *eveEvent) txID() string {
	if ev.FileInfo != nil && ev.FileInfo.TxID != nil {
		return string(*ev.FileInfo.TxID)
	}
	if ev.TxID != nil {
		return string(*ev.TxID)
	}
	return ""
}

// httpPorts are the ports taken for an HTTP server when no http event says
// which endpoint the server is.
var httpPorts = []int{80, 8080, 8000, 8008, 8081, 8888, 3128, 591}

// resolve turns a fileinfo event into a sighting or a skip. srv is the
// server its http event names, or nil.
func (sr suricataReader) resolve(ctx context.Context, f pendingFile, srv *eveServer, sink Sink) error {
	if f.held {
		defer release(sink, f.num) // after the record reached the sink
	}
	ev, fi := f.ev, f.ev.FileInfo
	skipped := func(reason, detail string) error {
		sink.Reject(skip(f.num, reason, detail, f.line))
		return nil
	}
	if fi == nil {
		return skipped(SkipNoHash, "fileinfo event without a fileinfo object")
	}
	src, dst := parseAddr(ev.SrcIP), parseAddr(ev.DestIP)
	if !src.IsValid() || !dst.IsValid() {
		sink.Reject(newReject(f.num, ReasonBadIP, fmt.Sprintf("src_ip %q or dest_ip %q is not an address", ev.SrcIP, ev.DestIP), f.line))
		return nil
	}
	s := filetrail.Sighting{
		SHA256: fi.SHA256, SHA1: fi.SHA1, MD5: fi.MD5,
		Size:   max(fi.Size, 0),
		Source: sr.opts.sourceOr(DefaultSuricataSource),
	}
	switch {
	case ev.isHTTP():
		h := ev.HTTP
		if h == nil {
			h = &eveHTTP{}
		}
		var server netip.Addr
		var port int
		switch {
		case srv != nil && srv.ip.IsValid():
			server, port = srv.ip, srv.port
		case h.Port > 0 && (ev.SrcPort == h.Port) != (ev.DestPort == h.Port):
			server, port = endpointOnPort(ev, src, dst, h.Port)
		case slices.Contains(httpPorts, ev.SrcPort) != slices.Contains(httpPorts, ev.DestPort):
			if slices.Contains(httpPorts, ev.SrcPort) {
				server, port = src, ev.SrcPort
			} else {
				server, port = dst, ev.DestPort
			}
		default:
			return skipped(SkipUnknownSender, fmt.Sprintf("no http event and neither %s nor %s is on an HTTP port", joinHostPort(src, ev.SrcPort), joinHostPort(dst, ev.DestPort)))
		}
		if sr.opts.SuricataPre41 {
			if m := strings.ToUpper(h.Method); m != "GET" && m != "HEAD" {
				return skipped(SkipUnknownSender, fmt.Sprintf("file of a %s transaction in a pre-4.1 log: request or response body cannot be told", h.Method))
			}
		} else if src != server {
			return skipped(SkipUpload, fmt.Sprintf("file sent by the client %s to the server %s", src, server))
		}
		if st, ok := httpStatus(h.Status); ok && (st < 200 || st > 299) {
			return skipped(SkipErrorResponse, fmt.Sprintf("HTTP status %d", st))
		}
		if h.Port > 0 {
			port = h.Port
		}
		s.IP = server
		s.URL = downloadURL("http", h.Hostname, server, port, h.URL)
		s.MIME = h.ContentType
		s.FileName = lastSegment(fi.Filename, '/')
	case ev.FTPData != nil || ev.AppProto == "ftp-data":
		cmd, name := "", fi.Filename
		if ev.FTPData != nil {
			cmd = strings.ToUpper(ev.FTPData.Command)
			if ev.FTPData.Filename != "" {
				name = ev.FTPData.Filename
			}
		}
		switch {
		case cmd == "STOR" || cmd == "APPE" || cmd == "STOU":
			return skipped(SkipUpload, "FTP "+cmd)
		case cmd != "RETR":
			return skipped(SkipUnknownSender, fmt.Sprintf("FTP data without a RETR command (%q)", cmd))
		case sr.opts.SuricataPre41:
			return skipped(SkipUnknownSender, "FTP data in a pre-4.1 log: the sender is not known")
		}
		s.IP = src
		s.URL = downloadURL("ftp", "", src, 0, name)
		s.FileName = lastSegment(name, '/')
	case ev.SMB != nil || ev.AppProto == "smb" || ev.NFS != nil || ev.AppProto == "nfs":
		scheme, ports := "smb", []int{445, 139}
		if ev.NFS != nil || ev.AppProto == "nfs" {
			scheme, ports = "nfs", []int{2049}
		}
		if sr.opts.SuricataPre41 {
			return skipped(SkipUnknownSender, strings.ToUpper(scheme)+" file in a pre-4.1 log: the sender is not known")
		}
		var server netip.Addr
		switch {
		case slices.Contains(ports, ev.SrcPort) && !slices.Contains(ports, ev.DestPort):
			server = src
		case slices.Contains(ports, ev.DestPort) && !slices.Contains(ports, ev.SrcPort):
			server = dst
		default:
			return skipped(SkipUnknownSender, fmt.Sprintf("neither %s nor %s is on a %s port", joinHostPort(src, ev.SrcPort), joinHostPort(dst, ev.DestPort), scheme))
		}
		if src != server {
			return skipped(SkipUpload, fmt.Sprintf("file written by the client %s to the file server %s", src, server))
		}
		s.IP = server
		name := strings.ReplaceAll(fi.Filename, `\`, "/")
		if ev.SMB != nil && ev.SMB.Filename != "" {
			name = strings.ReplaceAll(ev.SMB.Filename, `\`, "/")
		}
		s.FileName = lastSegment(name, '/')
		if scheme == "nfs" {
			s.URL = downloadURL("nfs", "", server, 0, name)
		} else if ev.SMB != nil && ev.SMB.Share != "" {
			share := lastSegment(strings.ReplaceAll(ev.SMB.Share, `\`, "/"), '/')
			s.URL = downloadURL("smb", "", server, 0, "/"+share+"/"+strings.TrimLeft(name, "/"))
		}
	case ev.SMTP != nil || ev.Email != nil || ev.AppProto == "smtp":
		return skipped(SkipUpload, "SMTP attachment")
	default:
		return skipped(SkipUnsupported, fmt.Sprintf("file over %q", ev.AppProto))
	}
	if fi.State != "" && fi.State != "CLOSED" || fi.Gaps {
		return skipped(SkipPartial, fmt.Sprintf("state %s, gaps %t", fi.State, fi.Gaps))
	}
	if !hasHash(s.SHA256, s.SHA1, s.MD5) {
		return skipped(SkipNoHash, "fileinfo without md5, sha1 or sha256")
	}
	t, err := parseLogTime(ev.Timestamp)
	if err != nil {
		sink.Reject(newReject(f.num, ReasonBadSeenAt, err.Error(), f.line))
		return nil
	}
	s.SeenAt = t
	return sink.Record(ctx, Record{Sighting: &s, Line: f.num, Raw: f.line})
}

// endpointOnPort returns the endpoint of ev on port.
func endpointOnPort(ev eveEvent, src, dst netip.Addr, port int) (netip.Addr, int) {
	if ev.SrcPort == port {
		return src, port
	}
	return dst, port
}

// httpStatus reads an EVE http status: a number, or a string in old
// versions.
func httpStatus(raw json.RawMessage) (int, bool) {
	raw = bytes.Trim(bytes.TrimSpace(raw), `"`)
	if len(raw) == 0 {
		return 0, false
	}
	n, err := strconv.Atoi(string(raw))
	return n, err == nil
}

// lastSegment is what follows the last sep in s.
func lastSegment(s string, sep byte) string {
	if i := strings.LastIndexByte(s, sep); i >= 0 {
		return s[i+1:]
	}
	return s
}

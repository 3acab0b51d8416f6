package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"

	"github.com/filetrail/filetrail"
)

// DefaultCowrieSource is the source name of Cowrie sightings when none is
// given.
const DefaultCowrieSource = "cowrie"

// cowrieReader reads Cowrie honeypot JSON logs (one event per line).
// A cowrie.session.file_download event whose url is an absolute URL gives
// one sighting: the file (sha256 = shasum) was served at url. The server
// is the URL's host when it is an IP literal, even when it equals the
// attacker's src_ip; when it is a name the sighting has no server IP. The
// event's src_ip (the attacker) and dst_ip (the honeypot) are never used.
// Downloads without an absolute URL (stdin or redirect captures) are
// skipped as "no download URL", file_download.failed events as "failed
// download", file_upload events (files the attacker pushed) as "upload".
// Other events are ignored without being counted.
type cowrieReader struct{ opts ReaderOptions }

type cowrieEvent struct {
	EventID   string `json:"eventid"`
	Timestamp string `json:"timestamp"`
	URL       string `json:"url"`
	Shasum    string `json:"shasum"`
	Destfile  string `json:"destfile"`
}

func (cr cowrieReader) Read(ctx context.Context, r io.Reader, sink Sink) error {
	return eachLine(ctx, r, cr.opts, sink, func(line []byte, num int64) error {
		if t := bytes.TrimSpace(line); t[0] != '{' {
			sink.Reject(newReject(num, ReasonNotObject, "a Cowrie log line must be a JSON object", line))
			return nil
		}
		var ev cowrieEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			sink.Reject(lineJSONReject(num, err, line))
			return nil
		}
		switch ev.EventID {
		case "cowrie.session.file_download":
		case "cowrie.session.file_download.failed":
			sink.Reject(skip(num, SkipFailed, "download failed: "+ev.URL, line))
			return nil
		case "cowrie.session.file_upload":
			sink.Reject(skip(num, SkipUpload, "file pushed by the attacker", line))
			return nil
		default:
			return nil
		}
		u, err := url.Parse(ev.URL)
		if ev.URL == "" || err != nil || !u.IsAbs() || u.Host == "" {
			sink.Reject(skip(num, SkipNoURL, fmt.Sprintf("url %q is not an absolute URL", ev.URL), line))
			return nil
		}
		if ev.Shasum == "" {
			sink.Reject(skip(num, SkipNoHash, "file_download without shasum", line))
			return nil
		}
		t, err := parseLogTime(ev.Timestamp)
		if err != nil {
			sink.Reject(newReject(num, ReasonBadSeenAt, err.Error(), line))
			return nil
		}
		s := filetrail.Sighting{
			IP:       urlHostIP(ev.URL),
			URL:      ev.URL,
			SHA256:   ev.Shasum,
			FileName: urlPathName(ev.URL),
			SeenAt:   t,
			Source:   cr.opts.sourceOr(DefaultCowrieSource),
		}
		return sink.Record(ctx, Record{Sighting: &s, Line: num, Raw: line})
	})
}

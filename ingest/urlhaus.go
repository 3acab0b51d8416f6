package ingest

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"time"

	"github.com/filetrail/filetrail"
)

// DefaultURLhausSource is the source name of URLhaus sightings when none
// is given.
const DefaultURLhausSource = "urlhaus"

// urlhausReader reads the abuse.ch URLhaus payload dump: CSV rows
// "firstseen","url","filetype","md5","sha256","signature", firstseen in UTC
// ("2006-01-02 15:04:05"), after comment lines starting with '#' (the dump
// names its columns in one). An unquoted header row is skipped too. Each
// row gives one sighting of the payload at url; the server is the URL's
// host when it is an IP literal, else the sighting has no server IP. A row
// without md5 or sha256 is skipped as "no file hash".
type urlhausReader struct{ opts ReaderOptions }

// urlhausHeader is the dump's column list.
const urlhausHeader = "firstseen,url,filetype,md5,sha256,signature"

func (ur urlhausReader) Read(ctx context.Context, r io.Reader, sink Sink) error {
	return eachLine(ctx, r, ur.opts, sink, func(line []byte, num int64) error {
		t := bytes.TrimSpace(line)
		if t[0] == '#' || string(t) == urlhausHeader {
			return nil
		}
		cr := csv.NewReader(bytes.NewReader(t))
		cr.FieldsPerRecord = 6
		rec, err := cr.Read()
		if err != nil {
			sink.Reject(newReject(num, "malformed CSV row", fmt.Sprintf("want the 6 columns %s: %v", urlhausHeader, err), line))
			return nil
		}
		firstseen, u, md5, sha256 := rec[0], rec[1], rec[3], rec[4]
		if !hasHash(md5, sha256) {
			sink.Reject(skip(num, SkipNoHash, "payload row without md5 or sha256", line))
			return nil
		}
		ts, err := time.Parse(time.DateTime, firstseen)
		if err != nil {
			sink.Reject(newReject(num, ReasonBadSeenAt, fmt.Sprintf("firstseen %q is not a 2006-01-02 15:04:05 time", firstseen), line))
			return nil
		}
		s := filetrail.Sighting{
			IP:       urlHostIP(u),
			URL:      u,
			MD5:      md5,
			SHA256:   sha256,
			FileName: urlPathName(u),
			SeenAt:   ts.Unix(),
			Source:   ur.opts.sourceOr(DefaultURLhausSource),
		}
		return sink.Record(ctx, Record{Sighting: &s, Line: num, Raw: line})
	})
}

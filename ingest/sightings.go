package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/filetrail/filetrail"
)

// sightingsReader reads filetrail's native sighting format: NDJSON, one
// object per line:
//
//	{"ip": "203.0.113.7", "url": "http://example.test/a.exe",
//	 "sha256": "...", "sha1": "...", "md5": "...", "size": 1234,
//	 "filename": "a.exe", "mime": "application/x-dosexec",
//	 "seen_at": 1379288687, "source": "zeek"}
//
// seen_at is Unix seconds (a number; a fraction is truncated) or an RFC 3339
// string. At least one hash is required. ip is optional: a line without it
// is a sighting without a server address (evidence about the file, no
// edge); an ip that is not an address is a reject. A line's source
// overrides ReaderOptions.Source. Blank lines are skipped; unknown fields
// are ignored.
type sightingsReader struct{ opts ReaderOptions }

// sightingLine is one line of the native format.
type sightingLine struct {
	IP       *string         `json:"ip"`
	URL      string          `json:"url"`
	SHA256   string          `json:"sha256"`
	SHA1     string          `json:"sha1"`
	MD5      string          `json:"md5"`
	Size     int64           `json:"size"`
	FileName string          `json:"filename"`
	MIME     string          `json:"mime"`
	SeenAt   json.RawMessage `json:"seen_at"`
	Source   string          `json:"source"`
}

func (sr sightingsReader) Read(ctx context.Context, r io.Reader, sink Sink) error {
	var dec sightingDecoder
	return eachLine(ctx, r, sr.opts, sink, func(line []byte, num int64) error {
		s, rej := sr.parse(&dec, line)
		if rej != nil {
			rej.Line = num
			rej.Text = rejectText(line)
			rej.Raw = line
			sink.Reject(*rej)
			return nil
		}
		return sink.Record(ctx, Record{Sighting: &s, Line: num, Raw: line})
	})
}

// parse decodes one non-blank line with dec. The returned reject has only
// its Reason and Detail set.
func (sr sightingsReader) parse(dec *sightingDecoder, line []byte) (filetrail.Sighting, *Reject) {
	if t := bytes.TrimSpace(line); t[0] != '{' {
		return filetrail.Sighting{}, &Reject{Reason: ReasonNotObject, Detail: "a sighting line must be a JSON object"}
	}
	in, err := dec.decode(line)
	if err != nil {
		return filetrail.Sighting{}, jsonReject(err)
	}
	s := filetrail.Sighting{
		URL:      in.URL,
		SHA256:   in.SHA256,
		SHA1:     in.SHA1,
		MD5:      in.MD5,
		Size:     in.Size,
		FileName: in.FileName,
		MIME:     in.MIME,
		Source:   in.Source,
	}
	if s.Source == "" {
		s.Source = sr.opts.Source
	}
	if in.IP != nil && *in.IP != "" {
		ip, err := filetrail.ParseIP(*in.IP)
		if err != nil {
			return s, &Reject{Reason: ReasonBadIP, Detail: filetrail.ErrorMessage(err)}
		}
		s.IP = ip
	}
	t, err := parseSeenAt(in.SeenAt)
	if err != nil {
		return s, &Reject{Reason: ReasonBadSeenAt, Detail: err.Error()}
	}
	s.SeenAt = t
	return s, nil
}

// jsonReject describes a JSON decoding error: a syntax error or a field of
// the wrong type.
func jsonReject(err error) *Reject {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return &Reject{Reason: ReasonNotObject, Detail: fmt.Sprintf("expected a JSON object, got %s", te.Value)}
		}
		return &Reject{Reason: ReasonBadField, Detail: fmt.Sprintf("%s: expected %s, got %s", te.Field, jsonTypeName(te.Type.Kind().String()), te.Value)}
	}
	return &Reject{Reason: ReasonMalformedJSON, Detail: err.Error()}
}

// lineJSONReject is the reject of input line num, whose JSON did not decode
// with err (see jsonReject).
func lineJSONReject(num int64, err error, line []byte) Reject {
	r := jsonReject(err)
	return newReject(num, r.Reason, r.Detail, line)
}

func jsonTypeName(kind string) string {
	switch kind {
	case "int64", "int", "float64":
		return "a number"
	case "string", "ptr":
		return "a string"
	case "struct", "map":
		return "an object"
	case "slice":
		return "an array"
	}
	return kind
}

// parseSeenAt reads seen_at: Unix seconds as a JSON number (a fraction is
// truncated) or an RFC 3339 string. A missing value gives 0, which
// validation rejects.
func parseSeenAt(raw json.RawMessage) (int64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, errors.New("seen_at is missing")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("seen_at: %v", err)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, fmt.Errorf("seen_at %q is neither Unix seconds nor an RFC 3339 time", s)
		}
		return t.Unix(), nil
	}
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0, fmt.Errorf("seen_at %s is neither Unix seconds nor an RFC 3339 time", rejectText(raw))
	}
	return int64(f), nil
}

package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// Format is one input format: its name, how to recognise it, and its
// reader. Adding a format is adding an entry to the formats table.
type Format struct {
	// Name is what --format names the format by.
	Name string
	// Description is a one-line explanation for help texts.
	Description string
	// Detect reports whether head, the first bytes of an input (at most
	// DetectBytes, leading white space removed, possibly cut in the middle
	// of a line), looks like this format.
	Detect func(head []byte) bool
	// NewReader returns a reader of the format.
	NewReader func(ReaderOptions) Reader
}

// DetectBytes is how much of an input format detection looks at.
const DetectBytes = readBufferSize

// AutoFormat is the format name that asks for detection.
const AutoFormat = "auto"

// formats are the known formats, in detection order: a more specific format
// must come before a more general one that could also match its head.
var formats = []Format{
	{
		Name:        "vt",
		Description: "VirusTotal API v3 file reports: a GET /files/{id} body, a bare file object or a page, as one JSON document or NDJSON",
		Detect:      detectVT,
		NewReader:   func(o ReaderOptions) Reader { return vtReader{opts: o} },
	},
	{
		Name:        "suricata",
		Description: "Suricata EVE JSON: fileinfo events joined to http events (flow_id, tx_id)",
		Detect:      detectSuricata,
		NewReader:   func(o ReaderOptions) Reader { return suricataReader{opts: o} },
	},
	{
		Name:        "zeek",
		Description: "Zeek files.log with http.log and ftp.log, TSV or JSON, legacy or modern layout",
		Detect:      detectZeek,
		NewReader:   func(o ReaderOptions) Reader { return zeekReader{opts: o} },
	},
	{
		Name:        "cowrie",
		Description: "Cowrie honeypot JSON: cowrie.session.file_download events",
		Detect:      detectCowrie,
		NewReader:   func(o ReaderOptions) Reader { return cowrieReader{opts: o} },
	},
	{
		Name:        "urlhaus",
		Description: "abuse.ch URLhaus payload dump CSV: firstseen,url,filetype,md5,sha256,signature",
		Detect:      detectURLhaus,
		NewReader:   func(o ReaderOptions) Reader { return urlhausReader{opts: o} },
	},
	{
		Name:        "sightings",
		Description: "filetrail native sightings: NDJSON {ip, url, sha256, sha1, md5, size, filename, mime, seen_at, source}",
		Detect:      detectSightings,
		NewReader:   func(o ReaderOptions) Reader { return sightingsReader{opts: o} },
	},
}

// RegisterFormat adds a format defined outside this package, after the
// built-in ones (the command wires the samples format this way, so that
// ingest does not depend on the analyser). Call it before any other
// function of the package, e.g. from an init function; a format whose
// Detect always answers false is used only when named.
func RegisterFormat(f Format) { formats = append(formats, f) }

// Formats returns the names of the known formats, in detection order.
func Formats() []string {
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = f.Name
	}
	return names
}

// LookupFormat returns the format with that name.
func LookupFormat(name string) (Format, error) {
	for _, f := range formats {
		if f.Name == name {
			return f, nil
		}
	}
	return Format{}, fmt.Errorf("unknown format %q (known: %s, %s)", name, AutoFormat, strings.Join(Formats(), ", "))
}

// ErrUnknownFormat is returned (wrapped) when detection recognises no
// format.
var ErrUnknownFormat = errors.New("cannot tell the input format")

// DetectFormat returns the first format whose Detect accepts head.
func DetectFormat(head []byte) (Format, error) {
	head = bytes.TrimLeft(head, " \t\r\n\ufeff")
	for _, f := range formats {
		if f.Detect(head) {
			return f, nil
		}
	}
	return Format{}, fmt.Errorf("%w from its first bytes %q (known formats: %s)", ErrUnknownFormat, rejectText(head[:min(len(head), 40)]), strings.Join(Formats(), ", "))
}

// vtKeys are top-level members only VT documents and objects have.
var vtKeys = []string{"data", "type", "attributes", "context_attributes", "relationships", "error", "links", "meta"}

func detectVT(head []byte) bool {
	return hasAnyKey(firstObjectKeys(head), vtKeys)
}

// hasKeys reports whether keys hold every one of want.
func hasKeys(keys []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(keys, w) {
			return false
		}
	}
	return true
}

// hasAnyKey reports whether keys hold at least one of want.
func hasAnyKey(keys, want []string) bool {
	return slices.ContainsFunc(keys, func(k string) bool { return slices.Contains(want, k) })
}

func detectSuricata(head []byte) bool {
	return hasKeys(firstObjectKeys(head), "timestamp", "event_type")
}

// zeekJSONKeys are fields of which Zeek JSON logs carry one besides ts.
var zeekJSONKeys = []string{"_path", "uid", "fuid", "id.orig_h", "tx_hosts"}

func detectZeek(head []byte) bool {
	if bytes.HasPrefix(head, []byte("#separator")) || bytes.HasPrefix(head, []byte("#fields")) {
		return true
	}
	keys := firstObjectKeys(head)
	return slices.Contains(keys, "ts") && hasAnyKey(keys, zeekJSONKeys)
}

func detectCowrie(head []byte) bool {
	keys := firstObjectKeys(head)
	return hasKeys(keys, "eventid", "timestamp") && !slices.Contains(keys, "event_type")
}

// urlhausRow matches the start of a payload dump row.
var urlhausRow = regexp.MustCompile(`^"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d","[A-Za-z][A-Za-z0-9+.-]*://`)

func detectURLhaus(head []byte) bool {
	for line := range bytes.Lines(head) {
		line = bytes.TrimSpace(line)
		switch {
		case len(line) == 0:
			continue
		case line[0] == '#':
			if bytes.Contains(line, []byte("URLhaus")) || bytes.Contains(line, []byte(urlhausHeader)) {
				return true
			}
			continue
		}
		return string(line) == urlhausHeader || urlhausRow.Match(line)
	}
	return false
}

// sightingKeys are the members of a native sighting that identify it.
var sightingKeys = []string{"seen_at", "sha256", "sha1", "md5"}

func detectSightings(head []byte) bool {
	keys := firstObjectKeys(head)
	return hasAnyKey(keys, sightingKeys) && !hasAnyKey(keys, vtKeys)
}

// firstObjectKeys returns the top-level member names of the JSON object
// head starts with, as far as head (which may be cut) shows them; nil when
// head does not start with a JSON object.
func firstObjectKeys(head []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(head))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var keys []string
	for len(keys) < 256 {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		k, ok := tok.(string)
		if !ok {
			return keys // '}'
		}
		keys = append(keys, k)
		// Skip the member's value, token by token, so that a cut value
		// still leaves the names before it.
		depth := 0
		for {
			tok, err := dec.Token()
			if err != nil {
				return keys
			}
			if d, ok := tok.(json.Delim); ok {
				if d == '{' || d == '[' {
					depth++
				} else {
					depth--
				}
			}
			if depth == 0 {
				break
			}
		}
	}
	return keys
}

// Input is one named input stream.
type Input struct {
	// Name identifies the input in rejects: a file name, or "-".
	Name string
	R    io.Reader
}

// Run reads one input of the named format (AutoFormat to detect it from
// the input's first bytes) and writes its records through w. Rejects are
// counted in w's Summary; Run returns an error only when the input cannot
// be read at all (unknown format, I/O error, store failure, cancelled
// context). It does not Flush w.
func Run(ctx context.Context, w *Writer, in Input, format string, opts ReaderOptions) error {
	br := bufio.NewReaderSize(in.R, DetectBytes)
	var f Format
	var err error
	if format == "" || format == AutoFormat {
		head, perr := br.Peek(DetectBytes)
		if perr != nil && !errors.Is(perr, io.EOF) && !errors.Is(perr, bufio.ErrBufferFull) {
			return fmt.Errorf("%s: %w", in.Name, perr)
		}
		if isBlank(head) && errors.Is(perr, io.EOF) {
			return nil // an empty input holds nothing
		}
		if f, err = DetectFormat(head); err != nil {
			return fmt.Errorf("%s: %w; name it with --format", in.Name, err)
		}
	} else if f, err = LookupFormat(format); err != nil {
		return err
	}
	if err := f.NewReader(opts).Read(ctx, br, w.Sink(in.Name)); err != nil {
		return fmt.Errorf("%s: %w", in.Name, err)
	}
	return nil
}

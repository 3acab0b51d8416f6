// Package ingest turns evidence files into facts and writes them to a store.
//
// It has two halves that meet at the Sink interface:
//
//   - A Reader knows one input format (native sighting NDJSON, VirusTotal
//     file reports, and later sensor logs). It turns an io.Reader into
//     Records (sightings and file facts) and Rejects (bad lines, with their
//     line number and reason). It knows nothing of the store.
//   - A Writer validates each record as it arrives (a bad one becomes a
//     reject and never reaches a batch), groups the good ones into batches
//     and applies each batch with filetrail.EvidenceWriter.Apply, one
//     transaction per batch. Its Summary counts what happened.
//
// Run ties them together for one input: it detects the format when asked
// to, and feeds the reader's output to the writer.
package ingest

import (
	"context"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/filetrail/filetrail"
)

// Record is one fact read from an input: exactly one of Sighting and File
// is set.
type Record struct {
	Sighting *filetrail.Sighting
	File     *filetrail.FileFact
	// Line is the 1-based line of the input the record comes from; for a
	// record inside a multi-line JSON document, the line where its object
	// starts.
	Line int64
	// Raw is the input text the record was read from (the line, or the
	// object). It is used only to describe a reject, is valid only during
	// the call that receives it, and may be nil.
	Raw []byte
}

// Reject is an input record that was not ingested, and why.
type Reject struct {
	// Input names the input (a file name, or "-" for standard input).
	Input string `json:"input,omitempty"`
	// Line is the 1-based line number of the rejected record.
	Line int64 `json:"line"`
	// Reason is a short, stable category ("malformed JSON", "invalid ip",
	// "no file hash", ...): rejects are counted by it.
	Reason string `json:"reason"`
	// Detail is the full explanation, naming the bad value when there is one.
	Detail string `json:"detail,omitempty"`
	// Text is the start of the original line or object, at most
	// MaxRejectText bytes of valid UTF-8.
	Text string `json:"text,omitempty"`
	// Skip marks a record that is well formed but deliberately not
	// ingested by the format's rules (an upload, a certificate, a partial
	// file...): it is counted among the skipped records, not the rejected.
	Skip bool `json:"skipped,omitempty"`
	// Raw is the whole original line or object when the reader has it, for
	// a rejects file to replay. It is valid only during the call that
	// receives the reject.
	Raw []byte `json:"-"`
}

// Reasons used by the readers in this package. Validation failures reported
// by the domain package use its own message, with quoted values removed,
// as their reason (for example "sha256 is not a valid sha256").
const (
	ReasonMalformedJSON = "malformed JSON"
	ReasonNotObject     = "not a JSON object"
	ReasonLineTooLong   = "line too long"
	ReasonBadField      = "invalid field type"
	ReasonBadIP         = "invalid ip"
	ReasonBadSeenAt     = "missing or invalid seen_at"
	ReasonNotVT         = "not a VT object or page"
	ReasonNotFile       = "not a file object"
	ReasonVTError       = "VT error body"
	ReasonHashMismatch  = "id does not match attributes"
	ReasonNoAttributes  = "file object without attributes"
	ReasonBadContext    = "invalid context_attributes"
)

// MaxRejectText is how much of a rejected line a Reject keeps.
const MaxRejectText = 256

// Sink receives what a reader reads.
type Sink interface {
	// Record takes one record. An error is fatal (the store failed, the
	// context was cancelled): the reader stops and returns it.
	Record(ctx context.Context, r Record) error
	// Reject takes one record the reader could not read.
	Reject(r Reject)
}

// Reader reads one input format.
type Reader interface {
	// Read reads r to its end, giving each record and each reject to sink.
	// Bad records are rejects, not errors: Read returns an error only when
	// it cannot go on (reading r failed, sink.Record failed, ctx was
	// cancelled).
	Read(ctx context.Context, r io.Reader, sink Sink) error
}

// DefaultMaxLineBytes is the default longest line a line-oriented reader
// accepts. A longer line is a reject ("line too long"), not an error, and
// is skipped without being held in memory.
const DefaultMaxLineBytes = 32 << 20

// ReaderOptions configure a reader.
type ReaderOptions struct {
	// Source names the feed or sensor for records that do not name their
	// own. Formats may have their own default when it is empty.
	Source string
	// MaxLineBytes bounds a line; 0 means DefaultMaxLineBytes.
	MaxLineBytes int
	// MaxPending bounds the records a joining reader (Suricata fileinfo
	// waiting for its http event, Zeek files.log rows waiting for their
	// http.log row) holds, and the join partners it remembers; 0 means
	// DefaultMaxPending. A record pushed out of the bound is resolved
	// without its partner.
	MaxPending int
	// MaxPendingLines bounds how long, in lines, a joining reader lets a
	// record wait for its partner before resolving it without; 0 means
	// DefaultMaxPendingLines, a negative value no waiting at all (a record
	// joins only a partner read before it). It matters for logs that never
	// end (Follow): a waiting record is applied only when its partner or
	// that many more lines arrive.
	MaxPendingLines int64
	// FirstLine is the number of the input's first line; 0 means 1. A
	// reader resuming in the middle of a log numbers its lines on.
	FirstLine int64
	// SuricataPre41 says the Suricata EVE input comes from a version older
	// than 4.1, whose fileinfo addresses do not follow the file's direction
	// (see suricataReader).
	SuricataPre41 bool
}

// DefaultMaxPending is the default bound of ReaderOptions.MaxPending. The
// partners of a join are logged close to each other (a fileinfo and its
// http event come from the same transaction), so a small bound loses
// nothing and keeps memory low.
const DefaultMaxPending = 10000

// DefaultMaxPendingLines is the default of ReaderOptions.MaxPendingLines.
const DefaultMaxPendingLines = 10000

func (o ReaderOptions) maxPendingLines() int64 {
	if o.MaxPendingLines <= 0 {
		return DefaultMaxPendingLines
	}
	return o.MaxPendingLines
}

func (o ReaderOptions) maxPending() int {
	if o.MaxPending <= 0 {
		return DefaultMaxPending
	}
	return o.MaxPending
}

// sourceOr returns the configured source, or def when none is.
func (o ReaderOptions) sourceOr(def string) string {
	if o.Source != "" {
		return o.Source
	}
	return def
}

func (o ReaderOptions) maxLine() int {
	if o.MaxLineBytes <= 0 {
		return DefaultMaxLineBytes
	}
	return o.MaxLineBytes
}

// newReject builds a reject whose Text is the start of raw.
func newReject(line int64, reason, detail string, raw []byte) Reject {
	return Reject{Line: line, Reason: reason, Detail: detail, Text: rejectText(raw), Raw: raw}
}

// rejectText returns at most MaxRejectText bytes of raw as valid UTF-8,
// with "..." appended when it was cut.
func rejectText(raw []byte) string {
	cut := len(raw) > MaxRejectText
	if cut {
		raw = raw[:MaxRejectText]
		// Do not split a multi-byte character.
		for i := 0; i < utf8.UTFMax && len(raw) > 0 && !utf8.Valid(raw); i++ {
			raw = raw[:len(raw)-1]
		}
	}
	s := strings.ToValidUTF8(string(raw), "\uFFFD")
	if cut {
		s += "..."
	}
	return s
}

// stableReason turns a validation message into a reason to count by:
// quoted values ("...") are removed so that every bad sha256 counts under
// the same reason.
func stableReason(msg string) string {
	var b strings.Builder
	for i := 0; i < len(msg); {
		if msg[i] == '"' {
			if j := closingQuote(msg, i); j > i {
				i = j + 1
				// Drop the space that separated the value from the next word.
				if i < len(msg) && msg[i] == ' ' && b.Len() > 0 && strings.HasSuffix(b.String(), " ") {
					i++
				}
				continue
			}
		}
		b.WriteByte(msg[i])
		i++
	}
	return strings.TrimSpace(b.String())
}

// closingQuote returns the index of the quote closing the Go-quoted string
// that starts at msg[i], or -1.
func closingQuote(msg string, i int) int {
	for j := i + 1; j < len(msg); j++ {
		switch msg[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
}

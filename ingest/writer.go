package ingest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/filetrail/filetrail"
)

// DefaultBatchSize is the number of records a Writer applies per
// transaction by default.
const DefaultBatchSize = 1000

// DefaultMaxRejects is how many rejects a Summary keeps in full by default;
// all of them are counted.
const DefaultMaxRejects = 1000

// WriterOptions configure a Writer.
type WriterOptions struct {
	// BatchSize is the number of records per Apply; 0 means
	// DefaultBatchSize.
	BatchSize int
	// MaxRejects is how many rejects the Summary lists; 0 means
	// DefaultMaxRejects, negative means none.
	MaxRejects int
	// OnReject, when set, is called with every reject and skipped record
	// (Reject.Skip), in order, before it is counted. Reject.Raw is valid
	// only during the call.
	OnReject func(Reject)
	// OnAccept, when set, is called with every record that passed
	// validation (normalised), when it is queued for the next batch. It
	// must not use the Writer.
	OnAccept func(Record)
}

// Summary tells what an ingestion did. It is JSON-marshalable as it is.
type Summary struct {
	// RecordsRead counts every record the readers produced, accepted or
	// rejected (a VT page item with context gives a file fact and
	// sightings: several records).
	RecordsRead int64 `json:"records_read"`
	// Sightings counts applied sightings; SightingsWithoutIP those of them
	// that had no server IP (evidence about a file, no edge).
	Sightings          int64 `json:"accepted_sightings"`
	SightingsWithoutIP int64 `json:"sightings_without_server_ip"`
	// FileFacts counts applied file facts.
	FileFacts int64 `json:"accepted_file_facts"`
	// Rejected counts every reject; RejectedByReason splits it by Reason.
	Rejected         int64            `json:"rejected"`
	RejectedByReason map[string]int64 `json:"rejected_by_reason"`
	// Skipped counts the well-formed records the format's rules do not
	// ingest (uploads, certificates, partial files, ...); SkippedByReason
	// splits it by reason. They are not listed in Rejects.
	Skipped         int64            `json:"skipped"`
	SkippedByReason map[string]int64 `json:"skipped_by_reason"`
	// NewEdges and NewFiles add up the ApplyResults of the batches.
	NewEdges int64 `json:"new_edges"`
	NewFiles int64 `json:"new_files"`
	// Batches counts the applied batches (transactions).
	Batches int64 `json:"batches"`
	// Rejects lists the first rejects (WriterOptions.MaxRejects of them);
	// RejectsOmitted counts the others.
	Rejects        []Reject `json:"rejects"`
	RejectsOmitted int64    `json:"rejects_omitted"`
}

// WriteText prints the summary for a person: one line of totals, one line
// per reject reason, then the listed rejects.
func (s Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "read %d records: %d sightings (%d without server IP) and %d file facts accepted, %d rejected; %d new edges, %d new files\n",
		s.RecordsRead, s.Sightings, s.SightingsWithoutIP, s.FileFacts, s.Rejected, s.NewEdges, s.NewFiles)
	if s.Skipped > 0 {
		fmt.Fprintf(&b, "skipped %d records that are not downloads from a server\n", s.Skipped)
	}
	for _, reason := range slices.Sorted(maps.Keys(s.SkippedByReason)) {
		fmt.Fprintf(&b, "  skipped %d: %s\n", s.SkippedByReason[reason], reason)
	}
	for _, reason := range slices.Sorted(maps.Keys(s.RejectedByReason)) {
		fmt.Fprintf(&b, "  rejected %d: %s\n", s.RejectedByReason[reason], reason)
	}
	for _, r := range s.Rejects {
		where := fmt.Sprintf("line %d", r.Line)
		if r.Input != "" {
			where = fmt.Sprintf("%s:%d", r.Input, r.Line)
		}
		fmt.Fprintf(&b, "  %s: %s", where, r.Reason)
		if r.Detail != "" && r.Detail != r.Reason {
			fmt.Fprintf(&b, ": %s", r.Detail)
		}
		if r.Text != "" {
			fmt.Fprintf(&b, "\n      %s", r.Text)
		}
		b.WriteByte('\n')
	}
	if s.RejectsOmitted > 0 {
		fmt.Fprintf(&b, "  ... and %d more rejects\n", s.RejectsOmitted)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Writer validates records one by one and applies the valid ones in
// batches, one transaction per batch. A record that fails validation is
// counted as a reject with its line number and reason and never reaches a
// batch, so one bad record never fails the others. A Writer is not safe for
// concurrent use.
type Writer struct {
	dst        filetrail.EvidenceWriter
	batchSize  int
	maxRejects int
	onReject   func(Reject)
	onAccept   func(Record)
	batch      filetrail.Batch
	// Counts of the records in the current batch, added to the summary
	// once the batch is applied.
	pendSightings, pendNoIP, pendFiles int64
	sum                                Summary
}

// NewWriter returns a Writer applying batches to dst.
func NewWriter(dst filetrail.EvidenceWriter, opts WriterOptions) *Writer {
	w := &Writer{dst: dst, batchSize: opts.BatchSize, maxRejects: opts.MaxRejects, onReject: opts.OnReject, onAccept: opts.OnAccept}
	if w.batchSize <= 0 {
		w.batchSize = DefaultBatchSize
	}
	if w.maxRejects == 0 {
		w.maxRejects = DefaultMaxRejects
	}
	w.sum.RejectedByReason = map[string]int64{}
	w.sum.SkippedByReason = map[string]int64{}
	w.sum.Rejects = []Reject{}
	return w
}

// Sink returns a Sink that writes through w, naming input in its rejects.
func (w *Writer) Sink(input string) Sink { return writerSink{w: w, input: input} }

type writerSink struct {
	w     *Writer
	input string
}

func (s writerSink) Record(ctx context.Context, r Record) error { return s.w.add(ctx, s.input, r) }

func (s writerSink) Reject(r Reject) {
	if r.Input == "" {
		r.Input = s.input
	}
	s.w.sum.RecordsRead++
	s.w.reject(r)
}

// add validates one record and queues it, applying the batch when full.
// It returns an error only when applying fails.
func (w *Writer) add(ctx context.Context, input string, r Record) error {
	w.sum.RecordsRead++
	switch {
	case r.Sighting != nil:
		s, err := filetrail.ValidateSighting(*r.Sighting)
		if err != nil {
			w.rejectInvalid(input, r, err)
			return nil
		}
		w.batch.Sightings = append(w.batch.Sightings, s)
		w.pendSightings++
		if w.onAccept != nil {
			w.onAccept(Record{Sighting: &s, Line: r.Line})
		}
		if !s.IP.IsValid() {
			w.pendNoIP++
		}
	case r.File != nil:
		f, err := filetrail.ValidateFileFact(*r.File)
		if err == nil {
			_, err = filetrail.NewStoredFact(f)
		}
		if err != nil {
			w.rejectInvalid(input, r, err)
			return nil
		}
		w.batch.Files = append(w.batch.Files, f)
		w.pendFiles++
		if w.onAccept != nil {
			w.onAccept(Record{File: &f, Line: r.Line})
		}
	default:
		return fmt.Errorf("ingest: empty record at %s line %d", input, r.Line)
	}
	if w.batch.Len() >= w.batchSize {
		return w.Flush(ctx)
	}
	return nil
}

func (w *Writer) rejectInvalid(input string, r Record, err error) {
	msg := filetrail.ErrorMessage(err)
	w.reject(Reject{Input: input, Line: r.Line, Reason: stableReason(msg), Detail: msg, Text: rejectText(r.Raw), Raw: r.Raw})
}

func (w *Writer) reject(r Reject) {
	if w.onReject != nil {
		w.onReject(r)
	}
	r.Raw = nil
	if r.Skip {
		w.sum.Skipped++
		w.sum.SkippedByReason[r.Reason]++
		return
	}
	w.sum.Rejected++
	w.sum.RejectedByReason[r.Reason]++
	if w.maxRejects > 0 && len(w.sum.Rejects) < w.maxRejects {
		w.sum.Rejects = append(w.sum.Rejects, r)
	} else {
		w.sum.RejectsOmitted++
	}
}

// Flush applies the records queued so far, in one transaction. It must be
// called once the inputs are read; it does nothing when nothing is queued.
// When it fails, the queued records are dropped and not counted as
// accepted.
func (w *Writer) Flush(ctx context.Context) error {
	if w.batch.Len() == 0 {
		return nil
	}
	b := w.batch
	w.batch = filetrail.Batch{}
	res, err := w.dst.Apply(ctx, &b)
	ns, nnoip, nf := w.pendSightings, w.pendNoIP, w.pendFiles
	w.pendSightings, w.pendNoIP, w.pendFiles = 0, 0, 0
	if err != nil {
		return fmt.Errorf("applying a batch of %d records: %w", b.Len(), err)
	}
	w.sum.Batches++
	w.sum.Sightings += ns
	w.sum.SightingsWithoutIP += nnoip
	w.sum.FileFacts += nf
	w.sum.NewEdges += int64(res.NewEdges)
	w.sum.NewFiles += int64(res.NewFiles)
	return nil
}

// Summary returns what the writer has done so far. The result does not
// change when the writer goes on.
func (w *Writer) Summary() Summary {
	s := w.sum
	s.RejectedByReason = maps.Clone(w.sum.RejectedByReason)
	s.SkippedByReason = maps.Clone(w.sum.SkippedByReason)
	s.Rejects = slices.Clone(w.sum.Rejects)
	return s
}

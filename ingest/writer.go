package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/filetrail/filetrail"
)

// DefaultBatchSize is the number of records a Writer applies per
// transaction by default. Large batches are what makes bulk ingestion fast:
// a store rewrites every index page a batch touches, and keys spread over
// the whole store (file hashes) make a batch of 1,000 sightings touch
// nearly as many pages as one of 50,000; and a file sighted in several
// batches has its document rebuilt in each. The price is memory: a batch
// of 100,000 sightings takes about 100 MB of heap while it is applied,
// with the next one filling meanwhile (see Writer); `filetrail ingest`
// peaks at about 450 to 500 MB on a SQLite store (its page cache
// included), about 650 MB on PostgreSQL.
const DefaultBatchSize = 100000

// DefaultBatchBytes bounds a batch's records by their size (the text of
// their fields and attributes) by default, so that a batch of large file
// reports stays small in memory: a batch is applied when it holds
// BatchSize records or BatchBytes bytes, whichever comes first.
const DefaultBatchBytes = 64 << 20

// DefaultMaxRejects is how many rejects a Summary keeps in full by default;
// all of them are counted.
const DefaultMaxRejects = 1000

// WriterOptions configure a Writer.
type WriterOptions struct {
	// BatchSize is the number of records per Apply; 0 means
	// DefaultBatchSize.
	BatchSize int
	// BatchBytes is the size of records (see DefaultBatchBytes) at which a
	// batch is applied before it holds BatchSize records; 0 means
	// DefaultBatchBytes.
	BatchBytes int
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
//
// A full batch is applied in the background while the next one fills (one
// batch at a time: the next full batch waits for it), so reading and
// applying overlap: the destination's Apply is called from a goroutine of
// the Writer's, one call at a time. A batch that fails is reported by the
// call that next waits for it: the record that fills the following batch,
// or Flush.
type Writer struct {
	dst        filetrail.EvidenceWriter
	batchSize  int
	batchBytes int
	maxRejects int
	onReject   func(Reject)
	onAccept   func(Record)
	batch      filetrail.Batch
	// Counts of the records in the current batch, added to the summary
	// once the batch is applied.
	pendSightings, pendNoIP, pendFiles int64
	pendBytes                          int // size of the batch's records
	sum                                Summary
	inflight                           *applying // the batch applied in the background, or nil
}

// NewWriter returns a Writer applying batches to dst.
func NewWriter(dst filetrail.EvidenceWriter, opts WriterOptions) *Writer {
	w := &Writer{dst: dst, batchSize: opts.BatchSize, maxRejects: opts.MaxRejects, onReject: opts.OnReject, onAccept: opts.OnAccept}
	if w.batchSize <= 0 {
		w.batchSize = DefaultBatchSize
	}
	w.batchBytes = opts.BatchBytes
	if w.batchBytes <= 0 {
		w.batchBytes = DefaultBatchBytes
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
		w.pendBytes += sightingBytes(s)
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
		w.pendBytes += fileFactBytes(f)
		if w.onAccept != nil {
			w.onAccept(Record{File: &f, Line: r.Line})
		}
	default:
		return fmt.Errorf("ingest: empty record at %s line %d", input, r.Line)
	}
	if w.batch.Len() >= w.batchSize || w.pendBytes >= w.batchBytes {
		return w.start(ctx)
	}
	return nil
}

// applying is a batch being applied in the background, with the counts it
// adds to the summary once applied.
type applying struct {
	done                   chan struct{} // closed when res and err are set
	records                int
	sightings, noIP, files int64
	res                    filetrail.ApplyResult
	err                    error
}

// take moves the queued records into an applying batch.
func (w *Writer) take() (*applying, filetrail.Batch) {
	p := &applying{done: make(chan struct{}), records: w.batch.Len(), sightings: w.pendSightings, noIP: w.pendNoIP, files: w.pendFiles}
	b := w.batch
	w.batch = filetrail.Batch{}
	w.pendSightings, w.pendNoIP, w.pendFiles, w.pendBytes = 0, 0, 0, 0
	return p, b
}

// start waits for the batch in the background, then applies the queued
// records in the background. It returns the error of the batch it waited
// for; the queued records then stay queued.
func (w *Writer) start(ctx context.Context) error {
	if err := w.wait(); err != nil {
		return err
	}
	p, b := w.take()
	go func() {
		p.res, p.err = w.dst.Apply(ctx, &b)
		close(p.done)
	}()
	w.inflight = p
	return nil
}

// wait waits for the batch in the background, if any, and adds it to the
// summary when it was applied.
func (w *Writer) wait() error {
	p := w.inflight
	if p == nil {
		return nil
	}
	<-p.done
	w.inflight = nil
	return w.applied(p)
}

// applied adds an applied batch to the summary, or returns its error.
func (w *Writer) applied(p *applying) error {
	if p.err != nil {
		return fmt.Errorf("applying a batch of %d records: %w", p.records, p.err)
	}
	w.sum.Batches++
	w.sum.Sightings += p.sightings
	w.sum.SightingsWithoutIP += p.noIP
	w.sum.FileFacts += p.files
	w.sum.NewEdges += int64(p.res.NewEdges)
	w.sum.NewFiles += int64(p.res.NewFiles)
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

// Flush waits for the batch applied in the background, then applies the
// records queued so far, in one transaction: once it returns, every record
// given to the Writer is applied or reported failed. It must be called
// once the inputs are read. When a batch fails, Flush returns its error
// and its records are dropped, not counted as accepted.
func (w *Writer) Flush(ctx context.Context) error {
	err := w.wait()
	if w.batch.Len() == 0 {
		return err
	}
	p, b := w.take()
	p.res, p.err = w.dst.Apply(ctx, &b)
	return errors.Join(err, w.applied(p))
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

// recordOverhead is what a record costs beyond the text of its fields
// (struct, slice and string headers), for the batch size bound.
const recordOverhead = 200

// sightingBytes is a sighting's size for the batch size bound.
func sightingBytes(s filetrail.Sighting) int {
	return recordOverhead + len(s.URL) + len(s.SHA256) + len(s.SHA1) + len(s.MD5) + len(s.FileName) + len(s.MIME) + len(s.Source)
}

// fileFactBytes is a file fact's size for the batch size bound.
func fileFactBytes(f filetrail.FileFact) int {
	return recordOverhead + len(f.SHA256) + len(f.SHA1) + len(f.MD5) + len(f.Source) + len(f.Attributes)
}

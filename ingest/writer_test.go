package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/ingest"
)

// batchRecorder is an EvidenceWriter that records the batches it is given
// and fails the batch numbered failAt (1-based; 0 never). Its ApplyResult
// counts every sighting with an IP as a new edge and every fact as a new
// file, which is enough to check that the Writer adds results up.
type batchRecorder struct {
	batches []filetrail.Batch
	failAt  int
}

func (b *batchRecorder) Apply(_ context.Context, batch *filetrail.Batch) (filetrail.ApplyResult, error) {
	if b.failAt == len(b.batches)+1 {
		return filetrail.ApplyResult{}, filetrail.Errorf(filetrail.CodeTransient, "database unavailable")
	}
	for _, s := range batch.Sightings {
		if _, err := filetrail.ValidateSighting(s); err != nil {
			return filetrail.ApplyResult{}, err // the Writer must never send an invalid record
		}
	}
	b.batches = append(b.batches, *batch)
	var res filetrail.ApplyResult
	for _, s := range batch.Sightings {
		if s.IP.IsValid() {
			res.NewEdges++
		}
	}
	res.NewFiles = len(batch.Files)
	return res, nil
}

func sightingLine(i int, ip string) string {
	return fmt.Sprintf(`{"ip": %q, "md5": "%032x", "seen_at": %d}`, ip, i, 1379288600+i)
}

func TestWriterBatches(t *testing.T) {
	var in []string
	for i := 1; i <= 7; i++ {
		in = append(in, sightingLine(i, "108.59.9.32"))
		if i == 3 {
			in = append(in, `{"ip": "108.59.9.32", "md5": "xyz", "seen_at": 1}`) // fails validation
		}
		if i == 5 {
			in = append(in, `{"ip": "108.59.9.32", "sha256": "`+strings.Repeat("A", 64)+`", "seen_at": -5}`)
		}
	}
	in = append(in, sightingLine(8, ""))
	rec := &batchRecorder{}
	w := ingest.NewWriter(rec, ingest.WriterOptions{BatchSize: 3})
	if err := ingest.Run(context.Background(), w, ingest.Input{Name: "s.ndjson", R: strings.NewReader(strings.Join(in, "\n"))}, "sightings", ingest.ReaderOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, b := range rec.batches {
		sizes = append(sizes, b.Len())
	}
	if fmt.Sprint(sizes) != "[3 3 2]" {
		t.Errorf("batch sizes %v, want [3 3 2]", sizes)
	}
	s := w.Summary()
	if s.RecordsRead != 10 || s.Sightings != 8 || s.SightingsWithoutIP != 1 || s.FileFacts != 0 || s.Rejected != 2 || s.NewEdges != 7 || s.Batches != 3 {
		t.Errorf("summary %+v", s)
	}
	if s.RejectedByReason["md5 is not a valid md5"] != 1 || s.RejectedByReason["missing or invalid seen_at"] != 1 {
		t.Errorf("by reason %v", s.RejectedByReason)
	}
	if len(s.Rejects) != 2 || s.Rejects[0].Input != "s.ndjson" || s.Rejects[0].Line != 4 || s.Rejects[1].Line != 7 || !strings.Contains(s.Rejects[0].Text, `"xyz"`) {
		t.Errorf("rejects %+v", s.Rejects)
	}
	// Validation normalised what went to the store.
	if got := rec.batches[0].Sightings[0].MD5; got != fmt.Sprintf("%032x", 1) {
		t.Errorf("stored md5 %q", got)
	}
}

// TestWriterApplyFailure checks that a failed batch is an error and its
// records are not counted as accepted. A batch is applied in the
// background, so its failure is reported by the record that fills the next
// batch (Run stops there) or by Flush.
func TestWriterApplyFailure(t *testing.T) {
	for _, n := range []int{5, 7} {
		var in []string
		for i := 1; i <= n; i++ {
			in = append(in, sightingLine(i, "74.207.254.18"))
		}
		rec := &batchRecorder{failAt: 2}
		w := ingest.NewWriter(rec, ingest.WriterOptions{BatchSize: 2})
		runErr := ingest.Run(context.Background(), w, ingest.Input{Name: "-", R: strings.NewReader(strings.Join(in, "\n"))}, "sightings", ingest.ReaderOptions{})
		if n == 7 && filetrail.ErrorCode(runErr) != filetrail.CodeTransient {
			t.Errorf("%d records: Run error %v, want the failed second batch's Transient error at the third", n, runErr)
		}
		err := errors.Join(runErr, w.Flush(context.Background()))
		if filetrail.ErrorCode(err) != filetrail.CodeTransient {
			t.Fatalf("%d records: error %v, want the store's Transient error", n, err)
		}
		if s := w.Summary(); s.Sightings != 2 || s.Batches != 1 {
			t.Errorf("%d records: summary after failure %+v: want only the first batch accepted", n, s)
		}
	}
}

func TestWriterFileFacts(t *testing.T) {
	reps := loadReports(t)
	rec := &batchRecorder{}
	w := ingest.NewWriter(rec, ingest.WriterOptions{})
	sink := w.Sink("facts")
	ctx := context.Background()
	good := filetrail.FileFact{Hashes: filetrail.Hashes{SHA256: reps[0].sha256}, Origin: filetrail.OriginReport, Source: "vt-report", Attributes: reps[0].attrs}
	for i, f := range []filetrail.FileFact{
		good,
		{Hashes: filetrail.Hashes{SHA256: reps[1].sha256}, Origin: filetrail.OriginReport, Attributes: json.RawMessage(`[1]`)},
		{Hashes: filetrail.Hashes{}, Origin: filetrail.OriginReport, Attributes: json.RawMessage(`{}`)},
		{Hashes: filetrail.Hashes{SHA256: reps[1].sha256}, Origin: 9, Attributes: json.RawMessage(`{}`)},
	} {
		if err := sink.Record(ctx, ingest.Record{File: &f, Line: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s := w.Summary()
	if s.FileFacts != 1 || s.Rejected != 3 || len(rec.batches) != 1 || len(rec.batches[0].Files) != 1 {
		t.Fatalf("summary %+v", s)
	}
	for _, reason := range []string{"file attributes must be a JSON object", "no file hash", "unknown origin 9"} {
		if s.RejectedByReason[reason] != 1 {
			t.Errorf("no reject %q in %v", reason, s.RejectedByReason)
		}
	}
}

// TestWriterBatchBytes checks that a batch is applied once its records
// reach BatchBytes, before BatchSize: large file reports make small
// batches, sightings stay in one.
func TestWriterBatchBytes(t *testing.T) {
	reps := loadReports(t)
	rec := &batchRecorder{}
	size := len(reps[0].attrs)
	w := ingest.NewWriter(rec, ingest.WriterOptions{BatchSize: 100, BatchBytes: 2*size + 1000})
	sink := w.Sink("mixed")
	ctx := context.Background()
	for i := range 5 {
		f := filetrail.FileFact{Hashes: filetrail.Hashes{MD5: fmt.Sprintf("%032x", i+1)}, Origin: filetrail.OriginReport, Source: "vt-report", Attributes: reps[0].attrs}
		if err := sink.Record(ctx, ingest.Record{File: &f, Line: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, b := range rec.batches {
		got = append(got, b.Len())
	}
	if fmt.Sprint(got) != "[3 2]" {
		t.Errorf("batches of %v records, want [3 2]: a batch closes at the record that reaches the byte bound", got)
	}
	rec = &batchRecorder{}
	w = ingest.NewWriter(rec, ingest.WriterOptions{BatchSize: 100, BatchBytes: 2*size + 1000})
	for i := range 50 {
		s := filetrail.Sighting{IP: netip.MustParseAddr("198.51.100.7"), MD5: fmt.Sprintf("%032x", i+1), SeenAt: 1379288600}
		if err := w.Sink("s").Record(ctx, ingest.Record{Sighting: &s, Line: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(rec.batches) != 1 || rec.batches[0].Len() != 50 {
		t.Errorf("%d batches for 50 small sightings, want one", len(rec.batches))
	}
}

// TestSummaryJSON checks the summary's JSON form: every count present,
// empty collections as {} and [], rejects with their fields.
func TestSummaryJSON(t *testing.T) {
	w := ingest.NewWriter(&batchRecorder{}, ingest.WriterOptions{})
	b, err := json.Marshal(w.Summary())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"records_read", "accepted_sightings", "sightings_without_server_ip", "accepted_file_facts", "rejected", "new_edges", "new_files", "batches", "rejects_omitted"} {
		if m[k] != float64(0) {
			t.Errorf("%s = %v, want 0", k, m[k])
		}
	}
	if string(mustJSON(t, m["rejected_by_reason"])) != "{}" || string(mustJSON(t, m["rejects"])) != "[]" {
		t.Errorf("empty collections: %s", b)
	}

	w = ingest.NewWriter(&batchRecorder{}, ingest.WriterOptions{MaxRejects: 1})
	if err := ingest.Run(context.Background(), w, ingest.Input{Name: "x", R: strings.NewReader("{\n{\n")}, "sightings", ingest.ReaderOptions{}); err != nil {
		t.Fatal(err)
	}
	var back ingest.Summary
	if err := json.Unmarshal(mustJSON(t, w.Summary()), &back); err != nil {
		t.Fatal(err)
	}
	if back.Rejected != 2 || back.RejectsOmitted != 1 || len(back.Rejects) != 1 || back.Rejects[0].Line != 1 || back.Rejects[0].Reason != ingest.ReasonMalformedJSON || back.Rejects[0].Input != "x" {
		t.Errorf("round-tripped summary %+v", back)
	}
	var text strings.Builder
	if err := back.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2 rejected", "rejected 2: malformed JSON", "x:1: malformed JSON", "1 more rejects"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

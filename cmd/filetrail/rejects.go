package main

import (
	"bufio"
	"encoding/json"
	"os"

	"github.com/filetrail/filetrail/ingest"
)

// rejectsFile is the --rejects file: one JSON object per rejected or
// skipped record, appended.
type rejectsFile struct {
	f   *os.File
	w   *bufio.Writer
	err error // the first write error
}

// rejectLine is one line of the rejects file.
type rejectLine struct {
	Input   string `json:"input,omitempty"`
	Line    int64  `json:"line"`
	Reason  string `json:"reason"`
	Detail  string `json:"detail,omitempty"`
	Skipped bool   `json:"skipped,omitempty"`
	// Record is the original line (or object) as read; its start only
	// when the reader did not keep it whole.
	Record string `json:"record"`
}

func openRejects(path string) (*rejectsFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &rejectsFile{f: f, w: bufio.NewWriter(f)}, nil
}

func (r *rejectsFile) write(rej ingest.Reject) {
	if r.err != nil {
		return
	}
	rec := rej.Text
	if rej.Raw != nil {
		rec = string(rej.Raw)
	}
	b, err := json.Marshal(rejectLine{Input: rej.Input, Line: rej.Line, Reason: rej.Reason, Detail: rej.Detail, Skipped: rej.Skip, Record: rec})
	if err == nil {
		b = append(b, '\n')
		_, err = r.w.Write(b)
	}
	r.err = err
}

// close flushes and closes the file; it returns the first error met.
// Closing twice is harmless.
func (r *rejectsFile) close() error {
	if r.f == nil {
		return r.err
	}
	if err := r.w.Flush(); r.err == nil {
		r.err = err
	}
	if err := r.f.Close(); r.err == nil {
		r.err = err
	}
	r.f = nil
	return r.err
}

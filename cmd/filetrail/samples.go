package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/analyze/sandbox"
	"github.com/filetrail/filetrail/ingest"
)

// samplesFormat is the ingest format of sample files: each input is one
// sample, analysed in the sandbox and stored as a file fact of origin
// analysis. A directory input stands for every regular file below it.
const samplesFormat = "samples"

func init() {
	ingest.RegisterFormat(ingest.Format{
		Name:        samplesFormat,
		Description: "sample files (each input is one sample; directories are walked): analysed in a sandbox and stored as file facts",
		Detect:      func([]byte) bool { return false }, // only when named
		NewReader:   func(ingest.ReaderOptions) ingest.Reader { return samplesReader{} },
	})
}

// samplesReader analyses one sample per input with the default sandbox
// limits; analysis failures are logged (standard error) and counted by
// the runner, and never lose the hashes.
type samplesReader struct{}

// samplesRunner is shared by every samples input of a process.
var samplesRunner *sandbox.Runner

func (samplesReader) Read(ctx context.Context, r io.Reader, sink ingest.Sink) error {
	if samplesRunner == nil {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("locating the worker executable: %w", err)
		}
		samplesRunner = &sandbox.Runner{Command: []string{exe, "analyze-worker"}, Logger: slog.Default()}
	}
	max := int64(sandbox.DefaultMaxSize)
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > max {
		sink.Reject(ingest.Reject{Line: 1, Reason: "sample too large", Detail: fmt.Sprintf("larger than %d bytes", max)})
		return nil
	}
	rep, err := samplesRunner.Analyze(ctx, data)
	if err != nil {
		return err
	}
	h, attrs, err := reportFact(rep)
	if err != nil {
		return err
	}
	return sink.Record(ctx, ingest.Record{Line: 1, File: &filetrail.FileFact{
		Hashes: h, Origin: filetrail.OriginAnalysis, Source: "filetrail-analysis", Attributes: attrs,
	}})
}

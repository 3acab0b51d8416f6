package main

import (
	"context"
	"errors"
	"io"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/ingest"
	"github.com/filetrail/filetrail/vtapi"
)

// httpIngest is the API's POST /admin/v1/ingest hook: it reads the pushed
// body like `filetrail ingest` reads one input and answers the same
// ingest.Summary. Batches applied before a failure stay applied.
func httpIngest(st filetrail.EvidenceWriter) vtapi.IngestFunc {
	return func(ctx context.Context, format, source string, body io.Reader) (any, error) {
		if format == "" {
			format = ingest.AutoFormat
		}
		if format != ingest.AutoFormat {
			if _, err := ingest.LookupFormat(format); err != nil {
				return nil, filetrail.Errorf(filetrail.CodeInvalidArgument, "%s", err.Error())
			}
		}
		w := ingest.NewWriter(st, ingest.WriterOptions{})
		err := ingest.Run(ctx, w, ingest.Input{Name: "body", R: body}, format, ingest.ReaderOptions{Source: source})
		if errors.Is(err, ingest.ErrUnknownFormat) {
			return nil, filetrail.Errorf(filetrail.CodeInvalidArgument, "%s", err.Error())
		}
		if ferr := w.Flush(ctx); err == nil {
			err = ferr
		}
		if err != nil {
			return nil, err
		}
		return w.Summary(), nil
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/filetrail/filetrail/ingest"
)

type ingestCmd struct {
	storeFlag    `embed:""`
	Format       string   `help:"Input format: auto (detected per input from its first bytes) or one of: ${formats}." default:"auto" env:"FILETRAIL_FORMAT"`
	Source       string   `help:"Source (feed or sensor) name for records that name none; VT reports default to vt-report." env:"FILETRAIL_SOURCE"`
	BatchSize    int      `help:"Records applied per transaction." default:"1000" env:"FILETRAIL_BATCH_SIZE"`
	MaxLineBytes int      `help:"Longest input line accepted, in bytes; a longer line is rejected." default:"33554432" env:"FILETRAIL_MAX_LINE_BYTES"`
	Files        []string `arg:"" name:"file" help:"Input files; - reads standard input."`
}

// ingestFormats are the names --format accepts.
func ingestFormats() []string { return append([]string{ingest.AutoFormat}, ingest.Formats()...) }

// source is one input of the ingest command.
type source struct {
	name string
	r    io.Reader
	size int64 // -1 when unknown
}

func (c *ingestCmd) Run(a *app) error {
	if c.BatchSize <= 0 {
		return fmt.Errorf("--batch-size must be positive")
	}
	if c.MaxLineBytes <= 0 {
		return fmt.Errorf("--max-line-bytes must be positive")
	}
	if c.Format != ingest.AutoFormat {
		if _, err := ingest.LookupFormat(c.Format); err != nil {
			return err
		}
	}
	// Open every input first: a missing file fails before anything is
	// written.
	srcs, closeAll, err := openSources(a, c.Files)
	if err != nil {
		return err
	}
	defer closeAll()
	st, err := openStore(a.ctx, c.Store)
	if err != nil {
		return err
	}
	defer st.Close()

	w := ingest.NewWriter(st, ingest.WriterOptions{BatchSize: c.BatchSize})
	p := newProgress(a.stderr, srcs)
	opts := ingest.ReaderOptions{Source: c.Source, MaxLineBytes: c.MaxLineBytes}
	var runErr error
	for _, s := range srcs {
		before := w.Summary()
		runErr = ingest.Run(a.ctx, w, ingest.Input{Name: s.name, R: p.reader(s.r)}, c.Format, opts)
		if runErr != nil {
			break
		}
		after := w.Summary()
		p.inputDone(s.name, after.RecordsRead-before.RecordsRead, after.Rejected-before.Rejected)
	}
	// Apply what was read, also when interrupted: it is valid evidence.
	flushCtx := a.ctx
	if errors.Is(runErr, context.Canceled) {
		flushCtx = context.Background()
	}
	if err := w.Flush(flushCtx); err != nil {
		runErr = errors.Join(runErr, err)
	}
	p.finish()
	sum := w.Summary()
	if err := sum.WriteText(a.stderr); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	if sum.Rejected > 0 {
		return &exitError{code: exitRejects, err: fmt.Errorf("%d records rejected", sum.Rejected)}
	}
	return nil
}

// openSources opens the named inputs ("-" is standard input, at most once).
func openSources(a *app, names []string) ([]source, func(), error) {
	var srcs []source
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	stdin := false
	for _, n := range names {
		if n == "-" {
			if stdin {
				return nil, nil, fmt.Errorf("standard input (-) named twice")
			}
			stdin = true
			srcs = append(srcs, source{name: "-", r: a.stdin, size: -1})
			continue
		}
		f, err := os.Open(n)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		files = append(files, f)
		size := int64(-1)
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		srcs = append(srcs, source{name: n, r: f, size: size})
	}
	return srcs, closeAll, nil
}

// progress shows how far ingestion is: a progress bar over the input bytes
// when stderr is a terminal, a plain line per input otherwise.
type progress struct {
	w   io.Writer
	bar *progressbar.ProgressBar // nil when not a terminal
}

func newProgress(w io.Writer, srcs []source) *progress {
	p := &progress{w: w}
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return p
	}
	total := int64(0)
	for _, s := range srcs {
		if s.size < 0 {
			total = -1 // unknown: a spinner
			break
		}
		total += s.size
	}
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("ingesting"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return p
}

// reader counts r's bytes on the bar.
func (p *progress) reader(r io.Reader) io.Reader {
	if p.bar == nil {
		return r
	}
	pr := progressbar.NewReader(r, p.bar)
	return &pr
}

func (p *progress) inputDone(name string, records, rejected int64) {
	if p.bar == nil {
		fmt.Fprintf(p.w, "%s: %d records read, %d rejected\n", name, records, rejected)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/filetrail/filetrail/ingest"
	"github.com/filetrail/filetrail/store/sqlite"
)

type ingestCmd struct {
	storeFlag     `embed:""`
	Format        string        `help:"Input format: auto (detected per input from its first bytes) or one of: ${formats}." default:"auto" env:"FILETRAIL_FORMAT"`
	Source        string        `help:"Source (feed or sensor) name for records that name none; each format has its default (vt-report, suricata, zeek, cowrie, urlhaus)." env:"FILETRAIL_SOURCE"`
	BatchSize     int           `help:"Records applied per transaction (fewer when they add up to 64 MiB)." default:"100000" env:"FILETRAIL_BATCH_SIZE"`
	MaxLineBytes  int           `help:"Longest input line accepted, in bytes; a longer line is rejected." default:"33554432" env:"FILETRAIL_MAX_LINE_BYTES"`
	Rejects       string        `help:"Append every rejected or skipped record to this file, one JSON object per line (input, line, reason, detail, skipped, record: the original line), for later replay." env:"FILETRAIL_REJECTS"`
	Strict        bool          `help:"Stop at the first rejected record (skipped records, such as uploads, do not stop it); the records read before it are applied." env:"FILETRAIL_STRICT"`
	SuricataPre41 bool          `name:"suricata-pre41" help:"Suricata EVE logs come from a version older than 4.1, whose fileinfo addresses do not follow the file's direction." env:"FILETRAIL_SURICATA_PRE41"`
	Follow        string        `help:"Follow this growing log file until interrupted instead of reading file arguments: new lines are ingested as they come, rotation and truncation are followed, and a checkpoint lets a restart resume where it stopped." env:"FILETRAIL_FOLLOW"`
	Checkpoint    string        `help:"Checkpoint file of --follow (default: the followed file's path with .checkpoint appended)." env:"FILETRAIL_CHECKPOINT"`
	Poll          time.Duration `help:"How often --follow looks for new lines, rotation and truncation." default:"1s" env:"FILETRAIL_POLL"`
	JoinWindow    int64         `help:"How many lines a Suricata fileinfo or Zeek files.log row waits for its http event or http.log row before it is ingested without; 0 does not wait (when following a files.log alone, for instance)." default:"10000" env:"FILETRAIL_JOIN_WINDOW"`
	Samples       string        `help:"Directory of captured files named by sha256 (flat, or in Suricata's filestore layout): the sighted files found there are analysed and their attributes stored." env:"FILETRAIL_SAMPLES"`
	FastFirstLoad bool          `help:"A SQLite store that does not exist yet is filled in bulk (about 20% faster), and other processes can open it only once this ingestion has ended; --no-fast-first-load makes each batch visible as it commits. --follow always does that." default:"true" negatable:"" env:"FILETRAIL_FAST_FIRST_LOAD"`
	Files         []string      `arg:"" optional:"" name:"file" help:"Input files; - reads standard input; a directory is read as a Zeek log directory (its files, http and ftp logs together)."`
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
	switch {
	case c.Follow == "" && len(c.Files) == 0:
		return fmt.Errorf("name the input files, or a file to --follow")
	case c.Follow != "" && len(c.Files) > 0:
		return fmt.Errorf("--follow reads only the followed file: do not name other inputs")
	}
	names, err := expandZeekDirs(c.Files, c.Format)
	if err != nil {
		return err
	}
	// Open every input first: a missing file fails before anything is
	// written.
	srcs, closeAll, err := openSources(a, names)
	if err != nil {
		return err
	}
	defer closeAll()
	var rejects *rejectsFile
	if c.Rejects != "" {
		if rejects, err = openRejects(c.Rejects); err != nil {
			return err
		}
		defer rejects.close()
	}
	st, finishLoad, err := openIngestStore(a, c.Store, c.FastFirstLoad && c.Follow == "")
	if err != nil {
		return err
	}
	defer st.Close()

	var samples *sampleFinder
	if c.Samples != "" {
		if c.Follow != "" {
			return fmt.Errorf("--samples works on file inputs, not with --follow")
		}
		if samples, err = newSampleFinder(c.Samples); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancelCause(a.ctx)
	defer cancel(nil)
	var onAccept func(ingest.Record)
	if samples != nil {
		onAccept = samples.accept
	}
	w := ingest.NewWriter(st, ingest.WriterOptions{BatchSize: c.BatchSize, OnAccept: onAccept, OnReject: func(r ingest.Reject) {
		if rejects != nil {
			rejects.write(r)
		}
		if c.Strict && !r.Skip {
			cancel(fmt.Errorf("%w: %w", ingest.ErrStopped, &strictStop{r}))
		}
	}})
	opts := ingest.ReaderOptions{Source: c.Source, MaxLineBytes: c.MaxLineBytes, SuricataPre41: c.SuricataPre41, MaxPendingLines: c.JoinWindow}
	if c.JoinWindow <= 0 {
		opts.MaxPendingLines = -1
	}
	var runErr error
	if c.Follow != "" {
		runErr = c.follow(ctx, a, w, opts)
	} else {
		runErr = c.readAll(ctx, a, w, srcs, opts)
		if runErr == nil && samples != nil {
			runErr = samples.analyse(ctx, w)
		}
	}
	var stop *strictStop
	if errors.As(context.Cause(ctx), &stop) {
		runErr = stop
	}
	// Apply what was read, also when interrupted: it is valid evidence.
	if err := w.Flush(context.WithoutCancel(ctx)); err != nil {
		runErr = errors.Join(runErr, err)
	}
	if err := finishLoad(context.WithoutCancel(ctx)); err != nil {
		runErr = errors.Join(runErr, err)
	}
	if rejects != nil {
		if err := rejects.close(); err != nil {
			runErr = errors.Join(runErr, err)
		}
	}
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

// openIngestStore opens the store the DSN names for ingestion. With
// fastFirstLoad, a SQLite store that does not exist yet is created for a
// first load (sqlite.OpenFirstLoad). finish ends the first load, if any: it
// is called once the ingestion has applied what it read, whether it ended
// well or not.
func openIngestStore(a *app, dsn string, fastFirstLoad bool) (st store, finish func(context.Context) error, err error) {
	if kind, path := parseDSN(dsn); fastFirstLoad && kind == "sqlite" && path != "" {
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			s, err := sqlite.OpenFirstLoad(a.ctx, path)
			if err != nil {
				return nil, nil, fmt.Errorf("opening SQLite store %s: %w", path, err)
			}
			a.log.Info("new store: first load in bulk; other processes can open it once this ingestion ends", "store", path)
			return s, s.FinishFirstLoad, nil
		}
	}
	st, err = openStore(a.ctx, dsn)
	return st, func(context.Context) error { return nil }, err
}

// strictStop is the error of --strict: the first rejected record.
type strictStop struct{ r ingest.Reject }

func (s *strictStop) Error() string {
	return fmt.Sprintf("--strict: stopped at %s:%d: %s", s.r.Input, s.r.Line, s.r.Reason)
}

// readAll reads the inputs: Zeek logs together (so that files.log joins
// http.log), every other input by itself.
func (c *ingestCmd) readAll(ctx context.Context, a *app, w *ingest.Writer, srcs []source, opts ingest.ReaderOptions) error {
	p := newProgress(a.stderr, srcs)
	defer p.finish()
	var zeek []ingest.Input
	for _, s := range srcs {
		r := bufio.NewReaderSize(p.reader(s.r), ingest.DetectBytes)
		format := c.Format
		if format == ingest.AutoFormat {
			head, err := r.Peek(ingest.DetectBytes)
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			if f, err := ingest.DetectFormat(head); err == nil {
				format = f.Name
			}
		}
		if format == "zeek" {
			zeek = append(zeek, ingest.Input{Name: s.name, R: r})
			continue
		}
		before := w.Summary()
		if err := ingest.Run(ctx, w, ingest.Input{Name: s.name, R: r}, format, opts); err != nil {
			return err
		}
		after := w.Summary()
		p.inputDone(s.name, after.RecordsRead-before.RecordsRead, after.Rejected-before.Rejected)
	}
	if len(zeek) > 0 {
		before := w.Summary()
		if err := ingest.RunZeek(ctx, w, zeek, opts); err != nil {
			return err
		}
		after := w.Summary()
		names := make([]string, len(zeek))
		for i, in := range zeek {
			names[i] = in.Name
		}
		p.inputDone(strings.Join(names, " + "), after.RecordsRead-before.RecordsRead, after.Rejected-before.Rejected)
	}
	return nil
}

// zeekLogPrefixes are the logs read from a Zeek log directory.
var zeekLogPrefixes = []string{"http", "ftp", "files"}

// expandZeekDirs replaces each directory among names by the Zeek logs in
// it that ingestion joins (http, ftp and files logs, TSV or JSON, rotated
// ones included), http and ftp logs first.
func expandZeekDirs(names []string, format string) ([]string, error) {
	var out []string
	for _, n := range names {
		fi, err := os.Stat(n)
		if n == "-" || err != nil || !fi.IsDir() {
			out = append(out, n) // a missing file fails when opened
			continue
		}
		if format == samplesFormat { // every regular file below n is a sample
			files, err := samplePaths([]string{n})
			if err != nil {
				return nil, err
			}
			out = append(out, files...)
			continue
		}
		if format != ingest.AutoFormat && format != "zeek" {
			return nil, fmt.Errorf("%s is a directory: only Zeek logs are read from a directory", n)
		}
		entries, err := os.ReadDir(n)
		if err != nil {
			return nil, err
		}
		found := 0
		for _, prefix := range zeekLogPrefixes {
			for _, e := range entries {
				name := e.Name()
				if e.Type().IsRegular() && strings.HasPrefix(name, prefix+".") && (strings.HasSuffix(name, ".log") || strings.HasSuffix(name, ".json")) {
					out = append(out, filepath.Join(n, name))
					found++
				}
			}
		}
		if found == 0 {
			return nil, fmt.Errorf("%s: no Zeek files, http or ftp log in the directory", n)
		}
	}
	return out, nil
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
	if !isTerminal(w) {
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

// follow runs --follow until ctx ends.
func (c *ingestCmd) follow(ctx context.Context, a *app, w *ingest.Writer, opts ingest.ReaderOptions) error {
	cp := c.Checkpoint
	if cp == "" {
		cp = c.Follow + ".checkpoint"
	}
	a.log.Info("following", "file", c.Follow, "checkpoint", cp, "format", c.Format)
	return ingest.Follow(ctx, w, ingest.FollowOptions{Path: c.Follow, Checkpoint: cp, Format: c.Format, Poll: c.Poll, Reader: opts})
}

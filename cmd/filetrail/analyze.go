package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/analyze"
	"github.com/filetrail/filetrail/analyze/sandbox"
	"github.com/filetrail/filetrail/vtapi"
)

// analysisFlags configure the sandboxed analyser (analyze, serve's upload
// endpoint, ingest --format samples).
type analysisFlags struct {
	MaxSize        int64         `name:"analysis-max-size" help:"Largest sample analysed, in bytes." default:"268435456" env:"FILETRAIL_ANALYSIS_MAX_SIZE"`
	AnalysisCPU    time.Duration `name:"analysis-cpu-time" help:"CPU-time limit of one analysis worker." default:"20s" env:"FILETRAIL_ANALYSIS_CPU_TIME"`
	AnalysisMemory int64         `name:"analysis-memory" help:"Address-space limit of one analysis worker, in bytes." default:"2147483648" env:"FILETRAIL_ANALYSIS_MEMORY"`
	AnalysisWall   time.Duration `name:"analysis-timeout" help:"Wall-clock limit of one analysis worker." default:"30s" env:"FILETRAIL_ANALYSIS_TIMEOUT"`
}

// runner returns a sandboxed analyser that re-executes this program as its
// worker.
func (f analysisFlags) runner(a *app) (*sandbox.Runner, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("locating the worker executable: %w", err)
	}
	return &sandbox.Runner{
		Command: []string{exe, "analyze-worker", "--max-size=" + strconv.FormatInt(f.MaxSize, 10)},
		Limits:  sandbox.Limits{CPUTime: f.AnalysisCPU, Memory: f.AnalysisMemory, WallClock: f.AnalysisWall},
		MaxSize: f.MaxSize,
		Logger:  a.log,
	}, nil
}

// uploadAnalyzer returns the hook behind the API's upload endpoints: the
// sandboxed analysis of the sample, as hashes and VT File attributes.
func (f analysisFlags) uploadAnalyzer(a *app) (vtapi.AnalyzeFunc, error) {
	r, err := f.runner(a)
	if err != nil {
		return nil, err
	}
	a.uploadLimit = f.MaxSize
	// At most one worker per core: uploads wait for a free slot (until
	// their request ends) rather than fork without bound.
	slots := make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))
	return func(ctx context.Context, data []byte) (filetrail.Hashes, json.RawMessage, error) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		case <-ctx.Done():
			return filetrail.Hashes{}, nil, ctx.Err()
		}
		rep, err := r.Analyze(ctx, data)
		if errors.Is(err, sandbox.ErrTooLarge) {
			return filetrail.Hashes{}, nil, filetrail.Errorf(filetrail.CodeInvalidArgument, "%v", err)
		}
		if err != nil {
			return filetrail.Hashes{}, nil, err
		}
		return reportFact(rep)
	}, nil
}

// reportFact returns a report's hashes and attributes JSON object.
func reportFact(rep *analyze.Report) (filetrail.Hashes, json.RawMessage, error) {
	h := filetrail.Hashes{SHA256: rep.SHA256}
	h.MD5, _ = rep.Attributes["md5"].(string)
	h.SHA1, _ = rep.Attributes["sha1"].(string)
	b, err := json.Marshal(rep.Attributes)
	return h, b, err
}

// maxUpload is the upload-URL size limit: the analysis size cap (0 when
// uploads are off, which means the API default).
func (a *app) maxUpload() int64 { return a.uploadLimit }

type analyzeCmd struct {
	analysisFlags `embed:""`
	Jobs          int      `help:"Samples analysed in parallel." default:"2" env:"FILETRAIL_ANALYZE_JOBS"`
	Paths         []string `arg:"" name:"path" help:"Sample files, or directories walked recursively." type:"path"`
}

// Run prints one VT File object per sample, in the order of the arguments
// (directory contents sorted by path). Samples that cannot be read or
// exceed the size cap are reported on stderr and give exit status 1.
func (c *analyzeCmd) Run(a *app) error {
	files, err := samplePaths(c.Paths)
	if err != nil {
		return err
	}
	r, err := c.runner(a)
	if err != nil {
		return err
	}
	jobs := max(c.Jobs, 1)
	results := make([]chan analyzeResult, len(files))
	for i := range results {
		results[i] = make(chan analyzeResult, 1)
	}
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	go func() {
		for i, p := range files {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				rep, err := r.AnalyzeFile(a.ctx, p)
				results[i] <- analyzeResult{rep, err}
			}()
		}
	}()
	w := bufio.NewWriter(a.stdout)
	defer w.Flush()
	bad := 0
	for i, ch := range results {
		res := <-ch
		if res.err != nil {
			bad++
			fmt.Fprintf(a.stderr, "%s: %v\n", files[i], res.err)
			if a.ctx.Err() != nil {
				return a.ctx.Err()
			}
			continue
		}
		b, err := res.rep.Object()
		if err != nil {
			return err
		}
		w.Write(b)
		w.WriteByte('\n')
		w.Flush()
	}
	wg.Wait()
	if bad > 0 {
		return &exitError{code: exitRejects, err: fmt.Errorf("%d of %d samples not analysed", bad, len(files))}
	}
	return nil
}

type analyzeResult struct {
	rep *analyze.Report
	err error
}

// samplePaths expands directories into their regular files, sorted.
func samplePaths(args []string) ([]string, error) {
	var out []string
	for _, p := range args {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// workerCmd is the sandboxed child: limits from flags, sample on fd 3,
// results on fd 4 (see package sandbox).
type workerCmd struct {
	CPUTime time.Duration `help:"CPU-time limit." default:"20s" env:"FILETRAIL_WORKER_CPU_TIME"`
	Memory  int64         `help:"Address-space limit in bytes." default:"2147483648" env:"FILETRAIL_WORKER_MEMORY"`
	MaxSize int64         `help:"Largest sample read." default:"268435456" env:"FILETRAIL_WORKER_MAX_SIZE"`
}

func (c *workerCmd) Run(a *app) error {
	return sandbox.ServeWorker(sandbox.Limits{CPUTime: c.CPUTime, Memory: c.Memory}, c.MaxSize, analyze.RunPassesFile)
}

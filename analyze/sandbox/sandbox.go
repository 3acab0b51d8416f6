// Package sandbox runs analyze's parser passes over untrusted samples in a
// child process with CPU-time, address-space and wall-clock limits.
//
// The parent starts a worker (the same program re-executed with a hidden
// subcommand that calls ServeWorker) and, while it runs, computes the
// whole-file hashes itself (they need no parser). The worker maps the
// sample from file descriptor 3 and writes one JSON Partial per finished
// pass to descriptor 4. When the worker crashes, exceeds a limit or hangs,
// the parent keeps the hashes and every pass that finished, and records a
// Failure for the pass that was running. The worker's stdout is discarded
// (parser libraries print there) and never used as a data channel.
package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/filetrail/filetrail/analyze"
	"golang.org/x/sys/unix"
)

// Limits bound one worker.
type Limits struct {
	CPUTime   time.Duration // RLIMIT_CPU; 0 = default
	Memory    int64         // RLIMIT_AS in bytes; 0 = default
	WallClock time.Duration // the parent kills the worker after this; 0 = default
}

// Default limits.
const (
	DefaultCPUTime   = 20 * time.Second
	DefaultMemory    = 2 << 30
	DefaultWallClock = 30 * time.Second
	// DefaultMaxSize is the default largest sample analysed.
	DefaultMaxSize = 256 << 20
)

func (l Limits) withDefaults() Limits {
	if l.CPUTime <= 0 {
		l.CPUTime = DefaultCPUTime
	}
	if l.Memory <= 0 {
		l.Memory = DefaultMemory
	}
	if l.WallClock <= 0 {
		l.WallClock = DefaultWallClock
	}
	return l
}

// Args returns the worker flags that carry l to ServeWorker (parsed by
// the hidden subcommand).
func (l Limits) Args() []string {
	l = l.withDefaults()
	return []string{"--cpu-time=" + l.CPUTime.String(), "--memory=" + strconv.FormatInt(l.Memory, 10)}
}

// ErrTooLarge is returned for samples above the size cap.
var ErrTooLarge = errors.New("sample larger than the configured size cap")

// Runner analyses samples in worker processes. It is safe for concurrent
// use; each Analyze call runs its own worker.
type Runner struct {
	// Command is the worker command line: the program and its arguments
	// up to (not including) the limit flags, e.g. {exe, "analyze-worker"}.
	Command []string
	Limits  Limits
	// MaxSize is the largest sample analysed (bytes); 0 = DefaultMaxSize.
	MaxSize int64
	// Env is extra environment for the worker (KEY=value).
	Env []string
	// Logger receives one warning per failed pass; nil discards.
	Logger *slog.Logger

	samples, failures atomic.Int64
}

// Counts returns how many samples were analysed and how many parser
// passes failed (panicked, erred, crashed, timed out) since start.
func (r *Runner) Counts() (samples, failures int64) {
	return r.samples.Load(), r.failures.Load()
}

func (r *Runner) maxSize() int64 {
	if r.MaxSize > 0 {
		return r.MaxSize
	}
	return DefaultMaxSize
}

// AnalyzeFile analyses the file at path.
func (r *Runner) AnalyzeFile(ctx context.Context, path string) (*analyze.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > r.maxSize() {
		return nil, fmt.Errorf("%s: %w (%d > %d bytes)", path, ErrTooLarge, st.Size(), r.maxSize())
	}
	data, err := readSample(f, st.Size(), r.maxSize())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r.analyze(ctx, data, f)
}

// readSample reads f from its current offset to its end into one buffer
// sized for size bytes (its length when opened; -1 when unknown), so a
// large sample is read without growing and copying the buffer. It returns
// ErrTooLarge when f holds more than max bytes.
func readSample(f *os.File, size, max int64) ([]byte, error) {
	if size < 0 {
		size = 512 << 10 // unknown: start small and grow
	}
	size = min(size, max)
	// One byte more than expected, to see a file that grew.
	data := make([]byte, 0, size+1)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if int64(len(data)) > max {
			return nil, ErrTooLarge
		}
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Analyze analyses data.
func (r *Runner) Analyze(ctx context.Context, data []byte) (*analyze.Report, error) {
	if int64(len(data)) > r.maxSize() {
		return nil, fmt.Errorf("%w (%d > %d bytes)", ErrTooLarge, len(data), r.maxSize())
	}
	fd, err := unix.MemfdCreate("sample", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("sandbox: memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "sample")
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return r.analyze(ctx, data, f)
}

// analyze runs the passes in a worker reading sample and, meanwhile, hashes
// data here.
func (r *Runner) analyze(ctx context.Context, data []byte, sample *os.File) (*analyze.Report, error) {
	if len(r.Command) == 0 {
		return nil, errors.New("sandbox: no worker command")
	}
	if _, err := sample.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	r.samples.Add(1)
	var (
		partials []analyze.Partial
		done     map[string]bool
		werr     error
		finished = make(chan struct{})
	)
	go func() {
		defer close(finished)
		done, werr = r.runWorker(ctx, sample, func(p analyze.Partial) { partials = append(partials, p) })
	}()
	h := analyze.HashBytes(data)
	<-finished
	rep := &analyze.Report{SHA256: h.SHA256, Attributes: analyze.HashAttributes(h)}
	for _, p := range partials {
		rep.Add(p)
	}
	if werr != nil {
		// The pass after the last one reported was running when the
		// worker died.
		step := "worker"
		for _, name := range analyze.Passes() {
			if !done[name] {
				step = name
				break
			}
		}
		rep.Failures = append(rep.Failures, analyze.Failure{Step: step, Err: werr.Error()})
	}
	for _, fl := range rep.Failures {
		r.failures.Add(1)
		if r.Logger != nil {
			r.Logger.Warn("analysis pass failed", "sha256", rep.SHA256, "step", fl.Step, "err", fl.Err)
		}
	}
	return rep, ctx.Err()
}

// runWorker runs one worker and calls add with each partial it reports, in
// order. It returns the passes reported and, when the worker did not
// finish cleanly, why.
func (r *Runner) runWorker(ctx context.Context, sample *os.File, add func(analyze.Partial)) (map[string]bool, error) {
	lim := r.Limits.withDefaults()
	wctx, cancel := context.WithTimeout(ctx, lim.WallClock)
	defer cancel()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	args := append(append([]string{}, r.Command[1:]...), lim.Args()...)
	cmd := exec.CommandContext(wctx, r.Command[0], args...)
	cmd.ExtraFiles = []*os.File{sample, pw}
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	cmd.Env = append([]string{"GOTRACEBACK=single", "GOMAXPROCS=1"}, r.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		pw.Close()
		return nil, fmt.Errorf("starting worker: %w", err)
	}
	pw.Close()
	done := map[string]bool{}
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		var p analyze.Partial
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber() // keep 64-bit addresses exact
		if err := dec.Decode(&p); err != nil {
			continue
		}
		done[p.Step] = true
		add(p)
	}
	err = cmd.Wait()
	switch {
	case wctx.Err() == context.DeadlineExceeded:
		return done, fmt.Errorf("worker killed after the wall-clock limit of %s", lim.WallClock)
	case ctx.Err() != nil:
		return done, ctx.Err()
	case err != nil:
		msg := err.Error()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				msg = "worker killed by signal " + ws.Signal().String()
				// The kernel sends SIGXCPU at the soft CPU limit and SIGKILL
				// at the hard one (a second later).
				used := ee.ProcessState.UserTime() + ee.ProcessState.SystemTime()
				if ws.Signal() == syscall.SIGXCPU || (ws.Signal() == syscall.SIGKILL && used >= lim.CPUTime) {
					msg += fmt.Sprintf(" (CPU-time limit of %s reached)", lim.CPUTime)
				}
			}
		}
		if tail := bytes.TrimSpace(firstLine(stderr.Bytes())); len(tail) > 0 {
			msg += ": " + string(tail)
		}
		return done, errors.New(msg)
	}
	return done, nil
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

// limitedWriter keeps the first n bytes written.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// ServeWorker is the worker side: it applies the limits to this process,
// reads the sample from descriptor 3 and runs passes (analyze.RunPassesFile
// in production) over its bytes and descriptor 3 itself, writing each
// Partial as a JSON line to descriptor 4.
func ServeWorker(l Limits, maxSize int64, passes func(data []byte, sample *os.File, emit func(analyze.Partial))) error {
	l = l.withDefaults()
	cpu := uint64((l.CPUTime + time.Second - 1) / time.Second)
	if err := unix.Setrlimit(unix.RLIMIT_CPU, &unix.Rlimit{Cur: cpu, Max: cpu + 1}); err != nil {
		return fmt.Errorf("worker: RLIMIT_CPU: %w", err)
	}
	mem := uint64(l.Memory)
	if err := unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: mem, Max: mem}); err != nil {
		return fmt.Errorf("worker: RLIMIT_AS: %w", err)
	}
	in := os.NewFile(3, "sample")
	out := os.NewFile(4, "results")
	if in == nil || out == nil {
		return errors.New("worker: descriptors 3 and 4 must be open")
	}
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	data, err := workerSample(in, maxSize)
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	if err != nil {
		return fmt.Errorf("worker: reading sample: %w", err)
	}
	w := bufio.NewWriter(out)
	var werr error
	passes(data, in, func(p analyze.Partial) {
		b, err := json.Marshal(p)
		if err != nil {
			b, _ = json.Marshal(analyze.Partial{Step: p.Step, Err: "encoding result: " + err.Error()})
		}
		w.Write(b)
		w.WriteByte('\n')
		if err := w.Flush(); err != nil && werr == nil {
			werr = err
		}
	})
	return werr
}

// workerSample returns the sample on in. A non-empty regular file (the
// parent's sample file or memfd, which it does not change while the worker
// runs) is mapped copy-on-write rather than copied: the worker then reads
// the page cache directly, and a parser writing into its input only
// changes its private copy. Anything else is read.
func workerSample(in *os.File, maxSize int64) ([]byte, error) {
	st, err := in.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return readSample(in, -1, maxSize)
	}
	if st.Size() > maxSize {
		return nil, ErrTooLarge
	}
	if st.Size() > 0 && st.Size() <= math.MaxInt {
		if data, err := unix.Mmap(int(in.Fd()), 0, int(st.Size()), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE); err == nil {
			return data, nil
		}
	}
	return readSample(in, st.Size(), maxSize)
}

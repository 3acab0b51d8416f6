package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// FollowOptions configure Follow.
type FollowOptions struct {
	// Path is the log file to follow.
	Path string
	// Checkpoint is the file where Follow keeps its position.
	Checkpoint string
	// Format is a format name, or AutoFormat to detect it from the file's
	// first bytes (waiting for them when the file is empty).
	Format string
	// Poll is how often Follow looks for new data, rotation and truncation
	// once it has read everything; 0 means one second.
	Poll time.Duration
	// Reader configures the format's reader.
	Reader ReaderOptions
	// OnCheckpoint, when set, is called after each checkpoint is written.
	OnCheckpoint func(Checkpoint)
}

// Checkpoint is where Follow resumes. It is written (atomically, by
// renaming a temporary file) only at points where every record of every
// line before Offset has been applied to the store, after flushing the
// Writer.
type Checkpoint struct {
	Version int `json:"version"`
	// Path is the followed path; Dev and Ino identify the file Offset is
	// in (it may be a rotated file that no longer has that path), and Head
	// is the sha256 of its first HeadLen bytes, to recognise it.
	Path    string `json:"path"`
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	Head    string `json:"head"`
	HeadLen int    `json:"head_len"`
	// Offset is the byte where reading resumes; Line is the stream line
	// number of the line that starts there (Follow numbers the lines of
	// all the files it follows in one sequence) and FileLine its number
	// in its file.
	Offset   int64 `json:"offset"`
	Line     int64 `json:"line"`
	FileLine int64 `json:"file_line"`
	// Applied is the stream line number of the first line not yet read:
	// the records of the lines from Line up to it are applied, except
	// those of the Held lines, which a joining reader still held (waiting
	// for their partner). On resume those lines are read again, so that
	// the held records find their partners, but only the held lines' records
	// are ingested.
	Applied int64   `json:"applied"`
	Held    []int64 `json:"held,omitempty"`
}

const checkpointVersion = 1

// headBytes is how much of a file's start identifies it.
const headBytes = 1024

// errFollowStopped ends the reader when Follow's context ends.
var errFollowStopped = errors.New("follow stopped")

// Follow reads the log file opts.Path as it grows, writing its records
// through w, until ctx ends (it then returns nil after a last checkpoint)
// or reading fails. It delivers only complete lines; it follows a rotated
// file (renamed, a new file created at the path: the old file is read to
// its end first, a last line without newline included) and a truncated one
// (read again from its start). It keeps opts.Checkpoint so that a new
// Follow resumes where the last one stopped: no line is lost, and no
// record is ingested twice, except the records of at most one batch when
// the process dies between applying a batch and writing the next
// checkpoint (ingestion is idempotent, so the store is not changed by
// them). A checkpoint whose file was rotated away is resumed in the
// rotated file when it is still in the same directory, else the current
// file is read from its start.
//
// A Zeek TSV log resumed in its middle is read with its header lines
// replayed first. The reader's join of partners (Suricata fileinfo and
// http events, Zeek files and http logs) spans rotations.
func Follow(ctx context.Context, w *Writer, opts FollowOptions) error {
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	t := &tailer{opts: opts, w: w, ctx: ctx, held: map[int64]position{}, replayHeld: map[int64]bool{}}
	if err := t.open(); err != nil {
		return err
	}
	defer func() {
		if t.f != nil {
			t.f.Close()
		}
	}()
	format, err := t.format()
	if err != nil {
		if errors.Is(err, errFollowStopped) {
			return nil
		}
		return err
	}
	if format.Name == "vt" {
		return fmt.Errorf("%s: VT reports are JSON documents, not a log: they cannot be followed", opts.Path)
	}
	ropts := opts.Reader
	ropts.FirstLine = t.nextLine - int64(t.preambleLines)
	sink := &followSink{t: t}
	err = format.NewReader(ropts).Read(context.WithoutCancel(ctx), t, sink)
	if errors.Is(err, errFollowStopped) {
		return nil
	}
	if err == nil {
		err = errors.New("the followed log ended") // tailer never gives EOF
	}
	return err
}

// position is a place in a followed file: where a line starts.
type position struct {
	file     *fileRef
	offset   int64
	line     int64 // stream line number
	fileLine int64
}

// fileRef is a followed file.
type fileRef struct {
	name     string
	dev, ino uint64
	head     []byte // its first bytes, up to headBytes, as last seen
}

// chunk is a run of delivered lines: where each starts.
type chunk struct {
	file      *fileRef
	firstLine int64   // stream line number of starts[0]
	fileLine  int64   // file line number of starts[0]
	starts    []int64 // offsets
}

// tailer is the io.Reader the format reader reads: the followed file's
// complete lines, across rotations and truncations. Every call of Read
// happens when the reader has consumed all the complete lines delivered
// before (its bufio.Reader asks for more only then) unless the last
// delivery ended inside a line: those calls are the points where a
// checkpoint is right.
type tailer struct {
	opts FollowOptions
	w    *Writer
	ctx  context.Context

	f        *os.File
	file     *fileRef
	readOff  int64  // bytes of f read into buf
	buf      []byte // read, not delivered
	delivOff int64  // offset in f of buf[0]
	nextLine int64  // stream number of the next line to deliver
	fileLine int64  // its number in its file
	boundary bool   // the last delivery ended at a line end
	dirty    bool   // lines were delivered since the last checkpoint
	preamble []byte // header lines replayed before resuming
	// preambleLines counts the lines of preamble; they take the stream
	// numbers just before nextLine.
	preambleLines int

	recent [2]*chunk // the last two deliveries
	held   map[int64]position
	// Suppression on resume: records of stream lines below applied are
	// dropped unless replayHeld has the line.
	applied    int64
	replayHeld map[int64]bool
	segments   []segment
	sinceCP    int64 // bytes delivered since the last checkpoint
}

// segment maps stream line numbers to a file's line numbers.
type segment struct {
	file      *fileRef
	firstLine int64 // stream number of the segment's first line
	fileLine  int64 // its file line number
}

// checkpointEvery bounds the bytes read between two checkpoints when the
// log never pauses.
const checkpointEvery = 4 << 20

// open positions the tailer: at the checkpoint when there is a usable
// one, else at the start of the file (waiting for it to exist).
func (t *tailer) open() error {
	cp, err := readCheckpoint(t.opts.Checkpoint)
	if err != nil {
		return err
	}
	t.nextLine, t.fileLine, t.boundary = 1, 1, true
	if cp != nil {
		t.nextLine = cp.Line
		t.applied = cp.Applied
		for _, l := range cp.Held {
			t.replayHeld[l] = true
		}
		if f, ref, ok := findCheckpointFile(t.opts.Path, cp); ok {
			if _, err := f.Seek(cp.Offset, io.SeekStart); err != nil {
				f.Close()
				return err
			}
			t.f, t.file = f, ref
			t.readOff, t.delivOff, t.fileLine = cp.Offset, cp.Offset, cp.FileLine
			t.segments = append(t.segments, segment{file: ref, firstLine: t.nextLine, fileLine: t.fileLine})
			return t.loadPreamble()
		}
		// The checkpoint's file is gone or changed: nothing of what it
		// held can be replayed.
		t.applied, t.replayHeld = 0, map[int64]bool{}
	}
	for {
		f, err := os.Open(t.opts.Path)
		if err == nil {
			t.switchTo(f)
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if !t.sleep() {
			return nil // stopped before the file appeared; format() returns
		}
	}
}

// switchTo starts reading f from its beginning.
func (t *tailer) switchTo(f *os.File) {
	if t.f != nil {
		t.f.Close()
	}
	t.f = f
	t.file = refOf(f, t.opts.Path)
	t.readOff, t.delivOff, t.fileLine = 0, 0, 1
	t.buf = t.buf[:0]
	t.segments = append(t.segments, segment{file: t.file, firstLine: t.nextLine, fileLine: 1})
	if len(t.segments) > 16 {
		t.segments = slices.Delete(t.segments, 0, len(t.segments)-16)
	}
}

// loadPreamble keeps the header lines of a Zeek TSV log resumed in its
// middle, to be read again before the rest.
func (t *tailer) loadPreamble() error {
	if t.readOff == 0 {
		return nil
	}
	head := make([]byte, min(t.readOff, 64<<10))
	n, err := t.f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	head = head[:n]
	for len(head) > 0 && head[0] == '#' {
		i := bytes.IndexByte(head, '\n')
		if i < 0 {
			break
		}
		t.preamble = append(t.preamble, head[:i+1]...)
		t.preambleLines++
		head = head[i+1:]
	}
	return nil
}

// format returns the reader's format, detecting it from the file's first
// bytes when asked to.
func (t *tailer) format() (Format, error) {
	if t.opts.Format != "" && t.opts.Format != AutoFormat {
		return LookupFormat(t.opts.Format)
	}
	for {
		if t.f == nil {
			return Format{}, errFollowStopped
		}
		head := make([]byte, DetectBytes)
		n, err := t.f.ReadAt(head, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			return Format{}, err
		}
		if n > 0 && (bytes.IndexByte(head[:n], '\n') >= 0 || n == len(head)) {
			f, err := DetectFormat(head[:n])
			if err != nil {
				return Format{}, fmt.Errorf("%s: %w; name it with --format", t.opts.Path, err)
			}
			return f, nil
		}
		if !t.sleep() {
			return Format{}, errFollowStopped
		}
	}
}

// sleep waits for the poll interval; false when ctx ended.
func (t *tailer) sleep() bool {
	tm := time.NewTimer(t.opts.Poll)
	defer tm.Stop()
	select {
	case <-t.ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

func (t *tailer) Read(p []byte) (int, error) {
	if len(t.preamble) > 0 {
		n := copy(p, t.preamble)
		t.preamble = t.preamble[n:]
		return n, nil
	}
	if t.boundary {
		if t.ctx.Err() != nil {
			return 0, errors.Join(errFollowStopped, t.checkpoint())
		}
		if t.sinceCP >= checkpointEvery {
			if err := t.checkpoint(); err != nil {
				return 0, err
			}
		}
	}
	for {
		if n := t.deliver(p); n > 0 {
			return n, nil
		}
		got, err := t.fill()
		if err != nil {
			return 0, err
		}
		if got {
			continue
		}
		// At the end of the file: a point to checkpoint, then look for
		// rotation and truncation.
		if t.boundary && t.dirty {
			if err := t.checkpoint(); err != nil {
				return 0, err
			}
		}
		switched, err := t.checkRotation()
		if err != nil {
			return 0, err
		}
		if switched {
			continue
		}
		if !t.sleep() {
			if t.boundary {
				return 0, errors.Join(errFollowStopped, t.checkpoint())
			}
			return 0, errFollowStopped
		}
	}
}

// fill reads more of the current file into buf; false at its end.
func (t *tailer) fill() (bool, error) {
	var tmp [readBufferSize]byte
	n, err := t.f.Read(tmp[:])
	if n > 0 {
		t.buf = append(t.buf, tmp[:n]...)
		base := t.readOff // offset of tmp[0]
		t.readOff += int64(n)
		if h := int64(len(t.file.head)); h < headBytes && base <= h && base+int64(n) > h {
			t.file.head = append(t.file.head, tmp[h-base:min(int64(n), headBytes-base)]...)
		}
		return true, nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return false, nil
}

// deliver copies complete lines of buf into p, ending at a line end when
// it can; a line longer than p goes in pieces.
func (t *tailer) deliver(p []byte) int {
	end := bytes.LastIndexByte(t.buf[:min(len(t.buf), len(p))], '\n') + 1
	if end == 0 {
		if len(t.buf) < len(p) {
			return 0 // no complete line yet
		}
		end = len(p) // a line longer than p goes in pieces
	}
	n := copy(p, t.buf[:end])
	c := &chunk{file: t.file, firstLine: t.nextLine, fileLine: t.fileLine}
	start := t.delivOff
	inLine := !t.boundary
	for i, b := range p[:n] {
		if !inLine {
			c.starts = append(c.starts, start)
			inLine = true
		}
		if b == '\n' {
			inLine = false
			start = t.delivOff + int64(i) + 1
		}
	}
	lines := int64(bytes.Count(p[:n], []byte{'\n'}))
	t.nextLine += lines
	t.fileLine += lines
	t.boundary = p[n-1] == '\n'
	t.recent[0], t.recent[1] = t.recent[1], c
	t.delivOff += int64(n)
	t.buf = t.buf[n:]
	if len(t.buf) == 0 {
		t.buf = nil
	}
	t.dirty = true
	t.sinceCP += int64(n)
	return n
}

// checkRotation looks at the path: a new file there (the current one was
// rotated) is switched to once the current one is read to its end; a
// current file shorter than what was read was truncated and is read again
// from its start. It reports whether reading should go on at once.
func (t *tailer) checkRotation() (bool, error) {
	fi, err := os.Stat(t.opts.Path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil // rotated, the new file not there yet
		}
		return false, err
	}
	cur, err := t.f.Stat()
	if err != nil {
		return false, err
	}
	if os.SameFile(fi, cur) {
		if fi.Size() < t.readOff || !t.headUnchanged() {
			// Truncated: what was not delivered is gone with it.
			if _, err := t.f.Seek(0, io.SeekStart); err != nil {
				return false, err
			}
			t.readOff, t.delivOff, t.fileLine = 0, 0, 1
			t.buf = nil
			t.file = refOf(t.f, t.opts.Path)
			t.segments = append(t.segments, segment{file: t.file, firstLine: t.nextLine, fileLine: 1})
			return true, nil
		}
		return false, nil
	}
	// Rotated: read what was appended to the old file meanwhile, and its
	// last line even without a newline, then go to the new file.
	for {
		got, err := t.fill()
		if err != nil {
			return false, err
		}
		if !got {
			break
		}
	}
	if len(t.buf) > 0 && t.buf[len(t.buf)-1] != '\n' {
		t.buf = append(t.buf, '\n')
	}
	if len(t.buf) > 0 {
		return true, nil // deliver them; the rotation is seen again after
	}
	f, err := os.Open(t.opts.Path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	t.switchTo(f)
	return true, nil
}

// headUnchanged reports whether the current file still starts with the
// bytes read from it: a file truncated and written again past the read
// offset between two polls starts differently.
func (t *tailer) headUnchanged() bool {
	h := t.file.head
	if len(h) == 0 {
		return true
	}
	got := make([]byte, len(h))
	n, _ := t.f.ReadAt(got, 0)
	return bytes.Equal(got[:n], h)
}

// positionOf is where stream line l starts, when it was delivered in one
// of the last two chunks.
func (t *tailer) positionOf(l int64) (position, bool) {
	for _, c := range t.recent {
		if c == nil || l < c.firstLine || l >= c.firstLine+int64(len(c.starts)) {
			continue
		}
		i := l - c.firstLine
		return position{file: c.file, offset: c.starts[i], line: l, fileLine: c.fileLine + i}, true
	}
	return position{}, false
}

// resumePoint is where a checkpoint taken now resumes: the start of the
// oldest held line, else the end of what was delivered.
func (t *tailer) resumePoint() position {
	p := position{file: t.file, offset: t.delivOff, line: t.nextLine, fileLine: t.fileLine}
	for _, h := range t.held {
		if h.line < p.line {
			p = h
		}
	}
	return p
}

// checkpoint applies the writer's queued records and writes where to
// resume. It must be called only where every delivered line was read.
func (t *tailer) checkpoint() error {
	if err := t.w.Flush(context.WithoutCancel(t.ctx)); err != nil {
		return err
	}
	p := t.resumePoint()
	cp := Checkpoint{
		Version: checkpointVersion, Path: t.opts.Path,
		Dev: p.file.dev, Ino: p.file.ino,
		Offset: p.offset, Line: p.line, FileLine: p.fileLine,
		Applied: t.nextLine,
	}
	sum := sha256.Sum256(p.file.head)
	cp.Head, cp.HeadLen = hex.EncodeToString(sum[:]), len(p.file.head)
	for _, l := range slices.Sorted(maps.Keys(t.held)) {
		cp.Held = append(cp.Held, l)
	}
	// Lines held in an earlier run and not yet seen again stay held.
	for l := range t.replayHeld {
		if l >= t.nextLine {
			cp.Held = append(cp.Held, l)
		}
	}
	slices.Sort(cp.Held)
	if t.applied > cp.Applied {
		cp.Applied = t.applied // still replaying: the old bound stands
	}
	if err := writeCheckpoint(t.opts.Checkpoint, cp); err != nil {
		return err
	}
	t.dirty, t.sinceCP = false, 0
	if t.opts.OnCheckpoint != nil {
		t.opts.OnCheckpoint(cp)
	}
	return nil
}

// segmentOf returns the file and file line number of stream line l.
func (t *tailer) segmentOf(l int64) (string, int64) {
	for i := len(t.segments) - 1; i >= 0; i-- {
		s := t.segments[i]
		if l >= s.firstLine {
			return s.file.name, s.fileLine + l - s.firstLine
		}
	}
	if len(t.segments) > 0 {
		s := t.segments[0]
		return s.file.name, max(1, s.fileLine+l-s.firstLine)
	}
	return t.opts.Path, l
}

// suppressed reports whether the records of stream line l were applied
// by an earlier run.
func (t *tailer) suppressed(l int64) bool {
	return l < t.applied && !t.replayHeld[l]
}

// followSink is the reader's sink during Follow: it drops what an earlier
// run applied, names the file and line of each record, and tracks the
// lines whose records the reader holds.
type followSink struct{ t *tailer }

func (s *followSink) Record(ctx context.Context, r Record) error {
	if s.t.suppressed(r.Line) {
		return nil
	}
	name, line := s.t.segmentOf(r.Line)
	r.Line = line
	return s.t.w.Sink(name).Record(ctx, r)
}

func (s *followSink) Reject(r Reject) {
	if s.t.suppressed(r.Line) {
		return
	}
	name, line := s.t.segmentOf(r.Line)
	r.Line, r.Input = line, name
	s.t.w.Sink(name).Reject(r)
}

func (s *followSink) Hold(l int64) {
	p, ok := s.t.positionOf(l)
	if !ok {
		// Not in the last deliveries (a line split over several):
		// resume at the oldest line still known, earlier than l.
		for _, c := range s.t.recent {
			if c != nil && len(c.starts) > 0 {
				p = position{file: c.file, offset: c.starts[0], line: c.firstLine, fileLine: c.fileLine}
				break
			}
		}
		p.line = min(p.line, l)
	}
	s.t.held[l] = p
}

func (s *followSink) Release(l int64) { delete(s.t.held, l) }

// readCheckpoint reads a checkpoint file; nil when there is none.
func readCheckpoint(path string) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cp Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil || cp.Version != checkpointVersion || cp.Line < 1 || cp.Offset < 0 {
		return nil, fmt.Errorf("checkpoint %s is not a valid checkpoint: remove it to start over", path)
	}
	return &cp, nil
}

// writeCheckpoint replaces the checkpoint file atomically.
func writeCheckpoint(path string, cp Checkpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// findCheckpointFile opens the file a checkpoint points into: the file at
// the path when it is the same file (same identity, its start unchanged,
// not shorter than the offset), else a file of the same directory with
// that identity (the rotated file).
func findCheckpointFile(path string, cp *Checkpoint) (*os.File, *fileRef, bool) {
	candidates := []string{path}
	if entries, err := os.ReadDir(filepath.Dir(path)); err == nil {
		for _, e := range entries {
			if p := filepath.Join(filepath.Dir(path), e.Name()); p != path && e.Type().IsRegular() {
				candidates = append(candidates, p)
			}
		}
	}
	for _, c := range candidates {
		f, err := os.Open(c)
		if err != nil {
			continue
		}
		ref := refOf(f, path)
		fi, err := f.Stat()
		if err != nil || ref.dev != cp.Dev || ref.ino != cp.Ino || fi.Size() < cp.Offset || !sameHead(f, cp) {
			f.Close()
			continue
		}
		head := make([]byte, headBytes)
		n, _ := f.ReadAt(head, 0)
		ref.head = head[:n]
		return f, ref, true
	}
	return nil, nil, false
}

// sameHead reports whether f starts with the bytes the checkpoint saw.
func sameHead(f *os.File, cp *Checkpoint) bool {
	head := make([]byte, cp.HeadLen)
	n, err := f.ReadAt(head, 0)
	if n != cp.HeadLen && (err == nil || !errors.Is(err, io.EOF) || n < cp.HeadLen) {
		return false
	}
	sum := sha256.Sum256(head[:n])
	return hex.EncodeToString(sum[:]) == cp.Head
}

// refOf describes an open file.
func refOf(f *os.File, name string) *fileRef {
	ref := &fileRef{name: name}
	if fi, err := f.Stat(); err == nil {
		ref.dev, ref.ino = fileIdentity(fi)
	}
	return ref
}

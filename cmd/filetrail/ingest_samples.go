package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/filetrail/filetrail/ingest"
)

// maxSampleLookups bounds the sha256s a sampleFinder remembers having
// looked up; past it, it forgets them all (a file may then be looked up,
// never analysed, twice).
const maxSampleLookups = 1 << 20

// sampleFinder looks for the bytes of sighted files in a directory (the
// --samples flag): a file named by its sha256, directly in the directory
// or in Suricata's filestore layout (a subdirectory named by the first two
// hex digits), and analyses each one found once, as the samples format
// does.
type sampleFinder struct {
	dir    string
	looked map[string]bool
	found  []string
}

func newSampleFinder(dir string) (*sampleFinder, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("--samples %s is not a directory", dir)
	}
	return &sampleFinder{dir: dir, looked: map[string]bool{}}, nil
}

// accept is the Writer's OnAccept hook: it notes the sample of a sighted
// sha256 when the directory has it.
func (s *sampleFinder) accept(r ingest.Record) {
	if r.Sighting == nil || len(r.Sighting.SHA256) != 64 || s.looked[r.Sighting.SHA256] {
		return
	}
	h := r.Sighting.SHA256
	if len(s.looked) >= maxSampleLookups {
		clear(s.looked)
	}
	s.looked[h] = true
	for _, p := range []string{filepath.Join(s.dir, h), filepath.Join(s.dir, h[:2], h)} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			s.found = append(s.found, p)
			return
		}
	}
}

// analyse runs the samples found so far through the samples format,
// writing their file facts through w.
func (s *sampleFinder) analyse(ctx context.Context, w *ingest.Writer) error {
	found := s.found
	s.found = nil
	for _, p := range found {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = ingest.Run(ctx, w, ingest.Input{Name: p, R: f}, samplesFormat, ingest.ReaderOptions{})
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

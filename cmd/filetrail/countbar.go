package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// countBar shows the progress of a long store operation counted in rows,
// on a terminal only (elsewhere it shows nothing; callers print a summary).
type countBar struct {
	bar *progressbar.ProgressBar
}

func newCountBar(w io.Writer, description string) *countBar {
	if !isTerminal(w) {
		return &countBar{}
	}
	return &countBar{bar: progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)}
}

// isTerminal reports whether w is a terminal: progress bars are drawn only
// there.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// set reports done of total rows.
func (c *countBar) set(done, total int64) {
	if c.bar == nil {
		return
	}
	if c.bar.GetMax64() != total {
		c.bar.ChangeMax64(total)
	}
	_ = c.bar.Set64(done)
}

func (c *countBar) finish() {
	if c.bar != nil {
		_ = c.bar.Finish()
	}
}

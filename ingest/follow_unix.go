//go:build unix

package ingest

import (
	"os"
	"syscall"
)

// fileIdentity is the device and inode of a file, which survive renames.
func fileIdentity(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

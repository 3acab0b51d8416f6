// Package magic describes data with libmagic, the library behind file(1):
// the same description string ("PE32 executable (GUI) Intel 80386, for MS
// Windows") and MIME type.
//
// It describes from a file descriptor, not from a buffer: for some formats
// (ELF) libmagic prints more detail from a descriptor. Bytes are written to
// an anonymous in-memory file first.
package magic

/*
#cgo LDFLAGS: -lmagic
#include <stdlib.h>
#include <magic.h>
*/
import "C"

import (
	"errors"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Result is libmagic's answer for one input.
type Result struct {
	Description string // file -b
	MIME        string // file -b --mime-type
}

var (
	mu      sync.Mutex // a magic_t cookie is not safe for concurrent use
	cookie  [2]C.magic_t
	loaded  bool
	loadErr error
)

func load() error {
	if loaded {
		return loadErr
	}
	loaded = true
	for i, flags := range []C.int{C.MAGIC_NONE, C.MAGIC_MIME_TYPE} {
		c := C.magic_open(flags | C.MAGIC_ERROR)
		if c == nil {
			loadErr = errors.New("magic: magic_open failed")
			return loadErr
		}
		if C.magic_load(c, nil) != 0 {
			loadErr = errors.New("magic: " + C.GoString(C.magic_error(c)))
			C.magic_close(c)
			return loadErr
		}
		cookie[i] = c
	}
	return nil
}

// Want selects the answers File and Bytes compute; each one is a separate
// libmagic run over the input.
type Want int

const (
	Description Want = 1 << iota // Result.Description
	MIME                         // Result.MIME
	All         = Description | MIME
)

// File describes the open file f from its first byte (f's offset is left
// anywhere): the answers want selects, the others empty.
func File(f *os.File, want Want) (Result, error) {
	mu.Lock()
	defer mu.Unlock()
	if err := load(); err != nil {
		return Result{}, err
	}
	var r Result
	for i, dst := range []*string{&r.Description, &r.MIME} {
		if want&(1<<i) == 0 {
			continue
		}
		if _, err := f.Seek(0, 0); err != nil {
			return Result{}, err
		}
		s := C.magic_descriptor(cookie[i], C.int(f.Fd()))
		if s == nil {
			return Result{}, errors.New("magic: " + C.GoString(C.magic_error(cookie[i])))
		}
		*dst = C.GoString(s)
	}
	return r, nil
}

// Bytes describes data (the answers want selects, the others empty), as
// File would describe a file holding data.
func Bytes(data []byte, want Want) (Result, error) {
	fd, err := unix.MemfdCreate("sample", unix.MFD_CLOEXEC)
	if err != nil {
		return bufferResult(data, want)
	}
	f := os.NewFile(uintptr(fd), "sample")
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return Result{}, err
	}
	return File(f, want)
}

// bufferResult is the fallback when no in-memory file can be made.
func bufferResult(data []byte, want Want) (Result, error) {
	mu.Lock()
	defer mu.Unlock()
	if err := load(); err != nil {
		return Result{}, err
	}
	var r Result
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	for i, dst := range []*string{&r.Description, &r.MIME} {
		if want&(1<<i) == 0 {
			continue
		}
		s := C.magic_buffer(cookie[i], p, C.size_t(len(data)))
		if s == nil {
			return Result{}, errors.New("magic: " + C.GoString(C.magic_error(cookie[i])))
		}
		*dst = C.GoString(s)
	}
	return r, nil
}

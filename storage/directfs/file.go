package directfs

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// errWriteOnly is returned by the methods a blob file being written never
// needs: pebble reads a blob file only once it is closed, through a file of
// its own.
var errWriteOnly = errors.New("directfs: a blob file being written is written only, front to back")

// file is a blob file being written. buf holds the bytes from off on, off
// a multiple of Alignment: a full buffer is written at once; Sync writes the
// partial tail too, padded, and truncates the file back to its length. The
// tail stays in buf, so the next write of the buffer rewrites its block
// whole. Once a write fails the file fails every call but Close: pebble
// abandons a blob file whose write failed.
type file struct {
	fs   *FS
	name string

	mu     sync.Mutex
	f      *os.File
	buf    []byte
	n      int   // bytes in buf
	off    int64 // file offset of buf[0]
	dirty  bool  // buf[:n] has bytes the file does not
	direct bool  // O_DIRECT is on (it is turned off if the device refuses a write)
	err    error
}

var _ vfs.File = (*file)(nil)

func (f *file) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	written := 0
	for len(p) > 0 {
		c := copy(f.buf[f.n:], p)
		f.n += c
		p = p[c:]
		written += c
		f.dirty = true
		if f.n < len(f.buf) {
			break
		}
		if err := f.writeAt(f.buf, f.off); err != nil {
			return written, err
		}
		f.off += int64(f.n)
		f.n, f.dirty = 0, false
	}
	return written, nil
}

// writeTail writes what buf holds, its last block padded with zeros, and
// truncates the file to its length. It keeps the partial last block in buf.
func (f *file) writeTail() error {
	if f.err != nil {
		return f.err
	}
	if !f.dirty {
		return nil
	}
	padded := (f.n + Alignment - 1) &^ (Alignment - 1)
	clear(f.buf[f.n:padded])
	if err := f.writeAt(f.buf[:padded], f.off); err != nil {
		return err
	}
	if padded != f.n {
		if err := f.f.Truncate(f.off + int64(f.n)); err != nil {
			f.err = fmt.Errorf("directfs: truncate %s: %w", f.name, err)
			return f.err
		}
	}
	full := f.n &^ (Alignment - 1)
	f.n = copy(f.buf, f.buf[full:f.n])
	f.off += int64(full)
	f.dirty = false
	return nil
}

// writeAt writes b at off. If the device refuses the direct write (an
// alignment it does not take) it turns O_DIRECT off and writes through the
// page cache from then on.
func (f *file) writeAt(b []byte, off int64) error {
	_, err := f.f.WriteAt(b, off)
	if err != nil && f.direct && errUnsupported(err) && clearDirect(f.f) == nil {
		f.direct = false
		_, err = f.f.WriteAt(b, off)
	}
	if err != nil {
		f.err = fmt.Errorf("directfs: write %s: %w", f.name, err)
	}
	return f.err
}

func (f *file) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.writeTail(); err != nil {
		return err
	}
	return f.f.Sync()
}

func (f *file) SyncData() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.writeTail(); err != nil {
		return err
	}
	return fdatasync(f.f)
}

// SyncTo asks for no sync: every full buffer has already been written to
// the device, and only Sync and SyncData promise durability.
func (f *file) SyncTo(int64) (fullSync bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return false, f.err
}

// Stat writes the tail first, so that the size is the file's length.
func (f *file) Stat() (vfs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.writeTail(); err != nil {
		return nil, err
	}
	return vfs.Default.Stat(f.name)
}

// Close writes the tail, unsynced, and gives the buffer back.
func (f *file) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.buf == nil {
		return errors.New("directfs: close of a closed file")
	}
	err := f.writeTail()
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	f.fs.put(f.buf)
	f.buf = nil
	if f.err == nil {
		f.err = os.ErrClosed
	}
	return err
}

func (f *file) Read([]byte) (int, error)           { return 0, errWriteOnly }
func (f *file) ReadAt([]byte, int64) (int, error)  { return 0, errWriteOnly }
func (f *file) WriteAt([]byte, int64) (int, error) { return 0, errWriteOnly }

// Preallocate does nothing: pebble asks for it only with
// SyncingFileOptions.PreallocateSize, which it never sets for blob files.
func (f *file) Preallocate(offset, length int64) error { return nil }

func (f *file) Prefetch(offset, length int64) error { return nil }

func (f *file) Fd() uintptr { return f.f.Fd() }

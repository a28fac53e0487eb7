package directfs

import (
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cockroachdb/pebble/v2/vfs"
)

const (
	// Alignment is the offset, length and memory alignment of every direct
	// write: 4 KiB, the logical block size of most devices and a multiple of
	// the rest (512 B). A device that needs more makes the write fail with
	// EINVAL, and the file goes on through the page cache.
	Alignment = 4 << 10
	// BufferBytes is the size of one file's write buffer: a 1 MiB value
	// goes out in two writes.
	BufferBytes = 512 << 10
	// MaxBuffers bounds the buffers an FS allocates: one per blob file being
	// written at once, which is one per flush or compaction under way in
	// the databases sharing the FS. A file created while all are taken is
	// written through the page cache.
	MaxBuffers = 4
)

// BufferedBytes is the most an FS holds in write buffers.
const BufferedBytes = MaxBuffers * BufferBytes

// FS is the operating system's filesystem with blob files written
// directly. Its zero value is not usable: call New.
type FS struct {
	vfs.FS

	mu   sync.Mutex
	free [][]byte
	made int
	// taken and allocated mirror, for Buffers, the buffers files hold
	// and made; written under mu.
	taken, allocated atomic.Int32
}

// Buffers returns how many write buffers blob files being written hold
// now, and how many the FS has allocated (the others are free, kept for
// the next file); at most MaxBuffers. Safe from any goroutine.
func (fs *FS) Buffers() (taken, allocated int) {
	return int(fs.taken.Load()), int(fs.allocated.Load())
}

// New returns the operating system's filesystem (vfs.Default) with pebble's
// blob files written with direct I/O.
func New() *FS { return &FS{FS: vfs.Default} }

// Create creates name as vfs.Default does, opened for direct writes if it is
// a blob file, a buffer is free and the filesystem supports O_DIRECT.
func (fs *FS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if !isBlob(name) {
		return fs.FS.Create(name, category)
	}
	buf := fs.get()
	if buf == nil {
		return fs.FS.Create(name, category)
	}
	f, err := openDirect(name)
	if err != nil {
		fs.put(buf)
		if errUnsupported(err) {
			return fs.FS.Create(name, category)
		}
		return nil, err
	}
	return &file{fs: fs, f: f, name: name, buf: buf, direct: true}, nil
}

// isBlob reports whether name is one of pebble's blob files
// (internal/base.MakeFilename: NNNNNN.blob).
func isBlob(name string) bool { return strings.HasSuffix(name, ".blob") }

// get returns a free buffer, or nil if MaxBuffers are in use.
func (fs *FS) get() []byte {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if n := len(fs.free); n > 0 {
		b := fs.free[n-1]
		fs.free = fs.free[:n-1]
		fs.taken.Add(1)
		return b
	}
	if fs.made == MaxBuffers {
		return nil
	}
	fs.made++
	fs.allocated.Store(int32(fs.made))
	fs.taken.Add(1)
	return alignedBuffer(BufferBytes)
}

func (fs *FS) put(b []byte) {
	fs.mu.Lock()
	fs.free = append(fs.free, b)
	fs.taken.Add(-1)
	fs.mu.Unlock()
}

// alignedBuffer returns n bytes starting at a multiple of Alignment.
func alignedBuffer(n int) []byte {
	b := make([]byte, n+Alignment)
	skip := (Alignment - int(uintptr(unsafe.Pointer(&b[0]))%Alignment)) % Alignment
	return b[skip : skip+n : skip+n]
}

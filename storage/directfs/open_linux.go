package directfs

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// openDirect creates name for direct writes, replacing a file of that name
// as vfs.Default's Create does (a new inode, never a truncated old one).
func openDirect(name string) (*os.File, error) {
	const flags = os.O_RDWR | os.O_CREATE | os.O_EXCL | unix.O_CLOEXEC | unix.O_DIRECT
	for {
		f, err := os.OpenFile(name, flags, 0o666)
		if !errors.Is(err, os.ErrExist) {
			return f, err
		}
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
}

// errUnsupported reports whether err says the filesystem or device does not
// take direct I/O (or not with this alignment).
func errUnsupported(err error) bool { return errors.Is(err, unix.EINVAL) }

// clearDirect turns O_DIRECT off on f, which then writes through the page
// cache.
func clearDirect(f *os.File) error {
	fd := int(f.Fd())
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags&^unix.O_DIRECT)
	return err
}

func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

//go:build !linux

package directfs

import (
	"errors"
	"os"
)

var errNoDirectIO = errors.New("directfs: direct I/O is only used on linux")

func openDirect(string) (*os.File, error) { return nil, errNoDirectIO }

func errUnsupported(err error) bool { return errors.Is(err, errNoDirectIO) }

func clearDirect(*os.File) error { return errNoDirectIO }

func fdatasync(f *os.File) error { return f.Sync() }

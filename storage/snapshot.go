package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// A state machine snapshot travels between members as its key-value pairs, in
// key order, and is installed by building sstables from them and ingesting
// those in place of the whole state machine span (pebble's IngestAndExcise),
// atomically. The sender reads from a pebble snapshot, so neither side holds
// more than one chunk in memory.

// ReadStateMachine opens a consistent, point-in-time view of the state
// machine's keys. The caller must close the snapshot.
func (e *Engine) ReadStateMachine() (*pebble.Snapshot, *pebble.Iterator, error) {
	snap := e.DB.NewSnapshot()
	start, end := StateMachineSpan()
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		snap.Close()
		return nil, nil, err
	}
	return snap, it, nil
}

// maxSSTBytes is where an SSTWriter starts a new file.
const maxSSTBytes = 64 << 20

// SSTWriter writes state machine keys, given in increasing order, into
// sstables in a directory, for ReplaceStateMachine.
type SSTWriter struct {
	dir   string
	fs    vfs.FS
	opts  sstable.WriterOptions
	w     *sstable.Writer
	paths []string
	last  []byte
}

// NewSSTWriter creates dir (which must not exist) and returns a writer into
// it.
func (e *Engine) NewSSTWriter(dir string) (*SSTWriter, error) {
	if _, err := e.fs.Stat(dir); err == nil {
		return nil, fmt.Errorf("storage: snapshot directory %s: %w", dir, os.ErrExist)
	}
	if err := e.fs.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &SSTWriter{dir: dir, fs: e.fs, opts: e.opts.MakeWriterOptions(0, e.DB.TableFormat())}, nil
}

// Add writes one key. Keys must be strictly increasing and inside the state
// machine span.
func (w *SSTWriter) Add(key, value []byte) error {
	start, end := StateMachineSpan()
	if string(key) < string(start) || string(key) >= string(end) {
		return fmt.Errorf("storage: snapshot key %x outside the state machine", key)
	}
	if w.last != nil && string(key) <= string(w.last) {
		return fmt.Errorf("storage: snapshot keys out of order at %x", key)
	}
	if w.w != nil && w.w.Raw().EstimatedSize() >= maxSSTBytes {
		if err := w.closeFile(); err != nil {
			return err
		}
	}
	if w.w == nil {
		path := filepath.Join(w.dir, fmt.Sprintf("%06d.sst", len(w.paths)))
		f, err := w.fs.Create(path, vfs.WriteCategoryUnspecified)
		if err != nil {
			return err
		}
		w.w = sstable.NewWriter(objstorageprovider.NewFileWritable(f), w.opts)
		w.paths = append(w.paths, path)
	}
	w.last = append(w.last[:0], key...)
	return w.w.Set(key, value)
}

func (w *SSTWriter) closeFile() error {
	err := w.w.Close() // syncs and closes the file
	w.w = nil
	return err
}

// Finish closes the last file and returns the paths of every file written.
func (w *SSTWriter) Finish() ([]string, error) {
	if w.w != nil {
		if err := w.closeFile(); err != nil {
			return nil, err
		}
	}
	return w.paths, nil
}

// Abort closes the writer and removes its directory.
func (w *SSTWriter) Abort() {
	if w.w != nil {
		_ = w.w.Close()
		w.w = nil
	}
	_ = w.fs.RemoveAll(w.dir)
}

// SnapshotFiles returns the sstables an SSTWriter wrote into dir, in the
// order it wrote them. It reads dir in the engine's filesystem
// (Options.FS), as the writer wrote it.
func (e *Engine) SnapshotFiles(dir string) ([]string, error) {
	names, err := e.fs.List(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: list snapshot directory %s: %w", dir, err)
	}
	var paths []string
	for _, name := range names {
		if strings.HasSuffix(name, ".sst") {
			paths = append(paths, filepath.Join(dir, name))
		}
	}
	sort.Strings(paths) // the writer numbers its files with fixed widths
	return paths, nil
}

// RemoveSnapshotDir removes a directory of received snapshots (one an
// SSTWriter wrote into, or the directory holding several) from the
// engine's filesystem. A directory that does not exist is not an error.
func (e *Engine) RemoveSnapshotDir(dir string) error {
	return e.fs.RemoveAll(dir)
}

// ReplaceStateMachine atomically replaces every key of the state machine with
// the contents of the sstables at paths (written by an SSTWriter). The files
// are moved into the database.
func (e *Engine) ReplaceStateMachine(paths []string) error {
	start, end := StateMachineSpan()
	if len(paths) == 0 {
		return errors.New("storage: a state machine snapshot has no files")
	}
	_, err := e.DB.IngestAndExcise(context.Background(), paths, nil, nil, pebble.KeyRange{Start: start, End: end})
	if err != nil {
		return fmt.Errorf("storage: install state machine snapshot: %w", err)
	}
	return nil
}

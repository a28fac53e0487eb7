package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairnkv/cairn/storage/directfs"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestBlockCacheKeepsBlocksUnderWrites checks that the block cache holds
// blocks while the memtables exist that writes need. pebble reserves each
// memtable's size in the block cache: with a cache of CacheBytes alone, two
// memtables of the default size left no room for any block, and every read
// of an sstable read, checksummed and decompressed its blocks again.
func TestBlockCacheKeepsBlocksUnderWrites(t *testing.T) {
	// Small sizes, the defaults' proportions: two memtables as large as the
	// cache.
	e, err := Open(t.TempDir(), Options{CacheBytes: 2 << 20, MemTableBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	key := func(i int) []byte { return fmt.Appendf(nil, "\x10k%06d", i) }
	value := make([]byte, 100)
	set := func(from, to int) {
		b := e.DB.NewBatch()
		defer b.Close()
		for i := from; i < to; i++ {
			if err := b.Set(key(i), value, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	// Keys in sstables, then writes enough to fill a memtable and start
	// another.
	set(0, 5000)
	if err := e.DB.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		set(10_000+i*1000, 10_000+(i+1)*1000)
	}
	read := func() {
		for i := 0; i < 5000; i += 50 {
			v, closer, err := e.DB.Get(key(i))
			if err != nil {
				t.Fatalf("get %s: %v", key(i), err)
			}
			_ = v
			_ = closer.Close()
		}
	}
	read()
	before := e.DB.Metrics().BlockCache
	read()
	after := e.DB.Metrics().BlockCache
	hits, misses := after.Hits-before.Hits, after.Misses-before.Misses
	if after.Size == 0 || misses > hits/10 {
		t.Fatalf("reading the same keys again: %d block cache hits, %d misses; cache holds %d bytes in %d blocks",
			hits, misses, after.Size, after.Count)
	}
}

// TestLargeValuesInBlobFiles checks that values from separateValuesFrom up
// go to blob files when flushed, and read back intact after flushes,
// compactions, deletes and a reopen.
func TestLargeValuesInBlobFiles(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, Options{CacheBytes: 1 << 20, MemTableBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	key := func(p byte, i int) []byte { return fmt.Appendf(nil, "%c%06d", p, i) }
	size := func(i int) int {
		if i%16 == 0 {
			// Larger than a directfs buffer: written in several writes.
			return 3*directfs.BufferBytes/2 + i
		}
		return separateValuesFrom + i
	}
	value := func(i int) []byte {
		v := make([]byte, size(i))
		for j := range v {
			v[j] = byte(i + j)
		}
		return v
	}
	const n = 64
	for i := range n {
		b := e.DB.NewBatch()
		// One log entry and one state machine value per batch, as the raft
		// log and apply write them; log entries are deleted behind.
		_ = b.Set(key(0x01, i), value(i), nil)
		_ = b.Set(key(0x12, i), value(i), nil)
		if i >= 8 {
			_ = b.DeleteRange(key(0x01, 0), key(0x01, i-8), nil)
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.DB.Compact(t.Context(), []byte{0x00}, []byte{0x20}, true); err != nil {
		t.Fatal(err)
	}
	if m := e.DB.Metrics(); m.BlobFiles.LiveCount == 0 {
		t.Fatalf("no blob files after flushing %d values of %d bytes or more", 2*n, separateValuesFrom)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for i := range n {
		v, closer, err := e.DB.Get(key(0x12, i))
		if err != nil {
			t.Fatalf("get value %d: %v", i, err)
		}
		if string(v) != string(value(i)) {
			t.Fatalf("value %d: %d bytes, not the %d written", i, len(v), size(i))
		}
		_ = closer.Close()
	}
}

// TestBlobFilesWrittenDirect: on the operating system's filesystem the
// engine writes blob files with direct I/O unless told not to; on any
// other (the tests' in-memory one) it uses that filesystem as it is.
// DirectWrites says which, with no buffer taken at rest.
func TestBlobFilesWrittenDirect(t *testing.T) {
	for _, tc := range []struct {
		opts   Options
		direct bool
	}{
		{Options{}, true},
		{Options{BufferedBlobWrites: true}, false},
		{Options{FS: vfs.NewMem()}, false},
	} {
		e, err := Open(t.TempDir(), tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, direct := e.fs.(*directfs.FS); direct != tc.direct {
			t.Errorf("%+v: blob files written directly: %v, want %v", tc.opts, direct, tc.direct)
		}
		if taken, _, ok := e.DirectWrites(); ok != tc.direct || taken != 0 {
			t.Errorf("%+v: DirectWrites() = %d taken, %v; want 0, %v", tc.opts, taken, ok, tc.direct)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// An etcd data directory is refused, not served as an empty store; a
// volume's lost+found is not mistaken for one.
func TestOpenRefusesEtcdDataDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "member", "wal"), 0o700); err != nil {
		t.Fatal(err)
	}
	if e, err := Open(dir, Options{}); !errors.Is(err, ErrForeignDataDir) {
		if err == nil {
			e.Close()
		}
		t.Fatalf("open of an etcd data directory: %v, want ErrForeignDataDir", err)
	}
	if _, err := os.Stat(filepath.Join(dir, stateDir)); !os.IsNotExist(err) {
		t.Fatalf("the refused directory was written to: %v", err)
	}
	other := t.TempDir()
	if err := os.Mkdir(filepath.Join(other, "lost+found"), 0o700); err != nil {
		t.Fatal(err)
	}
	e, err := Open(other, Options{})
	if err != nil {
		t.Fatalf("open beside lost+found: %v", err)
	}
	e.Close()
}

package directfs

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestFileHoldsWhatWasWritten writes random pieces to blob files (sizes
// around the alignment and the buffer, and across both), syncing now and
// then, and checks after every sync and after Close that the file on disk
// is exactly the bytes written, length included.
func TestFileHoldsWhatWasWritten(t *testing.T) {
	dir := t.TempDir()
	fs := New()
	sizes := []int{0, 1, 5, Alignment - 1, Alignment, Alignment + 1, 3*Alignment + 7,
		BufferBytes - 1, BufferBytes, BufferBytes + 1, 2*BufferBytes + 13, 1 << 20}
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 1))
		name := filepath.Join(dir, "00000"+string(rune('0'+seed))+".blob")
		f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		if seed == 0 {
			df, ok := f.(*file)
			t.Logf("direct I/O in %s: %v", dir, ok && df.direct)
		}
		var want []byte
		for range 40 {
			p := make([]byte, sizes[rng.IntN(len(sizes))])
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
			want = append(want, p...)
			if n, err := f.Write(p); err != nil || n != len(p) {
				t.Fatalf("seed %d: Write(%d bytes) = %d, %v", seed, len(p), n, err)
			}
			if rng.IntN(4) == 0 {
				sync := f.Sync
				if rng.IntN(2) == 0 {
					sync = f.SyncData
				}
				if err := sync(); err != nil {
					t.Fatal(err)
				}
				checkFile(t, name, want)
				fi, err := f.Stat()
				if err != nil || fi.Size() != int64(len(want)) {
					t.Fatalf("seed %d: Stat = %v, %v; want size %d", seed, fi, err, len(want))
				}
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		checkFile(t, name, want)
	}
}

func checkFile(t *testing.T, name string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: %d bytes on disk, %d written; first difference at %d", name, len(got), len(want), i)
	}
}

// TestOnlyBlobFilesAreDirect: sstables, the WAL and the MANIFEST are read
// back soon after they are written (or rewritten in place), so they stay in
// the page cache.
func TestOnlyBlobFilesAreDirect(t *testing.T) {
	dir := t.TempDir()
	fs := New()
	for _, name := range []string{"000001.sst", "000002.log", "MANIFEST-000003", "OPTIONS-000004"} {
		f, err := fs.Create(filepath.Join(dir, name), vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := f.(*file); ok {
			t.Errorf("%s: created as a direct file", name)
		}
		f.Close()
	}
	f, err := fs.Create(filepath.Join(dir, "000005.blob"), vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := f.(*file); !ok {
		t.Errorf("000005.blob: not created as a direct file (even one falling back to the page cache)")
	}
}

// TestBuffersAreBounded: with MaxBuffers blob files open the next is written
// through the page cache, correctly; closing one frees its buffer for the
// next file, and Create replaces an existing file as vfs.Default does.
// Buffers counts the buffers open files hold.
func TestBuffersAreBounded(t *testing.T) {
	dir := t.TempDir()
	fs := New()
	var open []vfs.File
	for i := range MaxBuffers {
		f, err := fs.Create(filepath.Join(dir, string(rune('a'+i))+".blob"), vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := f.(*file); !ok {
			t.Fatalf("file %d of %d: no buffer", i+1, MaxBuffers)
		}
		open = append(open, f)
		if taken, made := fs.Buffers(); taken != i+1 || made != i+1 {
			t.Fatalf("%d files open: Buffers() = %d taken, %d allocated; want %d, %d", i+1, taken, made, i+1, i+1)
		}
	}
	name := filepath.Join(dir, "extra.blob")
	extra, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := extra.(*file); ok {
		t.Fatalf("file %d got a buffer: more than MaxBuffers (%d)", MaxBuffers+1, MaxBuffers)
	}
	want := bytes.Repeat([]byte("x"), 3*Alignment+1)
	extra.Write(want)
	if err := extra.Close(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, name, want)

	open[0].Close()
	if taken, made := fs.Buffers(); taken != MaxBuffers-1 || made != MaxBuffers {
		t.Fatalf("one file closed: Buffers() = %d taken, %d allocated; want %d, %d", taken, made, MaxBuffers-1, MaxBuffers)
	}
	again, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := again.(*file); !ok {
		t.Fatal("a closed file's buffer was not reused")
	}
	again.Write([]byte("y"))
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, name, []byte("y"))
	for _, f := range open[1:] {
		f.Close()
	}
	if fs.made != MaxBuffers {
		t.Errorf("%d buffers allocated, want %d", fs.made, MaxBuffers)
	}
	if taken, made := fs.Buffers(); taken != 0 || made != MaxBuffers {
		t.Errorf("every file closed: Buffers() = %d taken, %d allocated; want 0, %d", taken, made, MaxBuffers)
	}
}

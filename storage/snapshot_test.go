package storage

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func openTest(t testing.TB) *Engine {
	t.Helper()
	e, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func set(t testing.TB, e *Engine, k, v string) {
	t.Helper()
	if err := e.DB.Set([]byte(k), []byte(v), pebble.NoSync); err != nil {
		t.Fatal(err)
	}
}

func get(t testing.TB, r pebble.Reader, k string) string {
	t.Helper()
	v, c, err := r.Get([]byte(k))
	if err == pebble.ErrNotFound {
		return "<none>"
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return string(v)
}

func TestReplaceStateMachine(t *testing.T) {
	src, dst := openTest(t), openTest(t)
	// State machine keys start with 0x10..0x1f; others must not travel.
	for i := 0; i < 1000; i++ {
		set(t, src, fmt.Sprintf("\x11src-%04d", i), "v")
	}
	set(t, src, "\x10meta", "src")
	set(t, src, "\x01raft", "src-log")
	set(t, dst, "\x11dst-only", "gone after install")
	set(t, dst, "\x10meta", "dst")
	set(t, dst, "\x01raft", "dst-log")
	set(t, dst, "\x02identity", "dst")

	snap, it, err := src.ReadStateMachine()
	if err != nil {
		t.Fatal(err)
	}
	w, err := dst.NewSSTWriter(filepath.Join(t.TempDir(), "snap"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if err := w.Add(it.Key(), it.Value()); err != nil {
			t.Fatal(err)
		}
		n++
	}
	it.Close()
	snap.Close()
	if n != 1001 {
		t.Fatalf("read %d state machine keys, want 1001", n)
	}
	paths, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	// A view open across the install is not kept intact: pebble's excise
	// is not bound by snapshots. storage/mvcc's views detect it
	// (TestViewAcrossReplace).
	if err := dst.ReplaceStateMachine(paths); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"\x10meta":     "src",
		"\x11src-0999": "v",
		"\x11dst-only": "<none>",
		"\x01raft":     "dst-log",
		"\x02identity": "dst",
	} {
		if got := get(t, dst.DB, k); got != want {
			t.Errorf("%q = %q after install, want %q", k, got, want)
		}
	}
}

func TestSSTWriterRefusesKeysOutsideOrOutOfOrder(t *testing.T) {
	e := openTest(t)
	w, err := e.NewSSTWriter(filepath.Join(t.TempDir(), "snap"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.Add([]byte("\x01raft"), nil); err == nil {
		t.Fatal("accepted a raft log key")
	}
	if err := w.Add([]byte("\x12b"), nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Add([]byte("\x12a"), nil); err == nil {
		t.Fatal("accepted keys out of order")
	}
}

// TestSnapshotFilesInEngineFS checks that a received snapshot is found and
// removed in the engine's filesystem, not the operating system's: members
// of crash tests keep their data in pebble's in-memory filesystem.
func TestSnapshotFilesInEngineFS(t *testing.T) {
	fs := vfs.NewMem()
	e, err := Open("/data", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	dir := "/data/snap/1"
	w, err := e.NewSSTWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add([]byte("\x11k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	want, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.SnapshotFiles(dir)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("SnapshotFiles = %v, %v; want %v", got, err, want)
	}
	if err := e.ReplaceStateMachine(got); err != nil {
		t.Fatal(err)
	}
	if v := get(t, e.DB, "\x11k"); v != "v" {
		t.Fatalf("installed key = %q", v)
	}
	if err := e.RemoveSnapshotDir("/data/snap"); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(dir); err == nil {
		t.Fatalf("%s still exists after RemoveSnapshotDir", dir)
	}
}

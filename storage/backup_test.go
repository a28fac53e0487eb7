package storage

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
)

// TestBackupRoundTrip restores a backup into another engine: the state
// machine becomes the source's, the raft log and identity stay the
// destination's, and the file's length suits etcdctl (a multiple of 512
// bytes, then the checksum).
func TestBackupRoundTrip(t *testing.T) {
	src, dst := openTest(t), openTest(t)
	set(t, src, "\x01raft", "src-log")
	set(t, src, "\x10meta", "src")
	set(t, src, "\x11key", string(bytes.Repeat([]byte("v"), 10_000)))
	set(t, dst, "\x01raft", "dst-log")
	set(t, dst, "\x02identity", "dst")
	set(t, dst, "\x11dst-only", "gone after restore")
	var buf bytes.Buffer
	n, err := src.WriteBackup(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) || (n-32)%512 != 0 {
		t.Fatalf("backup of %d bytes (reported %d): want a multiple of 512 plus 32", buf.Len(), n)
	}
	// Damage anywhere, including the padding and the checksum, is refused
	// and changes nothing.
	for _, at := range []int{0, 20, buf.Len() - 40, buf.Len() - 1} {
		b := bytes.Clone(buf.Bytes())
		b[at] ^= 1
		if err := dst.RestoreBackup(bytes.NewReader(b), filepath.Join(t.TempDir(), "tmp")); !errors.Is(err, ErrBadBackup) {
			t.Fatalf("byte %d damaged: %v, want ErrBadBackup", at, err)
		}
	}
	if got := get(t, dst.DB, "\x11dst-only"); got != "gone after restore" {
		t.Fatalf("a refused restore changed the state machine: %q", got)
	}
	if err := dst.RestoreBackup(bytes.NewReader(buf.Bytes()), filepath.Join(t.TempDir(), "tmp")); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"\x10meta":     "src",
		"\x11key":      string(bytes.Repeat([]byte("v"), 10_000)),
		"\x11dst-only": "<none>",
		"\x01raft":     "dst-log",
		"\x02identity": "dst",
	} {
		if got := get(t, dst.DB, k); got != want {
			t.Errorf("%q = %.20q after restore, want %.20q", k, got, want)
		}
	}
}

// FuzzRestoreBackup restores arbitrary bytes: whatever they are, a restore
// never panics, and one that fails leaves the state machine as it was.
func FuzzRestoreBackup(f *testing.F) {
	src := openTest(f)
	set(f, src, "\x10meta", "src")
	set(f, src, "\x11key", "value")
	var buf bytes.Buffer
	if _, err := src.WriteBackup(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:100])
	f.Add([]byte(backupMagic))
	dst := openTest(f)
	set(f, dst, "\x11dst-only", "kept")
	f.Fuzz(func(t *testing.T, b []byte) {
		err := dst.RestoreBackup(bytes.NewReader(b), filepath.Join(t.TempDir(), "tmp"))
		if err != nil {
			if got := get(t, dst.DB, "\x11dst-only"); got != "kept" {
				t.Fatalf("a failed restore (%v) changed the state machine: %q", err, got)
			}
			return
		}
		// Only a whole backup restores; put the destination back.
		set(t, dst, "\x11dst-only", "kept")
	})
}

package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairnkv/cairn/cairntest"
)

// TestEtcdctlSnapshotSaveAndRestore backs a member up with etcdctl snapshot
// save, restores the file into a new data directory with node restore, and
// starts a member on it that serves the same keys at the same revision.
func TestEtcdctlSnapshotSaveAndRestore(t *testing.T) {
	t.Parallel()
	etcdctl := cairntest.Tool(t, "etcdctl")
	src := cairntest.StartNodeProcess(t, "")
	ctl := func(endpoint string, args ...string) string {
		t.Helper()
		return runCtl(t, etcdctl, endpoint, args...)
	}
	ctl(src.Endpoint, "put", "k1", "v1")
	ctl(src.Endpoint, "put", "k2", "v2")
	ctl(src.Endpoint, "put", "k1", "v1b")
	want := ctl(src.Endpoint, "get", "k", "--prefix", "-w", "fields")

	file := filepath.Join(t.TempDir(), "backup.db")
	out := ctl(src.Endpoint, "snapshot", "save", file)
	if !strings.Contains(out, "Snapshot saved at "+file) {
		t.Fatalf("etcdctl snapshot save printed:\n%s", out)
	}
	if err := src.Stop(); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "restored")
	restore := func(dataDir string) (string, error) {
		b, err := exec.Command(cairntest.NodeBinary(t), "restore", "--data-dir", dataDir, file).CombinedOutput()
		return string(b), err
	}
	if out, err := restore(dir); err != nil || !strings.Contains(out, "at revision 4") {
		t.Fatalf("node restore: %v\n%s", err, out)
	}
	if out, err := restore(dir); err == nil {
		t.Fatalf("node restore into a member's data dir succeeded:\n%s", out)
	}
	dst := cairntest.StartNodeProcess(t, dir)
	got := ctl(dst.Endpoint, "get", "k", "--prefix", "-w", "fields")
	// The header names the new member and cluster; the key-values and the
	// revision are the backup's.
	if kvFields(got) != kvFields(want) {
		t.Fatalf("restored member serves:\n%s\nwant:\n%s", kvFields(got), kvFields(want))
	}
}

// kvFields keeps the revision and key-value lines of etcdctl's fields output.
func kvFields(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		for _, p := range []string{`"Revision"`, `"Key"`, `"CreateRevision"`, `"ModRevision"`, `"Version"`, `"Value"`} {
			if strings.HasPrefix(l, p) {
				keep = append(keep, l)
			}
		}
	}
	return strings.Join(keep, "\n")
}

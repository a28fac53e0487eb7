package cairn_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
	"github.com/cairnkv/cairn/storage"
)

// TestBackupRestoresANewCluster takes a backup with the etcd client's
// Snapshot (what etcdctl snapshot save calls) from a 3-member cluster,
// restores each member of a new 3-member cluster from it, and finds the
// keys, revisions, history and leases of the old cluster, with the new
// cluster's members only.
func TestBackupRestoresANewCluster(t *testing.T) {
	old := cairntest.StartCluster(t, 3)
	ctx := cairntest.Ctx(t)
	cli := old.Leader().Client
	for _, kv := range [][2]string{{"a", "1"}, {"b", "2"}, {"a", "3"}} {
		if _, err := cli.Put(ctx, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	lease, err := cli.Grant(ctx, 3600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "leased", "x", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "big", string(bytes.Repeat([]byte("v"), 100<<10))); err != nil {
		t.Fatal(err)
	}
	want, err := cli.Get(ctx, "", clientv3.WithFromKey())
	if err != nil {
		t.Fatal(err)
	}

	// A follower's backup: any member can take one. A backup is of what the
	// member has applied (as in etcd); a linearizable read through the
	// follower first waits until it has applied the last put.
	follower := old.Followers()[0].Client
	if _, err := follower.Get(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	snap, err := follower.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	backup, err := io.ReadAll(snap)
	snap.Close()
	if err != nil {
		t.Fatal(err)
	}

	// A damaged or truncated backup is refused and leaves nothing behind.
	damaged := bytes.Clone(backup)
	damaged[len(damaged)/2] ^= 0x40
	for name, b := range map[string][]byte{"damaged": damaged, "truncated": backup[:len(backup)-1]} {
		dir := filepath.Join(t.TempDir(), name)
		if _, err := cairn.Restore(bytes.NewReader(b), dir, nil); !errors.Is(err, storage.ErrBadBackup) {
			t.Fatalf("restore of a %s backup: %v, want ErrBadBackup", name, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a failed restore left %s behind (%v)", dir, err)
		}
	}

	dirs := map[string]string{}
	for _, name := range []string{"m1", "m2", "m3"} {
		dirs[name] = filepath.Join(t.TempDir(), name)
		rev, err := cairn.Restore(bytes.NewReader(backup), dirs[name], nil)
		if err != nil {
			t.Fatal(err)
		}
		if rev != want.Header.Revision {
			t.Fatalf("restored revision %d, want %d", rev, want.Header.Revision)
		}
	}
	if _, err := cairn.Restore(bytes.NewReader(backup), dirs["m1"], nil); err == nil {
		t.Fatal("restored into a data dir that holds a member")
	}
	for _, n := range old.Members {
		n.Stop()
	}

	restored := cairntest.StartCluster(t, 3, func(cfg *cairn.Config) { cfg.DataDir = dirs[cfg.Name] })
	cli = restored.Leader().Client
	got, err := cli.Get(ctx, "", clientv3.WithFromKey())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Kvs) != len(want.Kvs) {
		t.Fatalf("restored cluster has %d keys, want %d", len(got.Kvs), len(want.Kvs))
	}
	for i, kv := range got.Kvs {
		w := want.Kvs[i]
		if string(kv.Key) != string(w.Key) || string(kv.Value) != string(w.Value) || kv.ModRevision != w.ModRevision ||
			kv.CreateRevision != w.CreateRevision || kv.Version != w.Version || kv.Lease != w.Lease {
			t.Fatalf("restored %q: %+v, want %+v", kv.Key, kv, w)
		}
	}
	if got.Header.Revision != want.Header.Revision {
		t.Fatalf("restored cluster at revision %d, want %d", got.Header.Revision, want.Header.Revision)
	}
	// History came along: the first value of "a".
	first, err := cli.Get(ctx, "a", clientv3.WithRev(2))
	if err != nil || len(first.Kvs) != 1 || string(first.Kvs[0].Value) != "1" {
		t.Fatalf("a at revision 2: %v, %v", first, err)
	}
	ttl, err := cli.TimeToLive(ctx, lease.ID, clientv3.WithAttachedKeys())
	if err != nil || ttl.TTL <= 0 || len(ttl.Keys) != 1 {
		t.Fatalf("restored lease: %+v, %v", ttl, err)
	}
	members, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(members.Members) != 3 {
		t.Fatalf("restored cluster lists %d members, want its own 3", len(members.Members))
	}
	ids := map[uint64]bool{}
	for _, n := range restored.Members {
		ids[n.ID()] = true
	}
	for _, m := range members.Members {
		if !ids[m.ID] {
			t.Fatalf("member %s (%x) is not one of the restored cluster's", m.Name, m.ID)
		}
	}
	put, err := cli.Put(ctx, "after", "restore")
	if err != nil || put.Header.Revision != want.Header.Revision+1 {
		t.Fatalf("put after restore: %v at revision %d, want %d", err, put.Header.Revision, want.Header.Revision+1)
	}
	// Every member holds the same keyspace.
	var hashes []uint32
	for _, n := range restored.Members {
		if _, err := n.Client.Get(ctx, "after"); err != nil { // linearizable: applied the put
			t.Fatal(err)
		}
		h, err := n.Client.HashKV(ctx, n.Endpoint, put.Header.Revision)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h.Hash)
	}
	if hashes[0] != hashes[1] || hashes[1] != hashes[2] {
		t.Fatalf("restored members' hashes differ: %x", hashes)
	}
}

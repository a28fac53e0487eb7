package mvcc

import (
	"fmt"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// TestLatestCache checks the cache of committed latest records: a put and a
// delete leave the key's record (or its absence) in it once committed, not
// before; Reload (a replaced state machine) empties it; and it stays within
// its budget however many keys are written.
func TestLatestCache(t *testing.T) {
	db, s := openTestStore(t)
	defer db.close(t)
	put := func(b *Batch, k string) {
		if _, err := b.Put(&pb.PutRequest{Key: []byte(k), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	b := s.NewBatch()
	put(b, "a")
	if _, ok := s.latest.get([]byte("a")); ok {
		t.Fatal("an uncommitted put is in the cache")
	}
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	if r, ok := s.latest.get([]byte("a")); !ok || !r.found || r.m.version != 1 {
		t.Fatalf("after the put's commit: %+v, %v", r, ok)
	}
	mustCommit(t, s, func(b *Batch) {
		if _, err := b.DeleteRange(&pb.DeleteRangeRequest{Key: []byte("a")}); err != nil {
			t.Fatal(err)
		}
	})
	if r, ok := s.latest.get([]byte("a")); !ok || r.found {
		t.Fatalf("after the delete's commit: %+v, %v", r, ok)
	}
	// A put after the delete starts the key again at version 1.
	mustCommit(t, s, func(b *Batch) {
		if err := b.Prefetch([][]byte{[]byte("a")}); err != nil {
			t.Fatal(err)
		}
		put(b, "a")
	})
	if r, _ := s.latest.get([]byte("a")); r.m.version != 1 || r.m.create != r.m.mod {
		t.Fatalf("a put after a delete: %+v", r)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if len(s.latest.entries) != 0 {
		t.Fatalf("Reload left %d entries", len(s.latest.entries))
	}

	for i := 0; i < 2*LatestCacheBytes/latestEntryOverhead; i += 1000 {
		mustCommit(t, s, func(b *Batch) {
			for j := i; j < i+1000; j++ {
				put(b, fmt.Sprintf("k%08d", j))
			}
		})
	}
	if s.latest.bytes > LatestCacheBytes {
		t.Fatalf("cache holds %d bytes, budget %d", s.latest.bytes, LatestCacheBytes)
	}
}

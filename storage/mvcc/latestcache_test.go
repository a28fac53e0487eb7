package mvcc

import (
	"fmt"
	"slices"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// TestLatestCache checks the cache of committed latest records: a put and a
// delete leave the key's record (or its absence) in it once committed, not
// before; Reload (a replaced state machine) empties it; and it stays within
// its budget however many keys are written. LatestCacheUsed reports what
// it holds as of each commit.
func TestLatestCache(t *testing.T) {
	db, s := openTestStore(t)
	defer db.close(t)
	put := func(b *Batch, k string) {
		if _, err := b.Put(&pb.PutRequest{Key: []byte(k), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	prefetchPut := func(k string) {
		mustCommit(t, s, func(b *Batch) {
			if err := b.Prefetch([][]byte{[]byte(k)}); err != nil {
				t.Fatal(err)
			}
			put(b, k)
		})
	}
	// A new key is not cached: only keys written again are.
	prefetchPut("a")
	if _, ok := s.latest.get([]byte("a")); ok {
		t.Fatal("a key written once is in the cache")
	}
	b := s.NewBatch()
	if err := b.Prefetch([][]byte{[]byte("a")}); err != nil {
		t.Fatal(err)
	}
	put(b, "a")
	if _, ok := s.latest.get([]byte("a")); ok {
		t.Fatal("an uncommitted put is in the cache")
	}
	if err := b.Commit(2); err != nil {
		t.Fatal(err)
	}
	if r, ok := s.latest.get([]byte("a")); !ok || !r.found || r.m.version != 2 {
		t.Fatalf("after the second put's commit: %+v, %v", r, ok)
	}
	if got, want := s.LatestCacheUsed(), int64(len("a")+latestEntryOverhead); got != want {
		t.Fatalf("one key cached: LatestCacheUsed() = %d, want %d", got, want)
	}
	mustCommit(t, s, func(b *Batch) {
		if _, err := b.DeleteRange(&pb.DeleteRangeRequest{Key: []byte("a")}); err != nil {
			t.Fatal(err)
		}
	})
	if r, ok := s.latest.get([]byte("a")); ok {
		t.Fatalf("after the delete's commit the cache still has %+v", r)
	}
	// Puts after the delete start the key again at version 1.
	prefetchPut("a")
	prefetchPut("a")
	if r, _ := s.latest.get([]byte("a")); r.m.version != 2 || r.m.create != r.m.mod-1 {
		t.Fatalf("two puts after a delete: %+v", r)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if len(s.latest.entries) != 0 || s.LatestCacheUsed() != 0 {
		t.Fatalf("Reload left %d entries, LatestCacheUsed() = %d", len(s.latest.entries), s.LatestCacheUsed())
	}

	// Twice as many keys as fit, each written twice.
	for round := range 2 {
		for i := 0; i < 2*LatestCacheBytes/latestEntryOverhead; i += 1000 {
			mustCommit(t, s, func(b *Batch) {
				var keys [][]byte
				for j := i; j < i+1000; j++ {
					keys = append(keys, fmt.Appendf(nil, "k%08d", j))
				}
				if err := b.Prefetch(slices.Clone(keys)); err != nil {
					t.Fatal(err)
				}
				for _, k := range keys {
					put(b, string(k))
				}
			})
		}
		if round == 1 && len(s.latest.entries) == 0 {
			t.Fatal("keys written twice are not cached")
		}
	}
	if s.latest.bytes > LatestCacheBytes {
		t.Fatalf("cache holds %d bytes, budget %d", s.latest.bytes, LatestCacheBytes)
	}
	if got := s.LatestCacheUsed(); got != int64(s.latest.bytes) || got == 0 {
		t.Fatalf("LatestCacheUsed() = %d, the cache counts %d", got, s.latest.bytes)
	}
}

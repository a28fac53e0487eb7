package mvcc

import (
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// TestManyKeys checks that count and bounded ranges over 100k keys work and
// allocate nothing per key: the store has no in-memory index, and a range
// with a limit keeps only limit+1 keys while it counts the rest. Under the
// race detector it runs on 10k keys and does not count allocations.
func TestManyKeys(t *testing.T) {
	nkeys := 100_000
	if raceEnabled {
		nkeys = 10_000
	}
	// No background compactions: they would allocate while the test
	// measures a range's allocations.
	db := openTestDB(t, nil, func(o *pebble.Options) { o.DisableAutomaticCompactions = true })
	defer db.close(t)
	s, err := Open(db.db)
	if err != nil {
		t.Fatal(err)
	}
	for start := 0; start < nkeys; start += 10_000 {
		mustCommit(t, s, func(b *Batch) {
			for i := start; i < start+10_000; i++ {
				mustPut(t, b, fmt.Sprintf("key/%06d", i), "v")
			}
		})
	}
	// A second version of every tenth key, so historical reads skip.
	mustCommit(t, s, func(b *Batch) {
		for i := 0; i < nkeys; i += 10 {
			mustPut(t, b, fmt.Sprintf("key/%06d", i), "w")
		}
	})
	historic := int64(nkeys + 1) // every key written once
	if err := db.db.Flush(); err != nil {
		t.Fatal(err)
	}

	v := s.Read()
	defer v.Close()
	prefix := []byte("key/")
	end := prefixUpperBound(prefix)
	cases := []struct {
		name string
		req  *pb.RangeRequest
		kvs  int
	}{
		{"count", &pb.RangeRequest{Key: prefix, RangeEnd: end, CountOnly: true}, 0},
		{"limit", &pb.RangeRequest{Key: prefix, RangeEnd: end, Limit: 10}, 10},
		{"limit desc", &pb.RangeRequest{Key: prefix, RangeEnd: end, Limit: 10, SortOrder: pb.RangeRequest_DESCEND}, 10},
		{"limit by mod", &pb.RangeRequest{Key: prefix, RangeEnd: end, Limit: 10, SortTarget: pb.RangeRequest_MOD, SortOrder: pb.RangeRequest_DESCEND}, 10},
		{"limit filtered", &pb.RangeRequest{Key: prefix, RangeEnd: end, Limit: 10, MinModRevision: historic + 1}, 10},
		{"historic count", &pb.RangeRequest{Key: prefix, RangeEnd: end, CountOnly: true, Revision: historic}, 0},
		{"historic limit", &pb.RangeRequest{Key: prefix, RangeEnd: end, Limit: 10, Revision: historic}, 10},
		{"historic desc", &pb.RangeRequest{Key: prefix, RangeEnd: end, Limit: 10, Revision: historic, SortOrder: pb.RangeRequest_DESCEND, SortTarget: pb.RangeRequest_KEY}, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			resp := mustRange(t, v, c.req)
			runtime.ReadMemStats(&after)
			if resp.Count != int64(nkeys) || len(resp.Kvs) != c.kvs {
				t.Fatalf("count %d, %d kvs; want %d, %d", resp.Count, len(resp.Kvs), nkeys, c.kvs)
			}
			if c.kvs > 0 && !resp.More {
				t.Fatal("more not set")
			}
			if raceEnabled {
				return
			}
			// A per-key allocation would be at least nkeys allocations.
			if n := after.Mallocs - before.Mallocs; n > uint64(nkeys/10) {
				t.Fatalf("%d allocations for %d keys", n, nkeys)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
				t.Fatalf("%d bytes allocated for %d keys", n, nkeys)
			}
		})
	}
	// The whole prefix under a bound of a few KiB: the range gives up once
	// the bound is passed, rather than after building the response.
	t.Run("bounded", func(t *testing.T) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := v.RangeWithin(&pb.RangeRequest{Key: prefix, RangeEnd: end}, 4<<10)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrResponseTooLarge) {
			t.Fatalf("RangeWithin = %v, want ErrResponseTooLarge", err)
		}
		if raceEnabled {
			return
		}
		if n := after.Mallocs - before.Mallocs; n > uint64(nkeys/10) {
			t.Fatalf("%d allocations for %d keys", n, nkeys)
		}
	})
}

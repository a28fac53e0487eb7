package mvcc

import (
	"fmt"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// The benchmarks run on pebble's in-memory filesystem: they measure the
// store's CPU cost, not the disk's.

// BenchmarkPut applies puts of 128-byte values to 10k keys, 100 per batch.
func BenchmarkPut(b *testing.B) {
	db, s := openTestStore(b)
	defer db.close(b)
	value := make([]byte, 128)
	keys := make([][]byte, 10_000)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key/%06d", i)
	}
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	batch := s.NewBatch()
	for i := 0; b.Loop(); i++ {
		if _, err := batch.Put(&pb.PutRequest{Key: keys[i%len(keys)], Value: value}); err != nil {
			b.Fatal(err)
		}
		if i%100 == 99 {
			if err := batch.Commit(uint64(i)); err != nil {
				b.Fatal(err)
			}
			batch = s.NewBatch()
		}
	}
	batch.Close()
}

// rangeStore holds 10k keys with 128-byte values, each written 4 times
// (revisions 2..40001 for the first round, and so on).
func rangeStore(b *testing.B) (*testDB, *Store) {
	b.Helper()
	db, s := openTestStore(b)
	value := make([]byte, 128)
	for round := range 4 {
		mustCommit(b, s, func(batch *Batch) {
			for i := range 10_000 {
				value[0] = byte(round)
				if _, err := batch.Put(&pb.PutRequest{Key: fmt.Appendf(nil, "key/%06d", i), Value: value}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	return db, s
}

func benchRange(b *testing.B, rev func(*Store) int64) {
	db, s := rangeStore(b)
	defer db.close(b)
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			req := &pb.RangeRequest{Key: []byte("key/005000"), RangeEnd: fmt.Appendf(nil, "key/%06d", 5000+n), Revision: rev(s)}
			b.ReportAllocs()
			for b.Loop() {
				v := s.Read()
				resp, err := v.Range(req)
				if err != nil || len(resp.Kvs) != n {
					b.Fatalf("%d kvs, %v", len(resp.Kvs), err)
				}
				v.Close()
			}
		})
	}
}

// BenchmarkRangeLatest reads ranges of 1, 100 and 1000 keys at the current
// revision.
func BenchmarkRangeLatest(b *testing.B) {
	benchRange(b, func(*Store) int64 { return 0 })
}

// BenchmarkRangeHistorical reads ranges of 1, 100 and 1000 keys at the
// revision after the second round of writes: each key has newer versions to
// skip and older ones below.
func BenchmarkRangeHistorical(b *testing.B) {
	benchRange(b, func(*Store) int64 { return 2*10_000 + 1 })
}

// BenchmarkCount counts 10k keys at the current revision.
func BenchmarkCount(b *testing.B) {
	db, s := rangeStore(b)
	defer db.close(b)
	req := &pb.RangeRequest{Key: []byte("key/"), RangeEnd: []byte("key0"), CountOnly: true}
	b.ReportAllocs()
	for b.Loop() {
		v := s.Read()
		if resp, err := v.Range(req); err != nil || resp.Count != 10_000 {
			b.Fatal(resp, err)
		}
		v.Close()
	}
}

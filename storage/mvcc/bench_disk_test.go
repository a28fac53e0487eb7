package mvcc_test

import (
	"fmt"
	"slices"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/cairnkv/cairn/storage"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// BenchmarkPutNewKeysOnDisk applies puts of new keys, 1,000 per batch (a
// Ready's worth), on a store on disk with the engine's real options that
// already holds 200,000 keys: the load phase of cmd/bench's restart-1m.
// "get" looks up each put's key on its own, as a batch does by default;
// "prefetch" looks up each batch's keys first (Batch.Prefetch), as the apply
// actor does.
func BenchmarkPutNewKeysOnDisk(b *testing.B) {
	for _, prefetch := range []bool{false, true} {
		name := "get"
		if prefetch {
			name = "prefetch"
		}
		b.Run(name, func(b *testing.B) { benchPutNewKeysOnDisk(b, prefetch) })
	}
}

func benchPutNewKeysOnDisk(b *testing.B, prefetch bool) {
	s := openOnDisk(b)
	value := make([]byte, 100)
	applied := uint64(0)
	const perBatch = 1000
	keys := make([][]byte, perBatch)
	next := 0
	// open opens a batch for the next perBatch keys.
	open := func() *mvcc.Batch {
		for j := range keys {
			keys[j] = fmt.Appendf(nil, "key/%09d", (next+j)*7919%1_000_000_007)
		}
		batch := s.NewBatch()
		if prefetch {
			if err := batch.Prefetch(slices.Clone(keys)); err != nil {
				b.Fatal(err)
			}
		}
		return batch
	}
	put := func(batch *mvcc.Batch) {
		if _, err := batch.Put(&pb.PutRequest{Key: keys[next%perBatch], Value: value}); err != nil {
			b.Fatal(err)
		}
		next++
		if next%perBatch == 0 {
			applied++
			if err := batch.Commit(applied); err != nil {
				b.Fatal(err)
			}
		}
	}
	for next < 200_000 {
		batch := open()
		for range perBatch {
			put(batch)
		}
	}
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	batch := open()
	for b.Loop() {
		put(batch)
		if next%perBatch == 0 {
			batch = open()
		}
	}
	batch.Close()
	// CPU time of the whole process (pebble's flushes and compactions
	// included) is steadier than ns/op on a shared machine.
	if cpu0 >= 0 {
		b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkGetOnDisk reads single keys at the current revision, as a
// client's get does, from a store on disk with the engine's real options
// holding 200,000 keys of 256 B flushed to sstables (cmd/bench's
// speed-lin-reads reads from such tables and the memtable).
func BenchmarkGetOnDisk(b *testing.B) {
	e, s := openEngineOnDisk(b)
	const keys = 200_000
	key := func(i int) []byte { return fmt.Appendf(nil, "key/%09d", i*7919%keys) }
	value := make([]byte, 256)
	for applied := uint64(1); applied <= keys/1000; applied++ {
		batch := s.NewBatch()
		for j := range 1000 {
			if _, err := batch.Put(&pb.PutRequest{Key: key(int(applied-1)*1000 + j), Value: value}); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Commit(applied); err != nil {
			b.Fatal(err)
		}
	}
	done, err := e.FlushStateMachine()
	if err != nil {
		b.Fatal(err)
	}
	<-done
	v := s.Read()
	defer v.Close()
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for i := 0; b.Loop(); i++ {
		resp, err := v.Range(&pb.RangeRequest{Key: key(i % keys)})
		if err != nil || len(resp.Kvs) != 1 {
			b.Fatalf("%d kvs, %v", len(resp.Kvs), err)
		}
	}
	if cpu0 >= 0 {
		b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// openEngineOnDisk opens a store on disk with the engine's real options,
// closed when the benchmark ends.
func openEngineOnDisk(b *testing.B) (*storage.Engine, *mvcc.Store) {
	b.Helper()
	e, err := storage.Open(b.TempDir(), storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	s, err := mvcc.Open(e.DB)
	if err != nil {
		b.Fatal(err)
	}
	return e, s
}

// openOnDisk is openEngineOnDisk's store.
func openOnDisk(b *testing.B) *mvcc.Store {
	_, s := openEngineOnDisk(b)
	return s
}

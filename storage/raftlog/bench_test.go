package raftlog

import (
	"fmt"
	"math"
	"testing"

	"github.com/cairnkv/cairn/storage"
	"go.etcd.io/raft/v3/raftpb"
)

// Run with:
//
//	go test -run '^$' -bench . -benchmem ./storage/raftlog
//
// The benchmarks use a real directory and storage.Open's pebble settings,
// so synced appends pay a real fsync.

func openBenchLog(b *testing.B, opts Options) *Log {
	b.Helper()
	eng, err := storage.Open(b.TempDir(), storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = eng.Close() })
	l, err := Open(eng.DB, opts)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func benchEntries(first uint64, n, size int, term uint64) []*raftpb.Entry {
	ents := make([]*raftpb.Entry, n)
	for j := range ents {
		ents[j] = ent(first+uint64(j), term, string(make([]byte, size)))
	}
	return ents
}

func BenchmarkAppend(b *testing.B) {
	for _, sync := range []bool{false, true} {
		for _, size := range []int{128, 4096} {
			for _, batch := range []int{1, 16} {
				name := fmt.Sprintf("sync=%v/size=%d/batch=%d", sync, size, batch)
				b.Run(name, func(b *testing.B) {
					l := openBenchLog(b, Options{})
					hs := &raftpb.HardState{}
					next := uint64(1)
					b.SetBytes(int64(size * batch))
					b.ReportAllocs()
					for b.Loop() {
						ents := benchEntries(next, batch, size, 1)
						next += uint64(batch)
						hs.Commit = &next
						if err := l.Append(hs, ents, sync); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkEntries reads 8 entries of 256 bytes, as raft does to apply or
// to replicate: just appended (recent), or older (old) after a flush to an
// sstable (block cache), with and without the entry cache.
func BenchmarkEntries(b *testing.B) {
	const total, n, size = 20000, 8, 256
	for _, cache := range []struct {
		name  string
		bytes int64
	}{{"nocache", -1}, {"cache", 0}} {
		b.Run(cache.name, func(b *testing.B) {
			l := openBenchLog(b, Options{CacheBytes: cache.bytes})
			for i := uint64(1); i <= total; i += 100 {
				if err := l.Append(nil, benchEntries(i, 100, size, 1), false); err != nil {
					b.Fatal(err)
				}
			}
			read := func(b *testing.B, lo uint64) {
				ents, err := l.Entries(lo, lo+n, math.MaxUint64)
				if err != nil || len(ents) != n {
					b.Fatal(len(ents), err)
				}
			}
			b.Run("recent-memtable", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					read(b, total-n+1)
				}
			})
			b.Run("old-memtable", func(b *testing.B) {
				b.ReportAllocs()
				i := uint64(0)
				for b.Loop() {
					read(b, 1+(i*97)%(total/2))
					i++
				}
			})
			if err := l.db.Flush(); err != nil {
				b.Fatal(err)
			}
			b.Run("recent-flushed", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					read(b, total-n+1)
				}
			})
			b.Run("old-flushed", func(b *testing.B) {
				b.ReportAllocs()
				i := uint64(0)
				for b.Loop() {
					read(b, 1+(i*97)%(total/2))
					i++
				}
			})
		})
	}
}

// BenchmarkAppendThenRead is raft's steady state: append a batch, then
// read it back to apply it.
func BenchmarkAppendThenRead(b *testing.B) {
	const n, size = 8, 256
	for _, cache := range []struct {
		name  string
		bytes int64
	}{{"nocache", -1}, {"cache", 0}} {
		b.Run(cache.name, func(b *testing.B) {
			l := openBenchLog(b, Options{CacheBytes: cache.bytes})
			next := uint64(1)
			b.ReportAllocs()
			for b.Loop() {
				if err := l.Append(nil, benchEntries(next, n, size, 1), false); err != nil {
					b.Fatal(err)
				}
				ents, err := l.Entries(next, next+n, math.MaxUint64)
				if err != nil || len(ents) != n {
					b.Fatal(len(ents), err)
				}
				next += n
			}
		})
	}
}

func BenchmarkTerm(b *testing.B) {
	for _, cache := range []struct {
		name  string
		bytes int64
	}{{"nocache", -1}, {"cache", 0}} {
		b.Run(cache.name, func(b *testing.B) {
			l := openBenchLog(b, Options{CacheBytes: cache.bytes})
			if err := l.Append(nil, benchEntries(1, 1000, 256, 1), false); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Term(999); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen shows that Open does not scan the log.
func BenchmarkOpen(b *testing.B) {
	for _, total := range []uint64{1000, 100000} {
		b.Run(fmt.Sprint(total), func(b *testing.B) {
			l := openBenchLog(b, Options{})
			for i := uint64(1); i <= total; i += 1000 {
				if err := l.Append(nil, benchEntries(i, 1000, 64, 1), false); err != nil {
					b.Fatal(err)
				}
			}
			if err := l.Compact(total/2, nil); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Open(l.db, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

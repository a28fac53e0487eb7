package raftlog

import (
	"math"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func cached(ents []*raftpb.Entry) []cachedEntry {
	out := make([]cachedEntry, len(ents))
	var cum uint64
	for j, e := range ents {
		size := uint64(proto.Size(e))
		cum += size
		out[j] = cachedEntry{e: e, size: size, cum: cum}
	}
	return out
}

// cachedRange returns the indexes the cache holds as [first, last].
func cachedRange(c *entryCache) (first, last uint64, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first, c.first + uint64(len(c.ents)) - 1, len(c.ents)
}

func TestCacheBudget(t *testing.T) {
	// Entries of index(i).terms(1) encode to 4 bytes: 148 accounted each.
	c := newEntryCache(3 * (4 + entryOverhead))
	c.add(cached(index(1).terms(1, 1)))
	c.add(cached(index(3).terms(1, 1)))
	if first, last, n := cachedRange(c); first != 2 || last != 4 || n != 3 {
		t.Fatalf("cache holds [%d, %d] (%d), want [2, 4]", first, last, n)
	}
	if _, bytes := c.stats(); bytes != 3*(4+entryOverhead) {
		t.Fatalf("cache accounts %d bytes", bytes)
	}
	// An entry larger than the budget empties the cache.
	c.add(cached([]*raftpb.Entry{ent(5, 1, string(make([]byte, 1000)))}))
	if n, bytes := c.stats(); n != 0 || bytes != 0 {
		t.Fatalf("cache holds %d entries, %d bytes after a huge entry", n, bytes)
	}
	// A run that does not continue the cached one replaces it.
	c.add(cached(index(6).terms(1)))
	c.add(cached(index(9).terms(1)))
	if first, last, _ := cachedRange(c); first != 9 || last != 9 {
		t.Fatalf("cache holds [%d, %d], want [9, 9]", first, last)
	}
}

func TestCacheTruncateCompact(t *testing.T) {
	c := newEntryCache(math.MaxInt64)
	c.add(cached(index(1).terms(1, 1, 1, 1, 1)))
	c.truncateFrom(4)
	if first, last, _ := cachedRange(c); first != 1 || last != 3 {
		t.Fatalf("after truncateFrom(4): [%d, %d]", first, last)
	}
	c.compactTo(1)
	if first, last, _ := cachedRange(c); first != 2 || last != 3 {
		t.Fatalf("after compactTo(1): [%d, %d]", first, last)
	}
	if _, _, ok := c.meta(1); ok {
		t.Fatal("compacted entry still cached")
	}
	if term, _, ok := c.meta(3); !ok || term != 1 {
		t.Fatal("entry 3 not cached")
	}
	c.truncateFrom(1)
	if n, bytes := c.stats(); n != 0 || bytes != 0 {
		t.Fatalf("after truncateFrom below the cache: %d entries, %d bytes", n, bytes)
	}
	c.add(cached(index(7).terms(2, 2)))
	c.compactTo(10)
	if n, bytes := c.stats(); n != 0 || bytes != 0 {
		t.Fatalf("after compactTo beyond the cache: %d entries, %d bytes", n, bytes)
	}
}

func TestCacheCoveredFrom(t *testing.T) {
	c := newEntryCache(math.MaxInt64)
	c.add(cached(index(5).terms(1, 1, 1))) // [5, 7]
	for _, tt := range []struct{ lo, hi, want uint64 }{
		{1, 8, 5}, // tail cached from 5
		{6, 8, 6},
		{1, 7, 5}, // [5, 7) cached
		{1, 5, 5}, // entry 4 not cached: nothing
		{1, 9, 9}, // entry 8 not cached: nothing
		{3, 3, 3}, // empty range
	} {
		if got := c.coveredFrom(tt.lo, tt.hi); got != tt.want {
			t.Errorf("coveredFrom(%d, %d) = %d, want %d", tt.lo, tt.hi, got, tt.want)
		}
	}
	var nilCache *entryCache
	if got := nilCache.coveredFrom(1, 8); got != 8 {
		t.Errorf("disabled cache covers from %d", got)
	}
}

// TestCacheServesAppendedEntries checks that a recent read is served from
// the cache (the entries are the very pointers appended) and an old one from
// pebble (fresh copies).
func TestCacheServesAppendedEntries(t *testing.T) {
	e := newEnv(t, Options{CacheBytes: 2 * (4 + entryOverhead)})
	ents := index(1).terms(1, 1, 1, 1)
	must(t, e.log.Append(nil, ents, false))
	got, err := e.log.Entries(1, 5, math.MaxUint64)
	must(t, err)
	requireEntries(t, ents, got)
	for j, g := range got {
		if fromCache := g == ents[j]; fromCache != (j >= 2) {
			t.Errorf("entry %d: from cache %v", j+1, fromCache)
		}
	}
	if n, _ := e.log.CacheStats(); n != 2 {
		t.Fatalf("cache holds %d entries, want 2", n)
	}
}

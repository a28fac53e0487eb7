package mvcc

import "sync/atomic"

// The latest-record cache.
//
// Every put reads its key's latest record (prefetch.go). With the index of
// keys in pebble, that read is a seek through the batch, the memtables and
// every level: on small puts to a set of hot keys, 8 to 10% of a leader's
// CPU and a fifth of a follower's. The store keeps the latest records that
// its batches committed last, within a byte budget, and Prefetch takes a
// key's record from there when it has it.
//
// Only keys written again are kept: a key enters when a batch writes it
// after Prefetch found its record (in the cache or in pebble), so that loads
// of new keys (bulk inserts, restart-1m's million keys) pay for no cache.
//
// Invariants:
//
//  1. An entry is the key's latest record as committed: found false for a
//     key without one (deleted). Only Batch.Commit changes entries, after
//     pebble committed the batch: it sets those of the prefetched keys the
//     batch wrote (admitted ones) and drops those of every other key it
//     wrote (Batch.dirty, and prefetched keys not admitted). The put and
//     delete of a batch are the only writers of latest records.
//  2. Replacing the state machine (Reload) empties the cache.
//  3. The cache is read and written only by the holder of the open batch
//     (Store.batchOpen), or with no batch open (Reload): the apply actor.
//  4. It holds at most LatestCacheBytes, counting each entry as its key
//     and latestEntryOverhead.
//  5. Store.LatestCacheUsed, from any goroutine, returns that count as of
//     the last commit (or Reload): the cache publishes it once per batch.

// LatestCacheBytes bounds the cache: about 40,000 keys of 30 bytes.
const LatestCacheBytes = 4 << 20

// latestEntryOverhead is what an entry costs beyond its key: the map's slot,
// the string header and the record.
const latestEntryOverhead = 112

// latestRecord is a key's latest record, or its absence.
type latestRecord struct {
	found bool
	m     meta
}

type latestCache struct {
	// Pointers, so that a hot key's entry is updated without converting
	// its key to a string.
	entries map[string]*latestRecord
	bytes   int
	// published is bytes as of the last publish (invariant 5).
	published atomic.Int64
}

// publish makes bytes visible to LatestCacheUsed.
func (c *latestCache) publish() { c.published.Store(int64(c.bytes)) }

func (c *latestCache) get(key []byte) (latestRecord, bool) {
	if r := c.entries[string(key)]; r != nil { // the lookup does not allocate
		return *r, true
	}
	return latestRecord{}, false
}

// put sets key's entry to r, making room by dropping entries at random (map
// order) when over budget.
func (c *latestCache) put(key []byte, r latestRecord) {
	if e := c.entries[string(key)]; e != nil {
		*e = r
		return
	}
	if c.entries == nil {
		c.entries = map[string]*latestRecord{}
	}
	c.entries[string(key)] = &r
	c.bytes += len(key) + latestEntryOverhead
	for k := range c.entries {
		if c.bytes <= LatestCacheBytes {
			break
		}
		delete(c.entries, k)
		c.bytes -= len(k) + latestEntryOverhead
	}
}

// drop removes key's entry, if any.
func (c *latestCache) drop(key []byte) {
	if c.entries[string(key)] == nil {
		return
	}
	delete(c.entries, string(key))
	c.bytes -= len(key) + latestEntryOverhead
}

func (c *latestCache) clear() {
	c.entries = nil
	c.bytes = 0
	c.publish()
}

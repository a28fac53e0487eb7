package mvcc

// The latest-record cache.
//
// Every put reads its key's latest record (prefetch.go). With the index of
// keys in pebble, that read is a seek through the batch, the memtables and
// every level: on small puts to a set of hot keys, 8 to 10% of a leader's
// CPU and a fifth of a follower's. The store keeps the latest records that
// its batches committed last, within a byte budget, and Prefetch takes a
// key's record from there when it has it.
//
// Invariants:
//
//  1. An entry is the key's latest record as committed: found false for a
//     key without one (deleted). Only Batch.Commit adds or changes entries,
//     after pebble committed the batch, from the final latest record of each
//     key the batch wrote (Batch.wrote); the put and delete of a batch are
//     the only writers of latest records.
//  2. Replacing the state machine (Reload) empties the cache.
//  3. The cache is read and written only by the holder of the open batch
//     (Store.batchOpen), or with no batch open (Reload): the apply actor.
//  4. It holds at most LatestCacheBytes, counting each entry as its key
//     and latestEntryOverhead.

// LatestCacheBytes bounds the cache: about 40,000 keys of 30 bytes.
const LatestCacheBytes = 4 << 20

// latestEntryOverhead is what an entry costs beyond its key: the map's slot,
// the string header and the record.
const latestEntryOverhead = 96

// latestRecord is a key's latest record, or its absence.
type latestRecord struct {
	found bool
	m     meta
}

type latestCache struct {
	entries map[string]latestRecord
	bytes   int
}

func (c *latestCache) get(key []byte) (latestRecord, bool) {
	r, ok := c.entries[string(key)] // no allocation: the compiler looks up without converting
	return r, ok
}

// set records the latest records a batch committed. When over budget it
// drops entries at random (map order) until it fits.
func (c *latestCache) set(wrote map[string]latestRecord) {
	if c.entries == nil {
		c.entries = make(map[string]latestRecord, len(wrote))
	}
	for k, r := range wrote {
		if _, ok := c.entries[k]; !ok {
			c.bytes += len(k) + latestEntryOverhead
		}
		c.entries[k] = r
	}
	for k := range c.entries {
		if c.bytes <= LatestCacheBytes {
			break
		}
		delete(c.entries, k)
		c.bytes -= len(k) + latestEntryOverhead
	}
}

func (c *latestCache) clear() {
	c.entries = nil
	c.bytes = 0
}

// Package raftlog implements raft.Storage on pebble: the raft log, the hard
// state and the metadata of the last snapshot, all persisted under
// storage.RaftLogPrefix (keys.go gives the layout). It never reads or writes
// another prefix of its pebble database (the log's own: storage.Engine.Log).
//
// Entries are read from pebble when raft asks for them; none are kept in
// memory beyond a small, byte-bounded cache of the most recent ones
// (Options.CacheBytes). The cache exists because raft reads back almost
// every entry right after appending it (to apply it, to send it to a
// follower a little behind): served from the cache, such a read neither
// seeks pebble's memtable nor unmarshals and copies the entry (about 70
// times faster; cache.go has the measurements, bench_test.go the benchmarks).
//
// # Who calls what
//
//  1. The write methods (Append, BeginSnapshot, ApplySnapshot,
//     FinishSnapshot, Compact, SetConfState) are called by one goroutine at
//     a time: the raft actor. All but SetConfState are also serialized by a
//     mutex, so a second writer (the log compactor's Compact) is slow, not
//     incorrect.
//  2. The raft.Storage methods may be called from any goroutine, concurrently
//     with the writer: raft itself, and the apply actor when it must read
//     committed entries it missed. They never wait for a write in progress
//     (in particular not for its fsync), except in the rare case described
//     under invariant 2.
//  3. Append makes entries and the hard state durable in one pebble batch;
//     Entries and Term see everything appended before the call.
//  4. The conf state is not persisted here: the state machine persists it
//     atomically with its applied index, and the raft actor hands it to
//     SetConfState before starting raft, so that InitialState returns it.
//     The conf state stored with the snapshot metadata (Compact's cs, a
//     snapshot's) is only what Snapshot returns.
//
// # Invariants
//
// The log's bounds (snapshot index and term, last index, hard state, size
// total) live in an immutable state struct that the writer replaces
// atomically, so FirstIndex, LastIndex and Bytes are one atomic load.
//
//  1. An entry is published (inside [FirstIndex, LastIndex] of the published
//     state) only after the batch that wrote it has committed and it is in
//     the cache if cached: LastIndex never runs ahead of what Entries can
//     return.
//  2. The writer never changes or removes an entry inside the published
//     range. A truncation first publishes a state that ends before the first
//     replaced entry; a compaction or snapshot first publishes its new first
//     index. Each such write also increments the state's epoch (appends do
//     not). So a reader that loads the state, reads pebble and the cache, and
//     then finds the same epoch has read one consistent log; otherwise it
//     reads again, and after a few attempts takes the writer's mutex. A
//     reader therefore never mixes entries from before and after a
//     truncation, and reports a range compacted under it as
//     raft.ErrCompacted.
//  3. Entries exist in pebble exactly for (snapshot index, last index], and
//     each entry's header holds a running total of encoded sizes, so Open
//     recovers every bound, and Bytes, from the snapshot metadata and the
//     last entry: no scan, whatever the length of the log.
//  4. After a failed commit the log accepts no further writes (ErrBroken);
//     raft must be restarted after a storage error anyway.
//  5. A snapshot is installed in two databases, the state machine's and
//     this one, so in three steps: BeginSnapshot records its metadata
//     (synced), the state machine ingests it, ApplySnapshot records it as
//     the log's snapshot and forgets the metadata, in one synced batch.
//     Whatever a crash interrupts, the log holds the metadata until it is
//     settled, and FinishSnapshot settles it before raft starts from the
//     state machine's applied index: at the snapshot's index, the ingest
//     happened and the log records the snapshot as ApplySnapshot would (the
//     term comes from the metadata: the state machine's applied index
//     alone does not say it); below it, nothing happened and the record is
//     dropped. The log never records a snapshot the state machine does not
//     hold, and Compact does nothing while one is being installed, so that
//     it folds no entry the snapshot replaces into the snapshot metadata.
//
// # Raft's contract, as implemented
//
// Entries and Term return raft.ErrCompacted and raft.ErrUnavailable bare:
// raft compares them with ==, so a wrapped sentinel would make it panic.
// Where MemoryStorage panics (Entries beyond the last index, Compact beyond
// it) this package returns an error instead. Compact at or below the
// snapshot index is a no-op (MemoryStorage returns ErrCompacted).
package raftlog

// Package storage opens the pebble databases a Cairn member keeps, and
// divides its keyspace between the packages that own each part.
//
// A member keeps two pebble databases in its data directory, sharing one
// block cache:
//
//   - pebble/ holds the state machine, owned by storage/mvcc: the revisioned
//     keyspace, leases, cluster membership and the applied index, in
//     [0x10, 0x20). Written only by the apply actor (and its history
//     compactor). It has no write-ahead log.
//   - raftlog/ holds the raft log, owned by storage/raftlog, in
//     [0x01, 0x02), and the member's own identity (LoadIdentity) in
//     [0x02, 0x03), never replicated nor part of a snapshot. Written by the
//     raft actor (and the log compactor), behind a write-ahead log.
//
// Why two: the raft log is already a write-ahead log of the state machine,
// as etcd's WAL is for its bbolt. Every applied value is written once,
// synced, in the raft log; the state machine's database writes it once more
// when it flushes a memtable, and needs no log of its own. Its durability
// rests on three rules:
//
//  1. An entry is applied only once it is in the raft log, synced (raft's
//     asynchronous storage writes never hand out unstable entries to apply).
//  2. The state machine on disk is a prefix of its applied batches: pebble
//     flushes memtables in order and never splits a batch. Each batch
//     carries its applied index, so the index on disk (mvcc.ReadDurable)
//     says exactly which entries a restart must apply again.
//  3. The raft log is never compacted beyond that durable applied index
//     (actors/logcompactor), so the entries are there to apply again.
//     Snapshots are ingested, which is durable at once. The raft log
//     records a snapshot's metadata before the ingest and the snapshot
//     itself after it, so a crash between the two leaves a state machine
//     the log can catch up with at the next start (storage/raftlog,
//     invariant 5).
//
// A data directory written when both shared pebble/ is moved to this layout
// when opened (migrate.go).
//
// A snapshot of the state machine is exactly its span, so it can be
// checkpointed and ingested on its own. The same span is what a backup holds
// (backup.go): written from a pebble snapshot for Maintenance.Snapshot,
// restored into a new data directory by building sstables and ingesting
// them, like a raft snapshot.
//
// No other prefix is used. Packages below storage are plain synchronous Go:
// no actors, no goroutines of their own beyond pebble's.
package storage

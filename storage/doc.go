// Package storage opens the one pebble database a Cairn member keeps, and
// divides its keyspace between the packages that own each part.
//
// Everything a member persists lives in one pebble instance, so that one
// block cache and one set of memtables bound the memory of the whole engine,
// and so that one synced write of the raft log also makes durable every
// earlier, unsynced write of the state machine.
//
// The keyspace is divided by the first byte of every key:
//
//  1. [0x01, 0x02): the raft log, owned by storage/raftlog. Written only by
//     the raft actor.
//  2. [0x02, 0x03): the member's own identity, owned by this package (see
//     LoadIdentity). Never replicated, never part of a snapshot.
//  3. [0x10, 0x20): the state machine, owned by storage/mvcc: the revisioned
//     keyspace, leases, cluster membership and the applied index. Written only
//     by the apply actor. A snapshot of the state machine is exactly this span,
//     so it can be checkpointed and ingested on its own.
//
// The state machine span is also what a backup holds (backup.go): written
// from a pebble snapshot for Maintenance.Snapshot, restored into a new data
// directory by building sstables and ingesting them, like a raft snapshot.
//
// No other prefix is used. Packages below storage are plain synchronous Go:
// no actors, no goroutines of their own beyond pebble's.
package storage

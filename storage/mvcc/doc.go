// Package mvcc is Cairn's revisioned keyspace: etcd's data model stored in
// pebble, with no in-memory index of keys, so that memory and restart time do
// not grow with the number of keys or revisions.
//
// # Model
//
// A cluster-wide revision starts at 1 and every write transaction that changes
// at least one key raises it by one. Each key records create_revision,
// mod_revision, version (1 on creation, +1 per put, reset by delete) and lease,
// as etcd does. Reads at any revision between the compaction revision and the
// current revision see the keyspace as it was at that revision. Compact(rev)
// makes revisions below rev unreadable and removes their history from pebble.
//
// # Who calls what
//
//  1. Exactly one Batch is open at a time, owned by the apply actor. A Batch
//     applies any number of raft entries and commits them, with the raft index
//     of the last one, in one pebble batch: a restart never applies an entry
//     twice and never loses part of one.
//  2. Read views may be opened from any goroutine, concurrently with the Batch
//     and with each other. A view sees one committed state, never part of a
//     batch.
//  3. RunCompaction removes compacted history in bounded chunks, concurrently
//     with the Batch and with views; it never removes a version a view at or
//     above the compaction revision can read.
//
// # Keys
//
// All keys lie inside storage.StateMachineSpan. See keys.go for the layout.
package mvcc

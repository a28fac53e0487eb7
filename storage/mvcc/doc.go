// Package mvcc is Cairn's revisioned keyspace: etcd's data model stored in
// pebble, with no in-memory index of keys, so that memory and restart time do
// not grow with the number of keys or revisions.
//
// It follows etcd v3.7's server (etcdserver/txn and storage/mvcc) request by
// request: the same revisions, versions, errors, response shapes and header
// revisions. Where this package departs from etcd it says so where it does.
//
// # Model
//
// A cluster-wide revision starts at 1 (an empty store is at revision 1, so
// the first change is at 2) and every write transaction that changes at least
// one key raises it by one: a Put, a DeleteRange that deletes something, a Txn
// whose path writes, a LeaseRevoke of a lease with keys. The changes of one
// transaction have sub-revisions 0, 1, ... in execution order. Each key
// records create_revision, mod_revision, version (1 on creation, +1 per put,
// reset by delete) and lease, as etcd does. Reads at any revision between the
// compaction revision and the current revision see the keyspace as it was at
// that revision. Compact(rev) makes revisions below rev unreadable and
// RunCompaction then removes their history from pebble.
//
// # Who calls what
//
//  1. Exactly one Batch is open at a time, owned by the apply actor. A Batch
//     applies any number of raft entries and commits them, with the raft index
//     of the last one, in one pebble batch: a restart never applies an entry
//     twice and never loses part of one.
//  2. Read views may be opened from any goroutine, concurrently with the Batch
//     and with each other. A view is a pebble snapshot of one committed state,
//     never part of a batch; it pins that state's files until closed.
//  3. RunCompaction removes compacted history in bounded chunks, concurrently
//     with the Batch and with views; it never removes a version a view at or
//     above the compaction revision can read.
//  4. The Validate functions and IsReadOnlyTxn are the front door's: they
//     check a request before it is proposed. The Batch does not repeat them.
//
// # Range
//
// A range follows etcd's range.go: count is the number of keys in the range
// at the revision, before revision filters; with sort_order NONE (or KEY
// ASCEND) and no filters the first limit+1 keys in key order are taken, then
// sorted if a target other than KEY is named (NONE then means ASCEND), then
// cut to limit with more set; otherwise all keys are filtered, sorted and cut.
// The store gets the same answer with memory bounded by the response: it
// counts without keeping keys, reads values only of keys it returns, walks in
// reverse for KEY DESCEND, and keeps the best limit keys in a heap for other
// sorts. Ties of a sort are in key order. Reads at the current revision walk
// the latest records; older reads walk the versions with a seek per key.
//
// # Txns in a Batch
//
// Batch.TxnWith bounds the key-values of a txn's ranges as
// ReadView.TxnWithin does, and every member applies a txn with the same
// bound, its proposer's. A txn over it fails with ErrResponseTooLarge and
// changes nothing. Its ranges see its earlier writes, so that is known only
// while it runs: the batch then takes back what the txn wrote (undoTxn).
// Only the member that answers the client builds the ranges
// (TxnOptions.Answer); the others measure them without keeping their
// key-values (measure.go) and reach the same decision from the same state,
// so that their state machines stay equal.
//
// # Memory
//
// The Store holds a few integers and the cache of latest records of keys
// written again (latestcache.go: at most LatestCacheBytes; LatestCacheUsed
// says how much now, from any goroutine). A Batch holds pebble's batch (the writes
// of the entries it applies; NewBatchWithSize sizes it up front), the
// events, and the latest records of the keys it prefetched (prefetch.go:
// about 72 bytes per key of the entries it applies); a view holds a pebble
// snapshot; a range holds its response and scratch buffers, and RangeWithin
// (TxnWithin, TxnWith) bounds the response in bytes; the range of a txn
// measured for another member's client holds no key-values (but see
// measure.go for sorts with a limit). Nothing is proportional to the number
// of keys in the store.
//
// # Keys
//
// All keys lie inside storage.StateMachineSpan. keys.go gives the layout and
// its invariants; records.go the encoding of each record.
package mvcc

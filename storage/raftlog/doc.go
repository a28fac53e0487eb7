// Package raftlog implements raft.Storage on pebble: the raft log, the hard
// state and the metadata of the last snapshot, all persisted under
// storage.RaftLogPrefix.
//
// Entries are read from pebble when raft asks for them; none are kept in
// memory beyond a small, byte-bounded cache of the most recent ones.
//
// # Who calls what
//
//  1. The write methods (Append, ApplySnapshot, Compact, SetConfState) are
//     called by one goroutine at a time: the raft actor.
//  2. The raft.Storage methods may be called from any goroutine, concurrently
//     with the writer: raft itself, and the apply actor when it must read
//     committed entries it missed.
//  3. Append makes entries and the hard state durable in one pebble batch;
//     Entries and Term see everything appended before the call.
package raftlog

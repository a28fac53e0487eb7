// Package snapshot moves a state machine snapshot from the leader to a member
// that is behind the leader's retained log, in bounded chunks over actor
// remoting.
//
// Two actors:
//
//   - a sender, spawned by the leader's transport for each MsgSnap raft
//     emits, reads the state machine from one pebble snapshot and streams its
//     keys in chunks of about Config.ChunkBytes, at most Window chunks
//     unacknowledged, to the member's receiver. It rewrites the MsgSnap's
//     metadata to describe exactly the data it read (that state's applied
//     index, the term of that index and that state's conf state), sends it
//     with the last chunk, and reports the outcome to its raft actor
//     (SnapshotStatus, raft's ReportSnapshot).
//   - the receiver, one per member (child "snapshot" of the node
//     supervisor), writes the chunks of one transfer at a time into sstables
//     in a directory of its own, and after the last chunk hands the MsgSnap
//     and the directory to its raft actor (ReceivedSnapshot). The raft actor
//     has the apply actor install it (InstallSnapshot) before it tells raft.
//
// Invariants:
//
//  1. Neither side holds more than one chunk (plus the window, on the
//     sender) in memory, whatever the size of the state machine. Stats,
//     shared by a member's senders and receiver, say how many bytes of
//     chunks they hold now.
//  2. Remote delivery is at most once: a chunk out of sequence, an ack that
//     does not come within Config.Timeout, or a receiver that gives up makes
//     the transfer fail, and raft sends a new snapshot later. A half-received
//     snapshot is deleted, never installed.
//  3. Installation replaces the whole state machine atomically (see
//     storage.Engine.ReplaceStateMachine): a crash leaves either the old
//     state or the new one, and the raft log, which recorded the
//     snapshot's metadata before the install, records the new one at the
//     next start if the install happened (storage/raftlog, invariant 5).
package snapshot

// Package raftactor is the actor that owns a member's raft.RawNode: the only
// code that reads or changes raft state. RawNode is not safe for concurrent
// use; the actor's mailbox is its lock.
//
// Raft runs with AsyncStorageWrites, so every storage step is a message:
//
//  1. Tick (from the actor's own timer), Propose (from the front door),
//     raftpb.Message (from peers, and the apply actor's MsgStorageApplyResp),
//     ReadIndexRound (from the read-index actor) and ApplyConfChange (from the
//     apply actor) are stepped into raft.
//  2. After a message leaves raft with work to do, the actor sends itself
//     RaftReady; messages already queued are stepped before it arrives, so one
//     Ready, and one synced pebble write, covers them all (group commit).
//     Proposals are gathered until then and stepped as one MsgProp just
//     before the Ready (pending.go): raft appends them at once and sends each
//     follower one MsgApp for all of them.
//  3. On RaftReady: committed entries go to the apply actor as
//     MsgStorageApply; messages for peers go to the transport, one RaftBatch
//     per member (ready.go); entries and the hard state are appended to
//     storage/raftlog in one synced batch, after which the append's responses
//     are stepped (local) or sent (peers); ReadStates go to the read-index
//     actor.
//  4. Snapshots: a MsgSnap raft emits goes to the transport as SendSnapshot,
//     which streams the state machine (package actors/snapshot) and answers
//     SnapshotStatus. On the receiving member, ReceivedSnapshot carries
//     raft's MsgSnap and where its data is; when raft hands the snapshot back
//     in an append, the actor has the apply actor install it
//     (InstallSnapshot, SnapshotInstalled) before the log records it, and
//     appends that follow wait, in order. The log records the snapshot's
//     metadata first (raftlog.Log.BeginSnapshot), so that a member stopped
//     between the state machine's ingest and the log's ApplySnapshot
//     finishes the install when it starts again (FinishSnapshot).
//  5. A proposal made while no leader is known waits for one, at most an
//     election timeout, in a queue bounded in bytes (pending.go).
//  6. A MsgProp another member forwarded that raft drops here (the leader's
//     uncommitted entries over budget) is answered with the refused list of
//     a RaftBatch, naming each proposal's waiter on that member, which gets
//     the refusal from its own raft actor at once (refused.go).
//
// Invariants:
//
//  1. Nothing is sent to a peer that depends on a local write before that
//     write is synced: raft puts such messages in the append's responses.
//  2. Raft's memory is bounded by its byte limits (MaxSizePerMsg,
//     MaxInflightBytes, MaxUncommittedEntriesSize, MaxCommittedSizePerReady):
//     raft stops handing out committed entries while the apply actor has more
//     than MaxCommittedSizePerReady bytes unacknowledged.
//  3. After a restart (of the actor or the process) raft resumes from the
//     raft log and the state machine's applied index; the apply actor ignores
//     entries it already applied, so re-delivered entries are harmless.
//     Before raft starts, the log settles a snapshot install the member was
//     in the middle of, and the applied index must then lie inside the log
//     (at or after its snapshot, at or before its last entry): the actor
//     fails with that error rather than start raft on a log it cannot use.
//
// With tracing on (Config.Tracer), a Ready is a span of the trace of the
// last traced message stepped since the previous Ready, even when the
// RaftReady that triggers it was queued by an untraced message: what it
// persists and sends was caused by that message.
//
// The actor publishes its view of the cluster (term, leader, commit index),
// and the bytes of the proposals waiting for a leader (pending.go), on a
// Board that other goroutines read without messaging the actor. Actors
// learn of leadership by message instead (leadership.go): those that send
// SubscribeLeader receive LeaderChanged at once and after every change of
// leader or term, and ProposeAsLeader proposes only while this member leads
// in the given term.
package raftactor

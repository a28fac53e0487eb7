// Package readindex is the actor that serves linearizable reads with raft's
// ReadIndex, batching every read that arrives while a round is in flight into
// the next round.
//
// It accepts ReadIndexRequest (from the front door; the sender receives a
// ReadIndexResult), ReadState, ReadIndexFailed and LeaderChanged (from the
// raft actor, or from the leader's read-index actor), ReadIndexRound (a
// round another member forwarded, answered with ReadState or
// ReadIndexFailed: forward.go),
// Applied (from the apply actor, to which it subscribes when it starts) and
// its own ReadIndexTick.
//
// A round is: one ReadIndexRound with a context unique to this incarnation,
// sent to the raft actor (or, on a member that does not lead, to the
// leader's read-index actor, which answers as raft would: forward.go); raft's ReadState answer carries the commit index at
// the time the leader confirmed its leadership; once the apply actor has
// applied that index, every read of the round may be served from the local
// state machine, and is answered.
//
// Invariants:
//
//  1. At most one round is in flight. Reads that arrive meanwhile wait for
//     the next round, which starts as soon as the current one is answered.
//  2. Every read is answered exactly once, by a result or an error, within
//     its deadline (Config.Timeout after it arrived): raft drops read
//     requests when leadership changes, and says nothing, so the round in
//     flight is sent again with a new context when the raft actor reports a
//     new leader (LeaderChanged, to which the actor subscribes), and when raft
//     has not answered it within the round timeout, until its reads'
//     deadlines pass.
//  3. Nothing is kept after its answer: Pending() is zero when no read waits.
//  4. At most Config.MaxPending reads wait at once; more are refused at once
//     with TOO_MANY_REQUESTS rather than queued.
//  5. A round's context (Config.Incarnation, then a sequence that starts at
//     random in each instance of the actor) is never one of an earlier
//     instance's rounds: answers to those are ignored after a restart.
package readindex

// Package apply is the actor that applies committed raft entries to the state
// machine (storage/mvcc) and answers the request waiting on each.
//
// It accepts:
//
//   - raftpb.Message of type MsgStorageApply, from the raft actor: committed
//     entries to apply. After applying them it sends the message's responses
//     (MsgStorageApplyResp) back to the sender, which tells raft the entries
//     are applied and lets it hand out more.
//   - cairnpb.SubscribeApplied: the sender receives cairnpb.Applied after
//     every applied batch (the read-index actor uses it).
//
// It sends cairnpb.Result to the waiter named in each entry's origin (when the
// origin is this member's current incarnation), cairnpb.ApplyConfChange to
// the raft actor for each conf change entry, cairnpb.CompactHistory to its
// compactor child after committing a compaction, and cairnpb.LeasesApplied to
// the lessor (Config.Lessor) after committing lease grants, revocations or
// checkpoints, before the answers.
//
// Invariants:
//
//  1. All entries of one MsgStorageApply are applied in one mvcc.Batch and
//     committed with the index of the last one: a crash loses either none or
//     all of them, and a restart resumes after the last committed index.
//  2. An entry at or below the applied index is skipped, so entries raft
//     re-delivers after a restart are applied once.
//  3. Answers are sent only after the batch is committed, so a client that
//     reads after its write returns sees the write.
//  4. Applying an entry is deterministic: every member reaches the same state
//     and the same answers. A request that fails (key not found, compacted
//     revision) fails on every member and changes nothing.
package apply

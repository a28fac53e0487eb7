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
//   - cairnpb.WatchEventsAck, from the watch hub: events it has dispatched.
//
// It sends cairnpb.Result to the waiter named in each entry's origin (when the
// origin is this member's current incarnation), cairnpb.ApplyConfChange to
// the raft actor for each conf change entry, cairnpb.CompactHistory to its
// compactor child after committing a compaction, and cairnpb.LeasesApplied to
// the lessor (Config.Lessor) after committing lease grants, revocations or
// checkpoints, before the answers. After each committed batch that changed
// keys it sends the batch's events to the watch hub (Config.WatchHub) as
// cairnpb.WatchEvents, through a watch.Feed that keeps the events the hub
// has not acknowledged within a byte budget (beyond it, only the revision;
// Config.WatchStats shows the bytes in flight to other goroutines); and the
// store's revision alone when it starts or installs a snapshot.
//
// With tracing on (Config.Tracer), applying an entry whose proposal carries
// a trace context (cairnpb.Proposal.trace) is a span of the request's
// trace, on every member, ended when its batch is committed (observe.go).
// KeyCount follows the number of live keys for etcd_debugging_mvcc_keys_total
// (keys.go).
//
// Applying a MsgStorageApply first decodes all its entries, then looks up
// in one pass the latest records of every key their puts (and their txns'
// puts, in either branch) may write (mvcc.Batch.Prefetch): one sorted walk
// with one pebble iterator instead of a lookup of its own per put. Decoding
// first holds nothing more: the decoded requests live until the batch's
// events are published anyway, as the events alias them.
//
// Auth (package auth): a client's proposal carries a RequestHeader with its
// user and token revision; before applying it, apply decides with
// auth.Checker whether that user may make it, against the auth state at
// the entry's place in the log, and refuses it alike on every member
// (ERROR_CODE_AUTH) if not. Auth changes (AuthEnable, AuthUserAdd, ...)
// are applied by auth.Apply into the auth records, in the same batch. A
// proposal's AssignToken (Authenticate with simple tokens) is decided by
// auth.CheckAssign alike on every member and, if allowed, puts the token's
// hash in Config.Tokens under the entry's index, which the answer carries;
// auth changes that drop tokens drop them there (auth.Tokens.Applied),
// and installing a snapshot drops them all.
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
//  5. Only the member whose waiter an entry names (this incarnation's)
//     builds the responses of a txn's ranges; the others only measure them
//     (mvcc.TxnOptions.Answer). Every member bounds them by the proposal's
//     max_response_bytes, so a txn over it fails, and changes nothing, on
//     every member alike.
package apply

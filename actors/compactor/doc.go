// Package compactor is the actor that physically removes MVCC history below
// the compaction revision, after the apply actor has committed a compaction.
//
// It accepts CompactHistory (from the apply actor) and WaitCompacted (from
// the front door, for etcd's physical compaction; the sender receives
// Compacted once history below the revision is gone).
//
// Removal runs in slices of at most Config.Slice of work between messages, so
// the actor stays responsive and stops promptly; storage/mvcc records its
// progress, so a restart resumes it. A compaction that fails is retried at the
// next CompactHistory or restart; its waiters are answered only on success.
// A waiter is kept at most Config.WaitTimeout (its asker has given up by
// then), and at most Config.MaxWaiters at once: one more is answered with a
// Result of TOO_MANY_REQUESTS.
package compactor

// Package lessor is the actor that times leases and expires them, on the
// leader only, by proposing their revocation through raft (etcd's primary
// lessor).
//
// Leases themselves live in the state machine (storage/mvcc): grants,
// revocations and checkpoints are raft entries, applied alike on every
// member. The lessor keeps only what expiry needs, and only while this
// member leads: when each lease expires and when its next checkpoint is due.
//
// It accepts:
//
//   - cairnpb.LeaderChanged, from the raft actor, to which it sends
//     SubscribeLeader when it starts. When the leader becomes this member
//     (or this member leads in a new term) the lessor is promoted: it reads
//     every lease from pebble and times each from its checkpointed remaining
//     TTL (its TTL if none) plus Config.Extend, the election timeout. When
//     the leader becomes another member, or none, it is demoted and drops all
//     of its state.
//   - cairnpb.LeasesApplied, from the apply actor after each batch that
//     granted, revoked or checkpointed a lease: granted leases are timed from
//     their TTL, revoked ones forgotten.
//   - cairnpb.LeaseRenew (a keep-alive) and cairnpb.LeaseLookup (a
//     time-to-live question), from the front door of any member: a member
//     sends them to the leader's lessor. The sender receives
//     LeaseRenewResult or LeaseLookupResult; a lessor that does not lead
//     answers LEADER_CHANGED and the asker tries the new leader's.
//   - cairnpb.LessorTick, its own timer, running only while it leads.
//   - cairnpb.Result, raft's refusal of one of its proposals.
//
// It sends SubscribeLeader and ProposeAsLeader (LeaseRevoke of expired
// leases, LeaseCheckpoint of remaining TTLs) to the raft actor, and the
// results above to askers.
//
// Invariants:
//
//  1. Only a leader's lessor holds expiry state. It is built on promotion and
//     dropped whole on demotion, restart or stop: Config.Held is zero on a
//     member that does not lead, and a former leader keeps nothing about
//     expired leases (etcd before 3.5 leaked them).
//  2. Revokes and checkpoints are proposed with ProposeAsLeader in the term
//     the lessor was promoted in: raft refuses them in any other term, so a
//     lessor that has not yet heard of its demotion cannot revoke a lease
//     through the new leader.
//  3. A lease is revoked no sooner than its TTL after its grant or last
//     renewal on this leader, and no sooner than its remaining TTL plus the
//     election timeout after this member became leader.
//  4. A keep-alive never revives an expired lease: once a lease's time has
//     passed, renewals answer TTL 0 (as etcd answers for a lease that is
//     gone), even before its revoke applies.
//  5. At most Config.RevokeRate revokes and Config.CheckpointRate
//     checkpoints are proposed per second (token buckets holding one tick's
//     worth), all checkpoints of a tick in one proposal. An expired lease
//     whose revoke has not applied after Config.RetryInterval is proposed
//     again. On promotion, expiries are spread so that at most 3/4 of the
//     revoke rate fall in any second, as etcd does.
//  6. A renewal or lookup of a lease the lessor does not track reads pebble;
//     "not found" is answered only once the local state machine has applied
//     every entry committed when the request arrived, so a lease granted
//     through another member is found. Every request is answered, within
//     Config.WaitTimeout when it must wait, and nothing is kept after.
//  7. A renewal of a lease whose remaining TTL was checkpointed proposes a
//     checkpoint of 0, which clears it: a later leader gives the lease its
//     full TTL, as the client was promised.
//
// Memory: per lease timed, one 40-byte heap entry and one slot of an
// ID-to-position map (about 20 bytes): about 60 bytes, 69 measured with the
// slack of growth at 200,000 leases (TestExpiryBytesPerLease), at most about
// twice 60 just after the slice and map grow. A lease longer than the
// checkpoint interval also takes a 16-byte slot in the checkpoint queue
// (which holds at most twice as many slots as such leases). The heap and
// map shrink as leases go, and are dropped on demotion. Nothing is kept per
// attached key: keys are in pebble.
package lessor

// Package actors holds, in one subpackage each, every actor of a Cairn member
// other than the raft actor (see package raftactor):
//
//   - node: the member's supervisor; spawns the others and decides what a
//     failure of each means.
//   - apply: applies committed raft entries to the state machine and answers
//     the request waiting on each.
//   - readindex: batches linearizable reads into one raft ReadIndex per round.
//   - lessor: on the leader, times leases and proposes the revocation of
//     expired ones.
//   - watch: the watch hub, which forwards committed events to one stream
//     actor per gRPC Watch stream, and those stream actors.
//   - reply: not an actor but the one-shot mailbox through which code outside
//     the actor system (gRPC handlers, the embedding API) waits for an answer.
//
// docs/actors.md is the catalogue: parents, supervision, messages in and out.
package actors

// Package transport is the actor that carries raft messages between members
// over actor remoting.
//
// Every member's actor system has an address (the host:port of its first
// advertised peer URL), and every member's raft actor has the same actor id
// below the member's supervisor, so the raft actor of member M is the PID
// {Address: address(M), Id: RaftID}. The transport resolves member IDs to
// addresses and sends each RaftBatch to the right PID; the receiving raft
// actor steps it. Remote delivery is protoactor-go's remote package between
// processes, or package loopback between actor systems of one process.
//
// It accepts:
//
//   - RaftBatch, from the local raft actor: sent to the raft actor of
//     member `to`, or reported unreachable if its address is unknown.
//   - MembershipChanged, from the apply actor (to which it subscribes): the
//     addresses are read again from the state machine.
//   - JoinRequest, from a member starting with --initial-cluster-state
//     existing: answered with the cluster's ID and members.
//   - EndpointDown and EndpointUp, from itself, when remoting reports an
//     endpoint terminated or connected: every member at that address is
//     reported to the raft actor as PeerUnreachable or PeerReachable.
//
// PeerCodec is the gRPC codec remoting between members should use (cmd/node
// sets it on both sides): the same protobuf on the wire, without the copy
// of each raft entry gRPC's own codec makes when it sends and receives; a
// large RaftBatch it receives is decoded by aliasSerializer, its entries'
// data left in the buffer received rather than copied out by protobuf. A
// RaftBatch with large entries is sent as a splicedBatch (splice.go), which
// PeerCodec encodes with those entries' data themselves as buffers: a
// leader no longer copies an entry once per follower.
//
// Remote delivery is at most once and silently drops what cannot be sent;
// raft tolerates lost messages, and PeerUnreachable makes it probe rather
// than stream to a member that does not answer.
package transport

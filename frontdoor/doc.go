// Package frontdoor serves etcd's v3 gRPC API (go.etcd.io/etcd/api/v3) on top
// of a member's actors: it is the one place where client requests become
// actor messages and where Cairn's errors become etcd's gRPC errors.
//
// Writes (Put, DeleteRange, write Txn, Compact) are proposed to the raft actor
// with this member's waiter as origin; the apply actor answers the waiter
// after applying the entry. Linearizable reads first ask the read-index actor
// for permission, then read storage/mvcc directly; serializable reads read it
// at once. Every wait has a deadline (Config.RequestTimeout) and honours the
// client's cancellation.
//
// Lease grants and revocations are proposed like writes (lease.go); lease
// keep-alives and time-to-live questions are messages to the leader's lessor
// (Config.Lessor), wherever the client is connected, as etcd forwards them
// to its leader.
//
// A Watch stream is a stream actor of the watch hub (watch.go,
// actors/watch), which answers its requests as etcd's serverWatchStream
// does; the handler only forwards requests and pulls responses, so that the
// network never blocks an actor.
//
// Maintenance.Snapshot (snapshot.go) streams a backup of the keyspace
// (storage.Engine.WriteBackup) for etcdctl snapshot save; cairn.Restore
// seeds a new cluster from it.
//
// Auth (auth.go, authinfo.go, authadmin.go, watchauth.go; package auth):
// etcd's Auth service. A request's user is its token's (gRPC metadata
// "token": a simple token, which every member holds once it applied its
// assignment, or a JWT), or with
// Config.ClientCertAuth its verified certificate's common name. Proposals
// carry the user in their RequestHeader and apply decides their
// permission; reads, watches and lease questions are checked here against
// the view they are served from. Passwords are hashed here, before
// proposing, and never logged or traced.
//
// Requests are validated here exactly as etcd's v3rpc validates them, and
// answered with the same error codes and messages (rpctypes), so that clients
// behave as they do against etcd.
//
// observe.go: every unary request gets a request id and a step log (logged
// with its steps when slow, as etcd's trace logs); with tracing on, otelgrpc
// opens the request's span or continues the client's trace context, and
// every message to an actor and every proposal carries it.
//
// admission.go: every unary request but Maintenance's takes a share of the
// member's in-flight limits (requests and bytes, in all and per connection)
// until it is answered; past a limit it fails at once with "etcdserver: too
// many requests" instead of queueing in the actors' mailboxes.
// Server.InFlight says what the admitted requests hold now, and
// Server.RangeBytes the key-values of unary Range responses built and not
// yet encoded (counted in kv.go, ended by the codec, codec.go), for the
// member's status page.
package frontdoor

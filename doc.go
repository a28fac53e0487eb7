// Package cairn embeds a Cairn member in a Go program: Start runs a member's
// actors inside an existing protoactor-go actor system, Props runs them as a
// child of one of the application's actors, and the returned Node serves
// etcd's v3 gRPC API on any gRPC server or listener, and to in-process etcd
// clients (Node.Client).
//
//	system := actor.NewActorSystem()
//	node, err := cairn.Start(system, cairn.Config{Name: "default", DataDir: "default.cairn"})
//	...
//	cli, err := node.Client(clientv3.Config{}) // no TCP
//	go node.Serve(listener)                    // etcd clients can now connect, gRPC or HTTP
//	...
//	node.Stop()
//
// Serve serves gRPC and, on the same listener, the HTTP paths etcd serves on
// its client port (package gateway); Register and ServerOptions serve gRPC
// alone on a server of the embedder's.
//
// The command cmd/node is this package behind etcd's flags.
//
// # Embedding
//
// Config.Validate names the field at fault; Start and Props call it.
//
// A member is a supervisor actor (package actors/node; named
// Config.ActorName, at the top of the actor system with Start, below the
// Props actor with Props) and its children. Failures restart actors as
// follows:
//
//  1. raft, apply and readindex depend on one another's state: a failure of
//     any of them restarts the three from what is on disk, as a process
//     restart would. A request waiting on them when they fail loses its
//     answer and fails with etcd's timeout error at its deadline
//     (Config.RequestTimeout); clients retry as they do against etcd, and
//     nothing acknowledged is lost or applied twice.
//  2. The watch hub, the lessor, the transport and the compactor keep only
//     their own state and restart alone. A restart of the watch hub ends
//     its Watch streams: clientv3 watches again from the last revision it
//     saw, so a watcher misses no event.
//  3. More failures than the supervisor's restart budget (actors/node
//     MaxRestarts within RestartWindow) stop the member: Done closes and
//     Err is node.ErrFailed; a member the cluster removed stops with
//     ErrRemoved. The application decides whether to start it again.
//
// A clean stop, by Node.Stop or, for Props, by stopping the Props actor or
// any of its ancestors: the in-process clients are closed, the gRPC
// server stops taking calls and lets those in flight finish for up to 5 s,
// the member's actors stop, and then the storage is flushed and closed,
// releasing the data
// directory's lock. Stop returns, and the Props actor reports itself
// terminated, only after that, so that the data directory can be opened
// again at once.
//
// The in-process client (Node.Client) is a real gRPC connection to the
// member's own server over an in-memory pipe: admission control, auth,
// tracing and metrics apply to it exactly as to a TCP client, and the
// concurrency package of clientv3 (Mutex, Election, STM) works over it.
// Closing it stops nothing but itself.
package cairn

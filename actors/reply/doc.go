// Package reply lets a goroutine outside the actor system (a gRPC handler, an
// embedding application) wait for one answer from an actor, with a context.
//
// A Waiter is a process registered in the actor system under a unique id. Its
// first message is its answer; later ones are dropped. It is deregistered when
// its answer is taken, when the caller's context ends, or when Close is
// called, whichever comes first: nothing is kept after the wait.
//
// Unlike protoactor's Future, a Waiter honours context cancellation, and its
// id can be written into a raft entry (see cairnpb.Origin) so that the apply
// actor can answer it directly.
package reply

// Package cairn embeds a Cairn member in a Go program: Start runs a member's
// actors inside an existing protoactor-go actor system, and the returned Node
// serves etcd's v3 gRPC API on any gRPC server or listener.
//
//	system := actor.NewActorSystem()
//	node, err := cairn.Start(system, cairn.Config{Name: "default", DataDir: "default.cairn"})
//	...
//	go node.Serve(listener) // etcd clients can now connect, gRPC or HTTP
//	...
//	node.Stop()
//
// Serve serves gRPC and, on the same listener, the HTTP paths etcd serves on
// its client port (package gateway); Register and ServerOptions serve gRPC
// alone on a server of the embedder's.
//
// The command cmd/node is this package behind etcd's flags.
package cairn

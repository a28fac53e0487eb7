// Package cairn embeds a Cairn member in a Go program: Start runs a member's
// actors inside an existing protoactor-go actor system, and the returned Node
// serves etcd's v3 gRPC API on any gRPC server or listener.
//
//	system := actor.NewActorSystem()
//	node, err := cairn.Start(system, cairn.Config{Name: "default", DataDir: "default.cairn"})
//	...
//	go node.Serve(listener) // etcd clients can now connect
//	...
//	node.Stop()
//
// The command cmd/node is this package behind etcd's flags.
package cairn

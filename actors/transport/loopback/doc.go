// Package loopback connects actor systems of one process as remoting
// connects those of different processes: a message sent to a PID at another
// system's address is serialized, as remoting would, and delivered to that
// system, with its sender and headers.
//
// It exists because protoactor-go's remote cannot run several times in one
// process (its gRPC logger setup races), and in-process clusters are how most
// of Cairn's cluster tests run. It also lets tests cut links: a partitioned
// address neither sends nor receives, and its peers see the endpoint
// terminated, as remoting reports a lost connection.
//
// Like remoting, delivery is at most once: messages to an unknown or
// partitioned address are dropped, and only protobuf messages cross.
package loopback

// Command node runs one Cairn member: etcd's flags (where they mean the same
// thing) in, etcd's v3 gRPC API out.
//
//	node --name default --data-dir default.cairn --listen-client-urls http://127.0.0.1:2379
//
// SIGTERM or SIGINT stops it cleanly: in-flight requests finish (for up to
// five seconds), the member's actors stop, and its storage is closed. The exit
// status is 0 after a clean stop and 1 when the member failed.
package main

// Package cairntest starts real Cairn members for tests, in the test's
// process, serving etcd's gRPC API on 127.0.0.1 with a real etcd client
// connected, much as net/http/httptest starts real servers. It also runs
// members as processes (process.go, cluster_process.go), the real etcd, and
// a real Jaeger (jaeger.go) whose HTTP API tests query for traces.
package cairntest

// Package cairntest starts real Cairn members for tests, in the test's
// process, serving etcd's gRPC API on 127.0.0.1 with a real etcd client
// connected, much as net/http/httptest starts real servers.
package cairntest

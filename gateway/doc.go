// Package gateway serves the HTTP side of a member's client port, as etcd
// 3.7 serves it beside gRPC on the same port:
//
//	/v3/...    etcd's JSON gateway (grpc-gateway, with the handlers etcd's
//	           API module generates, go.etcd.io/etcd/api/v3/etcdserverpb/gw)
//	           for KV, Watch, Lease, Cluster, Maintenance and Auth; /v3beta/
//	           is an alias, as in etcd
//	/version   {"etcdserver":"3.7.3","etcdcluster":"3.7.0","storage":"3.7.0"}
//	anything else: the member's monitoring handler (/metrics, /health,
//	           /livez, /readyz)
//
// The gateway is a gRPC client of the member's own gRPC server (Config.Conn,
// an in-process connection in package cairn), so every HTTP request is
// admitted, authenticated, bounded and traced as a gRPC request is. JSON is
// etcd's: proto field names, int64 as strings, bytes as base64, zero values
// left out, errors as {"code":..,"message":..}. The Authorization header is
// the request's token (gRPC metadata "token"), as etcd's gateway passes it.
// Streams (Watch, LeaseKeepAlive, Snapshot) answer with one JSON object per
// message, each written and flushed as it comes (chunked).
//
// Split divides a client listener between gRPC and HTTP: a plaintext
// connection that opens with HTTP/2's preface is gRPC's, any other HTTP's;
// a TLS connection that negotiated "h2" (ALPN) is gRPC's, any other (ALPN
// "http/1.1" or none) HTTP's. Departure from etcd: over TLS etcd serves
// gRPC through net/http and so answers HTTP/2 JSON requests too; Cairn keeps
// gRPC's own server for TLS connections, so HTTP clients speak HTTP/1.1 over
// TLS (curl --http1.1; Go's net/http client with its own TLS config does).
//
// The in-process connection is one gRPC connection: the admission limits
// per connection (frontdoor's InFlightLimits) bound all HTTP clients
// together. Its requests carry no TLS state, so with --client-cert-auth an
// HTTP request's user is its token's, never its certificate's common name
// (etcd refuses such requests when auth is on; Cairn ignores the name).
//
// Memory: a request body is bounded (Config.MaxBodyBytes); a unary response
// is built by the member as for gRPC (bounded by --max-response-bytes) and
// encoded once; stream messages are encoded one at a time.
package gateway

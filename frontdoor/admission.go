package frontdoor

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"
)

// Admission control.
//
// Every unary request but the Maintenance service's (status, alarms,
// hashes, defragment: what an operator needs to look at a member under
// load) holds a share of the member's in-flight limits from the moment it
// is decoded until it is answered: one request, and its encoded size in
// bytes. A request that would take the member, or its connection, past a
// limit is refused at once with etcd's "etcdserver: too many requests"
// (ResourceExhausted) rather than queued: under a flood a client learns in
// microseconds to back off, the actors' mailboxes never hold more than the
// limits let in, and the request memory of a member is bounded by its
// configuration instead of by the number of clients.
//
// Within those limits, the member admits fewer requests at once while they
// take longer than a target latency (adaptive.go): a flood is refused rather
// than queued behind the requests already waiting.
//
// The per-connection limits leave the other clients their share when one
// floods: a connection may hold at most that much of the member's limits.
// Streams (Watch, LeaseKeepAlive, RangeStream, Snapshot) have bounds of
// their own and are not counted. etcd has no such limits: it refuses a
// proposal only when applying falls 5,000 entries behind committing.

// InFlightLimits bound the unary requests a member works on at once, and
// their encoded bytes, in all and per client connection. Zero fields take
// their defaults (DefaultInFlightLimits); a negative field is no bound.
type InFlightLimits struct {
	Requests, Bytes         int64
	ConnRequests, ConnBytes int64
	// Latency is the time admitted requests should take at most: while
	// they take longer, the member admits fewer at once (adaptive.go).
	// Negative: Requests alone bounds them.
	Latency time.Duration
}

// DefaultInFlightLimits are the limits used for zero fields: 2,048 requests
// and 32 MiB per member, and half of each per connection. A member serving
// as many puts of 1 MiB as the default uncommitted raft log holds (64 MiB)
// keeps at most 32 in flight: more would only wait in raft's queue.
// Requests should take at most 500 ms.
func DefaultInFlightLimits() InFlightLimits {
	return InFlightLimits{Requests: 2048, Bytes: 32 << 20, ConnRequests: 1024, ConnBytes: 16 << 20, Latency: 500 * time.Millisecond}
}

// WithDefaults returns l with its zero fields set to the defaults.
func (l InFlightLimits) WithDefaults() InFlightLimits {
	d := DefaultInFlightLimits()
	if l.Requests == 0 {
		l.Requests = d.Requests
	}
	if l.Bytes == 0 {
		l.Bytes = d.Bytes
	}
	if l.ConnRequests == 0 {
		l.ConnRequests = d.ConnRequests
	}
	if l.ConnBytes == 0 {
		l.ConnBytes = d.ConnBytes
	}
	if l.Latency == 0 {
		l.Latency = d.Latency
	}
	return l
}

// Validate reports limits under which a request of maxRequestBytes could
// never be admitted, even alone.
func (l InFlightLimits) Validate(maxRequestBytes int) error {
	l = l.WithDefaults()
	for _, f := range []struct {
		name string
		v    int64
	}{{"max-request-bytes-in-flight", l.Bytes}, {"max-request-bytes-in-flight-per-connection", l.ConnBytes}} {
		if f.v >= 0 && f.v < int64(maxRequestBytes) {
			return fmt.Errorf("frontdoor: %s (%d) must be at least max-request-bytes (%d), or negative for no bound", f.name, f.v, maxRequestBytes)
		}
	}
	return nil
}

// inFlight counts what the admitted requests hold.
type inFlight struct {
	lim     InFlightLimits
	refused atomic.Uint64

	mu       sync.Mutex
	requests int64
	bytes    int64
	conns    map[string]*load
	adaptive adaptiveLimit
}

type load struct{ requests, bytes int64 }

func newInFlight(l InFlightLimits) *inFlight {
	l = l.WithDefaults()
	return &inFlight{lim: l, conns: map[string]*load{}, adaptive: newAdaptiveLimit(l.Latency, l.Requests)}
}

// within reports whether adding n to used stays within limit (negative: no
// limit).
func within(used, n, limit int64) bool { return limit < 0 || used+n <= limit }

// admit takes one request of size bytes for conn, or returns false if that
// would pass a limit.
func (f *inFlight) admit(conn string, size int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conns[conn]
	if c == nil {
		c = &load{}
	}
	if !within(f.requests, 1, f.lim.Requests) || !f.adaptive.admits(f.requests) || !within(f.bytes, size, f.lim.Bytes) ||
		!within(c.requests, 1, f.lim.ConnRequests) || !within(c.bytes, size, f.lim.ConnBytes) {
		f.refused.Add(1)
		return false
	}
	f.requests++
	f.bytes += size
	c.requests++
	c.bytes += size
	f.conns[conn] = c
	return true
}

// release gives back what admit took, for a request that took took.
func (f *inFlight) release(conn string, size int64, took time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.adaptive.done(took, time.Now())
	f.requests--
	f.bytes -= size
	c := f.conns[conn]
	if c.requests--; c.requests == 0 {
		delete(f.conns, conn)
	} else {
		c.bytes -= size
	}
}

// InFlight is what the admitted requests hold now, and how many requests
// were refused since the start.
type InFlight struct {
	Requests, Bytes, Connections int64
	Refused                      uint64
	// Limit is the requests the member admits at once now (adaptive.go).
	Limit int64
}

func (f *inFlight) stats() InFlight {
	f.mu.Lock()
	defer f.mu.Unlock()
	return InFlight{Requests: f.requests, Bytes: f.bytes, Connections: int64(len(f.conns)), Refused: f.refused.Load(), Limit: f.adaptive.current()}
}

// InFlight reports the front door's admitted requests (for metrics and the
// status page).
func (s *Server) InFlight() InFlight { return s.inFlight.stats() }

// admitUnary is the interceptor of admission control.
func (s *Server) admitUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if strings.HasPrefix(info.FullMethod, "/etcdserverpb.Maintenance/") {
		return handler(ctx, req)
	}
	var size int64
	if m, ok := req.(proto.Message); ok {
		size = int64(proto.Size(m))
	}
	conn := ""
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		conn = p.Addr.String()
	}
	if !s.inFlight.admit(conn, size) {
		return nil, rpctypes.ErrGRPCRequestTooManyRequests
	}
	start := time.Now()
	defer func() { s.inFlight.release(conn, size, time.Since(start)) }()
	return handler(ctx, req)
}

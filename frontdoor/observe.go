package frontdoor

import (
	"context"
	"log/slog"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage/mvcc"
	"github.com/cairnkv/cairn/tracing"
)

// The front door's share of tracing, request logs and proposal counters.
//
// With tracing on, otelgrpc's server handler opens the request's span (or
// continues the client's trace context), and every message the front door
// sends to an actor, and every proposal, carries that span's context.
// Every unary request gets a request id and records its steps: it is
// logged at debug level, or at warn level with its steps when it takes
// SlowRequest or longer (etcd 3.5's trace logs).

// observeOptions are the gRPC server options of tracing and request logs.
func (s *Server) observeOptions() []grpc.ServerOption {
	opts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(s.observeUnary)}
	if tp := s.cfg.Tracer.Provider(); tp != nil {
		opts = append(opts, grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(tp),
			otelgrpc.WithPropagators(tracing.Propagator()),
			otelgrpc.WithMeterProvider(noop.NewMeterProvider()),
			otelgrpc.WithMessageEvents(),
		)))
	}
	return opts
}

// observeUnary gives a unary request its request id and step log, and
// annotates its span with the request's key and the response's revision.
func (s *Server) observeUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	recording := trace.SpanFromContext(ctx).IsRecording()
	if recording {
		tracing.Annotate(ctx, tracing.RequestAttributes(req)...)
	}
	ctx, r := tracing.StartRequest(ctx, info.FullMethod, s.requestIDs.Add(1))
	resp, err := handler(ctx, req)
	if recording {
		if rev := responseRevision(resp); rev != 0 {
			tracing.Annotate(ctx, tracing.RevisionAttr.Int64(rev))
		}
	}
	// Described only if logged.
	r.End(ctx, s.cfg.Logger, s.cfg.SlowRequest, err, func() []slog.Attr {
		attrs := logAttrs(tracing.RequestAttributes(req))
		if rev := responseRevision(resp); rev != 0 {
			attrs = append(attrs, slog.Int64("revision", rev))
		}
		return attrs
	})
	return resp, err
}

func logAttrs(attrs []attribute.KeyValue) []slog.Attr {
	out := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, slog.String(strings.TrimPrefix(string(a.Key), "cairn."), a.Value.String()))
	}
	return out
}

// responseRevision returns the revision in a response's header, 0 if none.
func responseRevision(resp any) int64 {
	if h, ok := resp.(interface{ GetHeader() *pb.ResponseHeader }); ok {
		return h.GetHeader().GetRevision()
	}
	return 0
}

// send sends msg to an actor from the root context, answering to w, with
// the request's trace context.
func (s *Server) send(ctx context.Context, to *actor.PID, msg any, w replyTarget) {
	s.cfg.Tracer.Request(ctx, s.cfg.System.Root, to, msg, w.PID())
}

// ProposalStats returns the proposals waiting for their apply now
// (etcd_server_proposals_pending) and those that failed since the member
// started (etcd_server_proposals_failed_total).
func (s *Server) ProposalStats() (pending int64, failed uint64) {
	return s.pending.Load(), s.failed.Load()
}

// notCommitted reports whether the answer to a proposal says it was not
// committed (dropped, timed out, refused for load), as etcd counts
// proposals failed; errors of the request itself (key not found) are not.
func notCommitted(m any) bool {
	res, ok := m.(*cairnpb.Result)
	if !ok {
		return true
	}
	switch res.GetError().GetCode() {
	case cairnpb.ErrorCode_ERROR_CODE_NO_LEADER, cairnpb.ErrorCode_ERROR_CODE_TIMEOUT,
		cairnpb.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS, cairnpb.ErrorCode_ERROR_CODE_STOPPED,
		cairnpb.ErrorCode_ERROR_CODE_LEADER_CHANGED:
		return true
	}
	return false
}

// CheckRead reads one key as a client's Range would, for health checks
// (etcd's /health and /readyz): linearizable unless serializable, within
// the request timeout.
func (s *Server) CheckRead(ctx context.Context, serializable bool) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	return s.read(ctx, serializable, func(v *mvcc.ReadView) error {
		_, err := v.Range(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, KeysOnly: true, Limit: 1})
		return err
	})
}

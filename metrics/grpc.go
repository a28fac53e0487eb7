package metrics

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// UnaryHistogram is the name of the histogram of unary requests' handling
// time (etcd's, as go-grpc-prometheus names it with --metrics=extensive).
const UnaryHistogram = "grpc_server_handling_seconds"

func newUnaryHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    UnaryHistogram,
		Help:    "Histogram of response latency (seconds) of unary gRPC requests handled by the server, from their arrival to their answer.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 100µs to 3.3s
	}, []string{"grpc_type", "grpc_service", "grpc_method"})
}

// ServerOptions returns the gRPC server options that time every unary
// request in grpc_server_handling_seconds. Streams (Watch, LeaseKeepAlive,
// Snapshot) are not timed: they last as long as their client wants.
func (m *Member) ServerOptions() []grpc.ServerOption {
	var byMethod sync.Map // full method -> prometheus.Observer
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		o, ok := byMethod.Load(info.FullMethod)
		if !ok {
			service, method := splitMethod(info.FullMethod)
			o, _ = byMethod.LoadOrStore(info.FullMethod, m.unary.WithLabelValues("unary", service, method))
		}
		o.(prometheus.Observer).Observe(time.Since(start).Seconds())
		return resp, err
	})}
}

// splitMethod splits "/etcdserverpb.KV/Put" into its service and method.
func splitMethod(full string) (service, method string) {
	full = strings.TrimPrefix(full, "/")
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "unknown", full
}

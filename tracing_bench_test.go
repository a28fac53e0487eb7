package cairn_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
)

// BenchmarkPutTracing measures puts through the gRPC API of an in-process
// member with tracing off (no provider: no middleware, no otelgrpc), on
// with every request sampled (spans batched to an exporter that drops
// them), and on with nothing sampled. "serial" is one client request at a
// time (latency); "parallel" is GOMAXPROCS x 16 concurrent clients
// (throughput, where batching shares each fsync).
//
//	go test -run '^$' -bench BenchmarkPutTracing -benchtime 3000x -count 5 .
func BenchmarkPutTracing(b *testing.B) {
	modes := []struct {
		name    string
		sampler sdktrace.Sampler // nil: tracing off
	}{
		{"off", nil},
		{"on-sampled", sdktrace.AlwaysSample()},
		{"on-unsampled", sdktrace.NeverSample()},
	}
	for _, m := range modes {
		opt := func(cfg *cairn.Config) {}
		if m.sampler != nil {
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(m.sampler),
				sdktrace.WithBatcher(tracetest.NewNoopExporter()))
			b.Cleanup(func() { _ = tp.Shutdown(cairntest.Ctx(b)) })
			opt = func(cfg *cairn.Config) { cfg.TracerProvider = tp }
		}
		b.Run("tracing="+m.name+"/serial", func(b *testing.B) {
			n := cairntest.Start(b, opt)
			ctx := cairntest.Ctx(b)
			i := 0
			for b.Loop() {
				if _, err := n.Client.Put(ctx, fmt.Sprint("key-", i%1000), "value"); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("tracing="+m.name+"/parallel", func(b *testing.B) {
			n := cairntest.Start(b, opt)
			ctx := cairntest.Ctx(b)
			var seq atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := n.Client.Put(ctx, fmt.Sprint("key-", seq.Add(1)%1000), "value"); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

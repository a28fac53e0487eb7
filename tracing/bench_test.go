package tracing_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/tracing"
)

// counter forwards each message to next and closes done after n.
type counter struct {
	next *actor.PID
	n    int
	done chan struct{}
}

func (c *counter) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*cairnpb.Propose); ok {
		if c.next != nil {
			ctx.Send(c.next, m)
			return
		}
		c.n--
		if c.n == 0 {
			close(c.done)
		}
	}
}

// BenchmarkActorHop measures one message through two actors (one hop
// traced by each actor's middleware, one send carrying the context):
// tracing off (no middleware), on with untraced messages (ticks,
// heartbeats), and on with sampled traced messages (a span per actor,
// batched to an exporter that drops them).
//
//	go test -run '^$' -bench BenchmarkActorHop -count 5 ./tracing/
func BenchmarkActorHop(b *testing.B) {
	for _, mode := range []string{"off", "on-untraced", "on-traced"} {
		b.Run("tracing="+mode, func(b *testing.B) {
			var tr *tracing.Tracer
			if mode != "off" {
				tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
				b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
				tr = tracing.New(tp)
			}
			system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
				return slog.New(slog.DiscardHandler)
			}))
			done := make(chan struct{})
			last := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &counter{n: b.N, done: done} },
				tr.ActorOptions("last")...))
			first := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &counter{next: last} },
				tr.ActorOptions("first")...))
			ctx := context.Background()
			if mode == "on-traced" {
				c, s := sdktrace.NewTracerProvider().Tracer("bench").Start(ctx, "client")
				defer s.End()
				ctx = c
			}
			msg := &cairnpb.Propose{Data: []byte("x")}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				tr.Request(ctx, system.Root, first, msg, nil)
			}
			<-done
			b.StopTimer()
			system.Root.Stop(first)
			system.Root.Stop(last)
		})
	}
}

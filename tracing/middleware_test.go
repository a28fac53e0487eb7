package tracing_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/tracing"
)

// relay forwards every Propose to next; a Propose of "panic" panics.
type relay struct{ next *actor.PID }

func (r *relay) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*cairnpb.Propose); ok {
		if string(m.GetData()) == "panic" {
			panic("boom")
		}
		ctx.Send(r.next, m)
	}
}

// sink reports the headers of what it receives.
type sink struct {
	got chan actor.ReadonlyMessageHeader
}

func (s *sink) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*cairnpb.Propose); ok {
		s.got <- ctx.MessageHeader()
	}
}

// ended is a span processor that hands over every span as it ends.
type ended chan sdktrace.ReadOnlySpan

func (e ended) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (e ended) OnEnd(s sdktrace.ReadOnlySpan)                   { e <- s }
func (e ended) Shutdown(context.Context) error                  { return nil }
func (e ended) ForceFlush(context.Context) error                { return nil }

// next waits for the next span to end.
func (e ended) next(t *testing.T) sdktrace.ReadOnlySpan {
	t.Helper()
	select {
	case s := <-e:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no span ended")
		return nil
	}
}

func setup(t *testing.T, spans ended) (*tracing.Tracer, *actor.RootContext, *actor.PID, chan actor.ReadonlyMessageHeader) {
	t.Helper()
	tr := tracing.New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	got := make(chan actor.ReadonlyMessageHeader, 1)
	sinkPID := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &sink{got: got} }))
	relayPID := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &relay{next: sinkPID} },
		tr.ActorOptions("relay")...))
	t.Cleanup(func() { system.Root.Stop(relayPID); system.Root.Stop(sinkPID) })
	return tr, system.Root, relayPID, got
}

// A traced message is a span of its actor, and what the actor sends
// carries that span's context.
func TestTracedMessageOpensSpanAndPropagates(t *testing.T) {
	spans := make(ended, 10)
	tr, root, relayPID, got := setup(t, spans)
	ctx, parent := sdktrace.NewTracerProvider().Tracer("test").Start(context.Background(), "client")
	tr.Request(ctx, root, relayPID, &cairnpb.Propose{Data: []byte("x")}, nil)
	h := <-got
	s := spans.next(t)
	if s.Name() != "relay Propose" {
		t.Fatalf("span %s, want relay Propose", s.Name())
	}
	if s.Parent().SpanID() != parent.SpanContext().SpanID() || s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Fatalf("span is not a child of the sender's")
	}
	want := "00-" + s.SpanContext().TraceID().String() + "-" + s.SpanContext().SpanID().String() + "-01"
	if h == nil || h.Get(tracing.TraceparentHeader) != want {
		t.Fatalf("forwarded traceparent %v, want %s", h, want)
	}
}

// An untraced message opens no span and what the actor sends carries no
// trace context.
func TestUntracedMessageOpensNoSpan(t *testing.T) {
	spans := make(ended, 10)
	_, root, relayPID, got := setup(t, spans)
	root.Send(relayPID, &cairnpb.Propose{Data: []byte("x")})
	if h := <-got; h != nil && h.Get(tracing.TraceparentHeader) != "" {
		t.Fatalf("untraced message forwarded with %v", h.ToMap())
	}
	// The relay has handled the message: a span would have ended.
	root.Stop(relayPID)
	if len(spans) != 0 {
		t.Fatalf("%d spans for an untraced message", len(spans))
	}
}

// A panic while handling a traced message ends its span with the error,
// and still reaches the supervisor (the actor restarts and goes on).
func TestPanicRecordedAndRepanicked(t *testing.T) {
	spans := make(ended, 10)
	tr, root, relayPID, got := setup(t, spans)
	ctx, _ := sdktrace.NewTracerProvider().Tracer("test").Start(context.Background(), "client")
	tr.Request(ctx, root, relayPID, &cairnpb.Propose{Data: []byte("panic")}, nil)
	tr.Request(ctx, root, relayPID, &cairnpb.Propose{Data: []byte("after")}, nil)
	select {
	case <-got: // the restarted actor handled the next message
	case <-time.After(10 * time.Second):
		t.Fatal("the actor did not go on after its panic")
	}
	if s := spans.next(t); s.Status().Code != codes.Error || len(s.Events()) == 0 {
		t.Fatalf("span of the panic: status %v, events %v; want an error and its event", s.Status(), s.Events())
	}
	if s := spans.next(t); s.Status().Code == codes.Error {
		t.Fatal("the message after the panic failed too")
	}
}

// Off is nil: no options, no carrier, no span, sends as usual.
func TestOffCostsNothing(t *testing.T) {
	var tr *tracing.Tracer
	if tr.On() || tr.ActorOptions("raft") != nil || tr.Carrier(context.Background()) != nil ||
		tr.StartFrom(map[string]string{"traceparent": "x"}, "n") != nil || tr.Provider() != nil {
		t.Fatal("a nil Tracer is not off")
	}
	ctx := trace.ContextWithSpanContext(context.Background(), trace.SpanContext{})
	if allocs := testing.AllocsPerRun(100, func() { _ = tr.Carrier(ctx) }); allocs != 0 {
		t.Fatalf("Carrier allocates %v when off", allocs)
	}
}

func TestActorRole(t *testing.T) {
	for role, want := range map[string]string{"raft": "raft", "watch/$": "watch/relay", "transport/$": "transport/relay"} {
		if got := tracing.ActorRole(role, &relay{}); got != want {
			t.Errorf("ActorRole(%q) = %q, want %q", role, got, want)
		}
	}
}

// deferred keeps the trace context of a traced Propose and does the work
// (forwarding it) when an untraced Tick comes, in Continue.
type deferred struct {
	tr      *tracing.Tracer
	next    *actor.PID
	pending map[string]string
}

func (d *deferred) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *cairnpb.Propose:
		d.pending = d.tr.Header(ctx)
	case *cairnpb.Tick:
		d.tr.Continue(ctx, d.pending, "work", func() { ctx.Send(d.next, &cairnpb.Propose{}) })
	}
}

// Work deferred to an untraced message is a span of the trace it was
// kept from, and what it sends carries that trace.
func TestContinueDeferredWork(t *testing.T) {
	spans := make(ended, 10)
	tr := tracing.New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	got := make(chan actor.ReadonlyMessageHeader, 1)
	sinkPID := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &sink{got: got} }))
	pid := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &deferred{tr: tr, next: sinkPID} },
		tr.ActorOptions("deferred")...))
	ctx, client := sdktrace.NewTracerProvider().Tracer("test").Start(context.Background(), "client")
	tr.Request(ctx, system.Root, pid, &cairnpb.Propose{}, nil)
	system.Root.Send(pid, &cairnpb.Tick{})
	h := <-got
	if s := spans.next(t); s.Name() != "deferred Propose" {
		t.Fatalf("first span %s", s.Name())
	}
	work := spans.next(t)
	if work.Name() != "deferred work" || work.SpanContext().TraceID() != client.SpanContext().TraceID() {
		t.Fatalf("deferred work span %s in trace %s", work.Name(), work.SpanContext().TraceID())
	}
	if h.Get(tracing.TraceparentHeader) == "" || !strings.Contains(h.Get(tracing.TraceparentHeader), work.SpanContext().SpanID().String()) {
		t.Fatalf("what the deferred work sent carries %v", h.ToMap())
	}
}

package tracing

import (
	"context"

	"github.com/asynkron/protoactor-go/actor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation scope of Cairn's spans.
const Name = "github.com/cairnkv/cairn"

// TraceparentHeader is the W3C header that carries a trace context in
// envelope headers and in cairnpb.Proposal.trace.
const TraceparentHeader = "traceparent"

// propagator reads and writes W3C trace context (traceparent, tracestate).
var propagator = propagation.TraceContext{}

// Tracer is one member's tracing. A nil *Tracer is tracing turned off: its
// methods do nothing and allocate nothing.
type Tracer struct {
	tp     trace.TracerProvider
	tracer trace.Tracer
}

// New returns the tracing of a member whose spans go to tp; nil tp returns
// nil (off).
func New(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		return nil
	}
	return &Tracer{tp: tp, tracer: tp.Tracer(Name)}
}

// On reports whether tracing is on.
func (t *Tracer) On() bool { return t != nil }

// Provider returns the tracer provider (nil when off), for instrumentation
// such as otelgrpc.
func (t *Tracer) Provider() trace.TracerProvider {
	if t == nil {
		return nil
	}
	return t.tp
}

// Propagator returns the W3C trace context propagator Cairn uses.
func Propagator() propagation.TextMapPropagator { return propagator }

// Carrier returns the trace context of ctx's span as W3C headers, for
// cairnpb.Proposal.trace; nil when tracing is off or ctx has no sampled
// span (sampling is parent-based: an unsampled context records nothing
// downstream, so it is not carried).
func (t *Tracer) Carrier(ctx context.Context) map[string]string {
	if t == nil || !trace.SpanContextFromContext(ctx).IsSampled() {
		return nil
	}
	c := make(map[string]string, 2)
	propagator.Inject(ctx, propagation.MapCarrier(c))
	return c
}

// StartFrom starts a span named name whose parent is the trace context in
// carrier (as Carrier wrote it). It returns nil when tracing is off or
// carrier holds no trace context: callers end the span only if not nil.
func (t *Tracer) StartFrom(carrier map[string]string, name string, attrs ...attribute.KeyValue) trace.Span {
	if t == nil || carrier[TraceparentHeader] == "" {
		return nil
	}
	parent := propagator.Extract(context.Background(), propagation.MapCarrier(carrier))
	if !trace.SpanContextFromContext(parent).IsSampled() {
		return nil
	}
	_, span := t.tracer.Start(parent, name, trace.WithAttributes(attrs...))
	return span
}

// Request sends msg to pid from the root context, as
// root.RequestWithCustomSender does (sender may be nil), with ctx's trace
// context in the envelope headers when tracing is on: the receiving actor's
// span is then a child of ctx's span.
func (t *Tracer) Request(ctx context.Context, root *actor.RootContext, pid *actor.PID, msg any, sender *actor.PID) {
	if t == nil || !trace.SpanContextFromContext(ctx).IsSampled() {
		if sender == nil {
			root.Send(pid, msg)
			return
		}
		root.RequestWithCustomSender(pid, msg, sender)
		return
	}
	env := &actor.MessageEnvelope{Message: msg, Sender: sender, Header: make(map[string]string, 2)}
	propagator.Inject(ctx, propagation.MapCarrier(env.Header))
	// An envelope sent from the root context is delivered as it is.
	root.Send(pid, env)
}

// Annotate adds attributes to ctx's span if it records.
func Annotate(ctx context.Context, attrs ...attribute.KeyValue) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attrs...)
	}
}

// TraceID returns the trace ID of ctx's span, or "" without one.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

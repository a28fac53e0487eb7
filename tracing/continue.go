package tracing

import (
	"context"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/ctxext"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// An actor that gathers the work of several messages and does it later
// (the raft actor: messages are stepped one by one, and one Ready later
// persists and sends what they caused) loses their trace context when the
// message that triggers the work is untraced. Such an actor keeps the trace
// context of a traced message it handled (Header) and does the deferred work
// in Continue.

// extensionID finds an actor's tracing state in its context.
var extensionID = ctxext.NextContextExtensionID()

// ExtensionID makes actorState a context extension.
func (st *actorState) ExtensionID() ctxext.ContextExtensionID { return extensionID }

// Header returns the trace context of the message c is handling, as W3C
// headers, if it carries a sampled one; nil otherwise, and always when
// tracing is off.
func (t *Tracer) Header(c actor.Context) map[string]string {
	if t == nil {
		return nil
	}
	h := c.MessageHeader()
	if h == nil || h.Get(TraceparentHeader) == "" {
		return nil
	}
	return h.ToMap()
}

// Continue runs f in a span named "<actor> <name>" whose parent is the
// trace context in carrier (as Header returned it), so that what the actor
// sends in f carries that context. If the message being handled is traced
// already, or carrier is empty, or tracing is off, it just runs f. A panic
// in f is recorded on the span and goes on.
func (t *Tracer) Continue(c actor.Context, carrier map[string]string, name string, f func(), attrs ...attribute.KeyValue) {
	if t == nil || len(carrier) == 0 {
		f()
		return
	}
	st, ok := c.Get(extensionID).(*actorState)
	if !ok || st.cur != nil {
		f()
		return
	}
	parent := propagator.Extract(context.Background(), propagation.MapCarrier(carrier))
	if !trace.SpanContextFromContext(parent).IsSampled() {
		f()
		return
	}
	ctx, span := t.tracer.Start(parent, st.role+" "+name, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attrs...))
	st.cur = ctx
	defer func() {
		st.cur = nil
		endSpan(span, recover())
	}()
	f()
}

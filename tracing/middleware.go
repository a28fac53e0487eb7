package tracing

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ActorOptions returns the props options that trace one actor of the given
// role (its path below the member's supervisor: "raft", "apply/compactor";
// see ActorRole for children spawned without a name). It returns nil when
// tracing is off, so that an untraced member's actors have no middleware
// at all. Call it once per spawn: the options hold the actor's state.
func (t *Tracer) ActorOptions(role string) []actor.PropsOption {
	if t == nil {
		return nil
	}
	st := &actorState{t: t, role: role}
	return []actor.PropsOption{
		actor.WithReceiverMiddleware(st.receive),
		actor.WithSenderMiddleware(st.send),
	}
}

// actorState is the tracing state of one actor.
type actorState struct {
	t    *Tracer
	role string // resolved on the first message (see ActorRole)
	// cur is the context of the traced message being handled, nil between
	// messages and while handling an untraced one.
	cur context.Context
	// registered: the state is the actor's context extension (Continue).
	registered bool
}

func (st *actorState) receive(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
		if !st.registered {
			c.Set(st)
			st.registered = true
		}
		if env.GetHeader(TraceparentHeader) == "" {
			next(c, env)
			return
		}
		parent := propagator.Extract(context.Background(), propagation.MapCarrier(env.Header))
		if !trace.SpanContextFromContext(parent).IsSampled() {
			// Sampling is parent-based: nothing downstream of an
			// unsampled context records, so it goes no further.
			next(c, env)
			return
		}
		st.role = ActorRole(st.role, c.Actor())
		name := MessageName(env.Message)
		ctx, span := st.t.tracer.Start(parent, st.role+" "+name, trace.WithSpanKind(trace.SpanKindConsumer))
		if span.IsRecording() {
			span.SetAttributes(attribute.String("cairn.actor", st.role), attribute.String("cairn.message", name))
			span.SetAttributes(MessageAttributes(env.Message)...)
		}
		prev := st.cur
		st.cur = ctx
		defer func() {
			st.cur = prev
			endSpan(span, recover())
		}()
		next(c, env)
	}
}

// endSpan ends the span of a handler; if the handler panicked (r, from
// recover, is not nil), the span records the panic first, and the panic goes
// on to the actor's supervisor.
func endSpan(span trace.Span, r any) {
	if r == nil {
		span.End()
		return
	}
	span.RecordError(fmt.Errorf("panic: %v", r), trace.WithStackTrace(true))
	span.SetStatus(codes.Error, fmt.Sprint(r))
	span.End()
	panic(r)
}

func (st *actorState) send(next actor.SenderFunc) actor.SenderFunc {
	return func(c actor.SenderContext, target *actor.PID, env *actor.MessageEnvelope) {
		if st.cur == nil {
			next(c, target, env)
			return
		}
		// A new envelope: the one given may be the received one (Forward).
		h := make(map[string]string, len(env.Header)+2)
		for k, v := range env.Header {
			h[k] = v
		}
		propagator.Inject(st.cur, propagation.MapCarrier(h))
		next(c, target, &actor.MessageEnvelope{Header: h, Message: env.Message, Sender: env.Sender})
	}
}

// ActorRole resolves the role of an actor spawned without a name: the node
// supervisor's spawn middleware names such a child "<parent role>/$", and
// ActorRole replaces the "$" with the actor's Go type, lower-cased and
// without an "Actor" suffix ("watch/$" for a *watch.streamActor is
// "watch/stream"). Other roles are returned as they are.
func ActorRole(role string, a actor.Actor) string {
	if !strings.HasSuffix(role, "/$") || a == nil {
		return role
	}
	t := reflect.TypeOf(a)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := strings.TrimSuffix(t.Name(), "Actor")
	if name == "" {
		return role
	}
	return role[:len(role)-1] + strings.ToLower(name[:1]) + name[1:]
}

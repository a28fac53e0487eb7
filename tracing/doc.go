// Package tracing makes a request visible from the client's gRPC call to the
// apply on every member, as one OpenTelemetry trace.
//
// It owns:
//
//   - Setup: the OpenTelemetry SDK of a member process, exporting OTLP/gRPC
//     (to a Jaeger collector, for example), with the member's name as the
//     service name and a parent-based ratio sampler.
//   - Tracer: one member's tracing. A nil *Tracer is tracing turned off:
//     every method is then a no-op that allocates nothing, and no actor is
//     given middleware (see ActorOptions), so tracing off costs nothing per
//     message.
//   - The actor middleware (ActorOptions): a sender middleware that writes
//     the W3C trace context (the traceparent header) of the message being
//     handled into the envelope headers of every message the actor sends,
//     locally and across remoting (RootContext.WithHeaders headers are not
//     sent, so this must be a sender middleware); and a receiver middleware
//     that, for a message whose envelope carries a trace context, opens a
//     child span named "<actor> <message type>" (for example "raft
//     Propose", "transport RaftBatch") with attributes for the key,
//     revision, raft index and term where the message has them. A message
//     without a trace context (ticks, heartbeats) opens no span. A panic
//     while handling a traced message is recorded on its span, which is
//     ended, and the panic goes on to the actor's supervisor.
//   - Deferred work (Header, Continue): an actor that does later, in one
//     go, what several messages caused (the raft actor's Ready) keeps the
//     trace context of a traced message and does the work in a span of
//     that trace, even when the message that triggers it is untraced.
//   - Root sends (Request): the front door sends from the root context,
//     which has no middleware, so the envelope it sends carries the
//     request's trace context itself.
//   - Proposal trace context (Carrier, StartFrom): the front door writes the
//     request's trace context into cairnpb.Proposal.trace, so that it is
//     inside the raft entry and every member's apply of that entry is a span
//     of the request's trace, leader and followers alike.
//   - Request step logs (StartRequest, Step, End): etcd 3.5's trace logs. A
//     request records named steps; one that takes longer than a threshold
//     (etcd's 100ms by default) is logged with the duration of each step.
//     With tracing on, each step is also an event on the request's span.
//
// Invariants:
//
//  1. An actor's middleware state is its own: ActorOptions is called once
//     per spawned actor (the node supervisor instruments every child, and
//     its spawn middleware every grandchild, per spawn), and an actor
//     handles one message at a time, so the span being handled needs no
//     lock.
//  2. Only traced messages are traced: the middleware never starts a root
//     span, so background traffic (ticks, heartbeats, compaction) adds
//     nothing to the collector.
//  3. Sampling is parent-based (Setup): only a sampled trace context is
//     carried on (envelope headers, proposals), so an unsampled request
//     costs the actors what an untraced one does.
package tracing

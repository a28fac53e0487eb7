package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// DefaultSlowRequest is etcd's threshold for logging a request with its
// steps (etcd 3.5's traceThreshold).
const DefaultSlowRequest = 100 * time.Millisecond

// Request records the steps of one client request, as etcd 3.5's
// traceutil.Trace does, so that a request that takes long is logged with
// where its time went. Its methods may be called on nil (no request
// recorded). A Request belongs to the goroutine that handles the request.
type Request struct {
	op    string
	id    uint64
	start time.Time
	span  trace.Span // nil when the request's span does not record
	steps []step
	attrs []slog.Attr
	// The first steps and attributes of a request fit here: recording them
	// allocates nothing beyond the Request.
	stepBuf [4]step
	attrBuf [2]slog.Attr
}

type step struct {
	name string
	at   time.Time
}

type requestKey struct{}

// requestContext is the context StartRequest returns: the Request and the
// context that carries it are one allocation.
type requestContext struct {
	context.Context
	r Request
}

func (c *requestContext) Value(key any) any {
	if _, ok := key.(requestKey); ok {
		return &c.r
	}
	return c.Context.Value(key)
}

// StartRequest starts recording the request op (a gRPC method) with
// request id id, and returns a context that carries it.
func StartRequest(ctx context.Context, op string, id uint64) (context.Context, *Request) {
	c := &requestContext{Context: ctx}
	r := &c.r
	r.op, r.id, r.start = op, id, time.Now()
	r.steps, r.attrs = r.stepBuf[:0], r.attrBuf[:0]
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		r.span = span
		span.SetAttributes(RequestAttr.String(strconv.FormatUint(id, 16)))
	}
	return c, r
}

// RequestFrom returns the request ctx carries, or nil.
func RequestFrom(ctx context.Context) *Request {
	r, _ := ctx.Value(requestKey{}).(*Request)
	return r
}

// ID returns the request's id (0 for nil).
func (r *Request) ID() uint64 {
	if r == nil {
		return 0
	}
	return r.id
}

// Step records that the step name ended now (it began when the previous
// step ended, or when the request started). With tracing on it is also an
// event on the request's span.
func (r *Request) Step(name string) {
	if r == nil {
		return
	}
	r.steps = append(r.steps, step{name: name, at: time.Now()})
	if r.span != nil {
		r.span.AddEvent(name)
	}
}

// Add adds attributes to the request's log line.
func (r *Request) Add(attrs ...slog.Attr) {
	if r == nil {
		return
	}
	r.attrs = append(r.attrs, attrs...)
}

// End finishes the request. If it took threshold or longer (and threshold
// is positive) it is logged at warn level with the duration of every step,
// as etcd logs "trace[id] op"; otherwise it is logged at debug level.
// describe, if not nil, returns attributes of the log line: it is called
// only if the request is logged (and not kept: a closure passed here need
// not escape to the heap). It returns how long the request took.
func (r *Request) End(ctx context.Context, logger *slog.Logger, threshold time.Duration, err error, describe func() []slog.Attr) time.Duration {
	if r == nil {
		return 0
	}
	end := time.Now()
	took := end.Sub(r.start)
	slow := threshold > 0 && took >= threshold
	level := slog.LevelDebug
	if slow {
		level = slog.LevelWarn
	}
	if !logger.Enabled(ctx, level) {
		return took
	}
	attrs := make([]slog.Attr, 0, 8+len(r.attrs))
	attrs = append(attrs,
		slog.String("request-id", strconv.FormatUint(r.id, 16)),
		slog.String("method", r.op),
		slog.String("took", took.String()))
	if id := TraceID(ctx); id != "" {
		attrs = append(attrs, slog.String("trace-id", id))
	}
	if describe != nil {
		attrs = append(attrs, describe()...)
	}
	attrs = append(attrs, r.attrs...)
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	msg := "request"
	if slow {
		msg = "request took too long"
		attrs = append(attrs, slog.String("expected-duration", threshold.String()),
			slog.Any("steps", r.stepLines(end)))
	}
	logger.LogAttrs(ctx, level, msg, attrs...)
	return took
}

// stepLines formats the steps as etcd does: "'name' (duration: 1.2ms)",
// the time after the last step as "'remaining'".
func (r *Request) stepLines(end time.Time) []string {
	out := make([]string, 0, len(r.steps)+1)
	prev := r.start
	for _, s := range r.steps {
		out = append(out, fmt.Sprintf("'%s' (duration: %v)", s.name, s.at.Sub(prev)))
		prev = s.at
	}
	if d := end.Sub(prev); d > 0 && len(r.steps) > 0 {
		out = append(out, fmt.Sprintf("'%s' (duration: %v)", "respond", d))
	}
	return out
}

package cairn_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
)

// A put through a follower, with a trace context from the client, is one
// trace: the follower's front door continues the client's trace, and the
// spans of the raft actor, the transport and the apply of every member are
// in it, each member's under its own tracer provider (its service).
func TestTraceFollowsPutToEveryMember(t *testing.T) {
	recorders := map[string]*tracetest.SpanRecorder{}
	ended := make(chan endedSpan, 1000) // every span, as it ends
	c := cairntest.StartCluster(t, 3, func(cfg *cairn.Config) {
		r := tracetest.NewSpanRecorder()
		recorders[cfg.Name] = r
		cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r),
			sdktrace.WithSpanProcessor(notifier{member: cfg.Name, ch: ended}))
	})
	follower := c.Followers()[0]

	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	ctx := metadata.AppendToOutgoingContext(cairntest.Ctx(t),
		"traceparent", "00-"+clientTrace+"-00f067aa0ba902b7-01")
	put, err := follower.Client.Put(ctx, "traced", "value")
	if err != nil {
		t.Fatal(err)
	}

	// Followers apply after the leader tells them the entry is committed,
	// and a member's transport may send after its apply: wait until every
	// member has ended a span of each kind in the trace.
	want := map[string]bool{}
	for _, n := range c.Members {
		for _, prefix := range []string{"raft ", "transport ", "apply put"} {
			want[n.Name()+" "+prefix] = true
		}
	}
	for len(want) > 0 {
		select {
		case s := <-ended:
			if s.trace != clientTrace {
				continue
			}
			for k := range want {
				member, prefix, _ := strings.Cut(k, " ")
				if s.member == member && strings.HasPrefix(s.name, prefix) {
					delete(want, k)
				}
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("spans never ended in the trace: %v", want)
		}
	}

	front := spansOf(recorders[follower.Name()], clientTrace, "etcdserverpb.KV/Put")
	if len(front) != 1 || front[0].SpanKind() != trace.SpanKindServer {
		t.Fatalf("front door spans on %s: %v, want one server span", follower.Name(), names(front))
	}
	if got := attr(front[0], "cairn.key"); got != "traced" {
		t.Errorf("front door span key %q, want traced", got)
	}
	for _, n := range c.Members {
		r := recorders[n.Name()]
		apply := spansOf(r, clientTrace, "apply put")[0]
		if attr(apply, "cairn.key") != "traced" || attr(apply, "cairn.revision") != itoa(put.Header.Revision) || attr(apply, "raft.index") == "" {
			t.Errorf("%s: apply span attributes %v", n.Name(), apply.Attributes())
		}
	}
	for _, n := range c.Members {
		t.Logf("%s: %v", n.Name(), names(spansOf(recorders[n.Name()], clientTrace, "")))
	}
	// The follower's Propose is a child of its front door span.
	props := spansOf(recorders[follower.Name()], clientTrace, "raft Propose")
	if len(props) != 1 || props[0].Parent().SpanID() != front[0].SpanContext().SpanID() {
		t.Fatalf("raft Propose spans %v, want one child of the front door span", names(props))
	}
}

// A request that is not sampled records no span, in the front door or in
// any actor.
func TestUnsampledRequestOpensNoSpans(t *testing.T) {
	r := tracetest.NewSpanRecorder()
	// Sample nothing: the front door's span exists but is not recorded,
	// and neither is anything downstream.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r), sdktrace.WithSampler(sdktrace.NeverSample()))
	n := cairntest.Start(t, func(cfg *cairn.Config) { cfg.TracerProvider = tp })
	if _, err := n.Client.Put(cairntest.Ctx(t), "k", "v"); err != nil {
		t.Fatal(err)
	}
	if got := r.Ended(); len(got) != 0 {
		t.Fatalf("spans recorded with sampling off: %v", names(got))
	}
}

// notifier tells ch of every span of its member as it ends.
type notifier struct {
	member string
	ch     chan endedSpan
}

type endedSpan struct{ member, name, trace string }

func (n notifier) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (n notifier) Shutdown(context.Context) error                  { return nil }
func (n notifier) ForceFlush(context.Context) error                { return nil }
func (n notifier) OnEnd(s sdktrace.ReadOnlySpan) {
	select {
	case n.ch <- endedSpan{n.member, s.Name(), s.SpanContext().TraceID().String()}:
	default: // the test reads what it needs long before 1000 spans
	}
}

func spansOf(r *tracetest.SpanRecorder, traceID, prefix string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.Ended() {
		if s.SpanContext().TraceID().String() == traceID && strings.HasPrefix(s.Name(), prefix) {
			out = append(out, s)
		}
	}
	return out
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

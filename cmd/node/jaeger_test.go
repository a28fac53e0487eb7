package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairnkv/cairn/cairntest"
)

// A put on a three-member cluster of processes, talking over real actor
// remoting, shows in a real Jaeger as one trace with the front door, and
// the raft actor, the transport and the apply of every member, each under
// its member's name as service.
func TestJaegerShowsPutOnEveryMember(t *testing.T) {
	j := cairntest.StartJaeger(t)
	// The batch span processor exports every 5s by default: the test
	// would wait that long for the spans.
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
	c := cairntest.StartProcessCluster(t, 3,
		"--otlp-endpoint", j.OTLPEndpoint, "--otlp-insecure", "--trace-sampling-rate", "1")
	leader := c.Leader(30 * time.Second)
	var follower *cairntest.ProcessMember
	for _, m := range c.Members {
		if m != leader {
			follower = m
			break
		}
	}
	ctx := cairntest.Ctx(t)
	// Through a follower: its raft actor forwards the proposal to the
	// leader's, so every member's transport carries the request.
	if _, err := follower.Client().Put(ctx, "jaeger", "traced"); err != nil {
		t.Fatal(err)
	}

	want := []string{"raft ", "transport ", "apply put"}
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for {
		trs, err := j.Traces(ctx, url.Values{"service": {follower.Name}, "operation": {"etcdserverpb.KV/Put"}})
		if err == nil && len(trs) == 1 {
			last = describe(trs[0])
			missing := missingSpans(trs[0], c, want)
			if len(missing) == 0 {
				checkPutTrace(t, trs[0], follower.Name)
				return
			}
			last += "\nmissing: " + strings.Join(missing, ", ")
		} else if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d traces of the put", len(trs))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no complete trace of the put in Jaeger after 30s; last seen:\n%s", last)
		}
		time.Sleep(100 * time.Millisecond) // polling Jaeger: there is no event to await
	}
}

// missingSpans lists, for every member, the span name prefixes of want
// that the trace lacks.
func missingSpans(tr cairntest.JaegerTrace, c *cairntest.ProcessCluster, want []string) []string {
	var missing []string
	for _, m := range c.Members {
		for _, prefix := range want {
			if !slices.ContainsFunc(tr.Spans, func(s cairntest.JaegerSpan) bool {
				return tr.Service(s) == m.Name && strings.HasPrefix(s.OperationName, prefix)
			}) {
				missing = append(missing, m.Name+": "+prefix)
			}
		}
	}
	return missing
}

func checkPutTrace(t *testing.T, tr cairntest.JaegerTrace, front string) {
	t.Helper()
	var root *cairntest.JaegerSpan
	for i, s := range tr.Spans {
		if s.OperationName == "etcdserverpb.KV/Put" {
			root = &tr.Spans[i]
		}
	}
	if root == nil || tr.Service(*root) != front || len(root.References) != 0 {
		t.Fatalf("the put's front door span is not the root span of %s's service", front)
	}
	if got := root.Tag("cairn.key"); got != "jaeger" {
		t.Errorf("front door span key %q, want jaeger", got)
	}
	for _, s := range tr.Spans {
		if s.OperationName == "apply put" && (s.Tag("cairn.key") != "jaeger" || s.Tag("raft.index") == "") {
			t.Errorf("%s: apply span tags %v", tr.Service(s), s.Tags)
		}
	}
	t.Logf("trace %s: %d spans\n%s", tr.TraceID, len(tr.Spans), describe(tr))
}

func describe(tr cairntest.JaegerTrace) string {
	by := map[string][]string{}
	for _, s := range tr.Spans {
		by[tr.Service(s)] = append(by[tr.Service(s)], s.OperationName)
	}
	var out []string
	for svc, ops := range by {
		slices.Sort(ops)
		out = append(out, svc+": "+strings.Join(ops, ", "))
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

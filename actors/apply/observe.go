package apply

import (
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.opentelemetry.io/otel/trace"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage/mvcc"
	"github.com/cairnkv/cairn/tracing"
)

// startSpan starts the span of applying entry e, whose proposal p carries
// its request's trace context: a child of the front door's span on the
// proposing member, on every member that applies it.
func (a *applyActor) startSpan(p *cairnpb.Proposal, e *raftpb.Entry) trace.Span {
	op, key := tracing.RequestKey(p.GetRequest())
	span := a.cfg.Tracer.StartFrom(p.GetTrace(), "apply "+op,
		tracing.IndexAttr.Int64(int64(e.GetIndex())), tracing.TermAttr.Int64(int64(e.GetTerm())))
	if span != nil && key != "" {
		span.SetAttributes(tracing.KeyAttr.String(key))
	}
	return span
}

// observe records a committed batch: its commit time, the keys it created
// and deleted, and a warning if it took long.
func (a *applyActor) observe(start, committing time.Time, last uint64, entries int, b *mvcc.Batch) {
	now := time.Now()
	if a.cfg.OnCommit != nil {
		a.cfg.OnCommit(now.Sub(committing))
	}
	if a.cfg.Keys != nil {
		a.cfg.Keys.add(b.Events())
	}
	if took := now.Sub(start); took > a.cfg.SlowApply {
		a.cfg.Logger.Warn("apply request took too long", "took", took.String(), "expected-duration", a.cfg.SlowApply.String(),
			"entries", entries, "index", last, "commit", now.Sub(committing).String())
		if a.cfg.OnSlowApply != nil {
			a.cfg.OnSlowApply()
		}
	}
}

package compactor

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// Config of the compactor.
type Config struct {
	Store *mvcc.Store
	// Chunk is the most revisions removed in one pebble batch. Default 1000.
	Chunk int
	// Slice is how long one message may spend removing history. Default 50ms.
	Slice time.Duration
	// WaitTimeout is how long a WaitCompacted is kept: its asker gives up
	// by then (the front door's request timeout). Default 1m.
	WaitTimeout time.Duration
	// MaxWaiters bounds the WaitCompacted kept at once; beyond it, one is
	// answered with TOO_MANY_REQUESTS. Default 10,000.
	MaxWaiters int
	Logger     *slog.Logger
}

// Props returns the props of a compactor.
func Props(cfg Config) (*actor.Props, error) {
	if cfg.Store == nil {
		return nil, errors.New("compactor: Store is required")
	}
	if cfg.Chunk == 0 {
		cfg.Chunk = 1000
	}
	if cfg.Slice == 0 {
		cfg.Slice = 50 * time.Millisecond
	}
	if cfg.WaitTimeout == 0 {
		cfg.WaitTimeout = time.Minute
	}
	if cfg.MaxWaiters == 0 {
		cfg.MaxWaiters = 10_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return actor.PropsFromProducer(func() actor.Actor { return &compactorActor{cfg: cfg} }), nil
}

type waiter struct {
	rev      int64
	to       *actor.PID
	deadline time.Time
}

type compactorActor struct {
	cfg     Config
	done    int64 // history below done is gone
	waiters []waiter
}

func (a *compactorActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		// Finish a compaction a previous incarnation left unfinished.
		a.run(ctx)
	case *cairnpb.CompactHistory:
		a.run(ctx)
	case *cairnpb.WaitCompacted:
		if ctx.Sender() == nil {
			return
		}
		if m.GetRevision() <= a.done {
			ctx.Respond(&cairnpb.Compacted{Revision: a.done})
			return
		}
		now := time.Now()
		a.dropExpired(now)
		if len(a.waiters) >= a.cfg.MaxWaiters {
			ctx.Respond(&cairnpb.Result{Error: &cairnpb.Error{
				Code: cairnpb.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS, Message: "too many physical compactions waiting"}})
			return
		}
		a.waiters = append(a.waiters, waiter{rev: m.GetRevision(), to: ctx.Sender(), deadline: now.Add(a.cfg.WaitTimeout)})
	}
}

// run removes history for at most one slice, and asks itself to go on if
// there is more.
func (a *compactorActor) run(ctx actor.Context) {
	target := a.cfg.Store.CompactRev()
	if target <= a.done {
		return
	}
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.Slice)
	err := a.cfg.Store.RunCompaction(sctx, a.cfg.Chunk)
	cancel()
	switch {
	case err == nil:
		a.done = target
		a.answer(ctx)
		// A compaction committed meanwhile is handled by its own message.
	case errors.Is(err, context.DeadlineExceeded):
		ctx.Send(ctx.Self(), &cairnpb.CompactHistory{Revision: target})
	default:
		a.cfg.Logger.Error("removing compacted history failed", "revision", target, "error", err)
	}
}

func (a *compactorActor) answer(ctx actor.Context) {
	kept := a.waiters[:0]
	for _, w := range a.waiters {
		if w.rev <= a.done {
			ctx.Send(w.to, &cairnpb.Compacted{Revision: a.done})
			continue
		}
		kept = append(kept, w)
	}
	a.waiters = kept
}

// dropExpired forgets the waiters whose askers have given up: a compaction
// that keeps failing answers nobody, and its waiters must not pile up.
func (a *compactorActor) dropExpired(now time.Time) {
	kept := a.waiters[:0]
	for _, w := range a.waiters {
		if now.Before(w.deadline) {
			kept = append(kept, w)
		}
	}
	clear(a.waiters[len(kept):])
	a.waiters = kept
}

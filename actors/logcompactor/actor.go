package logcompactor

import (
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/cairnkv/cairn/actors/ticker"
	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage/raftlog"
)

// Config of the log compactor.
type Config struct {
	Raft *actor.PID
	// Apply, if not nil, is the apply actor: the compactor subscribes to
	// its Applied, and looks at the log again each time FlushAfterBytes/2
	// of entries were applied, rather than only at its next tick.
	Apply *actor.PID
	Log   *raftlog.Log
	// Durable returns the applied index and conf state of the state
	// machine as it is on disk (apply.RecoverDurable): entries after that
	// index are applied again after a crash, so the log keeps them.
	Durable func() (uint64, *raftpb.ConfState, error)
	// Applied, if not nil, returns the state machine's applied index, in
	// memory; with Flush, it bounds how far the durable index may lag.
	Applied func() uint64
	// Flush, if not nil, starts a flush of the state machine and returns a
	// channel closed when it ends. The compactor starts one when the
	// entries applied but not yet durable pass FlushAfterBytes.
	Flush func() (<-chan struct{}, error)
	// FlushAfterBytes is how many bytes of applied entries may wait for
	// the state machine to flush before the compactor has it flush. Set
	// well below the size of the log's memtable, it lets entries leave the
	// log while their memtable still takes writes, so that its flush drops
	// them instead of writing them out again: every entry still in the log
	// when its memtable fills is written to a blob file or an sstable, and
	// those that were applied by then are the ones applied since the last
	// flush (measured on 1 MiB puts, 3 members, a 16 MiB memtable: at 4
	// MiB and a flush looked at only on ticks, 77% of the leader's entries
	// and all of the followers' were written again; at 2 MiB, looked at
	// as entries are applied, about 12%). It also keeps the log within
	// its budget when the state machine's memtables fill slowly (entries
	// that write little or nothing, such as failed txns). Default, and at
	// most, RetentionBytes.
	FlushAfterBytes uint64
	// RetentionBytes bounds the applied entries kept. Default 64 MiB.
	RetentionBytes uint64
	// Interval between compactions. Default 100ms: entries removed while
	// they are still in pebble's memtable are dropped by its flush, never
	// written to an sstable nor compacted. At 1s about a quarter of the
	// bytes flushed and a third of those compacted under a steady write
	// load were raft entries already applied (1M keys of 100 bytes in
	// txns of 100: flushed 265 MB at 1s, 205 MB at 100ms).
	Interval time.Duration
	Logger   *slog.Logger
}

// Props returns the props of a log compactor.
func Props(cfg Config) (*actor.Props, error) {
	if cfg.Raft == nil || cfg.Log == nil || cfg.Durable == nil {
		return nil, errors.New("logcompactor: Raft, Log and Durable are required")
	}
	if cfg.RetentionBytes == 0 {
		cfg.RetentionBytes = 64 << 20
	}
	// Never more than the retention budget: with a budget smaller than
	// the state machine's flushes, the log would otherwise keep what the
	// budget lets go.
	if cfg.FlushAfterBytes == 0 || cfg.FlushAfterBytes > cfg.RetentionBytes {
		cfg.FlushAfterBytes = cfg.RetentionBytes
	}
	if cfg.Interval == 0 {
		cfg.Interval = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return actor.PropsFromProducer(func() actor.Actor { return &compactor{cfg: cfg} }), nil
}

type compactor struct {
	cfg       Config
	stopTicks func()
	flushing  <-chan struct{} // closed when the flush started last ends
	// applied counts the bytes of entries applied since the compactor
	// last looked at the log because of them.
	applied uint64
	// lastCut is when the compactor last cut members off the log.
	lastCut time.Time
}

func (c *compactor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		c.stopTicks = ticker.Start(ctx.ActorSystem(), c.cfg.Interval, ctx.Self(), &cairnpb.LogCompactTick{})
		if c.cfg.Apply != nil {
			ctx.Request(c.cfg.Apply, &cairnpb.SubscribeApplied{})
		}
	case *cairnpb.Applied:
		// Entries applied since the last flush are the ones the log's
		// memtable may still drop: look as soon as enough of them wait.
		if c.applied += m.GetBytes(); c.applied >= c.cfg.FlushAfterBytes/2 {
			c.applied = 0
			ctx.Request(c.cfg.Raft, &cairnpb.LogStatusRequest{})
		}
	case *actor.Stopping, *actor.Restarting:
		if c.stopTicks != nil {
			c.stopTicks()
		}
	case *cairnpb.LogCompactTick:
		ctx.Request(c.cfg.Raft, &cairnpb.LogStatusRequest{})
	case *cairnpb.LogStatus:
		if err := c.compact(ctx, m); err != nil {
			c.cfg.Logger.Warn("raft log compaction failed", "error", err)
		}
	}
}

func (c *compactor) compact(ctx actor.Context, st *cairnpb.LogStatus) error {
	applied, cs, err := c.cfg.Durable()
	if err != nil {
		return err
	}
	first, _ := c.cfg.Log.FirstIndex()
	last, _ := c.cfg.Log.LastIndex()
	applied = min(applied, last)
	if err := c.maybeFlush(ctx, max(applied, first-1), last); err != nil {
		return err
	}
	if applied < first {
		return nil // nothing applied is left to remove
	}
	target, err := c.target(applied, first-1, st)
	if err != nil || target < first {
		return err
	}
	return c.cfg.Log.Compact(target, cs)
}

// maybeFlush starts a flush of the state machine when the entries applied
// after its durable index pass FlushAfterBytes, unless one is under way.
// durable is in [FirstIndex()-1, LastIndex()].
func (c *compactor) maybeFlush(ctx actor.Context, durable, last uint64) error {
	if c.cfg.Flush == nil || c.cfg.Applied == nil {
		return nil
	}
	if c.flushing != nil {
		select {
		case <-c.flushing:
			c.flushing = nil
		default:
			return nil
		}
	}
	applied := min(c.cfg.Applied(), last)
	if applied <= durable {
		return nil
	}
	lag, err := c.cfg.Log.BytesAfter(durable)
	if err != nil {
		return err
	}
	rest, err := c.cfg.Log.BytesAfter(applied)
	if err != nil {
		return err
	}
	if lag-rest <= c.cfg.FlushAfterBytes {
		return nil
	}
	ch, err := c.cfg.Flush()
	if err != nil {
		return err
	}
	c.flushing = ch
	// Compact as soon as the flush ends, not at the next tick: entries
	// removed sooner are more often dropped with the log's memtable.
	system, self := ctx.ActorSystem(), ctx.Self()
	go func() {
		<-ch
		system.Root.Send(self, &cairnpb.LogCompactTick{})
	}()
	return nil
}

// target returns the index to compact up to: see the package documentation.
func (c *compactor) target(applied, floor uint64, st *cairnpb.LogStatus) (uint64, error) {
	keepFrom := applied // compact up to here, keeping what follows
	if st.GetMinMatchKnown() && st.GetMinMatch() < keepFrom {
		keepFrom = max(st.GetMinMatch(), floor)
	}
	tail, err := c.cfg.Log.BytesAfter(keepFrom)
	if err != nil {
		return 0, err
	}
	if tail <= c.cfg.RetentionBytes {
		return keepFrom, nil // what the members behind need fits
	}
	// Over budget: the slowest members will get a snapshot. At most once
	// an interval, however often applied entries make the compactor look:
	// a member that has just installed one needs a moment to ask for
	// what followed, and cut off again at once it would get snapshot
	// after snapshot while writes go on. Meanwhile what every member
	// holds goes, as within the budget.
	if now := time.Now(); now.Sub(c.lastCut) >= c.cfg.Interval {
		c.lastCut = now
		return c.budgetStart(keepFrom, applied, c.cfg.RetentionBytes)
	}
	return keepFrom, nil
}

// budgetStart returns the smallest index i in [lo, hi] such that the entries
// after i fit the budget, or hi if none does.
func (c *compactor) budgetStart(lo, hi, budget uint64) (uint64, error) {
	for lo < hi {
		mid := lo + (hi-lo)/2
		tail, err := c.cfg.Log.BytesAfter(mid)
		if err != nil {
			return 0, err
		}
		if tail <= budget {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi, nil
}

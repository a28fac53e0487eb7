package cairn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/cairnkv/cairn/actors/node"
	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/statuspage"
	"github.com/cairnkv/cairn/storage/directfs"
)

// The member's status page (package statuspage): what it reads besides the
// metrics registry.

func (n *Node) newStatusPage() *statuspage.Page {
	return statuspage.New(statuspage.Sources{
		Gatherer:  n.metrics.Registry(),
		Member:    statuspage.Member{Name: n.cfg.Name, ID: hex(n.ID())},
		Raft:      n.statusRaft,
		Followers: n.statusFollowers,
		Memory:    n.statusMemory,
		Logger:    n.cfg.Logger.With("member", n.cfg.Name),
	}, statuspage.Options{})
}

func hex(id uint64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatUint(id, 16)
}

func (n *Node) statusRaft() statuspage.Raft {
	st := n.board.Load()
	return statuspage.Raft{
		Term: st.Term, Leader: hex(st.Lead), State: st.State.String(),
		Commit: st.Commit, Applied: st.Applied, LeaderChanges: st.LeaderChanges,
	}
}

// statusFollowers asks the raft actor how the members follow, as the
// membership checks do (one message while someone looks).
func (n *Node) statusFollowers(ctx context.Context) ([]statuspage.Follower, bool, error) {
	if n.board.Load().State != raft.StateLeader {
		return nil, false, nil
	}
	timeout := time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	res, err := n.system.Root.RequestFuture(node.ChildPID(n.pid, node.RaftName), &cairnpb.ProgressRequest{}, timeout).Result()
	if err != nil {
		return nil, false, err
	}
	pr, ok := res.(*cairnpb.ProgressResult)
	if !ok {
		return nil, false, fmt.Errorf("cairn: progress answered with %T", res)
	}
	var out []statuspage.Follower
	for _, m := range pr.GetMembers() {
		out = append(out, statuspage.Follower{
			ID: hex(m.GetId()), Match: m.GetMatch(), State: m.GetState(), Active: m.GetActive(),
			Learner: m.GetLearner(), PendingSnapshot: m.GetPendingSnapshot(),
		})
	}
	return out, pr.GetLeader(), nil
}

// statusMemory is the budget with what each item holds now, where the
// member knows it without asking an actor.
func (n *Node) statusMemory() statuspage.Memory {
	b := n.cfg.MemoryBudget()
	mem := statuspage.Memory{Total: b.Total(), OffHeap: b.OffHeap(), Limit: b.DefaultMemoryLimit()}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		mem.GoLimit = l
	}
	var used map[string]use
	select {
	case <-n.stopping: // the engine closes soon: do not read it
	default:
		used = n.budgetUse()
	}
	for _, it := range b {
		row := statuspage.BudgetItem{Key: it.Key, What: it.What, Flags: it.Flags, Bytes: it.Bytes, OffHeap: it.OffHeap, PerClient: it.PerClient}
		if u, ok := used[it.Key]; ok {
			row.Note = u.note
			if !u.unread {
				v := float64(u.bytes)
				row.Used = &v
			}
		} else {
			row.Note = "not measured"
		}
		mem.Items = append(mem.Items, row)
	}
	return mem
}

type use struct {
	bytes int64
	note  string // how bytes is measured; or, if unread, why not now
	// unread: the item could not be read at this moment (the note says why).
	unread bool
}

func measured(bytes int64, note string) use { return use{bytes: bytes, note: note} }

// budgetUse measures the budget's items, by key, from what their owners
// publish for other goroutines (atomic counters, pebble's metrics): no
// message to an actor, nothing that costs while nobody looks.
func (n *Node) budgetUse() map[string]use {
	db, lg := n.engine.DB.Metrics(), n.engine.Log.Metrics()
	_, cached := n.log.CacheStats()
	inflight := n.front.InFlight()
	out := map[string]use{
		"block-cache":  measured(db.BlockCache.Size, "pebble's cache metrics (one cache for both databases)"),
		"memtables":    measured(int64(db.MemTable.Size+lg.MemTable.Size), "pebble's memtable metrics, both databases"),
		"entry-cache":  measured(int64(cached), "the raft log's cache"),
		"latest-cache": measured(n.store.LatestCacheUsed(), "as the cache counts its entries against its budget (each key and a fixed overhead for its map slot and record), as of the last applied batch"),
		"waiting-proposals": measured(n.board.WaitingBytes(),
			"data of the proposals the raft actor holds until a leader is known (the front door itself waits for a leader before it proposes, so this is rarely above 0)"),
		"watch-hub": measured(n.watchStats.HubBytes.Load(),
			"events the apply actor has sent to the hub and has not had acknowledged (the hub acknowledges each batch once it has handed it to the streams)"),
		"snapshots": measured(n.snapStats.Sending.Load()+n.snapStats.Receiving.Load(),
			"keys and values of the snapshot chunks sent and not acknowledged, and of the chunk being written here"),
		"admitted": measured(inflight.Bytes, fmt.Sprintf("encoded size of the %d unary requests admitted and being served now, as admission control counts them (the budget allows as much again for their decoded form)", inflight.Requests)),
		"request": measured(inflight.Bytes, fmt.Sprintf("all clients together: encoded size of the %d unary requests admitted now, decoded; "+
			"a request gRPC is still receiving, and stream messages, are in gRPC's buffers, which it does not report", inflight.Requests)),
		"range": measured(n.front.RangeBytes(), "all clients together: keys and values of the unary Range responses built and not yet encoded by gRPC "+
			"(counted once built; a Txn's ranges, and the encoding, budgeted as much again, are not counted)"),
		"watch-stream": measured(n.watchStats.QueuedBytes.Load(), "queued in all streams together"),
	}
	if taken, allocated, ok := n.engine.DirectWrites(); ok {
		out["direct-writes"] = measured(int64(taken)*directfs.BufferBytes, fmt.Sprintf(
			"%d of %d buffers taken by blob files being written now (%d allocated: a free one is kept, %d KiB, for the next file)",
			taken, directfs.MaxBuffers, allocated, directfs.BufferBytes>>10))
	} else {
		out["direct-writes"] = measured(0, "none: blob files are written through the page cache (storage.Options.BufferedBlobWrites, or a filesystem other than the operating system's)")
	}
	st := n.board.Load()
	// Entries after the commit index: on the leader, proposed and not
	// committed; on a follower, received and not known committed.
	after, err := n.log.BytesAfter(st.Commit)
	key, other := "follower-received", "uncommitted"
	if st.State == raft.StateLeader {
		key, other = other, key
	}
	if err == nil {
		out[key] = measured(int64(after), "entries in the raft log after the commit index")
	} else {
		out[key] = use{note: "not read at this moment: " + err.Error(), unread: true}
	}
	if st.State == raft.StateLeader {
		out[other] = measured(0, "none on the leader: it receives no entries")
	} else {
		out[other] = measured(0, "none on a follower: it forwards proposals to the leader")
	}
	applied := n.store.AppliedIndex()
	if applied > st.Commit {
		// The board is published after the apply actor's batch: it is
		// behind, and nothing committed waits.
		out["applying"] = measured(0, "entries in the raft log between the applied and the commit index (none: the commit index published is behind the applied one)")
	} else {
		a, errA := n.log.BytesAfter(applied)
		if err := errors.Join(errA, err); err == nil {
			out["applying"] = measured(int64(a-after), "entries in the raft log between the applied and the commit index")
		} else {
			out["applying"] = use{note: "not read at this moment: " + err.Error(), unread: true}
		}
	}
	return out
}

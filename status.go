package cairn

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/cairnkv/cairn/actors/node"
	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/statuspage"
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
			v := float64(u.bytes)
			row.Used, row.Note = &v, u.note
		} else {
			row.Note = "not measured"
		}
		mem.Items = append(mem.Items, row)
	}
	return mem
}

type use struct {
	bytes int64
	note  string
}

// budgetUse measures the budget's items that can be read from outside their
// owner actor, by key.
func (n *Node) budgetUse() map[string]use {
	db, lg := n.engine.DB.Metrics(), n.engine.Log.Metrics()
	_, cached := n.log.CacheStats()
	out := map[string]use{
		"block-cache":  {db.BlockCache.Size, "pebble's cache metrics (one cache for both databases)"},
		"memtables":    {int64(db.MemTable.Size + lg.MemTable.Size), "pebble's memtable metrics, both databases"},
		"entry-cache":  {int64(cached), "the raft log's cache"},
		"watch-stream": {n.watchStats.QueuedBytes.Load(), "queued in all streams together"},
	}
	st := n.board.Load()
	// Entries after the commit index: on the leader, proposed and not
	// committed; on a follower, received and not known committed.
	if after, err := n.log.BytesAfter(st.Commit); err == nil {
		key := "follower-received"
		if st.State == raft.StateLeader {
			key = "uncommitted"
		}
		out[key] = use{int64(after), "entries in the raft log after the commit index"}
	}
	if applied := n.store.AppliedIndex(); applied <= st.Commit {
		a, errA := n.log.BytesAfter(applied)
		c, errC := n.log.BytesAfter(st.Commit)
		if errA == nil && errC == nil {
			out["applying"] = use{int64(a - c), "entries in the raft log between the applied and the commit index"}
		}
	}
	return out
}

package cairn_test

import (
	"context"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/actors/node"
	"github.com/cairnkv/cairn/cairntest"
)

// fastLeases shortens raft's timing (a 100ms election timeout, so a minimum
// lease TTL of 1s) and checkpoints remaining TTLs every second.
func fastLeases(c *cairn.Config) {
	c.Raft.TickInterval = 10 * time.Millisecond
	c.Raft.ElectionTicks = 10
	c.LeaseCheckpointInterval = time.Second
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLeasesAcrossLeaderChange: keep-alives and time-to-live questions sent
// to a follower reach the leader's lessor; when leadership moves, the new
// leader times every lease (from its checkpointed remaining TTL), the old
// one forgets them all, and a kept-alive lease survives.
func TestLeasesAcrossLeaderChange(t *testing.T) {
	c := cairntest.StartCluster(t, 3, fastLeases)
	ctx := cairntest.Ctx(t)
	old := c.Leader()
	fs := c.Followers()
	via, next := fs[0], fs[1]

	long, err := via.Client.Grant(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := via.Client.Grant(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	put, err := via.Client.Put(ctx, "kept", "v", clientv3.WithLease(kept.ID))
	if err != nil {
		t.Fatal(err)
	}
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	ka, err := via.Client.KeepAlive(kctx, kept.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := <-ka; !ok || r.TTL != 2 {
		t.Fatalf("keep-alive through a follower = %+v, %t", r, ok)
	}
	// Only the leader's lessor holds anything.
	for _, f := range fs {
		if h := f.LeasesHeld(); h != 0 {
			t.Fatalf("follower %s's lessor holds %d items", f.Name(), h)
		}
	}
	if old.LeasesHeld() < 2 {
		t.Fatalf("leader's lessor holds %d items, want at least the 2 leases", old.LeasesHeld())
	}

	// Let the long lease age over 3s (TTLs are truncated to seconds), with
	// its remaining TTL checkpointed every second meanwhile.
	waitFor(t, 10*time.Second, "the long lease does not age", func() bool {
		ttl, err := via.Client.TimeToLive(ctx, long.ID)
		return err == nil && ttl.TTL > 0 && ttl.TTL <= 6
	})
	if _, err := old.Client.MoveLeader(ctx, next.ID()); err != nil {
		t.Fatal(err)
	}
	if l := c.Leader(); l != next {
		t.Fatalf("leader is %s, want %s", l.Name(), next.Name())
	}
	waitFor(t, 5*time.Second, "the old leader's lessor still holds leases", func() bool {
		return old.LeasesHeld() == 0
	})

	// The new leader times the long lease from its last checkpointed
	// remaining TTL (7 or 8s), not from its full TTL of 10s.
	ttl, err := via.Client.TimeToLive(ctx, long.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ttl.GrantedTTL != 10 || ttl.TTL < 1 || ttl.TTL > 8 {
		t.Fatalf("time to live after the leader change: TTL %d of %d, want about 7s of 10s left", ttl.TTL, ttl.GrantedTTL)
	}

	// Keep-alives go on, now to the new leader, for longer than the TTL
	// plus the extension the new leader gave it.
	start := time.Now()
	for time.Since(start) < 3*time.Second {
		if r, ok := <-ka; !ok || r.TTL != 2 {
			t.Fatalf("keep-alive after the leader change = %+v, %t (after %v)", r, ok, time.Since(start))
		}
	}
	for _, n := range c.Members {
		get, err := n.Client.Get(ctx, "kept")
		if err != nil || len(get.Kvs) != 1 {
			t.Fatalf("%s: key of the kept-alive lease = %v, %v", n.Name(), get, err)
		}
	}

	// Without keep-alives it expires: every member's watchers see the
	// delete.
	watches := map[string]clientv3.WatchChan{}
	for _, n := range c.Members {
		watches[n.Name()] = n.Client.Watch(ctx, "kept", clientv3.WithRev(put.Header.Revision+1))
	}
	stop()
	for name, wch := range watches {
		select {
		case wr := <-wch:
			if len(wr.Events) != 1 || wr.Events[0].Type != clientv3.EventTypeDelete {
				t.Fatalf("%s: watch response %+v, want the key's delete", name, wr)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the lease did not expire", name)
		}
	}
}

// TestLeaseExpirySurvivesActorRestarts: the lessor restarts alone (as its
// supervisor restarts it after a failure) without disturbing raft, and
// rebuilds its state from pebble; after raft and apply restart together,
// the lessor learns the new term and goes on expiring leases.
func TestLeaseExpirySurvivesActorRestarts(t *testing.T) {
	expires := func(n *cairntest.Node, what string, restart func()) {
		t.Helper()
		c, ctx := n.Client, cairntest.Ctx(t)
		g, err := c.Grant(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Put(ctx, "k", "v", clientv3.WithLease(g.ID)); err != nil {
			t.Fatal(err)
		}
		restart()
		waitFor(t, 10*time.Second, "lease not expired after a restart of "+what, func() bool {
			get, err := c.Get(ctx, "k")
			return err == nil && len(get.Kvs) == 0
		})
		waitFor(t, 5*time.Second, "lessor still holds items", func() bool { return n.LeasesHeld() == 0 })
	}

	n := cairntest.Start(t, fastLeases)
	term := n.Status().Term
	expires(n, "the lessor", func() {
		pid := node.ChildPID(n.PID(), node.LessorName)
		proc, ok := n.System().ProcessRegistry.Get(pid)
		if !ok {
			t.Fatal("no lessor")
		}
		proc.SendSystemMessage(pid, &actor.Restart{})
	})
	if now := n.Status().Term; now != term {
		t.Fatalf("term moved from %d to %d: restarting the lessor disturbed raft", term, now)
	}

	expires(n, "raft and apply", func() { breakApply(n) })
	if now := n.Status().Term; now == term {
		t.Fatalf("term still %d: raft did not restart", now)
	}
}

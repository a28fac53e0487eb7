package frontdoor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
)

// fastElections makes a member's election timeout 100ms.
func fastElections(cfg *cairn.Config) {
	cfg.Raft.TickInterval = 10 * time.Millisecond
	cfg.Raft.ElectionTicks = 10
}

// TestWatchAcrossLeaderChange: watchers on every member of a 3-member
// cluster, from now and from the start; the leader stops midway and writes
// go on through the new one. Each watcher on a running member sees every
// write once, in order; each member's hub serves its own watchers from its
// own applies, whoever leads.
func TestWatchAcrossLeaderChange(t *testing.T) {
	t.Parallel()
	c := cairntest.StartCluster(t, 3, fastElections)
	ctx := cairntest.Ctx(t)
	old := c.Leader()
	type watch struct {
		member string
		ch     clientv3.WatchChan
	}
	var watches []watch
	for _, n := range c.Members {
		if n == old {
			continue
		}
		live := n.Client.Watch(ctx, "k", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
		<-live
		watches = append(watches, watch{n.Name(), live},
			watch{n.Name(), n.Client.Watch(ctx, "k", clientv3.WithPrefix(), clientv3.WithRev(1))})
	}
	put := func(i int) {
		t.Helper()
		for {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := c.Leader().Client.Put(pctx, fmt.Sprint("k", i), "v")
			cancel()
			if err == nil {
				return
			}
			if ctx.Err() != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 20 {
		put(i)
	}
	old.Stop()
	for i := 20; i < 40; i++ {
		put(i)
	}
	for _, w := range watches {
		evs := collect(t, w.ch, 40)
		for i, ev := range evs {
			if want := fmt.Sprint("k", i); string(ev.Kv.Key) != want {
				t.Fatalf("watcher on %s: event %d is %s, want %s", w.member, i, ev.Kv.Key, want)
			}
			if i > 0 && ev.Kv.ModRevision != evs[i-1].Kv.ModRevision+1 {
				t.Fatalf("watcher on %s: revision %d after %d", w.member, ev.Kv.ModRevision, evs[i-1].Kv.ModRevision)
			}
		}
	}
}

// TestWatchRequireLeader: as etcd, a stream created with WithRequireLeader
// ends with "no leader" once its member has had no leader for three
// election timeouts, and the client sees the error; one without keeps
// waiting.
func TestWatchRequireLeader(t *testing.T) {
	t.Parallel()
	c := cairntest.StartCluster(t, 3, fastElections)
	ctx := cairntest.Ctx(t)
	f := c.Followers()[0]
	strict := f.Client.Watch(clientv3.WithRequireLeader(ctx), "k", clientv3.WithCreatedNotify())
	<-strict
	lax := f.Client.Watch(ctx, "k", clientv3.WithCreatedNotify())
	<-lax
	for _, n := range c.Running() {
		if n != f {
			n.Stop()
		}
	}
	var wr clientv3.WatchResponse
	for wr = range strict {
		if wr.Err() != nil {
			break
		}
	}
	if !errors.Is(wr.Err(), rpctypes.ErrNoLeader) {
		t.Fatalf("a watch requiring a leader ended with %v, want %v", wr.Err(), rpctypes.ErrNoLeader)
	}
	select {
	case wr := <-lax:
		t.Fatalf("the watch without WithRequireLeader got %+v", wr)
	default:
	}
}

// TestWatchOnFollowerCatchingUpBySnapshot: a follower cut off while writes
// go on comes back by installing a snapshot (the leader's log no longer has
// what it missed); the watchers of its clients get every missed event, from
// the installed history, with no write after the snapshot to reveal the gap.
func TestWatchOnFollowerCatchingUpBySnapshot(t *testing.T) {
	t.Parallel()
	c := cairntest.StartCluster(t, 3, fastElections, func(cfg *cairn.Config) {
		cfg.RaftLogRetentionBytes = 1024
		cfg.RaftLogCompactionInterval = 20 * time.Millisecond
	})
	ctx := cairntest.Ctx(t)
	f := c.Followers()[0]
	live := f.Client.Watch(ctx, "k", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	<-live
	applied := f.Status().Applied
	c.Net.Partition(f.Address())
	leader := c.Leader()
	value := strings.Repeat("v", 200)
	for i := range 100 {
		if _, err := leader.Client.Put(ctx, fmt.Sprintf("k%03d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	for leader.FirstLogIndex() <= applied+1 {
		if ctx.Err() != nil {
			t.Fatal("the leader's log was not compacted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Net.Heal(f.Address())
	evs := collect(t, live, 100)
	for i, ev := range evs {
		if want := fmt.Sprintf("k%03d", i); string(ev.Kv.Key) != want {
			t.Fatalf("event %d is %s, want %s", i, ev.Kv.Key, want)
		}
	}
}

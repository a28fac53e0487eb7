package frontdoor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn/cairntest"
)

// TestWatchAcrossLeaderChange: watchers on every member of a 3-member
// cluster, from now and from the start; the leader stops midway and writes
// go on through the new one. Each watcher on a running member sees every
// write once, in order; each member's hub serves its own watchers from its
// own applies, whoever leads.
func TestWatchAcrossLeaderChange(t *testing.T) {
	c := cairntest.StartCluster(t, 3)
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

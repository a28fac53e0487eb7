package cairn_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
)

// TestPendingReadsDrainAcrossLeaderChanges keeps every member busy with
// linearizable reads while leadership moves around, then checks that no
// member keeps a read after every read has been answered (etcd 3.1 leaked
// pending ReadIndex requests exactly here).
func TestPendingReadsDrainAcrossLeaderChanges(t *testing.T) {
	c := cairntest.StartCluster(t, 3)
	ctx := cairntest.Ctx(t)
	if _, err := c.Client().Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var reads, failed atomic.Int64
	var wg sync.WaitGroup
	for _, n := range c.Members {
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					_, err := n.Client.Get(rctx, "k")
					cancel()
					if err != nil {
						failed.Add(1)
					} else {
						reads.Add(1)
					}
				}
			}()
		}
	}
	for i := 0; i < 5; i++ {
		leader := c.Leader()
		target := c.Followers()[i%2]
		if _, err := leader.Client.MoveLeader(ctx, target.ID()); err != nil {
			t.Fatalf("move leader to %s: %v", target.Name(), err)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d reads answered, %d failed during 5 leader changes", reads.Load(), failed.Load())
	if reads.Load() == 0 {
		t.Fatal("no read succeeded")
	}
	for _, n := range c.Members {
		deadline := time.Now().Add(10 * time.Second)
		for n.PendingReads() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s keeps %d pending reads after all were answered", n.Name(), n.PendingReads())
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// TestLargeValueReplicates writes a value of 1.5 MiB, larger than raft's
// MaxSizePerMsg, and reads it on every member.
func TestLargeValueReplicates(t *testing.T) {
	c := cairntest.StartCluster(t, 3, func(cfg *cairn.Config) { cfg.MaxRequestBytes = 2 << 20 })
	ctx := cairntest.Ctx(t)
	value := strings.Repeat("x", 3<<19)
	if _, err := c.Leader().Client.Put(ctx, "big", value); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Members {
		get, err := n.Client.Get(ctx, "big", clientv3.WithSerializable())
		for err == nil && len(get.Kvs) == 0 {
			// A follower may not have applied it yet: a linearizable read
			// waits until it has.
			get, err = n.Client.Get(ctx, "big")
		}
		if err != nil || len(get.Kvs[0].Value) != len(value) {
			t.Fatalf("%s: %v", n.Name(), err)
		}
	}
}

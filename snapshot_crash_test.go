package cairn_test

import (
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
	"github.com/cairnkv/cairn/raftactor"
)

// TestCrashDuringSnapshotInstall crashes a follower in the middle of
// installing a snapshot, at each step of the installation, and checks that
// it restarts, catches up and agrees with the others. The state machine and
// the raft log are two databases, so no single write installs a snapshot in
// both: a crash between them must leave a member that repairs itself.
//
// Every member lives in pebble's crashable in-memory filesystem. A follower
// stopped while the cluster writes, then restarted, catches up by snapshot;
// at the step under test its raft actor takes a crash clone of the
// filesystem (what was synced at that moment) and cuts the follower off
// the network, so that nothing it does after the crash reaches another
// member. After more writes the follower is started again on the clone.
func TestCrashDuringSnapshotInstall(t *testing.T) {
	for _, tc := range []struct {
		name string
		step raftactor.SnapshotStep
	}{
		{"log records the snapshot, state machine is old", raftactor.SnapshotBegun},
		{"state machine ingested, log does not know", raftactor.SnapshotIngested},
	} {
		t.Run(tc.name, func(t *testing.T) { crashDuringInstall(t, tc.step) })
	}
}

func crashDuringInstall(t *testing.T, step raftactor.SnapshotStep) {
	fs := vfs.NewCrashableMem()
	var (
		mu      sync.Mutex
		victim  *cairntest.Node // the member to crash
		crashed *vfs.MemFS      // its filesystem as the crash left it
		at      = make(chan uint64, 1)
	)
	var c *cairntest.Cluster
	crashPoint := func(cfg *cairn.Config) {
		cfg.Storage.FS = fs
		name := cfg.Name
		cfg.Raft.OnSnapshotStep = func(s raftactor.SnapshotStep, index uint64) {
			mu.Lock()
			defer mu.Unlock()
			if s == step && victim != nil && name == victim.Name() && crashed == nil {
				crashed = fs.CrashClone(vfs.CrashCloneCfg{})
				c.Net.Partition(victim.Address())
				at <- index
			}
		}
	}
	c = cairntest.StartCluster(t, 3, shortLog, crashPoint)
	cli := c.Client()
	follower := c.Followers()[0]
	mu.Lock()
	victim = follower
	mu.Unlock()

	follower.Stop()
	putMany(t, cli, "k", 300)
	waitLogCompacted(t, c.Leader(), 100)
	follower.StartWith()
	select {
	case index := <-at:
		t.Logf("%s crashed at step %d of the snapshot at %d", follower.Name(), step, index)
	case <-time.After(30 * time.Second):
		t.Fatal("the follower installed no snapshot")
	}
	follower.Stop()
	c.Net.Heal(follower.Address())
	// Writes acknowledged while the crashed follower is down.
	putMany(t, cli, "after", 10)

	mu.Lock()
	clone := crashed
	mu.Unlock()
	follower.StartWith(func(cfg *cairn.Config) { cfg.Storage.FS = clone })
	follower.WaitReady()
	ctx := cairntest.Ctx(t)
	for prefix, want := range map[string]int64{"k": 300, "after": 10} {
		get, err := follower.Client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatalf("count %q on %s after the crash: %v", prefix, follower.Name(), err)
		}
		if get.Count != want {
			t.Fatalf("%s has %d keys under %q after the crash, want %d", follower.Name(), get.Count, prefix, want)
		}
	}
	putMany(t, follower.Client, follower.Name()+"/", 10)
	assertSameHashes(t, c)
}

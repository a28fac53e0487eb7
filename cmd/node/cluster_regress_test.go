package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn/cairntest"
)

// The tests in this file began as known bugs (cairntest.KnownBug), since
// fixed. Each runs the same steps against the real etcd too, as the
// reference of what Cairn should do.

// startBoth runs f against a three-member cluster of etcd and one of Cairn,
// in parallel subtests.
func startBoth(t *testing.T, f func(t *testing.T, c *cairntest.ProcessCluster)) {
	for _, server := range []string{"etcd", "cairn"} {
		t.Run(server, func(t *testing.T) {
			t.Parallel()
			var c *cairntest.ProcessCluster
			if server == "etcd" {
				c = cairntest.StartEtcdCluster(t, 3, clusterArgs...)
			} else {
				c = cairntest.StartProcessCluster(t, 3, clusterArgs...)
			}
			f(t, c)
		})
	}
}

// TestClusterReconfigurationKeepsQuorum: with one of three members down, a
// membership change that would leave the cluster without a quorum of
// running voters is refused, as etcd's strict reconfiguration check
// (--strict-reconfig-check, on by default) refuses it with "etcdserver:
// unhealthy cluster". Accepting it would leave the cluster without a leader
// until the down member comes back: adding a fourth voter makes the quorum
// three of which two run; removing a running member leaves one of two.
// (etcd also refuses reconfiguration until its members have been connected
// for five seconds, which this test does not wait for; it refuses these
// changes after that too.)
func TestClusterReconfigurationKeepsQuorum(t *testing.T) {
	t.Run("add", func(t *testing.T) {
		startBoth(t, func(t *testing.T, c *cairntest.ProcessCluster) {
			leader, follower := leaderAndFollower(t, c)
			follower.Kill()
			ctx := cairntest.Ctx(t)
			_, err := leader.Client().MemberAdd(ctx, []string{"http://127.0.0.1:1"})
			if err == nil {
				t.Errorf("member add with one of three members down succeeded: four voters, two running")
				checkWritable(t, c, leader)
				return
			}
			t.Logf("refused: %v", err)
			if !errors.Is(rpctypes.Error(err), rpctypes.ErrUnhealthy) {
				t.Errorf("member add refused with %v, want etcd's %v", err, rpctypes.ErrUnhealthy)
			}
		})
	})
	t.Run("remove", func(t *testing.T) {
		startBoth(t, func(t *testing.T, c *cairntest.ProcessCluster) {
			leader, follower := leaderAndFollower(t, c)
			var other *cairntest.ProcessMember
			for _, m := range c.Members {
				if m != leader && m != follower {
					other = m
				}
			}
			follower.Kill()
			_, err := leader.Client().MemberRemove(cairntest.Ctx(t), other.ID)
			if err == nil {
				t.Errorf("removing a running member with another one down succeeded: two voters, one running")
				checkWritable(t, c, leader)
				return
			}
			t.Logf("refused: %v", err)
			if !errors.Is(rpctypes.Error(err), rpctypes.ErrUnhealthy) {
				t.Errorf("member remove refused with %v, want etcd's %v", err, rpctypes.ErrUnhealthy)
			}
		})
	})
}

// TestClusterRemovedMemberStops: a member removed from the cluster stops,
// as etcd's does ("the member has been permanently removed from the
// cluster") rather than go on serving a keyspace that no longer changes. It
// learns it by applying its removal, or from a member it still sends raft
// messages to.
func TestClusterRemovedMemberStops(t *testing.T) {
	startBoth(t, func(t *testing.T, c *cairntest.ProcessCluster) {
		leader, gone := leaderAndFollower(t, c)
		// etcd refuses reconfiguration until its members have been
		// connected for five seconds.
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := leader.Client().MemberRemove(ctx, gone.ID)
			cancel()
			if err == nil {
				break
			}
			if !errors.Is(rpctypes.Error(err), rpctypes.ErrUnhealthy) || time.Now().After(deadline) {
				t.Fatalf("member remove: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		removed := time.Now()
		select {
		case <-gone.Done():
			t.Logf("removed member exited %v after its removal: %v", time.Since(removed).Round(time.Millisecond), gone.Err())
		case <-time.After(10 * electionTimeout):
			if st, err := gone.Status(context.Background()); err != nil {
				t.Errorf("removed member %s still runs %v after its removal (status: %v)", gone.Name, 10*electionTimeout, err)
			} else {
				t.Errorf("removed member %s still runs %v after its removal, and serves: its status names leader %x in term %d",
					gone.Name, 10*electionTimeout, st.Leader, st.RaftTerm)
			}
		}
	})
}

// leaderAndFollower returns the leader of c and one of its followers.
func leaderAndFollower(t *testing.T, c *cairntest.ProcessCluster) (leader, follower *cairntest.ProcessMember) {
	t.Helper()
	leader = c.Leader(10 * electionTimeout)
	for _, m := range c.Members {
		if m != leader {
			return leader, m
		}
	}
	t.Fatal("no follower")
	return nil, nil
}

// checkWritable logs whether the cluster still accepts a write, after a
// reconfiguration that should have been refused.
func checkWritable(t *testing.T, c *cairntest.ProcessCluster, m *cairntest.ProcessMember) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*electionTimeout)
	defer cancel()
	if _, err := m.Client().Put(ctx, "after-reconfiguration", "1"); err != nil {
		t.Errorf("and the cluster no longer accepts writes: put through %s: %v", m.Name, err)
	}
}

// TestClusterRestartedMemberServesNoOlderState: a member that restarts
// serves clients only once it has caught up with what was committed before
// it started, as etcd's does (it serves once it has published itself
// through raft, after the entries before). Serving at once would answer from
// its own keyspace as it was when it stopped, which may not even hold the
// writes it acknowledged itself (apply batches are not synced; the log is,
// and is applied again only once the member hears of the commit). Here a
// write through the member is overwritten while it is down, and it restarts
// cut off from the others: it must not serve the overwritten value.
func TestClusterRestartedMemberServesNoOlderState(t *testing.T) {
	startBoth(t, func(t *testing.T, c *cairntest.ProcessCluster) {
		ctx := cairntest.Ctx(t)
		leader, f := leaderAndFollower(t, c)
		if _, err := f.Client().Put(ctx, "k", "old"); err != nil {
			t.Fatal(err)
		}
		// etcd exits by re-raising SIGTERM.
		if err := f.Stop(); err != nil && err.Error() != "signal: terminated" {
			t.Fatalf("stop %s: %v", f.Name, err)
		}
		if _, err := leader.Client().Put(ctx, "k", "new"); err != nil {
			t.Fatal(err)
		}
		f.Cut()
		f.RestartNoWait()
		restarted := time.Now()
		// Whatever f answers, cut off or not, must not be older than "new".
		check := func(within time.Duration) bool {
			t.Helper()
			deadline := time.Now().Add(within)
			for time.Now().Before(deadline) {
				rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				get, err := f.Client().Get(rctx, "k", clientv3.WithSerializable())
				cancel()
				if err != nil {
					continue // not serving yet
				}
				if len(get.Kvs) != 1 || string(get.Kvs[0].Value) != "new" {
					t.Errorf("restarted %s serves k=%s at revision %d; k=new was acknowledged before it started", f.Name, get.Kvs[0].Value, get.Header.Revision)
				} else {
					t.Logf("restarted %s serves k=new %v after its start (cut off: %v)", f.Name, time.Since(restarted).Round(time.Millisecond), f.Proxy.IsCut())
				}
				return true
			}
			return false
		}
		if check(3 * electionTimeout) {
			return
		}
		f.Heal()
		if !check(30 * time.Second) {
			t.Fatalf("restarted %s does not serve", f.Name)
		}
	})
}

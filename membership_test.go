package cairn_test

import (
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn/actors/node"
	"github.com/cairnkv/cairn/cairntest"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

func TestMemberAddPromoteRemove(t *testing.T) {
	c := cairntest.StartCluster(t, 3)
	ctx := cairntest.Ctx(t)
	cli := c.Client()
	for i := 0; i < 20; i++ {
		if _, err := cli.Put(ctx, "k", "v"); err != nil {
			t.Fatal(err)
		}
	}

	add, err := cli.MemberAddAsLearner(ctx, []string{cairntest.PeerURL("m4")})
	if err != nil {
		t.Fatal(err)
	}
	if !add.Member.IsLearner || len(add.Members) != 4 {
		t.Fatalf("member add: %+v", add)
	}
	// Within the same second the new member gets the same ID (etcd derives
	// it from the URLs and the time), and the add is refused for that first.
	_, err = cli.MemberAdd(ctx, []string{cairntest.PeerURL("m4")})
	if !errors.Is(rpctypes.Error(err), rpctypes.Error(rpctypes.ErrGRPCPeerURLExist)) &&
		!errors.Is(rpctypes.Error(err), rpctypes.Error(rpctypes.ErrGRPCMemberExist)) {
		t.Fatalf("adding the same peer URL again: %v", err)
	}
	_, err = cli.MemberAddAsLearner(ctx, []string{"http://m5:2380"})
	if !errors.Is(rpctypes.Error(err), rpctypes.Error(rpctypes.ErrGRPCTooManyLearners)) {
		t.Fatalf("adding a second learner: %v", err)
	}

	m4 := c.AddMember("m4")
	// The learner catches up, then can be promoted.
	promoteDeadline := time.Now().Add(30 * time.Second)
	for {
		_, err = cli.MemberPromote(ctx, add.Member.ID)
		if err == nil {
			break
		}
		if !errors.Is(rpctypes.Error(err), rpctypes.Error(rpctypes.ErrGRPCLearnerNotReady)) || time.Now().After(promoteDeadline) {
			t.Fatalf("promote: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-m4.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("joined member not ready")
	}
	get, err := m4.Client.Get(ctx, "k")
	if err != nil || get.Kvs[0].Version != 20 {
		t.Fatalf("joined member reads %v, %v", get, err)
	}
	ml, err := m4.Client.MemberList(ctx)
	if err != nil || len(ml.Members) != 4 {
		t.Fatalf("member list on the new member: %v, %v", ml, err)
	}
	for _, m := range ml.Members {
		if m.IsLearner {
			t.Fatalf("member %s still a learner after promotion", m.Name)
		}
	}
	_, err = cli.MemberPromote(ctx, add.Member.ID)
	if !errors.Is(rpctypes.Error(err), rpctypes.Error(rpctypes.ErrGRPCMemberNotLearner)) {
		t.Fatalf("promoting a voter: %v", err)
	}

	// Remove a follower that is not the new member.
	var gone *cairntest.Node
	for _, f := range c.Followers() {
		if f != m4 {
			gone = f
			break
		}
	}
	// Through a member that stays: the removed one cannot commit anything.
	if _, err := m4.Client.MemberRemove(ctx, gone.ID()); err != nil {
		t.Fatal(err)
	}
	_, err = m4.Client.MemberRemove(ctx, gone.ID())
	if !errors.Is(rpctypes.Error(err), rpctypes.Error(rpctypes.ErrGRPCMemberNotFound)) {
		t.Fatalf("removing a removed member: %v", err)
	}
	// A removed member's ID is never reused.
	_, err = m4.Client.MemberPromote(ctx, gone.ID())
	if !errors.Is(rpctypes.Error(err), rpctypes.Error(rpctypes.ErrGRPCMemberNotFound)) {
		t.Fatalf("promoting a removed member: %v", err)
	}
	gone.Stop()
	if _, err := m4.Client.Put(ctx, "after-remove", "v"); err != nil {
		t.Fatalf("put after removal: %v", err)
	}
	ml, err = m4.Client.MemberList(ctx)
	if err != nil || len(ml.Members) != 3 {
		t.Fatalf("member list after removal: %v, %v", ml, err)
	}
}

func TestMoveLeader(t *testing.T) {
	c := cairntest.StartCluster(t, 3)
	ctx := cairntest.Ctx(t)
	leader := c.Leader()
	target := c.Followers()[0]
	_, err := target.Client.MoveLeader(ctx, leader.ID())
	if !errors.Is(rpctypes.Error(err), rpctypes.Error(rpctypes.ErrGRPCNotLeader)) {
		t.Fatalf("move-leader on a follower: %v", err)
	}
	if _, err := leader.Client.MoveLeader(ctx, target.ID()); err != nil {
		t.Fatal(err)
	}
	if got := c.Leader(); got != target {
		t.Fatalf("leader is %s, want %s", got.Name(), target.Name())
	}
	if _, err := c.Client().Put(ctx, "k", "v", clientv3.WithPrevKV()); err != nil {
		t.Fatal(err)
	}
}

// TestReconfigurationKeepsQuorum: with a follower unreachable, a change
// that would leave the voters without an active quorum is refused, as
// etcd's strict reconfiguration check refuses it.
func TestReconfigurationKeepsQuorum(t *testing.T) {
	c := cairntest.StartCluster(t, 3)
	ctx := cairntest.Ctx(t)
	leader := c.Leader()
	followers := c.Followers()
	c.Net.Partition(followers[0].Address())
	// The partition reaches the leader's raft actor through its transport,
	// asynchronously: wait until the leader counts the member inactive.
	waitInactive(t, leader, followers[0].ID())
	_, err := leader.Client.MemberAdd(ctx, []string{"http://m9:2380"})
	if !errors.Is(rpctypes.Error(err), rpctypes.Error(rpctypes.ErrGRPCUnhealthy)) {
		t.Fatalf("adding a voter with one of three unreachable: %v, want %v", err, rpctypes.ErrGRPCUnhealthy)
	}
	_, err = leader.Client.MemberRemove(ctx, followers[1].ID())
	if !errors.Is(rpctypes.Error(err), rpctypes.Error(rpctypes.ErrGRPCUnhealthy)) {
		t.Fatalf("removing a running voter with another unreachable: %v, want %v", err, rpctypes.ErrGRPCUnhealthy)
	}
	// A learner does not vote: adding one is fine.
	if _, err := leader.Client.MemberAddAsLearner(ctx, []string{"http://m9:2380"}); err != nil {
		t.Fatalf("adding a learner: %v", err)
	}
}

// waitInactive waits until the leader's raft actor reports member id as
// not active (raftactor ProgressRequest).
func waitInactive(t *testing.T, leader *cairntest.Node, id uint64) {
	t.Helper()
	raft := node.ChildPID(leader.PID(), node.RaftName)
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := leader.System().Root.RequestFuture(raft, &cairnpb.ProgressRequest{}, time.Second).Result()
		if err != nil {
			t.Fatalf("progress of the leader: %v", err)
		}
		for _, m := range res.(*cairnpb.ProgressResult).GetMembers() {
			if m.GetId() == id && !m.GetActive() {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("member %x still active 10s after its partition", id)
		}
		time.Sleep(time.Millisecond) // a condition on the raft actor's state: no event to wait for
	}
}

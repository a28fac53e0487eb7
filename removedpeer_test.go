package cairn_test

import (
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/actors/node"
	"github.com/cairnkv/cairn/cairntest"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

// TestRemovedMemberIsNotHeard removes a member, then delivers to the
// leader's raft actor a heartbeat of a higher term from it, as a removed
// member that does not know it was removed sends. The leader must not
// step it (its term would move, and it would lose its leadership to a
// member that is gone): it drops the batch and counts it.
func TestRemovedMemberIsNotHeard(t *testing.T) {
	c := cairntest.StartCluster(t, 3)
	ctx := cairntest.Ctx(t)
	leader := c.Leader()
	gone := c.Followers()[0]
	if _, err := leader.Client.MemberRemove(ctx, gone.ID()); err != nil {
		t.Fatal(err)
	}
	st, err := leader.Client.Status(ctx, leader.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	raft := node.ChildPID(leader.PID(), node.RaftName)
	leader.System().Root.Send(raft, &cairnpb.RaftBatch{
		ClusterId: st.Header.ClusterId, To: leader.ID(), From: gone.ID(),
		Messages: []*raftpb.Message{{
			Type: raftpb.MessageType_MsgHeartbeat.Enum(), To: proto.Uint64(leader.ID()),
			From: proto.Uint64(gone.ID()), Term: proto.Uint64(st.RaftTerm + 10),
		}},
	})
	// The raft actor answers in mailbox order: once this is answered,
	// the batch has been handled.
	if _, err := leader.System().Root.RequestFuture(raft, &cairnpb.ProgressRequest{}, 5*time.Second).Result(); err != nil {
		t.Fatal(err)
	}
	after, err := leader.Client.Status(ctx, leader.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if after.RaftTerm != st.RaftTerm || after.Leader != leader.ID() {
		t.Errorf("after a removed member's heartbeat: term %d, leader %x; want term %d, leader %x",
			after.RaftTerm, after.Leader, st.RaftTerm, leader.ID())
	}
	if n := counterValue(t, leader, "cairn_network_peer_batches_dropped_total", "reason", "removed"); n < 1 {
		t.Errorf("batches dropped as from a removed member: %v, want at least 1", n)
	}
}

// counterValue returns the value of the counter name with label=value on
// n's metrics registry (0 if absent).
func counterValue(t *testing.T, n *cairntest.Node, name, label, value string) float64 {
	t.Helper()
	families, err := n.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

package cairn_test

import (
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/actors/node"
	"github.com/cairnkv/cairn/cairntest"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

// TestStaleApplyAnswerDoesNotPanicRaft delivers to the raft actor the
// apply actor's answer to a MsgStorageApply of an earlier instance of the
// raft actor, as its mailbox may hold after a supervision restart: entries
// beyond the commit index the new RawNode read from the log (raft applies
// committed entries while the hard state that records their commit is
// still being written). raft panics on such an answer ("applied(1000) is
// out of range"), which restarts the raft actor again, once for each such
// answer; the raft actor must drop it. (Answers below the new node's
// applied index raft itself ignores.)
func TestStaleApplyAnswerDoesNotPanicRaft(t *testing.T) {
	n := cairntest.Start(t)
	ctx := cairntest.Ctx(t)
	for range 3 {
		if _, err := n.Client.Put(ctx, "k", "v"); err != nil {
			t.Fatal(err)
		}
	}
	raftPID := node.ChildPID(n.PID(), node.RaftName)
	n.System().Root.Send(raftPID, &raftpb.Message{
		Type: raftpb.MsgStorageApplyResp.Enum(),
		To:   proto.Uint64(raft.LocalApplyThread), From: proto.Uint64(raft.LocalApplyThread),
		Entries: []*raftpb.Entry{{Index: proto.Uint64(1000), Term: proto.Uint64(1)}},
	})
	// Answered in mailbox order: the answer has been handled.
	if _, err := n.System().Root.RequestFuture(raftPID, &cairnpb.ProgressRequest{}, 10*time.Second).Result(); err != nil {
		t.Fatal(err)
	}
	if r := counterValue(t, n, "cairn_actor_restarts_total", "actor", "raft"); r != 0 {
		t.Errorf("the raft actor restarted %v times after a stale apply answer", r)
	}
	if _, err := n.Client.Put(ctx, "k", "w"); err != nil {
		t.Fatalf("put after the stale answer: %v", err)
	}
}

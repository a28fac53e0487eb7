package cairn_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/actors/node"
	"github.com/cairnkv/cairn/cairntest"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

// TestFollowerKeepsTheLogForAMemberBehind: while one follower is cut off,
// the other keeps the raft log from the first entry the cut-off one lacks,
// as the leader tells it, and no more, so that it could feed it if it came
// to lead; once the member is back and caught up, it lets those entries go.
func TestFollowerKeepsTheLogForAMemberBehind(t *testing.T) {
	c := cairntest.StartCluster(t, 3, func(cfg *cairn.Config) {
		cfg.RaftLogRetentionBytes = 4 << 20
		cfg.RaftLogCompactionInterval = 20 * time.Millisecond
		// The state machine flushes after an eighth of this (128 KiB) of
		// applied entries: only flushed entries may leave the log.
		cfg.Storage.MemTableBytes = 1 << 20
	})
	leader := c.Leader()
	kept, away := c.Followers()[0], c.Followers()[1]
	c.Net.Partition(away.Address())
	waitInactive(t, leader, away.ID())

	ctx := cairntest.Ctx(t)
	value := strings.Repeat("v", 10<<10)
	for i := range 60 { // 600 KiB: several flushes
		if _, err := leader.Client.Put(ctx, fmt.Sprintf("k%03d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	// The cut-off member's match no longer moves.
	match := logStatus(t, leader).GetMinMatch()
	if last := leader.Status().Commit; match >= last {
		t.Fatalf("the leader's lowest match %d is not behind its commit %d", match, last)
	}
	deadline := time.Now().Add(30 * time.Second)
	for kept.FirstLogIndex() < match+1 {
		if time.Now().After(deadline) {
			t.Fatalf("the follower's log starts at %d, not compacted to the lowest match %d", kept.FirstLogIndex(), match)
		}
		time.Sleep(5 * time.Millisecond) // a condition on the log: no event to wait for
	}
	if first := kept.FirstLogIndex(); first != match+1 {
		t.Fatalf("the follower's log starts at %d: it dropped entries the member at %d still needs", first, match)
	}

	c.Net.Heal(away.Address())
	for kept.FirstLogIndex() <= match+1 {
		if time.Now().After(deadline) {
			t.Fatalf("the follower still keeps the log from %d after the member came back", kept.FirstLogIndex())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logStatus asks a member's raft actor what its log compactor is told.
func logStatus(t *testing.T, n *cairntest.Node) *cairnpb.LogStatus {
	t.Helper()
	raft := node.ChildPID(n.PID(), node.RaftName)
	res, err := n.System().Root.RequestFuture(raft, &cairnpb.LogStatusRequest{}, 5*time.Second).Result()
	if err != nil {
		t.Fatalf("log status of %s: %v", n.Name(), err)
	}
	return res.(*cairnpb.LogStatus)
}

package cairn_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/actors/node"
	"github.com/cairnkv/cairn/cairntest"
)

// breakApply makes the apply actor fail: it is handed entries far beyond
// its applied index, which it cannot find in the log.
func breakApply(n *cairntest.Node) {
	apply := node.ChildPID(n.PID(), node.ApplyName)
	n.System().Root.Send(apply, &raftpb.Message{
		Type:    raftpb.MsgStorageApply.Enum(),
		Entries: []*raftpb.Entry{{Index: proto.Uint64(1 << 40), Term: proto.Uint64(1)}},
	})
}

func TestActorsRestartAfterAFailure(t *testing.T) {
	n := cairntest.Start(t)
	ctx := cairntest.Ctx(t)
	for i := 0; i < 5; i++ {
		if _, err := n.Client.Put(ctx, fmt.Sprint("k", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	breakApply(n)
	// The member's raft, apply and read-index actors restart from disk; the
	// member keeps serving, and applies nothing twice.
	put, err := n.Client.Put(ctx, "after", "v")
	if err != nil {
		t.Fatalf("put after a restart of the actors: %v", err)
	}
	if put.Header.Revision != 7 {
		t.Fatalf("revision after restart = %d, want 7", put.Header.Revision)
	}
	get, err := n.Client.Get(ctx, "k", clientv3.WithPrefix())
	if err != nil || len(get.Kvs) != 5 {
		t.Fatalf("get after restart: %v, %v", get, err)
	}
	select {
	case <-n.Done():
		t.Fatalf("member stopped after one failure: %v", n.Err())
	default:
	}
}

func TestRepeatedFailuresStopTheMember(t *testing.T) {
	n := cairntest.Start(t)
	for i := 0; i < 4; i++ {
		breakApply(n)
	}
	select {
	case <-n.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("member still running after 4 failures in a row")
	}
	if err := n.Err(); !errors.Is(err, node.ErrFailed) {
		t.Fatalf("member stopped with %v, want %v", err, node.ErrFailed)
	}
}

func TestPendingReadsDrain(t *testing.T) {
	n := cairntest.Start(t)
	ctx := cairntest.Ctx(t)
	if _, err := n.Client.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, err := n.Client.Get(ctx, "k"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// The gauge is updated after the answers are sent: wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for n.PendingReads() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d reads still pending after every read was answered", n.PendingReads())
		}
		time.Sleep(time.Millisecond)
	}
}

package cairn_test

import (
	"fmt"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn/cairntest"
)

func TestClusterReplicatesAndServesFollowerWrites(t *testing.T) {
	c := cairntest.StartCluster(t, 3)
	ctx := cairntest.Ctx(t)
	leader := c.Leader()
	if _, err := leader.Client.Put(ctx, "from-leader", "1"); err != nil {
		t.Fatal(err)
	}
	for i, f := range c.Followers() {
		// A write through a follower waits for the follower's own apply.
		put, err := f.Client.Put(ctx, fmt.Sprint("from-follower-", i), "2")
		if err != nil {
			t.Fatalf("put through follower %s: %v", f.Name(), err)
		}
		if put.Header.MemberId != f.ID() {
			t.Fatalf("header member %x, want the follower %x", put.Header.MemberId, f.ID())
		}
	}
	// Every member serves linearizable reads of every write.
	for _, n := range c.Members {
		get, err := n.Client.Get(ctx, "from-", clientv3.WithPrefix())
		if err != nil {
			t.Fatalf("get on %s: %v", n.Name(), err)
		}
		if len(get.Kvs) != 3 {
			t.Fatalf("%s sees %d keys, want 3", n.Name(), len(get.Kvs))
		}
	}
	ml, err := leader.Client.MemberList(ctx)
	if err != nil || len(ml.Members) != 3 {
		t.Fatalf("member list: %v, %v", ml, err)
	}
	for _, m := range ml.Members {
		if m.Name == "" || len(m.ClientURLs) != 1 || len(m.PeerURLs) != 1 {
			t.Fatalf("member %+v has not published itself", m)
		}
	}
}

func TestLinearizableReadsAfterLeaderChange(t *testing.T) {
	c := cairntest.StartCluster(t, 3)
	ctx := cairntest.Ctx(t)
	old := c.Leader()
	if _, err := old.Client.Put(ctx, "k", "before"); err != nil {
		t.Fatal(err)
	}
	old.Stop()
	leader := c.Leader()
	if leader == old {
		t.Fatal("stopped member still leads")
	}
	if _, err := leader.Client.Put(ctx, "k", "after"); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Running() {
		get, err := n.Client.Get(ctx, "k")
		if err != nil {
			t.Fatalf("get on %s: %v", n.Name(), err)
		}
		if string(get.Kvs[0].Value) != "after" {
			t.Fatalf("%s reads %q after the leader change", n.Name(), get.Kvs[0].Value)
		}
	}
	// The old leader rejoins and catches up.
	old.Restart()
	get, err := old.Client.Get(ctx, "k")
	if err != nil || string(get.Kvs[0].Value) != "after" {
		t.Fatalf("rejoined member reads %v, %v", get, err)
	}
}

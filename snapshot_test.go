package cairn_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
	"github.com/cairnkv/cairn/statuspage"
)

// shortLog keeps almost no raft log, so that members behind get snapshots.
func shortLog(c *cairn.Config) {
	c.RaftLogRetentionBytes = 1024
	c.RaftLogCompactionInterval = 20 * time.Millisecond
}

func putMany(t *testing.T, cli *clientv3.Client, prefix string, n int) {
	t.Helper()
	ctx := cairntest.Ctx(t)
	value := strings.Repeat("v", 1000)
	for i := 0; i < n; i++ {
		if _, err := cli.Put(ctx, fmt.Sprintf("%s%04d", prefix, i), value); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFirstIndexAbove waits until the leader's log no longer holds index i.
func waitLogCompacted(t *testing.T, n *cairntest.Node, past uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for n.FirstLogIndex() <= past {
		if time.Now().After(deadline) {
			t.Fatalf("log not compacted past %d (first index %d)", past, n.FirstLogIndex())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewMemberCatchesUpBySnapshot(t *testing.T) {
	c := cairntest.StartCluster(t, 3, shortLog)
	cli := c.Client()
	ctx := cairntest.Ctx(t)
	putMany(t, cli, "k", 300)
	leader := c.Leader()
	waitLogCompacted(t, leader, 100)

	add, err := cli.MemberAddAsLearner(ctx, []string{cairntest.PeerURL("m4")})
	if err != nil {
		t.Fatal(err)
	}
	m4 := c.AddMember("m4")
	select {
	case <-m4.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("new member not ready")
	}
	get, err := m4.Client.Get(ctx, "k", clientv3.WithPrefix(), clientv3.WithCountOnly(), clientv3.WithSerializable())
	if err != nil || get.Count != 300 {
		t.Fatalf("new member has %v keys (%v), want 300", get.Count, err)
	}
	if _, err := cli.MemberPromote(ctx, add.Member.ID); err != nil {
		t.Fatal(err)
	}
	putMany(t, m4.Client, "after", 10)
	assertSameHashes(t, c)
}

func TestStoppedFollowerCatchesUpBySnapshot(t *testing.T) {
	c := cairntest.StartCluster(t, 3, shortLog)
	cli := c.Client()
	follower := c.Followers()[0]
	follower.Stop()
	putMany(t, cli, "k", 300)
	waitLogCompacted(t, c.Leader(), 100)
	follower.Restart()
	get, err := follower.Client.Get(cairntest.Ctx(t), "k", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || get.Count != 300 {
		t.Fatalf("restarted follower has %v keys (%v), want 300", get.Count, err)
	}
	assertSameHashes(t, c)
	// Once the transfer is over its chunks count on neither side.
	for _, n := range []*cairntest.Node{c.Leader(), follower} {
		waitBudgetUse(t, n, "snapshots", 0)
	}
}

// waitBudgetUse waits until n's status page shows want bytes used by the
// budget item key, for at most 30 s.
func waitBudgetUse(t *testing.T, n *cairntest.Node, key string, want float64) {
	t.Helper()
	srv := httptest.NewServer(n.MonitorHandler())
	defer srv.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := get(t, srv.URL+"/status.json")
		var rep statuspage.Report
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatal(err)
		}
		var it *statuspage.BudgetItem
		for i := range rep.Memory.Items {
			if rep.Memory.Items[i].Key == key {
				it = &rep.Memory.Items[i]
			}
		}
		switch {
		case it == nil || it.Used == nil:
			t.Fatalf("%s: budget item %s not measured (%+v)", n.Name(), key, it)
		case *it.Used == want:
			return
		case time.Now().After(deadline):
			t.Fatalf("%s: %s uses %v bytes after 30s, want %v (%s)", n.Name(), key, *it.Used, want, it.Note)
		}
		time.Sleep(100 * time.Millisecond) // a new sample a second
	}
}

// assertSameHashes checks that every running member's keyspace hashes alike
// at the revision they all reach.
func assertSameHashes(t *testing.T, c *cairntest.Cluster) {
	t.Helper()
	ctx := cairntest.Ctx(t)
	leader := c.Leader()
	rev, err := leader.Client.Get(ctx, "anything")
	if err != nil {
		t.Fatal(err)
	}
	want := uint32(0)
	for i, n := range c.Running() {
		// A linearizable read makes the member apply up to rev.
		if _, err := n.Client.Get(ctx, "anything"); err != nil {
			t.Fatal(err)
		}
		h, err := n.Client.HashKV(ctx, n.Endpoint, rev.Header.Revision)
		if err != nil {
			t.Fatalf("hash on %s: %v", n.Name(), err)
		}
		if i == 0 {
			want = h.Hash
		} else if h.Hash != want {
			t.Fatalf("%s hashes %d at revision %d, want %d", n.Name(), h.Hash, rev.Header.Revision, want)
		}
	}
}

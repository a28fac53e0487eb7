package frontdoor_test

import (
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn/cairntest"
)

// TestHash: Maintenance.Hash (which etcd's client libraries call; clientv3
// has no method for it) hashes the whole state machine: members that
// applied the same entries agree, and a write changes it.
func TestHash(t *testing.T) {
	c := cairntest.StartCluster(t, 3)
	ctx := cairntest.Ctx(t)
	cl := c.Leader().Client
	lease, err := cl.Grant(ctx, 600)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c"} {
		if _, err := cl.Put(ctx, k, "v-"+k, clientv3.WithLease(lease.ID)); err != nil {
			t.Fatal(err)
		}
	}
	hashes := func() []uint32 {
		var out []uint32
		for _, n := range c.Members {
			// A linearizable read: the member has applied every write.
			if _, err := n.Client.Get(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			resp, err := pb.NewMaintenanceClient(n.Client.ActiveConnection()).Hash(ctx, &pb.HashRequest{})
			if err != nil {
				t.Fatalf("hash of %s: %v", n.Name(), err)
			}
			if resp.GetHeader().GetMemberId() != n.ID() {
				t.Fatalf("hash answered by %x, asked %s", resp.GetHeader().GetMemberId(), n.Name())
			}
			out = append(out, resp.GetHash())
		}
		return out
	}
	before := hashes()
	if before[0] != before[1] || before[1] != before[2] || before[0] == 0 {
		t.Fatalf("members' hashes %x, want one non-zero hash", before)
	}
	if _, err := cl.Put(ctx, "b", "changed"); err != nil {
		t.Fatal(err)
	}
	after := hashes()
	if after[0] != after[1] || after[1] != after[2] {
		t.Fatalf("members' hashes after a put %x, want one", after)
	}
	if after[0] == before[0] {
		t.Fatalf("a put left the hash at %x", after[0])
	}
}

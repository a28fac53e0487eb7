package frontdoor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
)

// fastLeases shortens raft's timing so that lease tests run fast: a 100ms
// election timeout, hence etcd's minimum lease TTL of 1s (1.5 election
// timeouts, rounded up).
func fastLeases(c *cairn.Config) {
	c.Raft.TickInterval = 10 * time.Millisecond
	c.Raft.ElectionTicks = 10
}

// waitDeleted waits, with a watch from revision from, until key is deleted.
func waitDeleted(t *testing.T, c *clientv3.Client, key string, from int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(cairntest.Ctx(t), 10*time.Second)
	defer cancel()
	for wr := range c.Watch(ctx, key, clientv3.WithRev(from)) {
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				return
			}
		}
	}
	t.Fatalf("%q not deleted within 10s", key)
}

// eventually polls cond every few milliseconds until it holds, failing the
// test after timeout. For conditions nothing announces.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLeaseGrantRevokeTimeToLiveLeases(t *testing.T) {
	n := cairntest.Start(t, fastLeases)
	c, ctx := n.Client, cairntest.Ctx(t)

	g, err := c.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	if g.ID == 0 || g.TTL != 60 || g.ResponseHeader.MemberId != n.ID() || g.ResponseHeader.RaftTerm == 0 {
		t.Fatalf("grant = %+v", g)
	}
	g2, err := c.Grant(ctx, 60)
	if err != nil || g2.ID == g.ID || g2.ID <= 0 {
		t.Fatalf("second grant = %+v, %v; want another positive ID", g2, err)
	}
	mustPut(t, c, "b", "1", clientv3.WithLease(g.ID))
	mustPut(t, c, "a", "1", clientv3.WithLease(g.ID))
	mustPut(t, c, "c", "1", clientv3.WithLease(g2.ID))

	ttl, err := c.TimeToLive(ctx, g.ID, clientv3.WithAttachedKeys())
	if err != nil {
		t.Fatal(err)
	}
	if ttl.ID != g.ID || ttl.GrantedTTL != 60 || ttl.TTL < 58 || ttl.TTL > 60 {
		t.Fatalf("time to live = %+v, want granted 60 and about 60 left", ttl)
	}
	if len(ttl.Keys) != 2 || string(ttl.Keys[0]) != "a" || string(ttl.Keys[1]) != "b" {
		t.Fatalf("attached keys = %q, want [a b]", ttl.Keys)
	}
	if ttl, err = c.TimeToLive(ctx, g.ID); err != nil || ttl.Keys != nil {
		t.Fatalf("time to live without keys = %+v, %v", ttl, err)
	}

	ls, err := c.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Leases) != 2 {
		t.Fatalf("leases = %+v, want 2", ls.Leases)
	}

	before := mustGet(t, c, "a").Header.Revision
	rv, err := c.Revoke(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Both keys go in one revision.
	if rv.Header.Revision != before+1 {
		t.Fatalf("revoke at revision %d, want %d", rv.Header.Revision, before+1)
	}
	if get := mustGet(t, c, "", clientv3.WithFromKey()); keys(get.Kvs) != "c" {
		t.Fatalf("keys after revoke: %s, want c", keys(get.Kvs))
	}
	if old := mustGet(t, c, "", clientv3.WithFromKey(), clientv3.WithRev(before)); keys(old.Kvs) != "a b c" {
		t.Fatalf("keys before revoke: %s", keys(old.Kvs))
	}

	// A lease that does not exist: TTL -1, not an error, as etcd answers.
	ttl, err = c.TimeToLive(ctx, g.ID)
	if err != nil || ttl.TTL != -1 || ttl.ID != g.ID {
		t.Fatalf("time to live of a revoked lease = %+v, %v; want TTL -1", ttl, err)
	}
	_, err = c.Revoke(ctx, g.ID)
	wantErr(t, err, rpctypes.ErrGRPCLeaseNotFound)
	_, err = c.Put(ctx, "d", "1", clientv3.WithLease(g.ID))
	wantErr(t, err, rpctypes.ErrGRPCLeaseNotFound)
	if ls, err = c.Leases(ctx); err != nil || len(ls.Leases) != 1 || ls.Leases[0].ID != g2.ID {
		t.Fatalf("leases after revoke = %+v, %v", ls, err)
	}
}

func TestLeaseGrantIDsAndTTLs(t *testing.T) {
	n := cairntest.Start(t) // default timing: 1s election timeout
	ctx := cairntest.Ctx(t)
	lc := pb.NewLeaseClient(n.Client.ActiveConnection())

	// Client-chosen IDs, negative ones included, as etcd allows.
	for _, id := range []int64{42, -7} {
		g, err := lc.LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: id, TTL: 30})
		if err != nil || g.ID != id || g.TTL != 30 {
			t.Fatalf("grant of ID %d = %+v, %v", id, g, err)
		}
	}
	_, err := lc.LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: 42, TTL: 30})
	wantErr(t, err, rpctypes.ErrGRPCLeaseExist)

	_, err = lc.LeaseGrant(ctx, &pb.LeaseGrantRequest{TTL: 9_000_000_001})
	wantErr(t, err, rpctypes.ErrGRPCLeaseTTLTooLarge)
	if g, err := lc.LeaseGrant(ctx, &pb.LeaseGrantRequest{TTL: 9_000_000_000}); err != nil || g.TTL != 9_000_000_000 {
		t.Fatalf("grant of the largest TTL = %+v, %v", g, err)
	}

	// TTLs below the minimum (1.5 election timeouts, rounded up: 2s) are
	// raised to it, as etcd does.
	for _, ttl := range []int64{-5, 0, 1} {
		g, err := lc.LeaseGrant(ctx, &pb.LeaseGrantRequest{TTL: ttl})
		if err != nil || g.TTL != 2 {
			t.Fatalf("grant with TTL %d = %+v, %v; want TTL 2", ttl, g, err)
		}
	}

	// Server-chosen IDs are positive and distinct.
	seen := map[clientv3.LeaseID]bool{}
	for i := 0; i < 50; i++ {
		g, err := n.Client.Grant(ctx, 30)
		if err != nil {
			t.Fatal(err)
		}
		if g.ID <= 0 || seen[g.ID] {
			t.Fatalf("grant %d chose ID %d (seen before: %t)", i, g.ID, seen[g.ID])
		}
		seen[g.ID] = true
	}
}

func TestLeaseKeepAliveKeepsLeaseBeyondItsTTL(t *testing.T) {
	n := cairntest.Start(t, fastLeases)
	c, ctx := n.Client, cairntest.Ctx(t)
	g, err := c.Grant(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	put := mustPut(t, c, "k", "v", clientv3.WithLease(g.ID))
	kctx, stop := context.WithCancel(ctx)
	ch, err := c.KeepAlive(kctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The client renews every TTL/3; wait for renewals spanning more than
	// twice the TTL.
	start := time.Now()
	for n := 0; time.Since(start) < 4500*time.Millisecond; n++ {
		resp, ok := <-ch
		if !ok {
			t.Fatalf("keep-alive channel closed after %d renewals (%v): the lease expired", n, time.Since(start))
		}
		if resp.ID != g.ID || resp.TTL != 2 {
			t.Fatalf("keep-alive response %+v, want ID %x TTL 2", resp, g.ID)
		}
	}
	if get := mustGet(t, c, "k"); len(get.Kvs) != 1 {
		t.Fatalf("key of a kept-alive lease is gone after %v", time.Since(start))
	}
	ttl, err := c.TimeToLive(ctx, g.ID)
	if err != nil || ttl.TTL < 0 || ttl.TTL > 2 || ttl.GrantedTTL != 2 {
		t.Fatalf("time to live = %+v, %v", ttl, err)
	}

	// KeepAliveOnce too.
	if once, err := c.KeepAliveOnce(ctx, g.ID); err != nil || once.TTL != 2 {
		t.Fatalf("keep-alive once = %+v, %v", once, err)
	}

	// Without renewals the lease expires.
	stop()
	waitDeleted(t, c, "k", put.Header.Revision+1)
}

func TestLeaseKeepAliveOfUnknownOrExpiredLease(t *testing.T) {
	n := cairntest.Start(t, fastLeases)
	c, ctx := n.Client, cairntest.Ctx(t)

	// etcd answers TTL 0, which the client reports as "lease not found".
	_, err := c.KeepAliveOnce(ctx, 12345)
	wantErr(t, err, rpctypes.ErrGRPCLeaseNotFound)

	stream, err := pb.NewLeaseClient(c.ActiveConnection()).LeaseKeepAlive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.CloseSend()
	for _, id := range []int64{0, 777} {
		if err := stream.Send(&pb.LeaseKeepAliveRequest{ID: id}); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil || resp.ID != id || resp.TTL != 0 || resp.Header.MemberId != n.ID() {
			t.Fatalf("keep-alive of unknown lease %d = %+v, %v; want TTL 0", id, resp, err)
		}
	}

	g, err := c.Grant(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&pb.LeaseKeepAliveRequest{ID: int64(g.ID)}); err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || resp.TTL != 1 {
		t.Fatalf("keep-alive of a live lease = %+v, %v", resp, err)
	}
	put := mustPut(t, c, "k", "v", clientv3.WithLease(g.ID))
	waitDeleted(t, c, "k", put.Header.Revision+1)
	if ttl, err := c.TimeToLive(ctx, g.ID); err != nil || ttl.TTL != -1 {
		t.Fatalf("time to live of an expired lease = %d, %v; want -1", ttl.TTL, err)
	}
	// Once expired, a keep-alive does not bring it back.
	if err := stream.Send(&pb.LeaseKeepAliveRequest{ID: int64(g.ID)}); err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || resp.TTL != 0 {
		t.Fatalf("keep-alive of an expired lease = %+v, %v; want TTL 0", resp, err)
	}
}

func TestLeaseExpiryDeletesKeysInOneRevision(t *testing.T) {
	n := cairntest.Start(t, fastLeases)
	c, ctx := n.Client, cairntest.Ctx(t)
	short, err := c.Grant(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	long, err := c.Grant(ctx, 600)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		mustPut(t, c, fmt.Sprint("short/", i), "v", clientv3.WithLease(short.ID))
	}
	mustPut(t, c, "long", "v", clientv3.WithLease(long.ID))
	last := mustPut(t, c, "plain", "v").Header.Revision
	// Two leases, and the checkpoint scheduled for the one longer than the
	// checkpoint interval (5 minutes).
	if held := n.LeasesHeld(); held != 3 {
		t.Fatalf("lessor holds %d items, want 3", held)
	}

	// Watchers see the expiry as deletes of every attached key, in the one
	// revision after the last put.
	wch := c.Watch(ctx, "", clientv3.WithFromKey(), clientv3.WithRev(last+1))
	var deleted []string
	for len(deleted) < 5 {
		select {
		case wr, ok := <-wch:
			if !ok || wr.Err() != nil {
				t.Fatalf("watch ended: %v", wr.Err())
			}
			for _, ev := range wr.Events {
				if ev.Type != clientv3.EventTypeDelete || ev.Kv.ModRevision != last+1 {
					t.Fatalf("event %v %q at revision %d, want deletes at %d", ev.Type, ev.Kv.Key, ev.Kv.ModRevision, last+1)
				}
				deleted = append(deleted, string(ev.Kv.Key))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the short lease did not expire (deleted %v)", deleted)
		}
	}
	if fmt.Sprint(deleted) != "[short/0 short/1 short/2 short/3 short/4]" {
		t.Fatalf("deleted %v", deleted)
	}
	get := mustGet(t, c, "", clientv3.WithFromKey())
	if keys(get.Kvs) != "long plain" || get.Header.Revision != last+1 {
		t.Fatalf("after expiry: keys %s at revision %d, want long plain at %d", keys(get.Kvs), get.Header.Revision, last+1)
	}
	if ls, err := c.Leases(ctx); err != nil || len(ls.Leases) != 1 || ls.Leases[0].ID != long.ID {
		t.Fatalf("leases after expiry = %+v, %v", ls, err)
	}
	// The lessor forgot the expired lease, then the revoked one.
	eventually(t, 5*time.Second, "the lessor still holds the expired lease", func() bool {
		return n.LeasesHeld() == 2
	})
	if _, err := c.Revoke(ctx, long.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the lessor still holds the revoked lease", func() bool {
		return n.LeasesHeld() == 0
	})
}

// TestLeaseListingsBounded: the listing of leases and of a lease's keys is
// bounded by max-response-bytes, as a range is, and one over it fails with
// ResourceExhausted instead of being built whole.
func TestLeaseListingsBounded(t *testing.T) {
	c := cairntest.Start(t, func(c *cairn.Config) { c.MaxResponseBytes = 2000 }).Client
	ctx := cairntest.Ctx(t)
	lease, err := c.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	// 20 keys of 50 bytes fit (with their slice headers: 1,480 bytes).
	for i := range 20 {
		if _, err := c.Put(ctx, fmt.Sprintf("%050d", i), "v", clientv3.WithLease(lease.ID)); err != nil {
			t.Fatal(err)
		}
	}
	ttl, err := c.TimeToLive(ctx, lease.ID, clientv3.WithAttachedKeys())
	if err != nil || len(ttl.Keys) != 20 {
		t.Fatalf("time to live with 20 keys: %d keys, %v", len(ttl.Keys), err)
	}
	for i := 20; i < 40; i++ {
		if _, err := c.Put(ctx, fmt.Sprintf("%050d", i), "v", clientv3.WithLease(lease.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.TimeToLive(ctx, lease.ID, clientv3.WithAttachedKeys()); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("time to live with 40 keys of 50 bytes: %v, want ResourceExhausted", err)
	}
	// Without the keys it is answered.
	if _, err := c.TimeToLive(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	// 20 leases fit (1,440 bytes), 30 do not.
	for range 19 {
		if _, err := c.Grant(ctx, 60); err != nil {
			t.Fatal(err)
		}
	}
	if ls, err := c.Leases(ctx); err != nil || len(ls.Leases) != 20 {
		t.Fatalf("leases: %d, %v; want 20", len(ls.Leases), err)
	}
	for range 10 {
		if _, err := c.Grant(ctx, 60); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Leases(ctx); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("30 leases: %v, want ResourceExhausted", err)
	}
}

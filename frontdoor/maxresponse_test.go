package frontdoor_test

import (
	"fmt"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
)

// TestMaxResponseBytes checks the bound on unary range responses: a range
// whose key-values would exceed it fails with ResourceExhausted and a hint,
// while the same keys with a limit, counted, or streamed are served; a
// read-only txn's ranges share the bound.
func TestMaxResponseBytes(t *testing.T) {
	// 20 keys of 100-byte values cost about 20 x (5 + 100 + 32) bytes.
	c := cairntest.Start(t, func(c *cairn.Config) { c.MaxResponseBytes = 1000 }).Client
	ctx := cairntest.Ctx(t)
	value := strings.Repeat("v", 100)
	for i := range 20 {
		mustPut(t, c, fmt.Sprintf("k/%02d", i), value)
	}

	_, err := c.Get(ctx, "k/", clientv3.WithPrefix())
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "--stream") {
		t.Fatalf("get --prefix over the bound: %v, want ResourceExhausted naming --stream", err)
	}
	if resp := mustGet(t, c, "k/", clientv3.WithPrefix(), clientv3.WithLimit(5)); len(resp.Kvs) != 5 || !resp.More || resp.Count != 20 {
		t.Fatalf("with a limit: %d kvs, more %v, count %d; want 5, true, 20", len(resp.Kvs), resp.More, resp.Count)
	}
	if resp := mustGet(t, c, "k/", clientv3.WithPrefix(), clientv3.WithKeysOnly()); len(resp.Kvs) != 20 {
		t.Fatalf("keys only: %d kvs, want 20", len(resp.Kvs))
	}
	if resp := mustGet(t, c, "k/", clientv3.WithPrefix(), clientv3.WithCountOnly()); resp.Count != 20 {
		t.Fatalf("count only: %d, want 20", resp.Count)
	}
	ch, err := c.GetStream(ctx, "k/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := clientv3.GetStreamToGetResponse(ch); err != nil || len(resp.Kvs) != 20 {
		t.Fatalf("streamed: %v, %v; want 20 kvs", resp, err)
	}
	_, err = c.Txn(ctx).Then(clientv3.OpGet("k/00"), clientv3.OpGet("k/", clientv3.WithPrefix())).Commit()
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("read-only txn over the bound: %v, want ResourceExhausted", err)
	}
	if _, err := c.Txn(ctx).Then(clientv3.OpGet("k/00"), clientv3.OpGet("k/01")).Commit(); err != nil {
		t.Fatalf("read-only txn within the bound: %v", err)
	}

	// A txn that writes is bounded alike, in either branch and in nested
	// txns, and one over the bound writes nothing.
	rev := mustGet(t, c, "k/00").Header.Revision
	overs := map[string]clientv3.Op{
		"success":  clientv3.OpTxn(nil, []clientv3.Op{clientv3.OpPut("new", "1"), clientv3.OpGet("k/", clientv3.WithPrefix())}, nil),
		"failure":  clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.Version("k/00"), "=", 0)}, nil, []clientv3.Op{clientv3.OpPut("new", "1"), clientv3.OpGet("", clientv3.WithFromKey())}),
		"nested":   clientv3.OpTxn(nil, []clientv3.Op{clientv3.OpPut("new", "1"), clientv3.OpTxn(nil, []clientv3.Op{clientv3.OpGet("k/", clientv3.WithPrefix())}, nil)}, nil),
		"together": clientv3.OpTxn(nil, []clientv3.Op{clientv3.OpGet("k/", clientv3.WithPrefix(), clientv3.WithLimit(4)), clientv3.OpPut("new", "1"), clientv3.OpGet("k/1", clientv3.WithPrefix(), clientv3.WithLimit(4))}, nil),
	}
	for name, op := range overs {
		cmps, thens, elses := op.Txn()
		_, err := c.Txn(ctx).If(cmps...).Then(thens...).Else(elses...).Commit()
		if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "--stream") {
			t.Fatalf("write txn over the bound (%s): %v, want ResourceExhausted naming --stream", name, err)
		}
	}
	if resp := mustGet(t, c, "new"); len(resp.Kvs) != 0 || resp.Header.Revision != rev {
		t.Fatalf("after txns over the bound: %v at revision %d, want nothing written at %d", resp.Kvs, resp.Header.Revision, rev)
	}
	resp, err := c.Txn(ctx).Then(clientv3.OpPut("new", "1"), clientv3.OpGet("k/0", clientv3.WithPrefix(), clientv3.WithLimit(5)),
		clientv3.OpGet("new")).Commit()
	if err != nil {
		t.Fatalf("write txn within the bound: %v", err)
	}
	if got := resp.Responses[1].GetResponseRange(); len(got.Kvs) != 5 || got.Count != 10 || !got.More {
		t.Fatalf("write txn's range within the bound: %d kvs, count %d, more %v; want 5, 10, true", len(got.Kvs), got.Count, got.More)
	}
	if got := resp.Responses[2].GetResponseRange().Kvs; len(got) != 1 || string(got[0].Value) != "1" {
		t.Fatalf("write txn's get of its own put: %v", got)
	}
}

// TestTxnRangesBuiltWhereAnswered checks that only the member whose client
// waits for a txn builds its ranges: the others measure them against the
// proposer's bound, and all refuse alike a txn over it.
func TestTxnRangesBuiltWhereAnswered(t *testing.T) {
	c := cairntest.StartCluster(t, 3, fastElections, func(c *cairn.Config) { c.MaxResponseBytes = 1000 })
	ctx := cairntest.Ctx(t)
	// A follower answers: not the leader, the member the client asked.
	answering := c.Followers()[0]
	cl := answering.Client
	value := strings.Repeat("v", 100)
	for i := range 5 {
		mustPut(t, cl, fmt.Sprintf("k/%02d", i), value)
	}
	// 5 x (4 + 100 + 32) bytes, and "k/new" (5 + 1 + 32) the txn put.
	const cost = 5*136 + 38
	resp, err := cl.Txn(ctx).Then(clientv3.OpPut("k/new", "1"), clientv3.OpGet("k/", clientv3.WithPrefix())).Commit()
	if err != nil {
		t.Fatal(err)
	}
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) != 6 {
		t.Fatalf("txn range: %d kvs, want 6", len(kvs))
	}
	for _, n := range c.Members {
		// A linearizable read returns once the member applied the txn.
		mustGet(t, n.Client, "k/new")
		built, measured := txnRangeBytes(t, n)
		want := [2]float64{0, cost}
		if n == answering {
			want = [2]float64{cost, 0}
		}
		if [2]float64{built, measured} != want {
			t.Errorf("%s built %v and measured %v bytes of txn ranges, want %v", n.Name(), built, measured, want)
		}
	}

	// Over the bound, through its own put (718 + 6 + 300 + 32 bytes):
	// refused on every member, which all stay equal.
	_, err = cl.Txn(ctx).Then(clientv3.OpPut("k/over", strings.Repeat("o", 300)), clientv3.OpGet("", clientv3.WithFromKey())).Commit()
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("txn over the bound: %v, want ResourceExhausted", err)
	}
	mustPut(t, cl, "after", "1")
	var hashes []uint32
	for _, n := range c.Members {
		if resp := mustGet(t, n.Client, "k/over"); len(resp.Kvs) != 0 {
			t.Errorf("%s holds k/over of a txn over the bound", n.Name())
		}
		h, err := n.Client.HashKV(ctx, n.Endpoint, 0)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h.Hash)
	}
	if hashes[0] != hashes[1] || hashes[1] != hashes[2] {
		t.Fatalf("members' hashes differ: %x", hashes)
	}
}

// txnRangeBytes reads a member's counters of txn range bytes built and
// measured.
func txnRangeBytes(t *testing.T, n *cairntest.Node) (built, measured float64) {
	t.Helper()
	fams, err := n.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		switch f.GetName() {
		case "cairn_mvcc_txn_range_built_bytes_total":
			built = f.GetMetric()[0].GetCounter().GetValue()
		case "cairn_mvcc_txn_range_measured_bytes_total":
			measured = f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return built, measured
}

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
}

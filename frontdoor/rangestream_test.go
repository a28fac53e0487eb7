package frontdoor_test

import (
	"fmt"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
)

func TestRangeStream(t *testing.T) {
	// A small request size makes chunks small, so the stream has many.
	n := cairntest.Start(t, func(c *cairn.Config) { c.MaxRequestBytes = 4096 })
	c := n.Client
	value := strings.Repeat("v", 200)
	for i := 0; i < 300; i++ {
		mustPut(t, c, fmt.Sprintf("k%03d", i), value)
	}
	mustPut(t, c, "other", "x")
	ctx := cairntest.Ctx(t)

	for _, tc := range []struct {
		name      string
		opts      []clientv3.OpOption
		keys      int
		more      bool
		count     int64
		firstLast string
	}{
		{"prefix", []clientv3.OpOption{clientv3.WithPrefix()}, 300, false, 300, "k000 k299"},
		{"limit", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithLimit(123)}, 123, true, 300, "k000 k122"},
		{"keys only", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithKeysOnly()}, 300, false, 300, "k000 k299"},
		{"count only", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithCountOnly()}, 0, false, 300, ""},
		{"old revision", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithRev(101)}, 100, false, 100, "k000 k099"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := c.GetStream(ctx, "k", tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			chunks := 0
			resp, err := clientv3.GetStreamToGetResponse(countChunks(ch, &chunks))
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Kvs) != tc.keys || resp.More != tc.more || resp.Count != tc.count {
				t.Fatalf("got %d keys, more %v, count %d; want %d, %v, %d", len(resp.Kvs), resp.More, resp.Count, tc.keys, tc.more, tc.count)
			}
			if tc.keys > 0 {
				if got := string(resp.Kvs[0].Key) + " " + string(resp.Kvs[len(resp.Kvs)-1].Key); got != tc.firstLast {
					t.Fatalf("first and last keys %q, want %q", got, tc.firstLast)
				}
				if chunks < 3 {
					t.Fatalf("%d keys came in %d chunks; want several", tc.keys, chunks)
				}
			}
			if resp.Header.Revision != 302 {
				t.Fatalf("header revision %d, want 302", resp.Header.Revision)
			}
		})
	}
	_, err := c.GetStream(ctx, "k", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByValue, clientv3.SortAscend))
	if err == nil {
		// The error may come with the first chunk instead.
		ch, _ := c.GetStream(ctx, "k", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByValue, clientv3.SortAscend))
		if _, err = clientv3.GetStreamToGetResponse(ch); err == nil {
			t.Fatal("a custom sort order was accepted")
		}
	}
}

// countChunks passes a stream through, counting its chunks.
func countChunks(in clientv3.GetStreamChan, n *int) clientv3.GetStreamChan {
	out := make(chan clientv3.RangeStreamResponse)
	go func() {
		defer close(out)
		for r := range in {
			*n++
			out <- r
		}
	}()
	return out
}

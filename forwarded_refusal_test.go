package cairn_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
)

// TestForwardedProposalsRefusedAtOnce: puts sent to a follower that the
// leader drops, its uncommitted entries being over budget, fail with etcd's
// "too many requests", as they do on the leader, rather than waiting for
// the request timeout and failing with "request timed out" (raft forwards a
// follower's proposals and says nothing when the leader drops them).
func TestForwardedProposalsRefusedAtOnce(t *testing.T) {
	c := cairntest.StartCluster(t, 3, func(cfg *cairn.Config) {
		// Room for one 600 KiB value uncommitted, not two: raft takes a
		// proposal over the limit only when nothing is uncommitted.
		cfg.Raft.MaxUncommittedEntriesSize = 1 << 20
		cfg.MaxRequestBytes = 1 << 20
	})
	ctx := cairntest.Ctx(t)
	f := c.Followers()[0]
	value := strings.Repeat("v", 600<<10)
	refused := 0
	for round := 0; refused == 0; round++ {
		if round == 20 {
			t.Fatal("the leader never dropped a forwarded proposal: the test shows nothing")
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.Client.Put(ctx, fmt.Sprintf("k-%d-%d", round, i), value)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
				case errors.Is(err, rpctypes.ErrTooManyRequests):
					refused++
				default:
					t.Errorf("put through the follower: %v (want success or %v)", err, rpctypes.ErrTooManyRequests)
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
	}
	// The follower still takes writes once the leader has room.
	if _, err := f.Client.Put(ctx, "after", "1"); err != nil {
		t.Fatal(err)
	}
}

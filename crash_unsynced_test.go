package cairn_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
)

// TestCrashDropsUnsyncedWrites checks that an acknowledged write survives a
// crash that loses everything the member had not synced, as a power
// failure does; a SIGKILL (cmd/node's TestCrashSafety) keeps the page cache
// and cannot tell a missing sync.
//
// The member's databases live in pebble's crashable in-memory filesystem.
// Clients write small and large values while small memtables make the state
// machine flush and the log compactor remove entries all the time; at a
// random moment the test takes a crash clone of the filesystem (what was
// synced, and a random part of what was not), lets the member go on, then
// starts a new member on the clone. Every write acknowledged before the
// clone must be there with its value.
func TestCrashDropsUnsyncedWrites(t *testing.T) {
	for round := range 3 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			crashAndCheck(t, rand.New(rand.NewPCG(seed, seed)))
		})
	}
}

func crashAndCheck(t *testing.T, rng *rand.Rand) {
	fs := vfs.NewCrashableMem()
	dir := t.TempDir()
	small := func(c *cairn.Config) {
		c.DataDir = dir
		c.Storage.MemTableBytes = 256 << 10
		c.Storage.CacheBytes = 1 << 20
		c.RaftLogRetentionBytes = 64 << 10
		c.RaftLogCompactionInterval = 5 * time.Millisecond
	}
	n := cairntest.Start(t, small, func(c *cairn.Config) { c.Storage.FS = fs })

	const writers = 4
	var (
		mu      sync.Mutex
		acked   = map[string]string{} // acknowledged before the clone
		target  = 200 + rng.IntN(400) // acknowledged writes before the crash
		reached = make(chan struct{})
		crash   = make(chan struct{})
		wg      sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("w%d/%05d", w, i)
				size := 100
				if i%4 == 0 {
					size = 40 << 10 // a blob-file value
				}
				val := fmt.Sprintf("%s:%0*d", key, size, i)
				if _, err := n.Client.Put(ctx, key, val); err != nil {
					return
				}
				select {
				case <-crash:
					return // acknowledged after the clone: may be lost
				default:
				}
				mu.Lock()
				acked[key] = val
				if len(acked) == target {
					close(reached)
				}
				mu.Unlock()
			}
		}()
	}
	// Let writes, flushes and log compactions run for a while.
	select {
	case <-reached:
	case <-time.After(time.Minute):
		t.Fatalf("fewer than %d writes acknowledged in a minute", target)
	}
	mu.Lock()
	close(crash)
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(100), RNG: rng})
	want := make(map[string]string, len(acked))
	for k, v := range acked {
		want[k] = v
	}
	mu.Unlock()
	cancel()
	wg.Wait()
	n.Stop()

	r := cairntest.Start(t, small, func(c *cairn.Config) { c.Storage.FS = crashed })
	for k, v := range want {
		resp, err := r.Client.Get(context.Background(), k)
		if err != nil {
			t.Fatalf("get %s after the crash: %v", k, err)
		}
		if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != v {
			t.Fatalf("acknowledged write of %s lost in the crash (%d of %d acknowledged writes checked)", k, len(resp.Kvs), len(want))
		}
	}
	t.Logf("%d acknowledged writes survived", len(want))
}

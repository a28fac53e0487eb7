package cairn_test

import (
	"strings"
	"testing"

	"github.com/cairnkv/cairn"
)

// TestMemoryBudget checks the default budget README.md ("Memory budget")
// documents, and that every knob moves it.
func TestMemoryBudget(t *testing.T) {
	const mib = 1 << 20
	three := []cairn.InitialMember{
		{Name: "default", PeerURLs: []string{"http://localhost:2380"}},
		{Name: "b", PeerURLs: []string{"http://localhost:2381"}},
		{Name: "c", PeerURLs: []string{"http://localhost:2382"}},
	}
	b := cairn.Config{DataDir: "x", InitialCluster: three}.MemoryBudget()
	if got, want := b.Total(), int64(387*mib); got != want {
		var out strings.Builder
		b.Print(&out)
		t.Errorf("default total with 3 members = %d MiB, want %d MiB (update README.md):\n%s", got/mib, want/mib, out.String())
	}
	if got, want := b.OffHeap(), int64(128*mib); got != want {
		t.Errorf("off-heap = %d MiB, want %d MiB", got/mib, want/mib)
	}
	if got, want := b.DefaultMemoryLimit(), int64(435*mib); got != want {
		t.Errorf("default memory limit = %d MiB, want %d MiB", got/mib, want/mib)
	}
	if got, want := b.GoMemoryLimit(b.DefaultMemoryLimit()), int64(275*mib); got != want {
		t.Errorf("Go memory limit = %d MiB, want %d MiB", got/mib, want/mib)
	}
	if got := (cairn.Config{DataDir: "x"}).MemoryBudget().Total(); got != 379*mib {
		t.Errorf("default total alone = %d MiB, want 379 MiB", got/mib)
	}

	base := cairn.Config{DataDir: "x"}.MemoryBudget().Total()
	for name, change := range map[string]func(*cairn.Config){
		"pebble cache":    func(c *cairn.Config) { c.Storage.CacheBytes = 8 * mib },
		"memtables":       func(c *cairn.Config) { c.Storage.MemTableBytes = 4 * mib },
		"uncommitted":     func(c *cairn.Config) { c.Raft.MaxUncommittedEntriesSize = 16 * mib },
		"inflight":        func(c *cairn.Config) { c.Raft.MaxInflightBytes = 2 * mib },
		"committed":       func(c *cairn.Config) { c.Raft.MaxCommittedSizePerReady = 32 * mib },
		"entry cache":     func(c *cairn.Config) { c.RaftEntryCacheBytes = -1 },
		"watch hub":       func(c *cairn.Config) { c.Watch.HubBytes = 8 * mib },
		"snapshot chunks": func(c *cairn.Config) { c.SnapshotChunkBytes = 4 * mib },
		"apply catch-up":  func(c *cairn.Config) { c.ApplyCatchUpBytes = 64 * mib },
		"in flight":       func(c *cairn.Config) { c.InFlight.Bytes = 8 * mib },
	} {
		c := cairn.Config{DataDir: "x"}
		change(&c)
		if c.MemoryBudget().Total() == base {
			t.Errorf("%s: the total did not change", name)
		}
	}
}

package cairn

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/cairnkv/cairn/raftactor"
	"github.com/cairnkv/cairn/storage"
	"github.com/cairnkv/cairn/storage/directfs"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// MemoryBudget is what a member's configuration lets each bounded consumer
// of its memory hold at most, knob by knob. README.md ("Memory budget")
// explains how RSS relates to it.
//
// Items with PerClient set cost that much per concurrent request or stream
// and are not in Total: the member's memory then follows the number of
// clients as well as the configuration.
type MemoryBudget []BudgetItem

// BudgetItem is one bounded consumer of memory.
type BudgetItem struct {
	// Key names the item for programs (the status page's rows): stable
	// where What may be reworded.
	Key string
	// What is bounded, and the cmd/node flags that set it.
	What, Flags string
	Bytes       int64
	// OffHeap: pebble allocates it with C malloc (with cgo; else on the Go
	// heap), outside what GOMEMLIMIT governs.
	OffHeap bool
	// PerClient names what it is counted per ("request", "stream"), for
	// items not in Total.
	PerClient string
}

// RuntimeBaseBytes is the memory of a member at rest with no data: the
// executable's pages (about 30 MiB, file-backed), the Go runtime, gRPC, the
// actors and their mailboxes. Measured at about 30 MiB of RSS on
// linux/amd64; this leaves room.
const RuntimeBaseBytes = 48 << 20

// MemoryBudget returns the budget of c (defaults applied).
func (c Config) MemoryBudget() MemoryBudget {
	c = c.withDefaults()
	so := c.Storage.WithDefaults()
	r := c.Raft
	peers := int64(max(len(c.InitialCluster)-1, 0))
	snapWindow := int64(4) // actors/snapshot's default window
	return MemoryBudget{
		{Key: "block-cache", What: "pebble block cache", Flags: "--pebble-cache-bytes",
			Bytes: so.CacheBytes, OffHeap: true},
		{Key: "memtables", What: "pebble memtables: the state machine's, and the raft log's two of the same size (and batches over half a memtable, on the Go heap, until flushed)",
			Flags: "--pebble-memtable-bytes x (--pebble-memtable-stop-writes-threshold + 2)",
			Bytes: storage.MemTablesBytes(so), OffHeap: true},
		{Key: "direct-writes", What: "write buffers of blob files being written with direct I/O (storage/directfs)", Flags: "fixed",
			Bytes: directfs.BufferedBytes},
		{Key: "uncommitted", What: "leader: uncommitted raft entries", Flags: "--raft-max-uncommitted-bytes",
			Bytes: int64(r.MaxUncommittedEntriesSize)},
		{Key: "follower-received", What: "follower: entries received from the leader and their log batch", Flags: "2 x --raft-max-inflight-bytes",
			Bytes: 2 * int64(r.MaxInflightBytes)},
		{Key: "applying", What: "committed entries being applied and their batch (at restart: the catch-up read)",
			Flags: "max(2 x --raft-max-committed-bytes-per-ready, --apply-catch-up-bytes)",
			Bytes: max(2*int64(r.MaxCommittedSizePerReady), int64(c.ApplyCatchUpBytes))},
		{Key: "entry-cache", What: "raft entry cache (recent entries, read by raft instead of pebble)", Flags: "--raft-entry-cache-bytes",
			Bytes: max(c.RaftEntryCacheBytes, 0)},
		{Key: "latest-cache", What: "latest records of recently written keys, so that puts skip their lookup", Flags: "fixed",
			Bytes: mvcc.LatestCacheBytes},
		{Key: "waiting-proposals", What: "proposals waiting for a leader to be known (at most an election timeout)", Flags: "fixed",
			Bytes: raftactor.MaxWaitingBytes},
		{Key: "watch-hub", What: "watch hub: events between apply and the streams", Flags: "--watch-hub-bytes",
			Bytes: c.Watch.HubBytes},
		{Key: "snapshots", What: "snapshot transfers: chunks in flight to each other member, one being received",
			Flags: "--snapshot-chunk-bytes",
			Bytes: (peers*snapWindow + 1) * int64(c.SnapshotChunkBytes)},
		{Key: "admitted", What: "unary requests admitted and being served, decoded (frontdoor/admission.go)", Flags: "2 x --max-request-bytes-in-flight",
			Bytes: 2 * max(c.InFlight.Bytes, 0)},
		{Key: "request", What: "client request being received and decoded", Flags: "2 x --max-request-bytes",
			Bytes: 2 * int64(c.MaxRequestBytes), PerClient: "request"},
		{Key: "range", What: "unary range: its key-values and their encoding", Flags: "2 x --max-response-bytes",
			Bytes: 2 * max(c.MaxResponseBytes, 0), PerClient: "range"},
		{Key: "watch-stream", What: "watch stream: its queue, the handler's pull and its watchers", Flags: "--watch-queue-bytes + 256 KiB + --watch-watcher-bytes",
			Bytes: c.Watch.QueueBytes + c.Watch.PullBytes + c.Watch.WatcherBytes, PerClient: "stream"},
	}
}

// Total is the sum of the items that do not depend on the number of
// clients.
func (b MemoryBudget) Total() int64 {
	var n int64
	for _, it := range b {
		if it.PerClient == "" {
			n += it.Bytes
		}
	}
	return n
}

// OffHeap is the part of Total that pebble allocates outside the Go heap.
func (b MemoryBudget) OffHeap() int64 {
	var n int64
	for _, it := range b {
		if it.PerClient == "" && it.OffHeap {
			n += it.Bytes
		}
	}
	return n
}

// DefaultMemoryLimit is the memory a member with budget b needs at most
// with few clients: the budget's total and RuntimeBaseBytes.
func (b MemoryBudget) DefaultMemoryLimit() int64 { return b.Total() + RuntimeBaseBytes }

// GoMemoryLimit is the Go runtime's share of a memory limit (the value for
// debug.SetMemoryLimit, GOMEMLIMIT): the limit less what pebble holds off
// the Go heap and less the executable's file-backed pages, which the Go
// runtime does not count. At least 64 MiB.
func (b MemoryBudget) GoMemoryLimit(limit int64) int64 {
	const executable = 32 << 20
	return max(limit-b.OffHeap()-executable, 64<<20)
}

// Print writes the budget as a table.
func (b MemoryBudget) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "bytes\tbounds\tset by\n")
	for _, it := range b {
		what := it.What
		if it.OffHeap {
			what += " [off the Go heap]"
		}
		size := fmt.Sprintf("%.1f MiB", float64(it.Bytes)/(1<<20))
		if it.PerClient != "" {
			size += " per " + it.PerClient
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", size, what, it.Flags)
	}
	fmt.Fprintf(tw, "%.1f MiB\ttotal without clients (%.1f MiB off the Go heap)\t\n",
		float64(b.Total())/(1<<20), float64(b.OffHeap())/(1<<20))
	tw.Flush()
}

// Package probe hands Cairn's own tests (package cairntest and the tests
// that use it) what they read of a running member that an application has
// no use for: the raft actor's status board, the raft log's first index,
// the counters of the read-index actor, the lessor and the watch hub. It
// is internal so that none of it is part of the root package's API; the
// root package fills Of when it is initialised.
//
// Everything a Probe returns is read only: the member's actors write it.
package probe

import (
	"github.com/cairnkv/cairn/actors/watch"
	"github.com/cairnkv/cairn/raftactor"
)

// Probe is what a test reads of one member.
type Probe struct {
	// Board is the raft actor's status board (LeaderChanged, Load).
	Board *raftactor.Board
	// FirstLogIndex returns the first index the raft log holds.
	FirstLogIndex func() uint64
	// PendingReads returns the linearizable reads waiting for a read
	// index.
	PendingReads func() int64
	// LeasesHeld returns the items the lessor holds in memory to expire
	// leases (zero on a member that does not lead).
	LeasesHeld func() int64
	// WatchStats are the watch hub's counters.
	WatchStats *watch.Stats
}

// Of returns the probe of node, a *cairn.Node. Package cairn sets it.
var Of func(node any) Probe

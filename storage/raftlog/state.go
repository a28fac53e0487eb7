package raftlog

import "go.etcd.io/raft/v3/raftpb"

// state is what the log knows without reading pebble. A state is immutable
// once published (Log.state.Store); the writer publishes a modified copy.
//
// Readers load the published state without a lock. Invariant 2 of the
// package documentation (doc.go) says when that is safe, and epoch is how a
// reader finds out that it was not.
type state struct {
	// snapIndex and snapTerm are the index and term of the last entry folded
	// into the snapshot: FirstIndex is snapIndex+1, and Term(snapIndex) is
	// answered from here after the entry itself is gone.
	snapIndex, snapTerm uint64
	// snapCum is the running size total (see keys.go) at snapIndex.
	snapCum uint64
	// confState is the snapshot metadata's conf state. Never nil.
	confState *raftpb.ConfState

	// last is the last index; last == snapIndex means no entries.
	last uint64
	// lastCum is the running size total at last. Bytes is lastCum-snapCum.
	lastCum uint64

	// hardState is the persisted hard state. Never nil; empty if none.
	hardState *raftpb.HardState

	// epoch counts the writes that changed or removed entries (truncation,
	// compaction, snapshot). Appending beyond last keeps the epoch: it
	// changes nothing a reader of an older state may be reading.
	epoch uint64
}

func (s *state) firstIndex() uint64 { return s.snapIndex + 1 }

func (s *state) bytes() uint64 { return s.lastCum - s.snapCum }

// cumAt returns the running total at i if the state knows it without a read.
func (s *state) cumAt(i uint64) (uint64, bool) {
	switch i {
	case s.last:
		return s.lastCum, true
	case s.snapIndex:
		return s.snapCum, true
	}
	return 0, false
}

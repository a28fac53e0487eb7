package raftlog

import "errors"

// Errors returned by this package besides raft's own sentinels.
//
// The read methods of raft.Storage (Entries, Term) return raft.ErrCompacted
// and raft.ErrUnavailable bare, never wrapped: raft compares them with ==.
// Other errors are wrapped with %w; test them with errors.Is.
var (
	// ErrNotContiguous is returned by Append when the entries are not
	// consecutive, or when the first would leave a gap after the last index.
	ErrNotContiguous = errors.New("raftlog: entries are not contiguous with the log")

	// ErrCorrupt is returned when what pebble holds under storage.RaftLogPrefix
	// contradicts itself: an entry missing inside [FirstIndex, LastIndex], a
	// value too short to decode, entries below the snapshot index.
	ErrCorrupt = errors.New("raftlog: corrupt raft log")

	// ErrBroken is returned by every write method after a pebble batch failed
	// to commit. The log's memory no longer matches pebble for certain, so it
	// refuses further writes; reopen it to continue (raft must be restarted
	// anyway: it becomes inoperable after a storage error). Defensive: pebble
	// treats a failed WAL write or sync as fatal (Logger.Fatalf) rather than
	// returning it from Commit.
	ErrBroken = errors.New("raftlog: log unusable after a failed write")
)

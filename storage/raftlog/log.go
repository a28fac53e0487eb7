package raftlog

import (
	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Log is the raft log of one member.
type Log struct{}

var _ raft.Storage = (*Log)(nil)

// Options bound the log's memory.
type Options struct {
	// CacheBytes bounds the cache of recent entries. Zero means 4 MiB;
	// negative disables the cache.
	CacheBytes int64
}

// Open reads the log's state from db. The caller keeps ownership of db.
func Open(db *pebble.DB, opts Options) (*Log, error) { panic("unimplemented") }

// InitialState returns the persisted hard state and the conf state last set
// with SetConfState (the conf state belongs to the state machine, which
// records it atomically with the applied index; the raft actor sets it before
// starting raft).
func (l *Log) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	panic("unimplemented")
}

// Entries implements raft.Storage.
func (l *Log) Entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) { panic("unimplemented") }

// Term implements raft.Storage.
func (l *Log) Term(i uint64) (uint64, error) { panic("unimplemented") }

// LastIndex implements raft.Storage.
func (l *Log) LastIndex() (uint64, error) { panic("unimplemented") }

// FirstIndex implements raft.Storage.
func (l *Log) FirstIndex() (uint64, error) { panic("unimplemented") }

// Snapshot returns the metadata of the last compaction or installed snapshot.
// Its Data is empty: Cairn streams snapshot data out of band.
func (l *Log) Snapshot() (*raftpb.Snapshot, error) { panic("unimplemented") }

// SetConfState sets the conf state InitialState returns.
func (l *Log) SetConfState(cs *raftpb.ConfState) { panic("unimplemented") }

// Append persists hs (if not nil or empty) and ents in one pebble batch,
// synced when sync is true. Entries at or above ents[0].Index that were
// already in the log are replaced, as raft requires when a leader overwrites
// a follower's uncommitted suffix.
func (l *Log) Append(hs *raftpb.HardState, ents []*raftpb.Entry, sync bool) error {
	panic("unimplemented")
}

// ApplySnapshot discards the whole log and records snap's metadata: the log
// continues at snap.Metadata.Index+1. Synced.
func (l *Log) ApplySnapshot(snap *raftpb.Snapshot) error { panic("unimplemented") }

// Compact removes entries up to and including index, recording index, its term
// and cs as the metadata Snapshot returns. It is a no-op if index is at or
// below the current snapshot index, and an error if index is above the last
// index.
func (l *Log) Compact(index uint64, cs *raftpb.ConfState) error { panic("unimplemented") }

// Bytes returns the encoded size of the entries retained in the log.
func (l *Log) Bytes() uint64 { panic("unimplemented") }

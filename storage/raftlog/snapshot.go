package raftlog

import (
	"fmt"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Compact removes entries up to and including index, recording index, its term
// and cs as the metadata Snapshot returns (a nil cs keeps the previous one).
// It is a no-op if index is at or below the current snapshot index, and an
// error wrapping raft.ErrUnavailable if index is above the last index.
//
// The write is not synced: if it is lost in a crash, the log reopens with
// the entries and the previous snapshot metadata, which is as correct, and
// the next synced write makes it durable anyway. Raft requires index to be
// at most the applied index; the log cannot check that.
func (l *Log) Compact(index uint64, cs *raftpb.ConfState) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if l.broken != nil {
		return l.broken
	}
	s := l.state.Load()
	if index <= s.snapIndex {
		return nil
	}
	if index > s.last {
		return fmt.Errorf("raftlog: compact %d beyond last index %d: %w", index, s.last, raft.ErrUnavailable)
	}
	term, cum, err := l.entryMeta(index)
	if err != nil {
		return err
	}
	next := *s
	next.snapIndex, next.snapTerm, next.snapCum = index, term, cum
	if cs != nil {
		next.confState = raftpb.EnsureConfState(proto.Clone(cs).(*raftpb.ConfState))
	}
	next.epoch++

	b := l.db.NewBatch()
	defer b.Close()
	if err := l.setSnapshot(b, &next); err != nil {
		return err
	}
	// Exactly [FirstIndex, index]: successive compactions then leave
	// adjacent range tombstones, not nested ones, which pebble fragments
	// (on every iterator over an unflushed memtable) at a cost growing with
	// their overlap.
	if err := b.DeleteRange(entryKey(s.snapIndex+1), entryKey(index+1), nil); err != nil {
		return fmt.Errorf("raftlog: compact: %w", err)
	}
	// Entries leave the published range before they leave pebble.
	l.state.Store(&next)
	l.cache.compactTo(index)
	return l.commit(b, false)
}

// ApplySnapshot discards the whole log and records snap's metadata: the log
// continues at snap.Metadata.Index+1. Synced.
//
// As in MemoryStorage, a snapshot at or below the current snapshot index
// returns an error wrapping raft.ErrSnapOutOfDate (except that any snapshot
// may replace index 0, so a bootstrap snapshot carrying only a conf state
// works). Snapshot data is not this package's concern.
//
// If the persisted hard state would fall behind the snapshot (commit below
// its index, or term below its term), it is raised in the same batch: raft
// refuses to start with a commit index below FirstIndex-1, and a crash
// between ApplySnapshot and the Append of the Ready's hard state must not
// leave one. Raising the term clears the vote, which was cast in an older
// term.
func (l *Log) ApplySnapshot(snap *raftpb.Snapshot) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if l.broken != nil {
		return l.broken
	}
	if snap.GetMetadata() == nil {
		return fmt.Errorf("raftlog: apply snapshot: no metadata")
	}
	md := snap.GetMetadata()
	s := l.state.Load()
	if s.snapIndex != 0 && md.GetIndex() <= s.snapIndex {
		return fmt.Errorf("raftlog: apply snapshot at %d, have %d: %w", md.GetIndex(), s.snapIndex, raft.ErrSnapOutOfDate)
	}
	next := *s
	next.snapIndex, next.snapTerm, next.snapCum = md.GetIndex(), md.GetTerm(), 0
	next.last, next.lastCum = md.GetIndex(), 0
	next.confState = raftpb.EnsureConfState(proto.Clone(md.GetConfState()).(*raftpb.ConfState))
	next.epoch++

	b := l.db.NewBatch()
	defer b.Close()
	if err := l.setSnapshot(b, &next); err != nil {
		return err
	}
	if s.last > s.snapIndex { // as tight as Compact's, for the same reason
		if err := b.DeleteRange(entryKey(s.snapIndex+1), entryKey(s.last+1), nil); err != nil {
			return fmt.Errorf("raftlog: apply snapshot: %w", err)
		}
	}
	if hs := s.hardState; hs.GetCommit() < next.snapIndex || hs.GetTerm() < next.snapTerm {
		raised := proto.Clone(hs).(*raftpb.HardState)
		if hs.GetTerm() < next.snapTerm {
			raised.Term, raised.Vote = proto.Uint64(next.snapTerm), proto.Uint64(0)
		}
		raised.Commit = proto.Uint64(max(hs.GetCommit(), next.snapIndex))
		if err := setHardState(b, raised); err != nil {
			return err
		}
		next.hardState = raised
	}
	// Every entry leaves the published range before it leaves pebble.
	l.state.Store(&next)
	l.cache.clear()
	return l.commit(b, true)
}

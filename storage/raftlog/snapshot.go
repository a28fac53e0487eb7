package raftlog

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
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
//
// Compact is also a no-op while a snapshot is being installed (from
// BeginSnapshot until ApplySnapshot or FinishSnapshot): the entries it
// would fold into the snapshot metadata are about to be replaced, and the
// state machine's applied index is then the snapshot's, whose term the
// entry at that index may not have.
func (l *Log) Compact(index uint64, cs *raftpb.ConfState) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if l.broken != nil {
		return l.broken
	}
	s := l.state.Load()
	if index <= s.snapIndex || l.pending != nil {
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
// continues at snap.Metadata.Index+1. Synced. It forgets, in the same
// batch, the snapshot BeginSnapshot recorded.
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
	return l.applySnapshot(snap.GetMetadata())
}

// applySnapshot is ApplySnapshot under writeMu.
func (l *Log) applySnapshot(md *raftpb.SnapshotMetadata) error {
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
	if l.pending != nil {
		if err := b.Delete(pendingKey, nil); err != nil {
			return fmt.Errorf("raftlog: apply snapshot: %w", err)
		}
	}
	// Every entry leaves the published range before it leaves pebble.
	l.state.Store(&next)
	l.cache.clear()
	if err := l.commit(b, true); err != nil {
		return err
	}
	l.pending = nil
	return nil
}

// BeginSnapshot records, synced, the metadata of a snapshot that is about
// to replace the state machine, before the raft actor has the state machine
// install it; ApplySnapshot follows once it has. The state machine and the
// log are two pebble databases, so no single write installs a snapshot in
// both: if the member stops between the two, the log still knows which
// snapshot the state machine may hold, with its term and conf state, and
// FinishSnapshot settles it when the member starts again.
//
// Nothing else changes: the log keeps its bounds, entries and hard state
// (raft is not told of the snapshot until ApplySnapshot), except that
// Compact does nothing until the snapshot is settled. A second
// BeginSnapshot replaces the first.
func (l *Log) BeginSnapshot(md *raftpb.SnapshotMetadata) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if l.broken != nil {
		return l.broken
	}
	if md == nil {
		return fmt.Errorf("raftlog: begin snapshot: no metadata")
	}
	v, err := proto.Marshal(md)
	if err != nil {
		return fmt.Errorf("raftlog: marshal snapshot metadata: %w", err)
	}
	b := l.db.NewBatch()
	defer b.Close()
	if err := b.Set(pendingKey, v, nil); err != nil {
		return fmt.Errorf("raftlog: begin snapshot: %w", err)
	}
	if err := l.commit(b, true); err != nil {
		return err
	}
	l.pending = proto.Clone(md).(*raftpb.SnapshotMetadata)
	return nil
}

// FinishSnapshot settles a snapshot begun (BeginSnapshot) and never applied
// to the log, given the state machine's applied index, before raft starts.
// It returns the metadata of the snapshot it applied, or nil if it applied
// none (including when none was begun).
//
//   - The state machine is at the snapshot's index: it installed the
//     snapshot, and the log records it as ApplySnapshot would (the log
//     continues after it; the hard state's commit and term are raised to
//     the snapshot's). If the log already holds that index with the
//     snapshot's term, it is the same log and is kept.
//   - Otherwise the state machine is the one it was before BeginSnapshot,
//     and so is the log: the record is dropped, and the leader sends a
//     snapshot again.
func (l *Log) FinishSnapshot(applied uint64) (*raftpb.SnapshotMetadata, error) {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if l.broken != nil {
		return nil, l.broken
	}
	md := l.pending
	if md == nil {
		return nil, nil
	}
	if applied == md.GetIndex() {
		held, err := l.holds(md.GetIndex(), md.GetTerm())
		if err != nil {
			return nil, err
		}
		if !held {
			if err := l.applySnapshot(md); err != nil {
				return nil, err
			}
			return proto.Clone(md).(*raftpb.SnapshotMetadata), nil
		}
	}
	b := l.db.NewBatch()
	defer b.Close()
	if err := b.Delete(pendingKey, nil); err != nil {
		return nil, fmt.Errorf("raftlog: drop snapshot: %w", err)
	}
	if err := l.commit(b, true); err != nil {
		return nil, err
	}
	l.pending = nil
	return nil, nil
}

// holds reports whether the log has index i with term: as its snapshot
// index or as an entry. Called under writeMu.
func (l *Log) holds(i, term uint64) (bool, error) {
	s := l.state.Load()
	switch {
	case i < s.snapIndex || i > s.last:
		return false, nil
	case i == s.snapIndex:
		return s.snapTerm == term, nil
	}
	t, _, err := l.entryMeta(i)
	return t == term, err
}

// loadPending reads the snapshot BeginSnapshot recorded, if any.
func loadPending(db *pebble.DB) (*raftpb.SnapshotMetadata, error) {
	v, closer, err := db.Get(pendingKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("raftlog: read pending snapshot: %w", err)
	}
	defer closer.Close()
	md := &raftpb.SnapshotMetadata{}
	if err := proto.Unmarshal(v, md); err != nil {
		return nil, fmt.Errorf("%w: unmarshal pending snapshot: %v", ErrCorrupt, err)
	}
	return md, nil
}

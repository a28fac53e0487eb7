package raftlog

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/batchrepr"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Append persists hs (if not nil or empty) and ents in one pebble batch,
// synced when sync is true. Entries at or above ents[0].Index that were
// already in the log are replaced, as raft requires when a leader overwrites
// a follower's uncommitted suffix: every entry after the last of ents is
// deleted, whether or not its term conflicts.
//
// As in MemoryStorage, entries at or below the snapshot index are skipped
// (they are already part of the snapshot); ents entirely below FirstIndex
// write only hs. ents must be consecutive and must not start after
// LastIndex()+1; otherwise Append writes nothing and returns an error
// wrapping ErrNotContiguous. Appending nothing (no entries, empty hs) is a
// no-op, even with sync.
//
// The log keeps pointers to ents in its cache and returns them from Entries:
// the caller must not mutate them afterwards (raft's entries are immutable).
func (l *Log) Append(hs *raftpb.HardState, ents []*raftpb.Entry, sync bool) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if l.broken != nil {
		return l.broken
	}
	s := l.state.Load()
	ents, err := trimToLog(s, ents)
	if err != nil {
		return err
	}
	writeHS := !raft.IsEmptyHardState(hs)
	if !writeHS && len(ents) == 0 {
		return nil
	}

	b := l.appendBatch(appendBatchSize(hs, writeHS, ents))
	defer l.keepAppendBatch(b)
	next := *s
	if writeHS {
		if err := setHardState(b, hs); err != nil {
			return err
		}
		next.hardState = proto.Clone(hs).(*raftpb.HardState)
	}
	var added []cachedEntry
	var mid *state
	if len(ents) > 0 {
		if added, mid, err = l.stageEntries(b, s, &next, ents); err != nil {
			return err
		}
	}

	if mid != nil {
		l.state.Store(mid)
		l.cache.truncateFrom(mid.last + 1)
	}
	if err := l.commit(b, sync); err != nil {
		return err
	}
	l.cache.add(added)
	l.state.Store(&next)
	return nil
}

// stageEntries adds ents (trimmed by trimToLog, not empty) to b and sets
// next's last index and size total. It returns what to cache after the
// commit and, if ents replace entries of s (a raft truncation), the state to
// publish before the commit: s ending just before ents, with the next epoch
// (doc.go, invariant 2).
func (l *Log) stageEntries(b *pebble.Batch, s, next *state, ents []*raftpb.Entry) ([]cachedEntry, *state, error) {
	first := ents[0].GetIndex()
	newLast := ents[len(ents)-1].GetIndex()
	cum, err := l.cumBefore(s, first)
	if err != nil {
		return nil, nil, err
	}
	var mid *state
	if first <= s.last {
		m := *s
		m.last, m.lastCum = first-1, cum
		m.epoch++
		mid, next.epoch = &m, m.epoch
		if newLast < s.last {
			if err := b.DeleteRange(entryKey(newLast+1), entryKey(s.last+1), nil); err != nil {
				return nil, nil, fmt.Errorf("raftlog: append: %w", err)
			}
		}
	}
	var added []cachedEntry
	if l.cache != nil {
		added = make([]cachedEntry, 0, len(ents))
	}
	for _, e := range ents {
		size, err := setEntry(b, e, cum)
		if err != nil {
			return nil, nil, err
		}
		cum += size
		if l.cache != nil {
			added = append(added, cachedEntry{e: e, size: size, cum: cum})
		}
	}
	next.last, next.lastCum = newLast, cum
	return added, mid, nil
}

// keptBatchBytes bounds the buffer of the batch the log keeps from one append
// to the next (Log.kept): a member's appends are mostly alike in size, and a
// new batch for each allocated, zeroed and faulted in a buffer as large as
// the entries (twice per 1 MiB put on every member, with the state
// machine's). A larger batch is dropped after its append.
const keptBatchBytes = 4 << 20

// appendBatch returns a batch for an append of size bytes: the one kept from
// the last append if its buffer is large enough, else a new one.
func (l *Log) appendBatch(size int) *pebble.Batch {
	if b := l.kept; b != nil {
		l.kept = nil
		if cap(b.Repr()) >= size {
			return b
		}
		b.Close()
	}
	return l.newAppendBatch(size)
}

// keepAppendBatch keeps b, committed or not, for the next append, unless its
// buffer is over keptBatchBytes.
func (l *Log) keepAppendBatch(b *pebble.Batch) {
	if cap(b.Repr()) > keptBatchBytes {
		b.Close()
		return
	}
	// Reset drops the buffer itself if pebble still holds it (a commit
	// whose WAL write is under way elsewhere): never reused while read.
	b.Reset()
	l.kept = b
}

// newAppendBatch returns a batch whose buffer holds size bytes from its
// first record on. A batch that grows doubles its buffer: sized up front,
// appending N bytes of entries holds N bytes, not up to 2N plus the
// copies.
func (l *Log) newAppendBatch(size int) *pebble.Batch {
	// The batch keeps a buffer up to keptBatchBytes through Reset (pebble's
	// default is 1 MiB).
	b := l.db.NewBatchWithSize(size, pebble.WithMaxRetainedSizeBytes(keptBatchBytes))
	// pebble sets a batch's buffer up at its first record, replacing one
	// smaller than the record rounded up to a power of two; Repr sets it
	// up now and keeps this one. (WithInitialSizeBytes would instead stay
	// with the batch in pebble's pool, for every later NewBatch.)
	// TestAppendBatchSize checks that the buffer is not replaced.
	_ = b.Repr()
	return b
}

// batchRecordOverhead bounds what pebble's batch adds to a record beyond
// its key and value: a kind byte and two varint lengths.
const batchRecordOverhead = 1 + 2*binary.MaxVarintLen32

// appendBatchSize returns, at least, the bytes of the pebble batch that
// Append builds for hs (if writeHS) and ents: its header, the hard state,
// one record per entry, and a range deletion of the replaced suffix.
func appendBatchSize(hs *raftpb.HardState, writeHS bool, ents []*raftpb.Entry) int {
	n := batchrepr.HeaderLen + batchRecordOverhead + 2*entryKeyLen // the range deletion
	if writeHS {
		n += batchRecordOverhead + len(hardStateKey) + proto.Size(hs)
	}
	for _, e := range ents {
		n += batchRecordOverhead + entryKeyLen + entryHeaderLen + proto.Size(e)
	}
	return n
}

// trimToLog checks that ents are consecutive and leave no gap after the log,
// and drops those at or below the snapshot index.
func trimToLog(s *state, ents []*raftpb.Entry) ([]*raftpb.Entry, error) {
	if len(ents) == 0 {
		return nil, nil
	}
	first := ents[0].GetIndex()
	for j, e := range ents {
		if e.GetIndex() != first+uint64(j) {
			return nil, fmt.Errorf("%w: entry %d follows entry %d", ErrNotContiguous, e.GetIndex(), first+uint64(j)-1)
		}
	}
	if first > s.last+1 {
		return nil, fmt.Errorf("%w: append at %d after last index %d", ErrNotContiguous, first, s.last)
	}
	if first <= s.snapIndex {
		skip := s.snapIndex + 1 - first
		if skip >= uint64(len(ents)) {
			return nil, nil
		}
		ents = ents[skip:]
	}
	return ents, nil
}

// cumBefore returns the running size total at entry i-1, where i is in
// [FirstIndex, LastIndex+1].
func (l *Log) cumBefore(s *state, i uint64) (uint64, error) {
	if cum, ok := s.cumAt(i - 1); ok {
		return cum, nil
	}
	_, cum, err := l.entryMeta(i - 1)
	return cum, err
}

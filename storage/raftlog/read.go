package raftlog

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// optimisticReads is how many times a reader reads without a lock before it
// takes writeMu. Each failed attempt means a truncation, compaction or
// snapshot ran during the read, so a second failure is already rare.
const optimisticReads = 3

// read runs fn against a state and a view of pebble and the cache that agree
// with it (doc.go, invariant 2). It loads the published state, runs fn, and
// accepts fn's result only if no write changed or removed entries meanwhile
// (the epoch did not move); otherwise it runs fn again. After
// optimisticReads attempts it runs fn under writeMu, where nothing moves.
//
// fn must have no effect beyond its return value and variables it resets on
// each call.
func (l *Log) read(fn func(s *state) error) error {
	for range optimisticReads {
		s := l.state.Load()
		err := fn(s)
		if l.state.Load().epoch == s.epoch {
			return err
		}
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	return fn(l.state.Load())
}

// Entries implements raft.Storage: the entries [lo, hi), at least one, and
// as many more as fit in maxSize bytes of encoded size (raft's limitSize: the
// total of the returned entries exceeds maxSize only when it is one entry).
//
// It returns raft.ErrCompacted if lo <= the snapshot index, and
// raft.ErrUnavailable if hi > LastIndex()+1 (MemoryStorage panics there),
// both bare. lo == hi returns no entries and no error.
//
// The caller owns the returned slice and may append to it. The entries in it
// must not be mutated: some are shared with the cache, and with the caller
// of Append that handed them in.
func (l *Log) Entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	if lo > hi {
		return nil, fmt.Errorf("raftlog: entries: invalid range [%d, %d)", lo, hi)
	}
	var out []*raftpb.Entry
	err := l.read(func(s *state) error {
		out = nil
		switch {
		case lo <= s.snapIndex:
			return raft.ErrCompacted
		case hi > s.last+1:
			return raft.ErrUnavailable
		case lo == hi:
			return nil
		}
		var err error
		out, err = l.entries(lo, hi, maxSize)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// entries reads [lo, hi), known to be inside the log: from pebble up to the
// cached tail, then from the cache, then from pebble again for whatever the
// cache evicted in between.
func (l *Log) entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	out := make([]*raftpb.Entry, 0, min(hi-lo, 64))
	var size uint64
	split := l.cache.coveredFrom(lo, hi)
	out, full, err := l.readEntries(out, &size, lo, split, maxSize)
	if err != nil || full || split == hi {
		return out, err
	}
	out, next, full := l.cache.appendTo(out, &size, split, hi, maxSize)
	if full || next == hi {
		return out, nil
	}
	out, _, err = l.readEntries(out, &size, next, hi, maxSize)
	return out, err
}

// readEntries appends the entries [lo, hi) from pebble to out under the size
// rule of Entries, and reports whether it stopped for the size limit. Sizes
// come from the value length, so an entry is decoded only once it is kept.
func (l *Log) readEntries(out []*raftpb.Entry, size *uint64, lo, hi, maxSize uint64) ([]*raftpb.Entry, bool, error) {
	if lo >= hi {
		return out, false, nil
	}
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: entryKey(lo), UpperBound: entryKey(hi)})
	if err != nil {
		return out, false, fmt.Errorf("raftlog: entries: %w", err)
	}
	defer it.Close()
	next := lo
	for valid := it.First(); valid; valid = it.Next() {
		i, err := parseEntryKey(it.Key())
		if err != nil {
			return out, false, err
		}
		if i != next {
			break
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return out, false, fmt.Errorf("raftlog: read entry %d: %w", i, err)
		}
		if len(v) < entryHeaderLen {
			return out, false, fmt.Errorf("%w: entry %d value of %d bytes", ErrCorrupt, i, len(v))
		}
		n := uint64(len(v) - entryHeaderLen)
		if len(out) > 0 && *size+n > maxSize {
			return out, true, nil
		}
		e, err := decodeEntry(v)
		if err != nil {
			return out, false, err
		}
		*size += n
		out = append(out, e)
		next++
	}
	if err := it.Error(); err != nil {
		return out, false, fmt.Errorf("raftlog: entries: %w", err)
	}
	if next != hi {
		// Either a write raced this read (read will retry), or pebble lost
		// an entry the state says is there.
		return out, false, fmt.Errorf("%w: entry %d missing", ErrCorrupt, next)
	}
	return out, false, nil
}

// Term implements raft.Storage: the term of entry i for i in
// [FirstIndex()-1, LastIndex()]. The term at FirstIndex()-1, the snapshot
// index, is kept after the entry is compacted, and is 0 for an empty log.
// It returns raft.ErrCompacted below that range and raft.ErrUnavailable
// above it, both bare.
func (l *Log) Term(i uint64) (uint64, error) {
	var term uint64
	err := l.read(func(s *state) error {
		term = 0
		switch {
		case i < s.snapIndex:
			return raft.ErrCompacted
		case i == s.snapIndex:
			term = s.snapTerm
			return nil
		case i > s.last:
			return raft.ErrUnavailable
		}
		var err error
		term, _, err = l.entryMeta(i)
		return err
	})
	return term, err
}

// entryMeta returns the term and running size total of entry i, which must
// be in the log: from the cache, or from the entry's header in pebble.
func (l *Log) entryMeta(i uint64) (term, cum uint64, err error) {
	if term, cum, ok := l.cache.meta(i); ok {
		return term, cum, nil
	}
	v, closer, err := l.db.Get(entryKey(i))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, 0, fmt.Errorf("%w: entry %d missing", ErrCorrupt, i)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("raftlog: read entry %d: %w", i, err)
	}
	defer closer.Close()
	return entryHeader(v)
}

package raftlog

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Log is the raft log of one member: a raft.Storage on pebble plus the write
// methods raft's Ready asks for. See the package documentation for which
// goroutine may call what.
type Log struct {
	db *pebble.DB

	// state is published by the writer; readers load it without a lock.
	state atomic.Pointer[state]
	// confState is what SetConfState set; nil until then.
	confState atomic.Pointer[raftpb.ConfState]
	// cache of recent entries; nil when disabled.
	cache *entryCache

	// writeMu serializes the write methods. A reader that keeps racing
	// writes takes it to read once without racing (read.go).
	writeMu sync.Mutex
	// broken is set when a batch failed to commit; guarded by writeMu.
	broken error
	// kept is the batch of the last append, reset, for the next; guarded
	// by writeMu (append.go).
	kept *pebble.Batch
	// pending is the snapshot BeginSnapshot recorded and nothing has
	// settled yet, as pebble holds it; nil if none. Guarded by writeMu.
	pending *raftpb.SnapshotMetadata
}

var _ raft.Storage = (*Log)(nil)

// Options bound the log's memory.
type Options struct {
	// CacheBytes bounds the cache of recent entries. Zero means 4 MiB;
	// negative disables the cache. An entry is accounted as its encoded size
	// plus a fixed overhead of 144 bytes.
	CacheBytes int64
}

// Open reads the log's state from db. The caller keeps ownership of db, and
// must not open two Logs on one db. Open reads three keys and seeks twice,
// whatever the length of the log.
func Open(db *pebble.DB, opts Options) (*Log, error) {
	if db == nil {
		return nil, errors.New("raftlog: open: nil db")
	}
	st, err := loadState(db)
	if err != nil {
		return nil, err
	}
	pending, err := loadPending(db)
	if err != nil {
		return nil, err
	}
	l := &Log{db: db, cache: newEntryCache(opts.CacheBytes), pending: pending}
	l.state.Store(st)
	return l, nil
}

// loadState reads the hard state, the snapshot metadata and the bounds of the
// entries from pebble.
func loadState(db *pebble.DB) (*state, error) {
	st := &state{
		hardState: &raftpb.HardState{},
		confState: raftpb.EnsureConfState(nil),
	}
	if v, closer, err := db.Get(hardStateKey); err == nil {
		err = proto.Unmarshal(v, st.hardState)
		_ = closer.Close()
		if err != nil {
			return nil, fmt.Errorf("%w: unmarshal hard state: %v", ErrCorrupt, err)
		}
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("raftlog: read hard state: %w", err)
	}
	if v, closer, err := db.Get(snapshotKey); err == nil {
		md, cum, err := decodeSnapshotValue(v)
		_ = closer.Close()
		if err != nil {
			return nil, err
		}
		st.snapIndex, st.snapTerm, st.snapCum = md.GetIndex(), md.GetTerm(), cum
		st.confState = raftpb.EnsureConfState(md.GetConfState())
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("raftlog: read snapshot metadata: %w", err)
	}
	st.last, st.lastCum = st.snapIndex, st.snapCum

	it, err := db.NewIter(&pebble.IterOptions{LowerBound: entriesStart, UpperBound: entriesEnd})
	if err != nil {
		return nil, fmt.Errorf("raftlog: open: %w", err)
	}
	defer it.Close()
	if it.First() {
		first, err := parseEntryKey(it.Key())
		if err != nil {
			return nil, err
		}
		if first != st.snapIndex+1 {
			return nil, fmt.Errorf("%w: first entry %d after snapshot index %d", ErrCorrupt, first, st.snapIndex)
		}
		if !it.Last() {
			return nil, fmt.Errorf("raftlog: open: seek last entry: %w", it.Error())
		}
		if st.last, err = parseEntryKey(it.Key()); err != nil {
			return nil, err
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("raftlog: open: read entry %d: %w", st.last, err)
		}
		if _, st.lastCum, err = entryHeader(v); err != nil {
			return nil, err
		}
		if st.lastCum < st.snapCum {
			return nil, fmt.Errorf("%w: size total %d at %d below %d at snapshot %d",
				ErrCorrupt, st.lastCum, st.last, st.snapCum, st.snapIndex)
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("raftlog: open: %w", err)
	}
	return st, nil
}

// InitialState returns the persisted hard state and the conf state last set
// with SetConfState (the conf state belongs to the state machine, which
// records it atomically with the applied index; the raft actor sets it before
// starting raft).
//
// The hard state is empty (not nil) if none was persisted. The conf state is
// empty if SetConfState was never called: this package does not persist it,
// and does not fall back to the snapshot's conf state, which is older than
// the applied index whenever a conf change was applied after the last
// compaction. Both are copies the caller may keep.
func (l *Log) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	hs := proto.Clone(l.state.Load().hardState).(*raftpb.HardState)
	cs := &raftpb.ConfState{}
	if set := l.confState.Load(); set != nil {
		cs = proto.Clone(set).(*raftpb.ConfState)
	}
	return hs, raftpb.EnsureConfState(cs), nil
}

// SetConfState sets the conf state InitialState returns. It keeps a copy.
func (l *Log) SetConfState(cs *raftpb.ConfState) {
	c := &raftpb.ConfState{}
	if cs != nil {
		c = proto.Clone(cs).(*raftpb.ConfState)
	}
	l.confState.Store(c)
}

// LastIndex implements raft.Storage. It reads memory only. An empty log
// reports 0, or the snapshot index after a compaction or snapshot.
func (l *Log) LastIndex() (uint64, error) { return l.state.Load().last, nil }

// FirstIndex implements raft.Storage. It reads memory only. It is the
// snapshot index plus one, so an empty log reports 1 and FirstIndex is
// LastIndex+1 when every entry has been compacted.
func (l *Log) FirstIndex() (uint64, error) { return l.state.Load().firstIndex(), nil }

// Snapshot returns the metadata of the last compaction or installed snapshot.
// Its Data is empty: Cairn streams snapshot data out of band. Before any
// compaction or snapshot its index and term are 0. The caller owns the
// returned snapshot.
func (l *Log) Snapshot() (*raftpb.Snapshot, error) {
	s := l.state.Load()
	return &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
		Index:     proto.Uint64(s.snapIndex),
		Term:      proto.Uint64(s.snapTerm),
		ConfState: proto.Clone(s.confState).(*raftpb.ConfState),
	}}, nil
}

// Bytes returns the encoded size (the sum of proto.Size) of the entries
// retained in the log, [FirstIndex, LastIndex]. It reads memory only.
func (l *Log) Bytes() uint64 { return l.state.Load().bytes() }

// CacheStats returns how many entries the cache holds and the bytes they are
// accounted for (at most Options.CacheBytes).
func (l *Log) CacheStats() (entries int, bytes uint64) { return l.cache.stats() }

// BytesAfter returns the encoded size of the retained entries after index i,
// i in [FirstIndex()-1, LastIndex()]: what the log would hold if it were
// compacted up to i. The log compactor uses it to keep a byte budget.
func (l *Log) BytesAfter(i uint64) (uint64, error) {
	s := l.state.Load()
	if i < s.snapIndex || i > s.last {
		return 0, fmt.Errorf("raftlog: index %d outside [%d, %d]", i, s.snapIndex, s.last)
	}
	cum, ok := s.cumAt(i)
	if !ok {
		var err error
		if _, cum, err = l.entryMeta(i); err != nil {
			return 0, err
		}
	}
	return s.lastCum - cum, nil
}

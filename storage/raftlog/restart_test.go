package raftlog

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// model is the log as a slice, the reference for TestRandomOps.
type model struct {
	snapIndex, snapTerm uint64
	ents                []*raftpb.Entry // ents[j] has index snapIndex+1+j
	hs                  *raftpb.HardState
}

func (m *model) last() uint64 { return m.snapIndex + uint64(len(m.ents)) }

func (m *model) term(i uint64) uint64 {
	if i == m.snapIndex {
		return m.snapTerm
	}
	return m.ents[i-m.snapIndex-1].GetTerm()
}

// TestRandomOps runs random appends (with overlaps), compactions, snapshots,
// hard states, clean restarts and crashes against the log and a model, and
// checks after every step that the log, pebble and the model agree.
func TestRandomOps(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprint(seed), func(t *testing.T) { randomOps(t, opts, seed, 250) })
		}
	})
}

func randomOps(t *testing.T, opts Options, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	e := newEnv(t, opts)
	putForeignKeys(t, e.db)
	m := &model{hs: &raftpb.HardState{}}
	term := uint64(1)
	data := func(i uint64) string { return string(make([]byte, rng.IntN(300))) + fmt.Sprint(i) }
	for step := 0; step < steps; step++ {
		var op string
		switch p := rng.IntN(100); {
		case p < 60: // append, at the end or overlapping
			op = "append"
			first := m.last() + 1
			if rng.IntN(3) == 0 && len(m.ents) > 0 {
				first = m.snapIndex + 1 + rng.Uint64N(uint64(len(m.ents))+1)
				if rng.IntN(4) == 0 && first > 2 { // reach below the snapshot
					first -= rng.Uint64N(min(first-1, 3))
				}
				term++
			}
			var ents []*raftpb.Entry
			for i := first; i < first+1+rng.Uint64N(8); i++ {
				ents = append(ents, ent(i, term, data(i)))
			}
			var hs *raftpb.HardState
			if rng.IntN(2) == 0 {
				hs = &raftpb.HardState{Term: proto.Uint64(term), Commit: proto.Uint64(m.snapIndex)}
				m.hs = hs
			}
			must(t, e.log.Append(hs, ents, rng.IntN(2) == 0))
			for _, x := range ents {
				if x.GetIndex() <= m.snapIndex {
					continue
				}
				j := x.GetIndex() - m.snapIndex - 1
				m.ents = append(m.ents[:j], x)
			}
		case p < 80:
			op = "compact"
			i := m.snapIndex + rng.Uint64N(uint64(len(m.ents))+2) - 1 // at, below or beyond
			err := e.log.Compact(i, &raftpb.ConfState{Voters: []uint64{i}})
			switch {
			case i > m.last():
				if !errors.Is(err, raft.ErrUnavailable) {
					t.Fatalf("Compact(%d) beyond %d: %v", i, m.last(), err)
				}
			case i <= m.snapIndex:
				must(t, err)
			default:
				must(t, err)
				m.snapTerm = m.term(i)
				m.ents = m.ents[i-m.snapIndex:]
				m.snapIndex = i
			}
		case p < 85:
			op = "snapshot"
			i := m.snapIndex + 1 + rng.Uint64N(uint64(len(m.ents))+5)
			term++
			must(t, e.log.ApplySnapshot(&raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
				Index: proto.Uint64(i), Term: proto.Uint64(term),
			}}))
			m.snapIndex, m.snapTerm, m.ents = i, term, nil
			if m.hs.GetTerm() < term {
				m.hs = &raftpb.HardState{Term: proto.Uint64(term), Vote: proto.Uint64(0), Commit: proto.Uint64(max(m.hs.GetCommit(), i))}
			} else {
				m.hs = &raftpb.HardState{Term: m.hs.Term, Vote: m.hs.Vote, Commit: proto.Uint64(max(m.hs.GetCommit(), i))}
			}
		case p < 93:
			op = "reopen"
			e.reopen(t)
		default:
			op = "sync+crash"
			// Make everything durable first, then crash: nothing may be lost.
			must(t, e.db.LogData(nil, pebble.Sync))
			e.crash(t)
		}
		checkAgainstModel(t, rng, e.log, m, fmt.Sprintf("step %d (%s)", step, op))
	}
	requireForeignKeys(t, e.db)
}

func checkAgainstModel(t *testing.T, rng *rand.Rand, l *Log, m *model, where string) {
	t.Helper()
	first, _ := l.FirstIndex()
	last, _ := l.LastIndex()
	if first != m.snapIndex+1 || last != m.last() {
		t.Fatalf("%s: log [%d, %d], model [%d, %d]", where, first, last, m.snapIndex+1, m.last())
	}
	requireEntries(t, m.ents, allEntries(t, l))
	hs, _, _ := l.InitialState()
	if raft.IsEmptyHardState(m.hs) != raft.IsEmptyHardState(hs) || (!raft.IsEmptyHardState(hs) && !proto.Equal(hs, m.hs)) {
		t.Fatalf("%s: hard state %v, model %v", where, hs, m.hs)
	}
	for range 5 {
		lo := m.snapIndex + rng.Uint64N(uint64(len(m.ents))+2)
		hi := lo + rng.Uint64N(uint64(len(m.ents))+2)
		maxSize := rng.Uint64N(1000)
		got, err := l.Entries(lo, hi, maxSize)
		switch {
		case lo <= m.snapIndex:
			if err != raft.ErrCompacted {
				t.Fatalf("%s: Entries(%d, %d) = %v, want ErrCompacted", where, lo, hi, err)
			}
		case hi > m.last()+1:
			if err != raft.ErrUnavailable {
				t.Fatalf("%s: Entries(%d, %d) = %v, want ErrUnavailable", where, lo, hi, err)
			}
		default:
			must(t, err)
			requireEntries(t, limitSize(m.ents[lo-m.snapIndex-1:hi-m.snapIndex-1], maxSize), got)
		}
	}
	checkLog(t, l)
}

// TestCrash checks what survives a crash: synced writes do, with every
// unsynced write before them; an unsynced compaction may be lost, and the
// log is then whole as it was before it.
func TestCrash(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		e := newEnv(t, opts)
		hs := &raftpb.HardState{Term: proto.Uint64(1), Commit: proto.Uint64(2)}
		must(t, e.log.Append(nil, index(1).terms(1, 1), false))
		must(t, e.log.Append(hs, index(3).terms(1), true)) // syncs 1 and 2 too
		must(t, e.log.Append(nil, index(4).terms(1), false))
		e.crash(t)
		checkLog(t, e.log)
		if last, _ := e.log.LastIndex(); last < 3 {
			t.Fatalf("synced entries lost: last index %d", last)
		}
		if got, _, _ := e.log.InitialState(); !proto.Equal(got, hs) {
			t.Fatalf("synced hard state lost: %v", got)
		}

		must(t, e.log.Append(nil, index(4).terms(2, 2), true))
		must(t, e.log.Compact(3, nil)) // not synced
		e.crash(t)
		checkLog(t, e.log)
		all := allEntries(t, e.log) // with or without the compaction
		requireEntries(t, index(4).terms(2, 2), all[len(all)-2:])

		must(t, e.log.ApplySnapshot(&raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
			Index: proto.Uint64(10), Term: proto.Uint64(3),
		}}))
		e.crash(t)
		checkLog(t, e.log)
		if first, _ := e.log.FirstIndex(); first != 11 {
			t.Fatalf("synced snapshot lost: first index %d", first)
		}
	})
}

// TestCorruption checks that contradictions in pebble are reported as
// ErrCorrupt, not as raft's sentinels (raft would misread those).
func TestCorruption(t *testing.T) {
	t.Run("missing entry", func(t *testing.T) {
		e := newEnv(t, Options{CacheBytes: -1})
		must(t, e.log.Append(nil, index(1).terms(1, 1, 1), true))
		must(t, e.db.Delete(entryKey(2), pebble.Sync))
		if _, err := e.log.Entries(1, 4, math.MaxUint64); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Entries over a missing entry: %v", err)
		}
		if _, err := e.log.Term(2); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Term of a missing entry: %v", err)
		}
	})
	t.Run("entries below the snapshot", func(t *testing.T) {
		e := newEnv(t, Options{})
		must(t, e.log.Append(nil, index(1).terms(1, 1, 1), true))
		must(t, e.log.Compact(2, nil))
		must(t, e.db.Set(entryKey(1), make([]byte, entryHeaderLen), pebble.Sync))
		if _, err := Open(e.db, Options{}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open: %v", err)
		}
	})
	t.Run("short value", func(t *testing.T) {
		e := newEnv(t, Options{})
		must(t, e.log.Append(nil, index(1).terms(1), true))
		must(t, e.db.Set(entryKey(2), []byte{1}, pebble.Sync))
		if _, err := Open(e.db, Options{}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open: %v", err)
		}
	})
}

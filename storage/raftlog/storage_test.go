package raftlog

import (
	"errors"
	"math"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// The tests in this file port the behaviour cases of raft's storage_test.go
// (MemoryStorage) to the pebble log. raft's "ents" start with a dummy entry
// standing for the snapshot; withLog turns it into ApplySnapshot. Where
// MemoryStorage panics, or returns ErrCompacted from Compact, this log
// returns an error or does nothing, as its documentation says.

func TestTerm(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		e := withLog(t, opts, index(3).terms(3, 4, 5))
		for _, tt := range []struct {
			i     uint64
			werr  error
			wterm uint64
		}{
			{2, raft.ErrCompacted, 0},
			{3, nil, 3},
			{4, nil, 4},
			{5, nil, 5},
			{6, raft.ErrUnavailable, 0},
		} {
			term, err := e.log.Term(tt.i)
			// == on purpose: raft compares the sentinels with ==.
			if err != tt.werr || term != tt.wterm {
				t.Errorf("Term(%d) = %d, %v; want %d, %v", tt.i, term, err, tt.wterm, tt.werr)
			}
		}
		checkLog(t, e.log)
	})
}

func TestEntries(t *testing.T) {
	ents := index(3).terms(3, 4, 5, 6)
	size := func(i int) uint64 { return uint64(proto.Size(ents[i])) }
	for _, tt := range []struct {
		name            string
		lo, hi, maxsize uint64
		werr            error
		wentries        []*raftpb.Entry
	}{
		{"below snapshot", 2, 6, math.MaxUint64, raft.ErrCompacted, nil},
		{"at snapshot", 3, 4, math.MaxUint64, raft.ErrCompacted, nil},
		{"one", 4, 5, math.MaxUint64, nil, index(4).terms(4)},
		{"two", 4, 6, math.MaxUint64, nil, index(4).terms(4, 5)},
		{"three", 4, 7, math.MaxUint64, nil, index(4).terms(4, 5, 6)},
		{"maxsize zero returns one", 4, 7, 0, nil, index(4).terms(4)},
		{"limit to two", 4, 7, size(1) + size(2), nil, index(4).terms(4, 5)},
		{"limit to two, half of third", 4, 7, size(1) + size(2) + size(3)/2, nil, index(4).terms(4, 5)},
		{"limit to two, third minus one", 4, 7, size(1) + size(2) + size(3) - 1, nil, index(4).terms(4, 5)},
		{"all exactly", 4, 7, size(1) + size(2) + size(3), nil, index(4).terms(4, 5, 6)},
		{"beyond last", 4, 8, math.MaxUint64, raft.ErrUnavailable, nil},
		{"empty range", 5, 5, math.MaxUint64, nil, nil},
		{"last only", 6, 7, 0, nil, index(6).terms(6)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			forEachCache(t, func(t *testing.T, opts Options) {
				e := withLog(t, opts, ents)
				got, err := e.log.Entries(tt.lo, tt.hi, tt.maxsize)
				if err != tt.werr {
					t.Fatalf("Entries(%d, %d, %d) error %v, want %v", tt.lo, tt.hi, tt.maxsize, err, tt.werr)
				}
				requireEntries(t, tt.wentries, got)
			})
		})
	}
}

// TestEntriesMaxSizeMatchesRaft checks the size rule against every range and
// limit on a log with entries of varied sizes, some cached and some not: the
// result must be the longest prefix raft's limitSize would keep.
func TestEntriesMaxSizeMatchesRaft(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		e := newEnv(t, opts)
		var ents []*raftpb.Entry
		for i := uint64(1); i <= 12; i++ {
			ents = append(ents, ent(i, 1, string(make([]byte, (i*37)%150))))
		}
		must(t, e.log.Append(nil, ents, false))
		for lo := uint64(1); lo <= 12; lo++ {
			for hi := lo + 1; hi <= 13; hi++ {
				for maxSize := uint64(0); maxSize < 700; maxSize += 13 {
					got, err := e.log.Entries(lo, hi, maxSize)
					must(t, err)
					requireEntries(t, limitSize(ents[lo-1:hi-1], maxSize), got)
				}
			}
		}
	})
}

// limitSize is raft's rule (util.go), copied as the reference.
func limitSize(ents []*raftpb.Entry, maxSize uint64) []*raftpb.Entry {
	if len(ents) == 0 {
		return ents
	}
	size := uint64(proto.Size(ents[0]))
	for limit := 1; limit < len(ents); limit++ {
		size += uint64(proto.Size(ents[limit]))
		if size > maxSize {
			return ents[:limit]
		}
	}
	return ents
}

func TestEntriesCallerMayAppend(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		e := withLog(t, opts, index(3).terms(3, 4, 5, 6))
		got, err := e.log.Entries(4, 6, math.MaxUint64)
		must(t, err)
		_ = append(got, ent(6, 9, "appended by the caller"))
		got[0] = ent(4, 9, "overwritten by the caller")
		requireEntries(t, index(4).terms(4, 5, 6), allEntries(t, e.log))
	})
}

func TestLastIndex(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		e := withLog(t, opts, index(3).terms(3, 4, 5))
		if last, _ := e.log.LastIndex(); last != 5 {
			t.Fatalf("LastIndex() = %d, want 5", last)
		}
		must(t, e.log.Append(nil, index(6).terms(5), false))
		if last, _ := e.log.LastIndex(); last != 6 {
			t.Fatalf("LastIndex() = %d, want 6", last)
		}
		checkLog(t, e.log)
	})
}

func TestFirstIndex(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		e := withLog(t, opts, index(3).terms(3, 4, 5))
		if first, _ := e.log.FirstIndex(); first != 4 {
			t.Fatalf("FirstIndex() = %d, want 4", first)
		}
		must(t, e.log.Compact(4, nil))
		if first, _ := e.log.FirstIndex(); first != 5 {
			t.Fatalf("FirstIndex() = %d, want 5", first)
		}
		checkLog(t, e.log)
	})
}

func TestEmptyLog(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		e := newEnv(t, opts)
		for i := 0; i < 2; i++ {
			l := e.log
			first, _ := l.FirstIndex()
			last, _ := l.LastIndex()
			if first != 1 || last != 0 {
				t.Fatalf("empty log: first %d last %d, want 1 0", first, last)
			}
			if term, err := l.Term(0); term != 0 || err != nil {
				t.Fatalf("Term(0) = %d, %v; want 0, nil", term, err)
			}
			if _, err := l.Term(1); err != raft.ErrUnavailable {
				t.Fatalf("Term(1) error %v, want ErrUnavailable", err)
			}
			if _, err := l.Entries(1, 2, math.MaxUint64); err != raft.ErrUnavailable {
				t.Fatalf("Entries(1, 2) error %v, want ErrUnavailable", err)
			}
			if _, err := l.Entries(0, 1, math.MaxUint64); err != raft.ErrCompacted {
				t.Fatalf("Entries(0, 1) error %v, want ErrCompacted", err)
			}
			hs, cs, err := l.InitialState()
			must(t, err)
			if !raft.IsEmptyHardState(hs) || hs == nil || cs == nil || len(cs.GetVoters()) != 0 {
				t.Fatalf("InitialState() = %v, %v", hs, cs)
			}
			snap, err := l.Snapshot()
			must(t, err)
			if !raft.IsEmptySnap(snap) || snap.GetMetadata().GetConfState() == nil {
				t.Fatalf("Snapshot() = %v", snap)
			}
			if l.Bytes() != 0 {
				t.Fatalf("Bytes() = %d", l.Bytes())
			}
			checkLog(t, l)
			e.reopen(t)
		}
	})
}

func TestCompact(t *testing.T) {
	cs := &raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	for _, tt := range []struct {
		i      uint64
		werr   error // errors.Is
		windex uint64
		wterm  uint64
		wlen   int
	}{
		// MemoryStorage returns ErrCompacted for these; here they are no-ops.
		{2, nil, 3, 3, 2},
		{3, nil, 3, 3, 2},
		{4, nil, 4, 4, 1},
		{5, nil, 5, 5, 0},
		// MemoryStorage panics.
		{6, raft.ErrUnavailable, 3, 3, 2},
	} {
		forEachCache(t, func(t *testing.T, opts Options) {
			e := withLog(t, opts, index(3).terms(3, 4, 5))
			err := e.log.Compact(tt.i, cs)
			if !errors.Is(err, tt.werr) || (tt.werr == nil) != (err == nil) {
				t.Fatalf("Compact(%d) = %v, want %v", tt.i, err, tt.werr)
			}
			snap, err := e.log.Snapshot()
			must(t, err)
			md := snap.GetMetadata()
			if md.GetIndex() != tt.windex || md.GetTerm() != tt.wterm {
				t.Fatalf("Compact(%d): snapshot at %d/%d, want %d/%d", tt.i, md.GetIndex(), md.GetTerm(), tt.windex, tt.wterm)
			}
			if got := len(allEntries(t, e.log)); got != tt.wlen {
				t.Fatalf("Compact(%d): %d entries left, want %d", tt.i, got, tt.wlen)
			}
			if term, err := e.log.Term(tt.windex); err != nil || term != tt.wterm {
				t.Fatalf("Term(%d) = %d, %v after compaction", tt.windex, term, err)
			}
			if _, err := e.log.Entries(tt.windex, tt.windex+1, 0); err != raft.ErrCompacted {
				t.Fatalf("Entries(%d) error %v, want ErrCompacted", tt.windex, err)
			}
			checkLog(t, e.log)
		})
	}
}

// TestCompactSnapshotMetadata ports TestStorageCreateSnapshot: the metadata
// records the index, its term and the conf state; Data stays empty.
func TestCompactSnapshotMetadata(t *testing.T) {
	cs := &raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	for _, i := range []uint64{4, 5} {
		forEachCache(t, func(t *testing.T, opts Options) {
			e := withLog(t, opts, index(3).terms(3, 4, 5))
			must(t, e.log.Compact(i, cs))
			want := &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
				Index: proto.Uint64(i), Term: proto.Uint64(i),
				ConfState: raftpb.EnsureConfState(&raftpb.ConfState{Voters: []uint64{1, 2, 3}}),
			}}
			for range 2 {
				snap, err := e.log.Snapshot()
				must(t, err)
				if !proto.Equal(want, snap) {
					t.Fatalf("Snapshot() = %v, want %v", snap, want)
				}
				snap.Metadata.ConfState.Voters[0] = 99 // the caller owns it
				e.reopen(t)
			}
			// A nil conf state keeps the previous one.
			must(t, e.log.Append(nil, index(6).terms(6), false))
			must(t, e.log.Compact(6, nil))
			snap, _ := e.log.Snapshot()
			if !proto.Equal(snap.GetMetadata().GetConfState(), want.GetMetadata().GetConfState()) {
				t.Fatalf("conf state after Compact(nil) = %v", snap.GetMetadata().GetConfState())
			}
		})
	}
}

func TestAppend(t *testing.T) {
	for _, tt := range []struct {
		name     string
		entries  []*raftpb.Entry
		wentries []*raftpb.Entry // raft's wentries without the dummy entry
	}{
		{"all below first: ignored", index(1).terms(1, 2), index(4).terms(4, 5)},
		{"same entries", index(3).terms(3, 4, 5), index(4).terms(4, 5)},
		{"overwrite all", index(3).terms(3, 6, 6), index(4).terms(6, 6)},
		{"overwrite and extend", index(3).terms(3, 4, 5, 5), index(4).terms(4, 5, 5)},
		{"trim incoming, truncate existing", index(2).terms(3, 3, 5), index(4).terms(5)},
		{"truncate existing", index(4).terms(5), index(4).terms(5)},
		{"direct append", index(6).terms(5), index(4).terms(4, 5, 5)},
		{"truncate last", index(5).terms(7), index(4).terms(4, 7)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			forEachCache(t, func(t *testing.T, opts Options) {
				e := withLog(t, opts, index(3).terms(3, 4, 5))
				putForeignKeys(t, e.db)
				must(t, e.log.Append(nil, tt.entries, true))
				requireEntries(t, tt.wentries, allEntries(t, e.log))
				checkLog(t, e.log)
				e.reopen(t)
				requireEntries(t, tt.wentries, allEntries(t, e.log))
				checkLog(t, e.log)
				requireForeignKeys(t, e.db)
			})
		})
	}
}

func TestAppendErrors(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		e := withLog(t, opts, index(3).terms(3, 4, 5))
		before, _, _ := e.log.InitialState()
		hs := &raftpb.HardState{Term: proto.Uint64(9), Commit: proto.Uint64(5)}
		for _, ents := range [][]*raftpb.Entry{
			index(7).terms(5),                             // gap after 5
			{ent(6, 5, ""), ent(8, 5, "")},                // not consecutive
			{ent(5, 5, ""), ent(6, 5, ""), ent(6, 5, "")}, // repeated index
		} {
			if err := e.log.Append(hs, ents, true); !errors.Is(err, ErrNotContiguous) {
				t.Fatalf("Append(%s) = %v, want ErrNotContiguous", describe(ents), err)
			}
		}
		// Nothing was written, not even the hard state.
		requireEntries(t, index(4).terms(4, 5), allEntries(t, e.log))
		if got, _, _ := e.log.InitialState(); !proto.Equal(got, before) {
			t.Fatalf("hard state %v written by a failed Append", got)
		}
		checkLog(t, e.log)
	})
}

func TestAppendHardState(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		e := newEnv(t, opts)
		hs := &raftpb.HardState{Term: proto.Uint64(2), Vote: proto.Uint64(1), Commit: proto.Uint64(1)}
		must(t, e.log.Append(hs, index(1).terms(1, 2), true))
		hs.Commit = proto.Uint64(7) // Append keeps a copy
		must(t, e.log.Append(nil, nil, true))
		must(t, e.log.Append(&raftpb.HardState{}, index(3).terms(2), false)) // empty: not written
		want := &raftpb.HardState{Term: proto.Uint64(2), Vote: proto.Uint64(1), Commit: proto.Uint64(1)}
		for range 2 {
			got, _, err := e.log.InitialState()
			must(t, err)
			if !proto.Equal(got, want) {
				t.Fatalf("InitialState() hard state %v, want %v", got, want)
			}
			e.reopen(t)
		}
		// Only a hard state, entries below the first index: hard state only.
		must(t, e.log.Compact(2, nil))
		hs2 := &raftpb.HardState{Term: proto.Uint64(3), Commit: proto.Uint64(3)}
		must(t, e.log.Append(hs2, index(1).terms(1), true))
		e.reopen(t)
		if got, _, _ := e.log.InitialState(); !proto.Equal(got, hs2) {
			t.Fatalf("hard state %v, want %v", got, hs2)
		}
		requireEntries(t, index(3).terms(2), allEntries(t, e.log))
		checkLog(t, e.log)
	})
}

func TestApplySnapshot(t *testing.T) {
	cs := &raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	snap := func(i, term uint64) *raftpb.Snapshot {
		return &raftpb.Snapshot{Data: []byte("data"), Metadata: &raftpb.SnapshotMetadata{
			Index: proto.Uint64(i), Term: proto.Uint64(term), ConfState: cs,
		}}
	}
	for _, tt := range []struct {
		name  string
		snaps []*raftpb.Snapshot
		werr  error
	}{
		{"normal case", []*raftpb.Snapshot{snap(4, 4)}, nil},
		{"snapshot out of date", []*raftpb.Snapshot{snap(4, 4), snap(3, 3)}, raft.ErrSnapOutOfDate},
		{"same index", []*raftpb.Snapshot{snap(4, 4), snap(4, 4)}, raft.ErrSnapOutOfDate},
		{"bootstrap with conf state", []*raftpb.Snapshot{
			{Data: []byte("data"), Metadata: &raftpb.SnapshotMetadata{ConfState: cs}},
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			forEachCache(t, func(t *testing.T, opts Options) {
				e := newEnv(t, opts)
				var err error
				for _, s := range tt.snaps {
					err = e.log.ApplySnapshot(s)
				}
				if !errors.Is(err, tt.werr) || (tt.werr == nil) != (err == nil) {
					t.Fatalf("ApplySnapshot error %v, want %v", err, tt.werr)
				}
				checkLog(t, e.log)
			})
		})
	}
}

// TestApplySnapshotDiscardsLog checks that a snapshot replaces the whole log,
// whether it lands inside, at the end of or beyond it, and that the log
// continues after it.
func TestApplySnapshotDiscardsLog(t *testing.T) {
	cs := &raftpb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}
	for _, at := range []uint64{4, 6, 9} {
		forEachCache(t, func(t *testing.T, opts Options) {
			e := withLog(t, opts, index(3).terms(3, 4, 5, 6))
			putForeignKeys(t, e.db)
			must(t, e.log.Append(&raftpb.HardState{Term: proto.Uint64(6), Vote: proto.Uint64(2), Commit: proto.Uint64(5)}, nil, true))
			must(t, e.log.ApplySnapshot(&raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
				Index: proto.Uint64(at), Term: proto.Uint64(7), ConfState: cs,
			}}))
			for range 2 {
				first, _ := e.log.FirstIndex()
				last, _ := e.log.LastIndex()
				if first != at+1 || last != at || e.log.Bytes() != 0 {
					t.Fatalf("after snapshot at %d: first %d last %d bytes %d", at, first, last, e.log.Bytes())
				}
				if term, err := e.log.Term(at); term != 7 || err != nil {
					t.Fatalf("Term(%d) = %d, %v", at, term, err)
				}
				s, _ := e.log.Snapshot()
				if !proto.Equal(s.GetMetadata().GetConfState(), raftpb.EnsureConfState(cs)) || len(s.GetData()) != 0 {
					t.Fatalf("Snapshot() = %v", s)
				}
				// The hard state was raised to the snapshot: term 7 > 6
				// clears the vote; the commit moves up to the snapshot index.
				hs, _, _ := e.log.InitialState()
				want := &raftpb.HardState{Term: proto.Uint64(7), Vote: proto.Uint64(0), Commit: proto.Uint64(max(5, at))}
				if !proto.Equal(hs, want) {
					t.Fatalf("hard state %v, want %v", hs, want)
				}
				checkLog(t, e.log)
				e.reopen(t)
			}
			must(t, e.log.Append(nil, index(at+1).terms(7, 8), true))
			requireEntries(t, index(at+1).terms(7, 8), allEntries(t, e.log))
			if _, err := e.log.Entries(at, at+2, math.MaxUint64); err != raft.ErrCompacted {
				t.Fatalf("Entries at the snapshot index: %v", err)
			}
			checkLog(t, e.log)
			requireForeignKeys(t, e.db)
		})
	}
}

func TestInitialStateConfState(t *testing.T) {
	e := newEnv(t, Options{})
	cs := &raftpb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}
	e.log.SetConfState(cs)
	cs.Voters[0] = 99 // SetConfState keeps a copy
	_, got, err := e.log.InitialState()
	must(t, err)
	want := raftpb.EnsureConfState(&raftpb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}})
	if !proto.Equal(got, want) {
		t.Fatalf("InitialState() conf state %v, want %v", got, want)
	}
	got.Voters[0] = 98 // the caller owns it
	if _, again, _ := e.log.InitialState(); !proto.Equal(again, want) {
		t.Fatalf("InitialState() conf state %v after the caller changed its copy", again)
	}
	// Not persisted: the state machine owns it.
	e.reopen(t)
	if _, got, _ := e.log.InitialState(); len(got.GetVoters()) != 0 {
		t.Fatalf("conf state %v survived a restart", got)
	}
}

func TestBytesAfter(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		e := withLog(t, opts, index(3).terms(3, 4, 5, 5))
		l := e.log
		for i := uint64(3); i <= 6; i++ {
			var want uint64
			for j := i + 1; j <= 6; j++ {
				ents, err := l.Entries(j, j+1, 1<<30)
				must(t, err)
				want += uint64(proto.Size(ents[0]))
			}
			got, err := l.BytesAfter(i)
			must(t, err)
			if got != want {
				t.Errorf("BytesAfter(%d) = %d, want %d", i, got, want)
			}
		}
		if got, _ := l.BytesAfter(3); got != l.Bytes() {
			t.Errorf("BytesAfter(first-1) = %d, want Bytes() = %d", got, l.Bytes())
		}
		if _, err := l.BytesAfter(2); err == nil {
			t.Error("BytesAfter below the snapshot index did not fail")
		}
		if _, err := l.BytesAfter(7); err == nil {
			t.Error("BytesAfter beyond the last index did not fail")
		}
	})
}

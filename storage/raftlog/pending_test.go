package raftlog

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// The raft actor installs a snapshot in three steps: BeginSnapshot here,
// the state machine's ingest in its own database, ApplySnapshot here. These
// tests crash the log after each step and settle it as the raft actor does
// when it starts again (FinishSnapshot with the state machine's applied
// index).

func pendingMeta(i, term uint64) *raftpb.SnapshotMetadata {
	return &raftpb.SnapshotMetadata{
		Index: proto.Uint64(i), Term: proto.Uint64(term),
		ConfState: raftpb.EnsureConfState(&raftpb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}),
	}
}

// requireSnapshotAt checks that the log is exactly a snapshot at md, with
// the hard state raised to it.
func requireSnapshotAt(t *testing.T, l *Log, md *raftpb.SnapshotMetadata, hs *raftpb.HardState) {
	t.Helper()
	first, _ := l.FirstIndex()
	last, _ := l.LastIndex()
	if first != md.GetIndex()+1 || last != md.GetIndex() || l.Bytes() != 0 {
		t.Fatalf("first %d last %d bytes %d, want a snapshot at %d and no entries", first, last, l.Bytes(), md.GetIndex())
	}
	if term, err := l.Term(md.GetIndex()); err != nil || term != md.GetTerm() {
		t.Fatalf("Term(%d) = %d, %v; want %d", md.GetIndex(), term, err, md.GetTerm())
	}
	s, _ := l.Snapshot()
	if !proto.Equal(s.GetMetadata(), md) {
		t.Fatalf("Snapshot() = %v, want %v", s.GetMetadata(), md)
	}
	if got, _, _ := l.InitialState(); !proto.Equal(got, hs) {
		t.Fatalf("hard state %v, want %v", got, hs)
	}
}

// TestFinishSnapshotInstalled: the state machine installed the snapshot,
// the log had not recorded it. Settling records it, with the term and conf
// state BeginSnapshot kept, and raises the hard state as ApplySnapshot
// does, whether the snapshot lies beyond the log or inside it, over entries
// of another term (a follower with entries the leader never committed).
func TestFinishSnapshotInstalled(t *testing.T) {
	for _, at := range []uint64{4, 10} {
		forEachCache(t, func(t *testing.T, opts Options) {
			e := newEnv(t, opts)
			putForeignKeys(t, e.db)
			must(t, e.log.Append(&raftpb.HardState{Term: proto.Uint64(2), Vote: proto.Uint64(1), Commit: proto.Uint64(3)},
				index(1).terms(1, 1, 2, 2, 2, 2), true))
			md := pendingMeta(at, 5)
			must(t, e.log.BeginSnapshot(md))
			e.crash(t) // after the state machine's ingest
			checkLog(t, e.log)
			if !proto.Equal(e.log.pending, md) {
				t.Fatalf("pending snapshot after a crash: %v, want %v", e.log.pending, md)
			}
			got, err := e.log.FinishSnapshot(at)
			must(t, err)
			if !proto.Equal(got, md) {
				t.Fatalf("FinishSnapshot(%d) = %v, want %v", at, got, md)
			}
			want := &raftpb.HardState{Term: proto.Uint64(5), Vote: proto.Uint64(0), Commit: proto.Uint64(at)}
			for range 2 {
				requireSnapshotAt(t, e.log, md, want)
				checkLog(t, e.log)
				if got, err := e.log.FinishSnapshot(at); got != nil || err != nil {
					t.Fatalf("FinishSnapshot(%d) again = %v, %v; want nothing to do", at, got, err)
				}
				e.crash(t) // all of it was synced
			}
			must(t, e.log.Append(nil, index(at+1).terms(5, 6), true))
			requireEntries(t, index(at+1).terms(5, 6), allEntries(t, e.log))
			checkLog(t, e.log)
			requireForeignKeys(t, e.db)
		})
	}
}

// TestFinishSnapshotNotInstalled: the crash came before the state machine
// ingested the snapshot. Settling drops the record and leaves the log as it
// was: raft is where it was before it took the snapshot, and the leader
// sends one again.
func TestFinishSnapshotNotInstalled(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		e := newEnv(t, opts)
		hs := &raftpb.HardState{Term: proto.Uint64(2), Vote: proto.Uint64(1), Commit: proto.Uint64(3)}
		ents := index(1).terms(1, 1, 2, 2, 2)
		must(t, e.log.Append(hs, ents, true))
		must(t, e.log.BeginSnapshot(pendingMeta(10, 5)))
		e.crash(t)
		got, err := e.log.FinishSnapshot(3)
		if got != nil || err != nil {
			t.Fatalf("FinishSnapshot(3) = %v, %v; want the snapshot dropped", got, err)
		}
		for range 2 {
			requireEntries(t, ents, allEntries(t, e.log))
			if first, _ := e.log.FirstIndex(); first != 1 {
				t.Fatalf("first index %d, want 1", first)
			}
			if got, _, _ := e.log.InitialState(); !proto.Equal(got, hs) {
				t.Fatalf("hard state %v, want %v", got, hs)
			}
			checkLog(t, e.log)
			e.crash(t) // the drop was synced
		}
	})
}

// TestFinishSnapshotHeld: a state machine at the snapshot's index whose log
// holds that index with the snapshot's term needs nothing: the log is kept,
// entries after the index too.
func TestFinishSnapshotHeld(t *testing.T) {
	e := newEnv(t, Options{})
	ents := index(1).terms(1, 1, 2, 2, 2)
	must(t, e.log.Append(nil, ents, true))
	must(t, e.log.BeginSnapshot(pendingMeta(3, 2)))
	got, err := e.log.FinishSnapshot(3)
	if got != nil || err != nil {
		t.Fatalf("FinishSnapshot(3) = %v, %v; want nothing applied", got, err)
	}
	requireEntries(t, ents, allEntries(t, e.log))
	checkLog(t, e.log)
}

// TestApplySnapshotSettlesPending: ApplySnapshot forgets the begun snapshot
// in its own synced batch, and Compact does nothing in between.
func TestApplySnapshotSettlesPending(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		e := newEnv(t, opts)
		must(t, e.log.Append(nil, index(1).terms(1, 1, 2, 2, 2), true))
		md := pendingMeta(10, 5)
		must(t, e.log.BeginSnapshot(md))
		// The log compactor may run while the state machine ingests: the
		// entries it would fold into the snapshot metadata are about to go.
		must(t, e.log.Compact(4, nil))
		if first, _ := e.log.FirstIndex(); first != 1 {
			t.Fatalf("Compact during a snapshot install moved the first index to %d", first)
		}
		must(t, e.log.ApplySnapshot(&raftpb.Snapshot{Metadata: md}))
		e.crash(t)
		checkLog(t, e.log)
		if e.log.pending != nil {
			t.Fatalf("pending snapshot %v after ApplySnapshot", e.log.pending)
		}
		requireSnapshotAt(t, e.log, md, &raftpb.HardState{Term: proto.Uint64(5), Vote: proto.Uint64(0), Commit: proto.Uint64(10)})
		must(t, e.log.Append(nil, index(11).terms(5, 5), true))
		must(t, e.log.Compact(11, nil))
		if first, _ := e.log.FirstIndex(); first != 12 {
			t.Fatalf("Compact after the snapshot: first index %d, want 12", first)
		}
	})
}

package raftlog

import (
	"bytes"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// TestAppendBatchSize checks that Append's batch is sized up front for all
// it holds, so that it never grows (a growing batch doubles its buffer):
// the hard state, entries of many sizes, and the range deletion of a
// replaced suffix.
func TestAppendBatchSize(t *testing.T) {
	e := newEnv(t, Options{CacheBytes: -1})
	l := e.log
	mk := func(first, term uint64, sizes ...int) []*raftpb.Entry {
		var out []*raftpb.Entry
		for i, n := range sizes {
			out = append(out, &raftpb.Entry{
				Index: proto.Uint64(first + uint64(i)), Term: proto.Uint64(term),
				Type: raftpb.EntryNormal.Enum(), Data: bytes.Repeat([]byte{'x'}, n),
			})
		}
		return out
	}
	// A log of twelve entries; then a leader's overwrite of 3..10 with
	// entries of every size class of a varint.
	if err := l.Append(&raftpb.HardState{Term: proto.Uint64(1)}, mk(1, 1, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10), true); err != nil {
		t.Fatal(err)
	}
	// Without a hard state, the first record is an entry of 3 MiB: pebble
	// sizes a batch's first buffer to a power of two above its first
	// record, unless told the size.
	big := mk(13, 1, 3<<20)
	b0 := l.newAppendBatch(appendBatchSize(nil, false, big))
	s0 := l.state.Load()
	n0 := *s0
	if _, _, err := l.stageEntries(b0, s0, &n0, big); err != nil {
		t.Fatal(err)
	}
	if c, want := cap(b0.Repr()), appendBatchSize(nil, false, big); c != want {
		t.Errorf("a batch of one big entry has a buffer of %d bytes, not the %d it was sized for", c, want)
	}
	b0.Close()

	hs := &raftpb.HardState{Term: proto.Uint64(2), Vote: proto.Uint64(3), Commit: proto.Uint64(2)}
	ents := mk(3, 2, 0, 1, 127, 128, 16383, 16384, 1<<20, 3<<20)
	want := appendBatchSize(hs, true, ents)

	b := l.newAppendBatch(want)
	defer b.Close()
	if err := setHardState(b, hs); err != nil {
		t.Fatal(err)
	}
	s := l.state.Load()
	next := *s
	if _, _, err := l.stageEntries(b, s, &next, ents); err != nil {
		t.Fatal(err)
	}
	if got := len(b.Repr()); got > want {
		t.Fatalf("the batch holds %d bytes, above the %d it was sized for", got, want)
	} else if c := cap(b.Repr()); c != want {
		t.Fatalf("the batch's buffer has %d bytes, not the %d it was sized for: it was allocated again", c, want)
	} else if want-got > 256 {
		// Not an error of correctness, but a sign the estimate drifted.
		t.Errorf("the batch was sized for %d bytes but holds %d: the estimate is loose", want, got)
	}
}

// TestAppendKeepsItsBatch checks that appends of entries up to
// keptBatchBytes reuse one batch buffer instead of allocating one each, and
// that no buffer larger than that is kept.
func TestAppendKeepsItsBatch(t *testing.T) {
	e := newEnv(t, Options{CacheBytes: -1})
	l := e.log
	entry := func(i uint64, n int) []*raftpb.Entry {
		return []*raftpb.Entry{{Index: proto.Uint64(i), Term: proto.Uint64(1), Type: raftpb.EntryNormal.Enum(), Data: bytes.Repeat([]byte{'x'}, n)}}
	}
	if err := l.Append(nil, entry(1, 1<<20), true); err != nil {
		t.Fatal(err)
	}
	kept := l.kept // after a 1 MiB append
	if kept == nil || cap(kept.Repr()) < 1<<20 {
		t.Fatalf("after a 1 MiB append the log keeps %v", kept)
	}
	buf := kept.Repr()[:1]
	if err := l.Append(nil, entry(2, 1<<20-100), true); err != nil {
		t.Fatal(err)
	}
	if l.kept != kept || &l.kept.Repr()[:1][0] != &buf[0] {
		t.Error("the second append did not reuse the first one's batch buffer")
	}
	if err := l.Append(nil, entry(3, keptBatchBytes+1), true); err != nil {
		t.Fatal(err)
	}
	if l.kept != nil && cap(l.kept.Repr()) > keptBatchBytes {
		t.Errorf("kept a batch of %d bytes, over %d", cap(l.kept.Repr()), keptBatchBytes)
	}
	// Every entry reads back as written.
	for i, n := range map[uint64]int{1: 1 << 20, 2: 1<<20 - 100, 3: keptBatchBytes + 1} {
		ents, err := l.Entries(i, i+1, 1<<30)
		if err != nil || len(ents) != 1 || len(ents[0].GetData()) != n {
			t.Fatalf("entry %d: %v, %d entries", i, err, len(ents))
		}
	}
}

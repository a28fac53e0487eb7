package raftlog

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// chainEntry returns an entry whose data names its index, its term and the
// term of the entry before it. A read that mixed entries from before and
// after a truncation shows up as a broken chain.
func chainEntry(i, term, prevTerm uint64, pad int) *raftpb.Entry {
	data := make([]byte, 24+pad)
	binary.BigEndian.PutUint64(data, i)
	binary.BigEndian.PutUint64(data[8:], term)
	binary.BigEndian.PutUint64(data[16:], prevTerm)
	return &raftpb.Entry{Index: proto.Uint64(i), Term: proto.Uint64(term), Data: data}
}

func entsSize(ents []*raftpb.Entry) uint64 {
	var n uint64
	for _, e := range ents {
		n += uint64(proto.Size(e))
	}
	return n
}

func checkChain(ents []*raftpb.Entry, lo, hi, maxSize uint64) error {
	if len(ents) == 0 || uint64(len(ents)) > hi-lo {
		return fmt.Errorf("%d entries for [%d, %d)", len(ents), lo, hi)
	}
	var size uint64
	for j, e := range ents {
		d := e.GetData()
		i, term, prev := binary.BigEndian.Uint64(d), binary.BigEndian.Uint64(d[8:]), binary.BigEndian.Uint64(d[16:])
		if e.GetIndex() != lo+uint64(j) || i != e.GetIndex() || term != e.GetTerm() {
			return fmt.Errorf("entry %d of [%d, %d) is %d/%d with data %d/%d", j, lo, hi, e.GetIndex(), e.GetTerm(), i, term)
		}
		if j > 0 && prev != ents[j-1].GetTerm() {
			return fmt.Errorf("torn read: entry %d follows term %d, data says %d", i, ents[j-1].GetTerm(), prev)
		}
		size += uint64(proto.Size(e))
	}
	if len(ents) > 1 && size > maxSize {
		return fmt.Errorf("%d bytes returned for max %d", size, maxSize)
	}
	return nil
}

// TestConcurrentReaders runs one writer and several readers, as the raft
// actor and the apply actor do. In the first phase the writer only appends,
// and readers must never fail: nothing LastIndex reports may be missing. In
// the second it also truncates, compacts and installs snapshots, and readers
// may see raft.ErrCompacted or raft.ErrUnavailable (bare), but never an entry
// that does not belong to one consistent log. Run with -race.
func TestConcurrentReaders(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		for _, mixed := range []bool{false, true} {
			t.Run(fmt.Sprintf("mixed=%v", mixed), func(t *testing.T) { concurrentReaders(t, opts, mixed) })
		}
	})
}

func concurrentReaders(t *testing.T, opts Options, mixed bool) {
	e := newEnv(t, opts)
	l := e.log
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	var reads atomic.Int64

	const readers = 3
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for !done.Load() {
				// Let the writer run: on few cores, spinning readers would
				// starve it and only slow the test down.
				runtime.Gosched()
				reads.Add(1)
				first, _ := l.FirstIndex()
				last, _ := l.LastIndex()
				if last < first {
					continue
				}
				lo := first + rng.Uint64N(last-first+1)
				hi := lo + 1 + rng.Uint64N(last-lo+1)
				maxSize := rng.Uint64N(4000)
				ents, err := l.Entries(lo, hi, maxSize)
				if mixed && (err == raft.ErrCompacted || err == raft.ErrUnavailable) {
					continue
				}
				if err == nil {
					err = checkChain(ents, lo, hi, maxSize)
				}
				if n := uint64(len(ents)); err == nil && !mixed && n < hi-lo {
					// Entries never change in this phase: the next entry
					// must be what stopped the answer.
					var next []*raftpb.Entry
					if next, err = l.Entries(lo+n, lo+n+1, 0); err == nil {
						if sz := entsSize(ents) + uint64(proto.Size(next[0])); sz <= maxSize {
							err = fmt.Errorf("[%d, %d) max %d: stopped after %d entries, next fits (%d bytes)", lo, hi, maxSize, n, sz)
						}
					}
				}
				if err == nil {
					_, err = l.Term(last)
					if mixed && (err == raft.ErrCompacted || err == raft.ErrUnavailable) {
						err = nil
					}
				}
				_ = l.Bytes()
				if err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
			}
		}()
	}

	stop := func() {
		done.Store(true)
		wg.Wait()
	}
	defer stop() // also when the writer fails: readers must not outlive pebble

	rng := rand.New(rand.NewPCG(42, 7))
	term := uint64(1)
	lastTerm := func() uint64 {
		last, _ := l.LastIndex()
		tm, err := l.Term(last)
		must(t, err)
		return tm
	}
	appendAt := func(at uint64, n int) {
		prev, err := l.Term(at - 1)
		must(t, err)
		var ents []*raftpb.Entry
		for i := at; i < at+uint64(n); i++ {
			ents = append(ents, chainEntry(i, term, prev, rng.IntN(600)))
			prev = term
		}
		must(t, l.Append(&raftpb.HardState{Term: proto.Uint64(term)}, ents, false))
	}
	for op := 0; op < 1500 && len(errs) == 0; op++ {
		first, _ := l.FirstIndex()
		last, _ := l.LastIndex()
		switch p := rng.IntN(100); {
		case !mixed || p < 60:
			appendAt(last+1, 1+rng.IntN(8))
		case p < 75: // a new leader overwrites a suffix
			term++
			appendAt(first+rng.Uint64N(last-first+2), 1+rng.IntN(4))
		case p < 97:
			if last >= first {
				must(t, l.Compact(first+rng.Uint64N(last-first+1), nil))
			}
		default:
			term++
			must(t, l.ApplySnapshot(&raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
				Index: proto.Uint64(last + 1 + rng.Uint64N(3)), Term: proto.Uint64(term),
			}}))
		}
		_ = lastTerm()
	}
	stop()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d reads", reads.Load())
	checkLog(t, l)
}

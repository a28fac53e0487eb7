package mvcc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"
)

// countRecords counts the committed records under one prefix byte.
func countRecords(t *testing.T, db *pebble.DB, prefix byte) int {
	t.Helper()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = it.Close() }()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n
}

// writeHistory writes rounds revisions that each put keys k000..k(nkeys-1),
// then one revision that deletes every third key: revisions 2..rounds+1 are
// puts, rounds+2 the deletes.
func writeHistory(t *testing.T, s *Store, nkeys, rounds int) {
	t.Helper()
	mustCommit(t, s, func(b *Batch) {
		for r := range rounds {
			txn := &pb.TxnRequest{}
			for k := range nkeys {
				txn.Success = append(txn.Success, &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{
					Key: fmt.Appendf(nil, "k%03d", k), Value: fmt.Appendf(nil, "v%d", r)}}})
			}
			if _, err := b.Txn(txn); err != nil {
				t.Fatal(err)
			}
		}
		txn := &pb.TxnRequest{}
		for k := 0; k < nkeys; k += 3 {
			txn.Success = append(txn.Success, &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{
				Key: fmt.Appendf(nil, "k%03d", k)}}})
		}
		if _, err := b.Txn(txn); err != nil {
			t.Fatal(err)
		}
	})
	if want := int64(rounds + 2); s.Rev() != want {
		t.Fatalf("history ends at %d, want %d", s.Rev(), want)
	}
}

// snapshotReads returns the full range at every revision from lo to the
// current one.
func snapshotReads(t *testing.T, s *Store, lo int64) []*pb.RangeResponse {
	t.Helper()
	v := s.Read()
	defer v.Close()
	var out []*pb.RangeResponse
	for rev := lo; rev <= v.Rev(); rev++ {
		out = append(out, mustRange(t, v, &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: rev}))
	}
	return out
}

func sameReads(t *testing.T, a, b []*pb.RangeResponse) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d reads, %d before", len(b), len(a))
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			t.Fatalf("read %d changed:\nbefore %v\nafter  %v", i, a[i], b[i])
		}
	}
}

func TestPhysicalCompaction(t *testing.T) {
	db, s := openTestStore(t)
	defer db.close(t)
	const nkeys, rounds = 30, 5
	writeHistory(t, s, nkeys, rounds)
	versionsBefore := countRecords(t, db.db, prefixVersion)
	if want := nkeys*rounds + nkeys/3; versionsBefore != want {
		t.Fatalf("%d versions, want %d", versionsBefore, want)
	}

	compactRev := s.Rev() - 1 // the last round of puts
	mustCommit(t, s, func(b *Batch) {
		if _, err := b.Compact(compactRev); err != nil {
			t.Fatal(err)
		}
	})
	before := snapshotReads(t, s, compactRev)
	hashBefore := hashOf(t, s, 0)
	if err := s.RunCompaction(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
	sameReads(t, before, snapshotReads(t, s, compactRev))
	if h := hashOf(t, s, 0); h != hashBefore {
		t.Fatalf("hash %x after physical compaction, %x before", h, hashBefore)
	}
	// Each key keeps its version at compactRev; every third key also its
	// tombstone above.
	deleted := (nkeys + 2) / 3
	if got, want := countRecords(t, db.db, prefixVersion), nkeys+deleted; got != want {
		t.Fatalf("%d versions after compaction, want %d", got, want)
	}
	// The log keeps the entries at and above compactRev.
	if got, want := countRecords(t, db.db, prefixLog), nkeys+deleted; got != want {
		t.Fatalf("%d log entries after compaction, want %d", got, want)
	}
	if p, err := s.PhysicalCompactRev(); err != nil || p != compactRev {
		t.Fatalf("physical compaction at %d (%v), want %d", p, err, compactRev)
	}

	// Compacting at the last revision leaves the live keys and that
	// revision's tombstones (kept for a watch starting there, as etcd).
	mustCommit(t, s, func(b *Batch) {
		if _, err := b.Compact(b.Rev()); err != nil {
			t.Fatal(err)
		}
	})
	if err := s.RunCompaction(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if got := countRecords(t, db.db, prefixVersion); got != nkeys {
		t.Fatalf("%d versions after compacting everything, want %d", got, nkeys)
	}
	if got := countRecords(t, db.db, prefixLog); got != deleted {
		t.Fatalf("%d log entries after compacting everything, want %d", got, deleted)
	}
	// One more change and compaction removes those tombstones.
	mustCommit(t, s, func(b *Batch) {
		mustPut(t, b, "z", "z")
		if _, err := b.Compact(b.Rev()); err != nil {
			t.Fatal(err)
		}
	})
	if err := s.RunCompaction(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if got, want := countRecords(t, db.db, prefixVersion), nkeys-deleted+1; got != want {
		t.Fatalf("%d versions, want %d", got, want)
	}
	checkInvariants(t, s)
}

func hashOf(t *testing.T, s *Store, rev int64) uint32 {
	t.Helper()
	v := s.Read()
	defer v.Close()
	h, _, err := v.Hash(rev)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// countdownCtx reports itself done after its Err was asked n times.
type countdownCtx struct {
	context.Context
	n int
}

func (c *countdownCtx) Err() error {
	if c.n <= 0 {
		return context.Canceled
	}
	c.n--
	return nil
}

func TestCompactionResumes(t *testing.T) {
	// The same history compacted without interruption, and with an
	// interruption after every chunk, some followed by a restart, must
	// leave the same records.
	run := func(interrupt bool) (string, []*pb.RangeResponse) {
		db, s := openTestStore(t)
		defer db.close(t)
		writeHistory(t, s, 20, 4)
		compactRev := s.Rev() - 2
		mustCommit(t, s, func(b *Batch) {
			if _, err := b.Compact(compactRev); err != nil {
				t.Fatal(err)
			}
		})
		before := snapshotReads(t, s, compactRev)
		if !interrupt {
			if err := s.RunCompaction(context.Background(), 3); err != nil {
				t.Fatal(err)
			}
		} else {
			for i := 0; ; i++ {
				err := s.RunCompaction(&countdownCtx{Context: context.Background(), n: 1}, 3)
				if err == nil {
					break
				}
				if !errors.Is(err, context.Canceled) {
					t.Fatal(err)
				}
				if i%3 == 0 {
					db.reopen(t)
					var err error
					if s, err = Open(db.db); err != nil {
						t.Fatal(err)
					}
				}
				sameReads(t, before, snapshotReads(t, s, compactRev))
				checkInvariantsPartial(t, s)
				if i > 1000 {
					t.Fatal("compaction does not progress")
				}
			}
		}
		sameReads(t, before, snapshotReads(t, s, compactRev))
		checkInvariants(t, s)
		var out strings.Builder
		dump(t, db.db, &out)
		return out.String(), before
	}
	a, ra := run(false)
	b, rb := run(true)
	if a != b {
		t.Fatalf("interrupted compaction left\n%s\nuninterrupted\n%s", b, a)
	}
	sameReads(t, ra, rb)
}

// checkInvariantsPartial checks what holds in the middle of a pass: reads are
// checked by the caller; here, that the latest records still name existing
// versions.
func checkInvariantsPartial(t *testing.T, s *Store) {
	t.Helper()
	v := s.Read()
	defer v.Close()
	if _, err := v.Range(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}}); err != nil {
		t.Fatal(err)
	}
}

func TestCompactionFollowsNewerCompactions(t *testing.T) {
	db, s := openTestStore(t)
	defer db.close(t)
	writeHistory(t, s, 10, 6)
	for _, rev := range []int64{3, 4, 6} {
		mustCommit(t, s, func(b *Batch) {
			if _, err := b.Compact(rev); err != nil {
				t.Fatal(err)
			}
		})
		// One chunk of the pass, then the next compaction is committed.
		if err := s.RunCompaction(&countdownCtx{Context: context.Background(), n: 1}, 2); !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted pass: %v", err)
		}
	}
	before := snapshotReads(t, s, 6)
	if err := s.RunCompaction(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.PhysicalCompactRev(); p != 6 {
		t.Fatalf("physical compaction at %d, want 6", p)
	}
	sameReads(t, before, snapshotReads(t, s, 6))
	checkInvariants(t, s)
}

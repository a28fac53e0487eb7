package mvcc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func TestOpenEmpty(t *testing.T) {
	db, s := openTestStore(t)
	defer db.close(t)
	if s.Rev() != 1 || s.CompactRev() != 0 || s.AppliedIndex() != 0 {
		t.Fatalf("empty store: rev %d compact %d applied %d", s.Rev(), s.CompactRev(), s.AppliedIndex())
	}
	// Open writes nothing.
	if n := countRecords(t, db.db, prefixMeta); n != 0 {
		t.Fatalf("%d meta records after Open", n)
	}
	v := s.Read()
	defer v.Close()
	if v.Rev() != 1 || v.CompactRev() != 0 {
		t.Fatalf("empty view: rev %d compact %d", v.Rev(), v.CompactRev())
	}
}

func TestRestart(t *testing.T) {
	db, s := openTestStore(t)
	defer func() { db.close(t) }()
	b := s.NewBatch()
	mustPut(t, b, "a", "1")
	mustPut(t, b, "b", "2")
	if err := b.LeaseGrant(9, 60); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(&pb.PutRequest{Key: []byte("c"), Value: []byte("3"), Lease: 9}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Compact(2); err != nil {
		t.Fatal(err)
	}
	b.PutMeta("conf", []byte("x"))
	if err := b.Commit(77); err != nil {
		t.Fatal(err)
	}
	// An uncommitted batch is lost on restart.
	b = s.NewBatch()
	mustPut(t, b, "lost", "x")
	b.Close()

	want := snapshotReads(t, s, 2)
	wantHash := hashOf(t, s, 0)
	db.reopen(t)
	s2, err := Open(db.db)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Rev() != 4 || s2.CompactRev() != 2 || s2.AppliedIndex() != 77 {
		t.Fatalf("after restart: rev %d compact %d applied %d", s2.Rev(), s2.CompactRev(), s2.AppliedIndex())
	}
	sameReads(t, want, snapshotReads(t, s2, 2))
	if h := hashOf(t, s2, 0); h != wantHash {
		t.Fatalf("hash %x after restart, %x before", h, wantHash)
	}
	v := s2.Read()
	defer v.Close()
	if v.AppliedIndex() != 77 {
		t.Fatalf("view applied index %d", v.AppliedIndex())
	}
	if ttl, _, err := v.Lease(9); err != nil || ttl != 60 {
		t.Fatalf("lease after restart: %d %v", ttl, err)
	}
	if m, err := v.Meta("conf"); err != nil || string(m) != "x" {
		t.Fatalf("meta after restart: %q %v", m, err)
	}
	// The next change continues the revisions.
	b = s2.NewBatch()
	if resp := mustPut(t, b, "d", "4"); resp.Header.Revision != 5 {
		t.Fatalf("put after restart at %d, want 5", resp.Header.Revision)
	}
	b.Close()
}

func TestBatchRules(t *testing.T) {
	db, s := openTestStore(t)
	defer db.close(t)
	b := s.NewBatch()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a second NewBatch did not panic")
			}
		}()
		s.NewBatch()
	}()
	mustPut(t, b, "a", "1")
	// A view does not see the open batch.
	v := s.Read()
	if resp := mustRange(t, v, &pb.RangeRequest{Key: []byte("a")}); resp.Count != 0 || resp.Header.Revision != 1 {
		t.Fatalf("view sees the batch: %v", resp)
	}
	v.Close()
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(&pb.PutRequest{Key: []byte("a")}); !errors.Is(err, errBatchClosed) {
		t.Fatalf("put after commit: %v", err)
	}
	if err := b.Commit(2); !errors.Is(err, errBatchClosed) {
		t.Fatalf("commit after commit: %v", err)
	}
	b.Close() // safe after Commit
	// The batch is released.
	b = s.NewBatch()
	b.Close()
	b.Close()
	// Views after Close refuse.
	v = s.Read()
	v.Close()
	v.Close()
	if _, err := v.Range(&pb.RangeRequest{Key: []byte("a")}); !errors.Is(err, errViewClosed) {
		t.Fatalf("range on a closed view: %v", err)
	}
}

// TestConcurrency runs one writer, physical compaction and readers at once.
// Every revision puts every key with the revision's number as value, so any
// read at any revision must see all keys with one value and mod revision.
func TestConcurrency(t *testing.T) {
	db, s := openTestStore(t)
	defer db.close(t)
	const nkeys = 8
	batches := 150
	if testing.Short() {
		batches = 40
	}
	write := func(b *Batch) {
		txn := &pb.TxnRequest{}
		for k := range nkeys {
			txn.Success = append(txn.Success, &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{
				Key: fmt.Appendf(nil, "k%d", k), Value: fmt.Appendf(nil, "%d", b.Rev()+1)}}})
		}
		if _, err := b.Txn(txn); err != nil {
			t.Error(err)
		}
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	check := func(resp *pb.RangeResponse, rev int64) error {
		if len(resp.Kvs) != nkeys || resp.Count != nkeys {
			return fmt.Errorf("at %d: %d keys (count %d)", rev, len(resp.Kvs), resp.Count)
		}
		for _, kv := range resp.Kvs {
			if kv.ModRevision != resp.Kvs[0].ModRevision || !bytes.Equal(kv.Value, fmt.Appendf(nil, "%d", kv.ModRevision)) {
				return fmt.Errorf("at %d: inconsistent %v", rev, resp.Kvs)
			}
		}
		return nil
	}

	mustCommit(t, s, func(b *Batch) { write(b) })
	wg.Add(1)
	go func() { // writer
		defer wg.Done()
		defer done.Store(true)
		for i := range batches {
			b := s.NewBatch()
			for range 1 + i%3 {
				write(b)
			}
			if _, err := b.Range(&pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l")}); err != nil {
				t.Error(err)
			}
			if i%10 == 9 {
				if _, err := b.Compact(b.Rev() - 5); err != nil {
					t.Error(err)
				}
			}
			if err := b.Commit(uint64(i + 2)); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Add(1)
	go func() { // physical compaction
		defer wg.Done()
		for !done.Load() {
			if err := s.RunCompaction(context.Background(), 3); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for r := range 3 {
		wg.Add(1)
		go func() { // readers
			defer wg.Done()
			for i := 0; !done.Load(); i++ {
				v := s.Read()
				lo := max(v.CompactRev(), 2) // revision 1 is the empty store
				for _, rev := range []int64{0, lo, v.Rev(), lo + (v.Rev()-lo)/2} {
					req := &pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), Revision: rev}
					if r == 1 {
						req.SortOrder = pb.RangeRequest_DESCEND
					}
					resp, err := v.Range(req)
					if err != nil {
						t.Error(err)
						break
					}
					if err := check(resp, rev); err != nil {
						t.Error(err)
					}
				}
				if i%20 == 0 {
					if _, _, err := v.Hash(0); err != nil {
						t.Error(err)
					}
				}
				v.Close()
			}
		}()
	}
	wg.Wait()
	if err := s.RunCompaction(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, s)
}

// TestViewAcrossReplace checks that a view open across a replacement of the
// state machine fails instead of reading what pebble's excise left of the
// old state (nothing: excise is not bound by open snapshots).
func TestViewAcrossReplace(t *testing.T) {
	db, s := openTestStore(t)
	defer db.close(t)
	b := s.NewBatch()
	mustPut(t, b, "a", "1")
	if err := b.Commit(5); err != nil {
		t.Fatal(err)
	}
	before := s.Read()
	defer before.Close()
	var during *ReadView
	err := s.Replace(func() error {
		during = s.Read()
		return db.db.Excise(context.Background(), pebble.KeyRange{Start: []byte{prefixMeta}, End: []byte{0x20}})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer during.Close()
	get := &pb.RangeRequest{Key: []byte("a")}
	for name, v := range map[string]*ReadView{"opened before": before, "opened during": during} {
		if _, err := v.Range(get); !errors.Is(err, ErrViewReplaced) {
			t.Errorf("view %s the replacement: Range error %v, want ErrViewReplaced", name, err)
		}
		if _, err := v.Meta("x"); !errors.Is(err, ErrViewReplaced) {
			t.Errorf("view %s the replacement: Meta error %v, want ErrViewReplaced", name, err)
		}
	}
	after := s.Read()
	defer after.Close()
	resp, err := after.Range(get)
	if err != nil {
		t.Fatalf("view opened after the replacement: %v", err)
	}
	if len(resp.Kvs) != 0 || s.AppliedIndex() != 0 {
		t.Fatalf("after the replacement: %d keys, applied %d; want the replaced (empty) state", len(resp.Kvs), s.AppliedIndex())
	}
}

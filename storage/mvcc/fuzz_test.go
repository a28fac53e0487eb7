package mvcc

import (
	"bytes"
	"context"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"
)

// FuzzRequests applies whatever requests a client could send, as the front
// door and the apply actor would: decoded from arbitrary bytes, refused if
// the Validate functions refuse them, else applied to a store holding a few
// keys at several revisions, a lease and a compaction. No request may
// panic, and whatever each returns, the committed state must keep the
// invariants of keys.go and read back as it was written.
func FuzzRequests(f *testing.F) {
	put := func(k, v string) *pb.RequestOp {
		return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(k), Value: []byte(v)}}}
	}
	seeds := []proto.Message{
		&pb.PutRequest{Key: []byte("a"), Value: []byte("v"), PrevKv: true},
		&pb.PutRequest{Key: []byte("b"), IgnoreValue: true, IgnoreLease: true},
		&pb.DeleteRangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, PrevKv: true},
		&pb.TxnRequest{
			Compare: []*pb.Compare{{Key: []byte("a"), Target: pb.Compare_MOD, Result: pb.Compare_GREATER, TargetUnion: &pb.Compare_ModRevision{ModRevision: 2}}},
			Success: []*pb.RequestOp{put("c", "1"), {Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("z"), SortOrder: pb.RangeRequest_DESCEND, SortTarget: pb.RangeRequest_VALUE, Limit: 2}}}},
			Failure: []*pb.RequestOp{{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte("b")}}}},
		},
		&pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestTxn{RequestTxn: &pb.TxnRequest{Success: []*pb.RequestOp{put("d", "2")}}}}}},
		&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 3, MinModRevision: 2, CountOnly: true},
	}
	for i, m := range seeds {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		kind := uint8(0)
		switch m.(type) {
		case *pb.DeleteRangeRequest:
			kind = 1
		case *pb.TxnRequest:
			kind = 2
		case *pb.RangeRequest:
			kind = 3
		}
		f.Add(kind, b, uint16(i))
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte, bound uint16) {
		db, s := openTestStore(t)
		defer db.close(t)
		mustCommit(t, s, func(b *Batch) {
			if err := b.LeaseGrant(7, 60); err != nil {
				t.Fatal(err)
			}
			for i, k := range []string{"a", "b", "a", "c", "a\x00", "b"} {
				if _, err := b.Put(&pb.PutRequest{Key: []byte(k), Value: bytes.Repeat([]byte{byte('0' + i)}, i), Lease: int64(i % 2 * 7)}); err != nil {
					t.Fatal(err)
				}
			}
		})
		mustCommit(t, s, func(b *Batch) {
			if _, err := b.Compact(2); err != nil {
				t.Fatal(err)
			}
		})
		if err := s.RunCompaction(context.Background(), 2); err != nil {
			t.Fatal(err)
		}
		mustCommit(t, s, func(b *Batch) {
			if _, err := b.Put(&pb.PutRequest{Key: []byte("b"), Value: []byte("x")}); err != nil {
				t.Fatal(err)
			}
		})

		b := s.NewBatch()
		defer b.Close()
		switch kind % 4 {
		case 0:
			r := &pb.PutRequest{}
			if proto.Unmarshal(data, r) != nil || ValidatePut(r) != nil {
				return
			}
			_, _ = b.Put(r)
		case 1:
			r := &pb.DeleteRangeRequest{}
			if proto.Unmarshal(data, r) != nil || ValidateDeleteRange(r) != nil {
				return
			}
			_, _ = b.DeleteRange(r)
		case 2:
			r := &pb.TxnRequest{}
			if proto.Unmarshal(data, r) != nil || ValidateTxn(r, 8) != nil {
				return
			}
			// Both ways a member applies a txn: building its ranges, and
			// measuring them for another member's client.
			opts := TxnOptions{MaxResponseBytes: int64(bound), Answer: bound%2 == 0}
			_, _ = b.TxnWith(r, opts)
		default:
			r := &pb.RangeRequest{}
			if proto.Unmarshal(data, r) != nil || ValidateRange(r) != nil {
				return
			}
			v := s.Read()
			defer v.Close()
			_, _ = v.RangeWithin(r, int64(bound))
			return
		}
		if err := b.Commit(s.AppliedIndex() + 1); err != nil {
			t.Fatalf("commit: %v", err)
		}
		checkInvariants(t, s)
		// What was written reads back: every key's latest version, through
		// a range of the whole keyspace.
		v := s.Read()
		defer v.Close()
		if _, err := v.Range(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}}); err != nil {
			t.Fatalf("range of everything after the request: %v", err)
		}
	})
}

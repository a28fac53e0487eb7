package alias

import (
	"bytes"
	"testing"
	"unsafe"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// checkParts marshals m with MarshalParts and checks that the pieces add up
// to the length returned, decode to a message equal to m, and that every
// bytes field of at least minBytes among large is a piece of its own, m's
// slice itself.
func checkParts(t *testing.T, m proto.Message, minBytes int, large ...[]byte) {
	t.Helper()
	parts, n, err := MarshalParts(m, minBytes)
	if err != nil {
		t.Fatal(err)
	}
	whole := bytes.Join(parts, nil)
	if len(whole) != n {
		t.Fatalf("pieces of %d bytes in all, MarshalParts says %d", len(whole), n)
	}
	got := m.ProtoReflect().New().Interface()
	if err := proto.Unmarshal(whole, got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !proto.Equal(got, m) {
		t.Fatalf("got %v, want %v", got, m)
	}
	for _, l := range large {
		found := false
		for _, p := range parts {
			found = found || (len(p) == len(l) && unsafe.SliceData(p) == unsafe.SliceData(l))
		}
		if !found {
			t.Errorf("a value of %d bytes was copied, not handed on", len(l))
		}
	}
	for i := 1; i < len(parts); i++ {
		if len(parts[i-1]) < minBytes && len(parts[i]) < minBytes {
			t.Errorf("pieces %d and %d are both small and were not merged", i-1, i)
		}
	}
}

func TestMarshalPartsHandsOnLargeValues(t *testing.T) {
	x, y := big('x'), big('y')
	batch := &cairnpb.RaftBatch{ClusterId: 1, From: 3, To: 2, Messages: []*raftpb.Message{
		{Type: raftpb.MsgHeartbeat.Enum(), Context: []byte("c")},
		{Type: raftpb.MsgApp.Enum(), To: proto.Uint64(2), Commit: proto.Uint64(4), Entries: []*raftpb.Entry{
			{Index: proto.Uint64(5), Term: proto.Uint64(2), Data: x},
			{Index: proto.Uint64(6), Data: []byte("s")},
			{Index: proto.Uint64(7), Type: raftpb.EntryConfChangeV2.Enum(), Data: y},
		}},
		{Type: raftpb.MsgApp.Enum(), Entries: []*raftpb.Entry{{Index: proto.Uint64(8), Data: []byte("t")}}},
	}}
	checkParts(t, batch, 64, x, y)

	v := big('v')
	txn := &pb.TxnRequest{
		Compare: []*pb.Compare{{Key: []byte("k"), TargetUnion: &pb.Compare_Value{Value: big('c')}}},
		Success: []*pb.RequestOp{
			{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("k"), Value: v, Lease: 9}}},
			{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("r")}}},
		},
	}
	checkParts(t, txn, 64, v, txn.Compare[0].GetValue())
}

// TestMarshalPartsWithoutLargeValues checks that a message with nothing to
// hand on is one piece, protobuf's encoding.
func TestMarshalPartsWithoutLargeValues(t *testing.T) {
	put := &pb.PutRequest{Key: []byte("k"), Value: []byte("small")}
	parts, _, err := MarshalParts(put, 64)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := proto.Marshal(put)
	if len(parts) != 1 || !bytes.Equal(parts[0], want) {
		t.Fatalf("pieces %x, want one: %x", parts, want)
	}
	checkParts(t, &cairnpb.RaftBatch{}, 64)
}

// FuzzMarshalParts checks MarshalParts on whatever proto.Unmarshal makes of
// arbitrary input, for the messages Cairn sends with it.
func FuzzMarshalParts(f *testing.F) {
	seeds := []proto.Message{
		&cairnpb.RaftBatch{Messages: []*raftpb.Message{{Entries: []*raftpb.Entry{{Data: big('e')}, {Data: []byte("f")}}}}},
		&pb.TxnRequest{Success: []*pb.RequestOp{
			{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Value: big('a')}}},
		}},
	}
	for i, m := range seeds {
		b, _ := proto.Marshal(m)
		f.Add(uint8(i), b, uint8(8))
	}
	f.Fuzz(func(t *testing.T, kind uint8, b []byte, minBytes uint8) {
		var m proto.Message = &cairnpb.RaftBatch{}
		if kind%2 == 1 {
			m = &pb.TxnRequest{}
		}
		if proto.Unmarshal(b, m) != nil {
			return
		}
		checkParts(t, m, int(minBytes%64)+1)
	})
}

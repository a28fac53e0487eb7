package apply

import (
	"io"
	"log/slog"
	"slices"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// TestDecode checks what decode hands to the batch: the proposal of each
// normal entry not yet applied, and the keys of every put it may make, in
// a put or in either branch of a txn, nested txns included.
func TestDecode(t *testing.T) {
	put := func(k string) *pb.RequestOp {
		return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(k)}}}
	}
	entry := func(index uint64, r *pb.InternalRaftRequest) *raftpb.Entry {
		data, err := proto.Marshal(&cairnpb.Proposal{Id: index, Request: r})
		if err != nil {
			t.Fatal(err)
		}
		return &raftpb.Entry{Index: proto.Uint64(index), Type: raftpb.EntryNormal.Enum(), Data: data}
	}
	ents := []*raftpb.Entry{
		entry(5, &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("applied")}}),
		{Index: proto.Uint64(6), Type: raftpb.EntryNormal.Enum()}, // a new leader's empty entry
		{Index: proto.Uint64(7), Type: raftpb.EntryNormal.Enum(), Data: []byte{0xff, 0xff}},
		entry(8, &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("p")}}),
		entry(9, &pb.InternalRaftRequest{Txn: &pb.TxnRequest{
			Success: []*pb.RequestOp{put("t1"), {Request: &pb.RequestOp_RequestTxn{RequestTxn: &pb.TxnRequest{
				Success: []*pb.RequestOp{put("n1")},
				Failure: []*pb.RequestOp{put("n2")},
			}}}},
			Failure: []*pb.RequestOp{put("f1"), {Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("r")}}}},
		}}),
		entry(10, &pb.InternalRaftRequest{DeleteRange: &pb.DeleteRangeRequest{Key: []byte("d")}}),
		{Index: proto.Uint64(11), Type: raftpb.EntryConfChange.Enum()},
	}
	a := &applyActor{cfg: Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, applied: 5}
	props, keys := a.decode(ents)
	var decoded []uint64
	for i, p := range props {
		if p != nil {
			decoded = append(decoded, ents[i].GetIndex())
		}
	}
	if want := []uint64{8, 9, 10}; !slices.Equal(decoded, want) {
		t.Errorf("decoded entries %v, want %v", decoded, want)
	}
	var got []string
	for _, k := range keys {
		got = append(got, string(k))
	}
	if want := []string{"p", "t1", "n1", "n2", "f1"}; !slices.Equal(got, want) {
		t.Errorf("keys %q, want %q", got, want)
	}
}

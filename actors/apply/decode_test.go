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

// TestUnmarshalProposalAliasesLargeValues checks that a proposal decodes to
// the same message whichever way, and that a large put's value aliases the
// entry's data (no copy) while a small one does not.
func TestUnmarshalProposalAliasesLargeValues(t *testing.T) {
	for _, size := range []int{0, 10, aliasValuesFrom - 1, aliasValuesFrom, 1 << 20} {
		want := &cairnpb.Proposal{
			Id:     7,
			Origin: &cairnpb.Origin{MemberId: 1, Incarnation: 2, Waiter: "w"},
			Trace:  map[string]string{"traceparent": "00-x"},
			Request: &pb.InternalRaftRequest{
				Header: &pb.RequestHeader{ID: 9},
				Put:    &pb.PutRequest{Key: []byte("k"), Value: make([]byte, size), Lease: 5, PrevKv: true},
			},
		}
		for i := range want.Request.Put.Value {
			want.Request.Put.Value[i] = byte(i)
		}
		data, err := proto.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		got := &cairnpb.Proposal{}
		if err := unmarshalProposal(data, got); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("%d bytes: decoded %v, want %v", size, got, want)
		}
		v := got.GetRequest().GetPut().GetValue()
		within := len(v) > 0 && sliceWithin(v, data)
		if want := size >= aliasValuesFrom; within != want {
			t.Errorf("%d bytes: value aliases the entry %v, want %v", size, within, want)
		}
	}
	// A large key is copied: the store's cache keeps keys.
	keyed := &cairnpb.Proposal{Request: &pb.InternalRaftRequest{Put: &pb.PutRequest{
		Key: make([]byte, aliasValuesFrom), Value: make([]byte, aliasValuesFrom)}}}
	data, _ := proto.Marshal(keyed)
	got := &cairnpb.Proposal{}
	if err := unmarshalProposal(data, got); err != nil || !proto.Equal(got, keyed) {
		t.Fatalf("large key: decoded %v (%v)", got, err)
	}
	if sliceWithin(got.Request.Put.Key, data) || !sliceWithin(got.Request.Put.Value, data) {
		t.Error("large key: the key aliases the entry, or the value does not")
	}
	// Not a put, a malformed proposal, a put whose request field occurs
	// twice (merged by protobuf): decoded as protobuf decodes them.
	big := &pb.PutRequest{Key: []byte("k"), Value: make([]byte, aliasValuesFrom)}
	twice, _ := proto.Marshal(&cairnpb.Proposal{Request: &pb.InternalRaftRequest{Put: big}})
	more, _ := proto.Marshal(&cairnpb.Proposal{Request: &pb.InternalRaftRequest{Header: &pb.RequestHeader{ID: 3}}})
	twice = append(twice, more...)
	for _, data := range [][]byte{twice, {0xff, 0xff}, {0x22, 0x05, 0x01}} {
		want, got := &cairnpb.Proposal{}, &cairnpb.Proposal{}
		wantErr := proto.Unmarshal(data, want)
		gotErr := unmarshalProposal(data, got)
		if (wantErr == nil) != (gotErr == nil) || !proto.Equal(got, want) {
			t.Errorf("%x: decoded %v (%v), protobuf decodes %v (%v)", data, got, gotErr, want, wantErr)
		}
	}
}

// sliceWithin reports whether v lies inside b's memory.
func sliceWithin(v, b []byte) bool {
	for i := range b {
		if &b[i] == &v[0] {
			return len(b)-i >= len(v)
		}
	}
	return false
}

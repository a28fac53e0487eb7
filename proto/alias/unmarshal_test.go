package alias

import (
	"bytes"
	"testing"
	"unsafe"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

func within(b, s []byte) bool {
	if len(s) == 0 || len(b) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= start && p < start+uintptr(len(b))
}

func big(c byte) []byte { return bytes.Repeat([]byte{c}, 100) }

// roundTrip marshals want, decodes it into got with Unmarshal (aliasing
// fields of 64 bytes or more), checks got equals want, and returns the
// encoding got may alias.
func roundTrip(t *testing.T, want, got proto.Message) []byte {
	t.Helper()
	b, _ := proto.Marshal(want)
	if err := Unmarshal(b, got, 64); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	return b
}

// TestAliases checks that large values end up as slices of the input, in
// a put, the puts of a txn (in their order) and the entries of a batch.
func TestAliases(t *testing.T) {
	put := &pb.PutRequest{Key: []byte("k"), Value: big('v'), Lease: 7}
	b, _ := proto.Marshal(put)
	var gotPut pb.PutRequest
	if err := Unmarshal(b, &gotPut, 64); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&gotPut, put) || !within(b, gotPut.Value) || within(b, gotPut.Key) {
		t.Errorf("put: %v, value aliased %v, key aliased %v", &gotPut, within(b, gotPut.Value), within(b, gotPut.Key))
	}

	op := func(v []byte) *pb.RequestOp {
		return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("k"), Value: v}}}
	}
	txn := &pb.TxnRequest{
		Compare: []*pb.Compare{{Key: []byte("k"), Target: pb.Compare_VERSION}},
		Success: []*pb.RequestOp{op(big('a')), op([]byte("small")), op(big('b'))},
		Failure: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("k")}}}},
	}
	var gotTxn pb.TxnRequest
	b = roundTrip(t, txn, &gotTxn)
	for _, i := range []int{0, 2} {
		if !within(b, gotTxn.Success[i].GetRequestPut().Value) {
			t.Errorf("txn: the value of success[%d] is a copy", i)
		}
	}

	batch := &cairnpb.RaftBatch{ClusterId: 1, To: 2, Messages: []*raftpb.Message{
		{Type: raftpb.MsgApp.Enum(), Entries: []*raftpb.Entry{
			{Index: proto.Uint64(5), Data: big('x')}, {Index: proto.Uint64(6), Data: []byte("s")}, {Index: proto.Uint64(7), Data: big('y')},
		}},
		{Type: raftpb.MsgHeartbeat.Enum(), Context: []byte("c")},
	}}
	var gotBatch cairnpb.RaftBatch
	b = roundTrip(t, batch, &gotBatch)
	for _, i := range []int{0, 2} {
		if !within(b, gotBatch.Messages[0].Entries[i].Data) {
			t.Errorf("batch: entry %d's data is a copy", i)
		}
	}
}

// TestLastOccurrenceWins checks the encodings protobuf decodes by keeping
// the last occurrence: a large bytes field twice, and a oneof with two
// members.
func TestLastOccurrenceWins(t *testing.T) {
	b, _ := proto.Marshal(&pb.PutRequest{Value: big('a')})
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("second"))
	check(t, b, &pb.PutRequest{}, 64)

	put, _ := proto.Marshal(&pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Value: big('p')}}})
	rng, _ := proto.Marshal(&pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("k")}}})
	check(t, append(append([]byte{}, put...), rng...), &pb.RequestOp{}, 64)
	check(t, append(append([]byte{}, rng...), put...), &pb.RequestOp{}, 64)
	// A singular message twice: its occurrences merge, in order.
	p1, _ := proto.Marshal(&pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("a"), Value: big('1')}}})
	p2, _ := proto.Marshal(&pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("b"), Lease: 3}}})
	check(t, append(append([]byte{}, p1...), p2...), &pb.RequestOp{}, 64)
	check(t, append(append([]byte{}, p2...), p1...), &pb.RequestOp{}, 64)
}

// check compares Unmarshal with proto.Unmarshal on b: both fail, or both
// give equal messages.
func check(t *testing.T, b []byte, m proto.Message, minBytes int) {
	t.Helper()
	want := m.ProtoReflect().New().Interface()
	wantErr := proto.Unmarshal(b, want)
	got := m.ProtoReflect().New().Interface()
	gotErr := Unmarshal(b, got, minBytes)
	if (wantErr != nil) != (gotErr != nil) {
		t.Fatalf("on %x: proto.Unmarshal: %v, Unmarshal: %v", b, wantErr, gotErr)
	}
	if wantErr == nil && !proto.Equal(got, want) {
		t.Fatalf("on %x:\n got %v\nwant %v", b, got, want)
	}
	if wantErr == nil {
		gb, _ := proto.MarshalOptions{Deterministic: true}.Marshal(got)
		wb, _ := proto.MarshalOptions{Deterministic: true}.Marshal(want)
		if !bytes.Equal(gb, wb) { // unknown fields too
			t.Fatalf("on %x: encodings differ:\n got %x\nwant %x", b, gb, wb)
		}
	}
}

// FuzzUnmarshal compares Unmarshal with proto.Unmarshal on arbitrary
// input, for the messages Cairn decodes with it.
func FuzzUnmarshal(f *testing.F) {
	seeds := []proto.Message{
		&pb.PutRequest{Key: []byte("k"), Value: big('v'), PrevKv: true},
		&pb.TxnRequest{Success: []*pb.RequestOp{
			{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Value: big('a')}}},
			{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte("d")}}},
		}},
		&cairnpb.RaftBatch{Messages: []*raftpb.Message{{Entries: []*raftpb.Entry{{Data: big('e')}, {Data: []byte("f")}}}}},
	}
	for i, m := range seeds {
		b, _ := proto.Marshal(m)
		f.Add(uint8(i), b, uint8(8))
		f.Add(uint8(i), append(b, b...), uint8(1))
	}
	f.Fuzz(func(t *testing.T, kind uint8, b []byte, minBytes uint8) {
		var m proto.Message
		switch kind % 3 {
		case 0:
			m = &pb.PutRequest{}
		case 1:
			m = &pb.TxnRequest{}
		default:
			m = &cairnpb.RaftBatch{}
		}
		check(t, b, m, int(minBytes%64)+1)
	})
}

// TestUnmarshalOnly checks that only the named fields are aliased.
func TestUnmarshalOnly(t *testing.T) {
	put := &pb.PutRequest{Key: big('k'), Value: big('v')}
	b, _ := proto.Marshal(put)
	var got pb.PutRequest
	if err := UnmarshalOnly(b, &got, 64, "etcdserverpb.PutRequest.value"); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, put) || !within(b, got.Value) || within(b, got.Key) {
		t.Errorf("got %v, value aliased %v, key aliased %v", &got, within(b, got.Value), within(b, got.Key))
	}
}

package frontdoor

import (
	"bytes"
	"sync/atomic"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// The front door's codec decodes requests, large or small, as gRPC's own
// codec does, and encodes as it does.
func TestRequestCodecSpeaksProtobuf(t *testing.T) {
	std := encoding.GetCodecV2(grpcproto.Name)
	codec := newRequestCodec(nil)
	large := bytes.Repeat([]byte{'v'}, 1<<20)
	for name, m := range map[string]proto.Message{
		"small put": &pb.PutRequest{Key: []byte("k"), Value: []byte("v")},
		"large put": &pb.PutRequest{Key: []byte("k"), Value: large, Lease: 3, PrevKv: true},
		"large txn": &pb.TxnRequest{
			Compare: []*pb.Compare{{Key: []byte("k"), Target: pb.Compare_MOD, TargetUnion: &pb.Compare_ModRevision{ModRevision: 0}}},
			Success: []*pb.RequestOp{
				{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("a"), Value: large}}},
				{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("a")}}},
			},
		},
		"large range": &pb.RangeRequest{Key: large},
	} {
		t.Run(name, func(t *testing.T) {
			data, err := codec.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			want, err := std.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data.Materialize(), want.Materialize()) {
				t.Fatal("encodes otherwise than gRPC's codec")
			}
			got := m.ProtoReflect().New().Interface()
			if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(want.Materialize())}, got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, m) {
				t.Fatalf("decoded %v", got)
			}
		})
	}
}

// Encoding a Range response ends its count in Server.RangeBytes (kv.go
// starts it): its keys and values, once; other responses count nothing.
func TestRequestCodecEndsRangeCount(t *testing.T) {
	var ranges atomic.Int64
	codec := newRequestCodec(&ranges)
	resp := &pb.RangeResponse{Kvs: []*mvccpb.KeyValue{
		{Key: []byte("a"), Value: bytes.Repeat([]byte{'v'}, 100)},
		{Key: []byte("bb"), Value: nil},
	}}
	if n := rangeKVBytes(resp); n != 103 {
		t.Fatalf("rangeKVBytes = %d, want 103", n)
	}
	ranges.Add(rangeKVBytes(resp) + 7)
	if _, err := codec.Marshal(&pb.TxnResponse{Responses: []*pb.ResponseOp{
		{Response: &pb.ResponseOp_ResponseRange{ResponseRange: resp}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := codec.Marshal(resp); err != nil {
		t.Fatal(err)
	}
	if got := ranges.Load(); got != 7 {
		t.Fatalf("after encoding the range: %d counted, want the other 7", got)
	}
}

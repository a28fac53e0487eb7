package frontdoor

import (
	"bytes"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// The front door's codec decodes requests, large or small, as gRPC's own
// codec does, and encodes as it does.
func TestRequestCodecSpeaksProtobuf(t *testing.T) {
	std := encoding.GetCodecV2(grpcproto.Name)
	codec := newRequestCodec()
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

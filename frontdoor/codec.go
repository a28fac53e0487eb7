package frontdoor

import (
	"sync/atomic"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/alias"
)

// requestCodec is the gRPC codec of the front door (grpc.ForceServerCodecV2):
// protobuf's, byte for byte, except that a request of at least
// aliasRequestBytes is decoded with its large bytes fields (a put's value,
// those of a txn's puts, a large key) as slices of one buffer of its own
// (proto/alias), where gRPC's codec copied the request into a pooled buffer
// and protobuf copied each value out of it again: one copy of every 1 MiB
// value less on the member that takes the request. The buffer is about the
// size of what aliases it, and lives as long as the request (the proposal
// that carries a value to raft is a copy).
//
// It also ends the count of a unary Range response's key-values
// (Server.RangeBytes) once the response is encoded: gRPC encodes every
// response a handler returns without an error, once.
type requestCodec struct {
	std encoding.CodecV2
	// ranges is Server.rangeBytes; nil counts nothing.
	ranges *atomic.Int64
}

// aliasRequestBytes is the smallest request (and value) decoded in place.
const aliasRequestBytes = 32 << 10

func newRequestCodec(ranges *atomic.Int64) encoding.CodecV2 {
	return requestCodec{std: encoding.GetCodecV2(grpcproto.Name), ranges: ranges}
}

// Name is protobuf's: the content type on the wire does not change.
func (c requestCodec) Name() string { return grpcproto.Name }

func (c requestCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, err := c.std.Marshal(v)
	if r, ok := v.(*pb.RangeResponse); ok && c.ranges != nil {
		c.ranges.Add(-rangeKVBytes(r)) // counted by kvServer.Range
	}
	return b, err
}

// rangeKVBytes is what a Range response counts for in Server.RangeBytes:
// its keys and values.
func rangeKVBytes(r *pb.RangeResponse) int64 {
	var n int64
	for _, kv := range r.GetKvs() {
		n += int64(len(kv.GetKey()) + len(kv.GetValue()))
	}
	return n
}

func (c requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok || data.Len() < aliasRequestBytes {
		return c.std.Unmarshal(data, v)
	}
	// Materialize copies into a new slice (gRPC frees its own buffers
	// once this returns).
	return alias.Unmarshal(data.Materialize(), m, aliasRequestBytes)
}

package apply

import (
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// aliasValuesFrom is the size from which a put's value is not copied out of
// its raft entry when the proposal is decoded. protobuf copies every bytes
// field; for a 1 MiB value that was one more copy of the value, on every
// member, on its way from the entry to the state machine's batch.
const aliasValuesFrom = 4 << 10

// Field numbers on the path from a proposal to a put's value.
var (
	proposalRequest = fieldNumber(&cairnpb.Proposal{}, "request")
	requestPut      = fieldNumber(&pb.InternalRaftRequest{}, "put")
	putValue        = fieldNumber(&pb.PutRequest{}, "value")
)

func fieldNumber(m proto.Message, name protoreflect.Name) protowire.Number {
	return m.ProtoReflect().Descriptor().Fields().ByName(name).Number()
}

// unmarshalProposal decodes data into p. The value of a put of at least
// aliasValuesFrom bytes aliases data instead of being copied: data is a
// raft entry's, which nothing changes once it exists, and which the value
// then keeps alive (the batch copies the value into pebble; watch events
// share it, as they shared the copy).
func unmarshalProposal(data []byte, p *cairnpb.Proposal) error {
	// Each field on the way to the value must occur exactly once (else
	// protobuf merges occurrences, and the plain decoding is kept).
	reqBytes, reqStart, reqEnd, n1 := findField(data, proposalRequest)
	putBytes, putStart, putEnd, n2 := findField(reqBytes, requestPut)
	value, valueStart, valueEnd, n3 := findField(putBytes, putValue)
	if n1 != 1 || n2 != 1 || n3 != 1 || len(value) < aliasValuesFrom {
		return proto.Unmarshal(data, p)
	}
	// Decode each level without the field that leads to the value, then
	// the level below it, and put the value in place last.
	if err := proto.Unmarshal(without(data, reqStart, reqEnd), p); err != nil {
		return err
	}
	p.Request = &pb.InternalRaftRequest{}
	if err := proto.Unmarshal(without(reqBytes, putStart, putEnd), p.Request); err != nil {
		return err
	}
	p.Request.Put = &pb.PutRequest{}
	if err := proto.Unmarshal(without(putBytes, valueStart, valueEnd), p.Request.Put); err != nil {
		return err
	}
	p.Request.Put.Value = value
	return nil
}

// findField finds length-delimited field num in an encoded message: the
// contents of its last occurrence (aliasing b), where that occurrence, tag
// included, starts and ends in b, and how many times it occurs. A malformed
// message, or a field num of another wire type, is reported as n = 0: the
// plain decoding then reports the error.
func findField(b []byte, num protowire.Number) (field []byte, start, end, n int) {
	for i := 0; i < len(b); {
		fn, typ, tagLen := protowire.ConsumeTag(b[i:])
		if tagLen < 0 {
			return nil, 0, 0, 0
		}
		valLen := protowire.ConsumeFieldValue(fn, typ, b[i+tagLen:])
		if valLen < 0 {
			return nil, 0, 0, 0
		}
		if fn == num {
			if typ != protowire.BytesType {
				return nil, 0, 0, 0
			}
			field, _ = protowire.ConsumeBytes(b[i+tagLen:])
			start, end, n = i, i+tagLen+valLen, n+1
		}
		i += tagLen + valLen
	}
	return field, start, end, n
}

// without returns a copy of b less b[start:end].
func without(b []byte, start, end int) []byte {
	return append(append(make([]byte, 0, len(b)-(end-start)), b[:start]...), b[end:]...)
}

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
	value, ok := largePutValue(data)
	if !ok {
		return proto.Unmarshal(data, p)
	}
	// Decode each level without the field that leads to the value, then
	// the level below it, and put the value in place last.
	top, reqBytes, _ := cutField(data, proposalRequest)
	req, putBytes, _ := cutField(reqBytes, requestPut)
	put, _, _ := cutField(putBytes, putValue)
	if err := proto.Unmarshal(top, p); err != nil {
		return err
	}
	p.Request = &pb.InternalRaftRequest{}
	if err := proto.Unmarshal(req, p.Request); err != nil {
		return err
	}
	p.Request.Put = &pb.PutRequest{}
	if err := proto.Unmarshal(put, p.Request.Put); err != nil {
		return err
	}
	p.Request.Put.Value = value
	return nil
}

// largePutValue returns the value of the put in an encoded proposal if it is
// at least aliasValuesFrom bytes and each field on the way to it occurs
// exactly once (otherwise protobuf would merge occurrences, and the plain
// decoding is kept).
func largePutValue(data []byte) ([]byte, bool) {
	b := data
	for _, num := range []protowire.Number{proposalRequest, requestPut, putValue} {
		_, field, n := cutField(b, num)
		if n != 1 {
			return nil, false
		}
		b = field
	}
	return b, len(b) >= aliasValuesFrom
}

// cutField splits an encoded message into its encoding without field num
// (a new slice, allocated only if the field occurs) and the contents of the
// field's last occurrence as a length-delimited field, aliasing b; n counts
// the occurrences. A malformed message, or a field of another wire type, is
// reported as n = 0 with the whole message as rest: the plain decoding then
// reports the error.
func cutField(b []byte, num protowire.Number) (rest, field []byte, n int) {
	rest = b
	for i := 0; i < len(b); {
		fn, typ, tagLen := protowire.ConsumeTag(b[i:])
		if tagLen < 0 {
			return b, nil, 0
		}
		valLen := protowire.ConsumeFieldValue(fn, typ, b[i+tagLen:])
		if valLen < 0 {
			return b, nil, 0
		}
		if fn == num {
			if typ != protowire.BytesType {
				return b, nil, 0
			}
			v, _ := protowire.ConsumeBytes(b[i+tagLen:])
			if n == 0 {
				rest = append(make([]byte, 0, len(b)-tagLen-valLen), b[:i]...)
			}
			field, n = v, n+1
		} else if n > 0 {
			rest = append(rest, b[i:i+tagLen+valLen]...)
		}
		i += tagLen + valLen
	}
	return rest, field, n
}

package transport

import (
	"fmt"

	"github.com/asynkron/protoactor-go/remote"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/cairnkv/cairn/proto/alias"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

// Remoting decodes every envelope with the serializer its sender names;
// senders name protobuf's (remote.DefaultSerializerID), which copies each
// raft entry's data out of the envelope again. PeerCodec's Unmarshal, which
// has decoded a large envelope's message_data as a slice of a buffer of its
// own, names aliasSerializer for a RaftBatch instead: the same protobuf,
// decoded with the entries' data as slices of that buffer (proto/alias).
// The entries are the member's from then on and nothing changes them; they
// keep the buffer alive while raft and the log's cache hold them.

// raftBatchName is the type name remoting gives a RaftBatch.
var raftBatchName = string(proto.MessageName(&cairnpb.RaftBatch{}))

// aliasSerializerID is aliasSerializer's index among remoting's
// serializers; -1 if it could not be found (then nothing names it).
var aliasSerializerID = registerAliasSerializer()

type aliasSerializer struct{}

// probeName is a type name only aliasSerializer answers, with probeAnswer.
const probeName = "cairn.transport.probe"

var probeAnswer = new(int)

func (aliasSerializer) Serialize(msg any) ([]byte, error) {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("transport: %T is not a proto.Message", msg)
	}
	return proto.Marshal(m)
}

func (aliasSerializer) Deserialize(typeName string, b []byte) (any, error) {
	if typeName == probeName {
		return probeAnswer, nil
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(typeName))
	if err != nil {
		return nil, fmt.Errorf("transport: decode %s: %w", typeName, err)
	}
	m := mt.New().Interface()
	if typeName != raftBatchName {
		return m, proto.Unmarshal(b, m)
	}
	return m, alias.UnmarshalOnly(b, m, aliasBytes, entryData)
}

// entryData is the field aliased: a raft entry's data.
var entryData = (&raftpb.Entry{}).ProtoReflect().Descriptor().Fields().ByName("Data").FullName()

func (aliasSerializer) GetTypeName(msg any) (string, error) {
	m, ok := msg.(proto.Message)
	if !ok {
		return "", fmt.Errorf("transport: %T is not a proto.Message", msg)
	}
	return string(proto.MessageName(m)), nil
}

// registerAliasSerializer registers aliasSerializer with remoting and
// returns its index, found by asking each index for probeName (remoting
// numbers its serializers in the order they register, and says nothing of
// it).
func registerAliasSerializer() int32 {
	remote.RegisterSerializer(aliasSerializer{})
	for id := int32(0); id < 64; id++ {
		if answersProbe(id) {
			return id
		}
	}
	return -1
}

func answersProbe(id int32) (ok bool) {
	defer func() {
		if recover() != nil { // another serializer, or past the last
			ok = false
		}
	}()
	v, err := remote.Deserialize(nil, probeName, id)
	return err == nil && v == probeAnswer
}

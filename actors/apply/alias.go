package apply

import (
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/cairnkv/cairn/proto/alias"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

// aliasValuesFrom is the size from which a value (a put's, those of a
// txn's puts) is not copied out of its raft entry when the proposal is
// decoded. protobuf copies every bytes field; for a 1 MiB value that was one
// more copy of the value, on every member, on its way from the entry to the
// state machine's batch.
const aliasValuesFrom = 4 << 10

// unmarshalProposal decodes data into p, values of at least aliasValuesFrom
// bytes aliasing data instead of being copied (proto/alias): data is a raft
// entry's, which nothing changes once it exists, and which the values then
// keep alive (the batch copies them into pebble; watch events share them,
// as they shared the copies). Keys are copied: the store's cache of latest
// records keeps them, and a key must not keep its entry's value alive.
func unmarshalProposal(data []byte, p *cairnpb.Proposal) error {
	return alias.UnmarshalOnly(data, p, aliasValuesFrom, putValue)
}

// putValue is the field aliased: a put's value, wherever the put is.
var putValue = (&pb.PutRequest{}).ProtoReflect().Descriptor().Fields().ByName("value").FullName()

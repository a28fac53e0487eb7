package transport

import (
	"bytes"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// A large RaftBatch received through the codec names aliasSerializer, and
// remoting's Deserialize then gives the batch the sender had, the data of
// its large entries a slice of the buffer the codec decoded.
func TestRaftBatchDecodedInPlace(t *testing.T) {
	if aliasSerializerID < 0 {
		t.Fatal("aliasSerializer was not found among remoting's serializers")
	}
	sent := &cairnpb.RaftBatch{ClusterId: 9, To: 2, From: 1, Messages: []*raftpb.Message{{
		Type: raftpb.MsgApp.Enum(), Index: proto.Uint64(4),
		Entries: []*raftpb.Entry{
			{Index: proto.Uint64(5), Term: proto.Uint64(1), Data: bytes.Repeat([]byte{'a'}, 1<<20)},
			{Index: proto.Uint64(6), Term: proto.Uint64(1), Data: []byte("small")},
		},
	}}}
	data, err := proto.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	rm := &remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: &remote.MessageBatch{
		TypeNames: []string{"cairnpb.Other", raftBatchName},
		Targets:   []*actor.PID{{Address: "m2:2380", Id: "member/raft"}},
		Envelopes: []*remote.MessageEnvelope{
			{TypeId: 0, MessageData: bytes.Repeat([]byte{'o'}, 1<<20)},
			{TypeId: 1, MessageData: data},
		},
	}}}
	wire, err := proto.Marshal(rm)
	if err != nil {
		t.Fatal(err)
	}
	got := &remote.RemoteMessage{}
	if err := PeerCodec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire)}, got); err != nil {
		t.Fatal(err)
	}
	envs := got.GetMessageBatch().GetEnvelopes()
	if envs[0].SerializerId != remote.DefaultSerializerID {
		t.Errorf("an envelope of another type names serializer %d", envs[0].SerializerId)
	}
	if envs[1].SerializerId != aliasSerializerID {
		t.Fatalf("the RaftBatch names serializer %d, not %d", envs[1].SerializerId, aliasSerializerID)
	}
	m, err := remote.Deserialize(envs[1].MessageData, raftBatchName, envs[1].SerializerId)
	if err != nil {
		t.Fatal(err)
	}
	batch, ok := m.(*cairnpb.RaftBatch)
	if !ok || !proto.Equal(batch, sent) {
		t.Fatalf("decoded %v", m)
	}
	d, md := batch.Messages[0].Entries[0].Data, envs[1].MessageData
	if !overlaps(md, d) {
		t.Fatal("the large entry's data is a copy")
	}
}

func overlaps(buf, s []byte) bool {
	for i := range buf {
		if &buf[i] == &s[0] {
			return true
		}
	}
	return false
}

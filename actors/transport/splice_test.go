package transport

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// appBatch returns a batch to member `to` of a MsgApp carrying data, and a
// small entry.
func appBatch(to uint64, data []byte) *cairnpb.RaftBatch {
	return &cairnpb.RaftBatch{ClusterId: 9, From: 1, To: to, Messages: []*raftpb.Message{{
		Type: raftpb.MsgApp.Enum(), To: proto.Uint64(to), From: proto.Uint64(1), Commit: proto.Uint64(to),
		Entries: []*raftpb.Entry{
			{Term: proto.Uint64(2), Index: proto.Uint64(7), Data: data},
			{Term: proto.Uint64(2), Index: proto.Uint64(8), Data: []byte("small")},
		},
	}}}
}

// envelopeOf is what remoting's writer builds for m: its serialization by
// protobuf's serializer, in an envelope of a batch.
func envelopeOf(t *testing.T, m proto.Message) *remote.RemoteMessage {
	t.Helper()
	data, typeName, err := remote.Serialize(m, remote.DefaultSerializerID)
	if err != nil {
		t.Fatal(err)
	}
	return &remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: &remote.MessageBatch{
		TypeNames: []string{typeName},
		Targets:   []*actor.PID{{Address: "m2:2380", Id: "member/raft"}},
		Envelopes: []*remote.MessageEnvelope{{MessageData: data}},
	}}}
}

// A batch with a large entry is serialized as a placeholder, and the codec
// puts the entry itself on the wire, in an encoding gRPC's own codec and
// protobuf decode to the batch.
func TestSplicedBatchSendsEntryItself(t *testing.T) {
	data := bytes.Repeat([]byte{'d'}, 1<<20)
	for _, to := range []uint64{2, 3} { // two followers, one entry
		b := appBatch(to, data)
		m := splice(b)
		if _, ok := m.(*splicedBatch); !ok {
			t.Fatalf("a batch with a 1 MiB entry is sent as %T", m)
		}
		rm := envelopeOf(t, m)
		if name := rm.GetMessageBatch().TypeNames[0]; name != raftBatchName {
			t.Fatalf("type name on the wire %q, want %q", name, raftBatchName)
		}
		if n := len(rm.GetMessageBatch().Envelopes[0].MessageData); n != placeholderLen {
			t.Fatalf("remoting serialized %d bytes, want a placeholder", n)
		}
		wire, err := PeerCodec().Marshal(rm)
		if err != nil {
			t.Fatal(err)
		}
		shared := false
		for _, buf := range wire {
			d := buf.ReadOnlyData()
			shared = shared || (len(d) == len(data) && unsafe.SliceData(d) == unsafe.SliceData(data))
		}
		if !shared {
			t.Error("the entry's data was copied")
		}
		if n := spliced.filed(); n != 0 {
			t.Errorf("%d batches still filed after they were encoded", n)
		}

		got := &remote.RemoteMessage{}
		if err := encoding.GetCodecV2(grpcproto.Name).Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire.Materialize())}, got); err != nil {
			t.Fatal(err)
		}
		gotBatch := &cairnpb.RaftBatch{}
		if err := proto.Unmarshal(got.GetMessageBatch().Envelopes[0].MessageData, gotBatch); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(gotBatch, b) {
			t.Fatalf("follower %d received %v", to, gotBatch)
		}
	}
	if small := appBatch(2, []byte("x")); splice(small) != proto.Message(small) {
		t.Error("a batch without a large entry is spliced")
	}
}

// A placeholder whose batch was forgotten fails the send rather than
// putting the placeholder on the wire.
func TestForgottenSpliceFailsSend(t *testing.T) {
	data := bytes.Repeat([]byte{'d'}, 1<<20)
	rm := envelopeOf(t, splice(appBatch(2, data)))
	for range maxSpliced {
		_ = envelopeOf(t, splice(appBatch(3, data)))
	}
	if n := spliced.filed(); n != maxSpliced {
		t.Fatalf("%d batches filed, want at most %d", n, maxSpliced)
	}
	if _, err := PeerCodec().Marshal(rm); err == nil {
		t.Fatal("a forgotten placeholder was encoded")
	}
	spliced.mu.Lock()
	clear(spliced.batches)
	spliced.oldest = spliced.next + 1
	spliced.mu.Unlock()
}

// proto.Size of a spliced batch files nothing.
func TestSplicedBatchSizeFilesNothing(t *testing.T) {
	m := splice(appBatch(2, bytes.Repeat([]byte{'d'}, 1<<20)))
	before := spliced.filed()
	if n := proto.Size(m); n != placeholderLen {
		t.Fatalf("proto.Size = %d, want %d", n, placeholderLen)
	}
	if spliced.filed() != before {
		t.Fatal("proto.Size filed a batch")
	}
}

package transport

import (
	"bytes"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// batchOf returns a RemoteMessage holding a batch of envelopes carrying
// data of the given sizes.
func batchOf(sizes ...int) *remote.RemoteMessage {
	b := &remote.MessageBatch{
		TypeNames: []string{"cairnpb.RaftBatch", "cairnpb.Other"},
		Targets:   []*actor.PID{{Address: "m2:2380", Id: "member/raft"}},
		Senders:   []*actor.PID{{Address: "m1:2380", Id: "member/transport", RequestId: 7}},
	}
	for i, n := range sizes {
		data := bytes.Repeat([]byte{byte(i + 1)}, n)
		b.Envelopes = append(b.Envelopes, &remote.MessageEnvelope{
			TypeId: int32(i % 2), MessageData: data, Target: 0, Sender: int32(i % 2),
			MessageHeader:   &remote.MessageHeader{HeaderData: map[string]string{"trace": "t"}},
			TargetRequestId: uint32(i), SenderRequestId: uint32(2 * i),
		})
	}
	return &remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: b}}
}

var codecCases = map[string]*remote.RemoteMessage{
	"small envelopes":      batchOf(0, 10, 100),
	"one large":            batchOf(aliasBytes),
	"large between small":  batchOf(3, 1<<20, 5, 2<<20, 0),
	"only large":           batchOf(1<<20, 1<<20),
	"empty batch":          {MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: &remote.MessageBatch{}}},
	"connect request":      {MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{}}},
	"large, no other data": {MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: &remote.MessageBatch{Envelopes: []*remote.MessageEnvelope{{MessageData: make([]byte, 1<<20)}}}}},
}

// defaultSerializers returns a copy of m whose envelopes name protobuf's
// serializer where they named aliasSerializer: the one difference the codec
// makes to what it decodes (serializer.go).
func defaultSerializers(m *remote.RemoteMessage) *remote.RemoteMessage {
	m = proto.Clone(m).(*remote.RemoteMessage)
	for _, e := range m.GetMessageBatch().GetEnvelopes() {
		if e.SerializerId == aliasSerializerID {
			e.SerializerId = remote.DefaultSerializerID
		}
	}
	return m
}

// The codec's encoding decodes, with gRPC's own codec, to the message it
// encoded; and it decodes gRPC's encoding to the message encoded.
func TestPeerCodecSpeaksProtobuf(t *testing.T) {
	std := encoding.GetCodecV2(grpcproto.Name)
	codec := PeerCodec()
	for name, m := range codecCases {
		t.Run(name, func(t *testing.T) {
			data, err := codec.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if want := proto.Size(m); data.Len() != want {
				t.Fatalf("encoded %d bytes, protobuf encodes %d", data.Len(), want)
			}
			got := &remote.RemoteMessage{}
			if err := std.Unmarshal(data, got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, m) {
				t.Fatalf("gRPC's codec decodes the codec's encoding to another message")
			}

			std, err := std.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			got = &remote.RemoteMessage{}
			if err := codec.Unmarshal(std, got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(defaultSerializers(got), defaultSerializers(m)) {
				t.Fatalf("the codec decodes gRPC's encoding to another message")
			}
		})
	}
}

// Marshal hands a large message_data to gRPC as it is, and Unmarshal leaves
// it in the buffer it decoded.
func TestPeerCodecDoesNotCopyLargeData(t *testing.T) {
	m := batchOf(5, 1<<20)
	large := m.GetMessageBatch().GetEnvelopes()[1].GetMessageData()
	data, err := PeerCodec().Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	shared := false
	for _, b := range data {
		if d := b.ReadOnlyData(); len(d) == len(large) && &d[0] == &large[0] {
			shared = true
		}
	}
	if !shared {
		t.Fatal("the large message_data was copied")
	}
	if got := m.GetMessageBatch().GetEnvelopes()[1].GetMessageData(); len(got) != len(large) {
		t.Fatal("Marshal did not restore the envelope")
	}

	whole := mem.BufferSlice{mem.SliceBuffer(data.Materialize())}
	got := &remote.RemoteMessage{}
	if err := unmarshalRemote(whole[0].ReadOnlyData(), got); err != nil {
		t.Fatal(err)
	}
	d := got.GetMessageBatch().GetEnvelopes()[1].GetMessageData()
	buf := whole[0].ReadOnlyData()
	if len(d) != len(large) || &d[len(d)-1] != &buf[len(buf)-1] {
		t.Fatal("the decoded message_data is not a slice of the received buffer")
	}
	if cap(d) != len(d) {
		t.Fatal("an append to the decoded message_data could overwrite the buffer")
	}
}

// Whatever bytes arrive, the codec decodes them as protobuf does, or fails
// as it does.
func FuzzPeerCodecUnmarshal(f *testing.F) {
	for _, m := range codecCases {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > 1<<16 {
			b = b[:1<<16] // truncated: must fail like protobuf
		}
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x05, 0x1a, 0x03, 0x12, 0x01, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		want := &remote.RemoteMessage{}
		wantErr := proto.Unmarshal(b, want)
		got := &remote.RemoteMessage{}
		gotErr := unmarshalRemote(append([]byte(nil), b...), got)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("protobuf: %v, codec: %v", wantErr, gotErr)
		}
		if wantErr == nil && !proto.Equal(defaultSerializers(got), defaultSerializers(want)) {
			t.Fatalf("decoded to another message")
		}
	})
}

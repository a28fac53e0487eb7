package transport

import (
	"fmt"

	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// PeerCodec returns the gRPC codec for actor remoting between members
// (grpc.ForceCodecV2 on the dialer, grpc.ForceServerCodecV2 on the server).
// Its wire format is protobuf's, byte for byte what gRPC's own codec
// decodes, so members with and without it talk to each other; only the way
// it gets there differs, for the batches remoting sends (RemoteMessage with
// a MessageBatch) that carry a large message:
//
//   - Marshal does not copy a large envelope's message_data (a RaftBatch
//     remoting has already serialized) into a new buffer: it encodes what
//     surrounds it and hands gRPC the data itself as one of the buffers of
//     the message. gRPC's codec copied every 1 MiB raft entry into a fresh
//     buffer once per follower. A spliced batch's placeholder (splice.go)
//     is replaced by the batch's encoding, whose large entries' data are
//     buffers of their own too: the entries themselves, not copies.
//   - Unmarshal copies the received frames into one buffer and decodes the
//     envelopes' message_data as slices of it, where gRPC's codec copied
//     them out again; a large RaftBatch is then decoded with its entries'
//     data as slices of it too (serializer.go).
//
// Everything else goes to gRPC's protobuf codec.
func PeerCodec() encoding.CodecV2 {
	return peerCodec{std: encoding.GetCodecV2(grpcproto.Name)}
}

// aliasBytes is the smallest message_data the codec hands on or decodes in
// place; smaller ones cost less to copy than a buffer of their own.
const aliasBytes = 32 << 10

// Field numbers of remoting's messages (protoactor-go remote/remote.proto).
const (
	remoteMessageBatch  protowire.Number = 1 // RemoteMessage.message_batch
	batchEnvelopes      protowire.Number = 3 // MessageBatch.envelopes
	envelopeMessageData protowire.Number = 2 // MessageEnvelope.message_data
)

type peerCodec struct{ std encoding.CodecV2 }

// Name is protobuf's: the content type on the wire does not change.
func (c peerCodec) Name() string { return grpcproto.Name }

func (c peerCodec) Marshal(v any) (mem.BufferSlice, error) {
	rm, ok := v.(*remote.RemoteMessage)
	if !ok || !hasLargeEnvelope(rm.GetMessageBatch()) {
		return c.std.Marshal(v)
	}
	return marshalBatch(rm.GetMessageBatch())
}

// hasLargeEnvelope reports whether an envelope of b carries large data or
// a spliced batch's placeholder (splice.go).
func hasLargeEnvelope(b *remote.MessageBatch) bool {
	for _, e := range b.GetEnvelopes() {
		if data := e.GetMessageData(); len(data) >= aliasBytes {
			return true
		} else if _, ok := placeholderToken(data); ok {
			return true
		}
	}
	return false
}

// envelopeData returns the pieces of an envelope's message_data: the data
// itself, or the encoding of the spliced batch its placeholder stands for.
func envelopeData(data []byte) ([][]byte, int, error) {
	if token, ok := placeholderToken(data); ok {
		return splicedParts(token)
	}
	return [][]byte{data}, len(data), nil
}

// marshalBatch encodes RemoteMessage{message_batch: b}: the batch's other
// fields first, then each envelope, large pieces of its message_data as
// buffers of their own. Fields may come in any order on the wire; repeated
// ones keep theirs.
func marshalBatch(b *remote.MessageBatch) (mem.BufferSlice, error) {
	envs := b.Envelopes
	b.Envelopes = nil
	rest, err := proto.Marshal(b)
	b.Envelopes = envs
	if err != nil {
		return nil, err
	}
	// Each envelope without its data (the writer that built the batch
	// hands it to gRPC and no longer touches it), and the data's pieces.
	smalls := make([][]byte, len(envs))
	datas := make([][][]byte, len(envs))
	dataLens := make([]int, len(envs))
	sizes := make([]int, len(envs))
	batchLen := len(rest)
	for i, e := range envs {
		data := e.MessageData
		pieces, n, err := envelopeData(data)
		if err != nil {
			return nil, err
		}
		datas[i], dataLens[i] = pieces, n
		e.MessageData = nil
		smalls[i], err = proto.Marshal(e)
		e.MessageData = data
		if err != nil {
			return nil, err
		}
		sizes[i] = len(smalls[i])
		if len(data) > 0 {
			sizes[i] += protowire.SizeTag(envelopeMessageData) + protowire.SizeBytes(n)
		}
		batchLen += protowire.SizeTag(batchEnvelopes) + protowire.SizeBytes(sizes[i])
	}

	var out mem.BufferSlice
	buf := protowire.AppendTag(nil, remoteMessageBatch, protowire.BytesType)
	buf = protowire.AppendVarint(buf, uint64(batchLen))
	buf = append(buf, rest...)
	for i, e := range envs {
		buf = protowire.AppendTag(buf, batchEnvelopes, protowire.BytesType)
		buf = protowire.AppendVarint(buf, uint64(sizes[i]))
		buf = append(buf, smalls[i]...)
		if len(e.MessageData) == 0 {
			continue
		}
		buf = protowire.AppendTag(buf, envelopeMessageData, protowire.BytesType)
		buf = protowire.AppendVarint(buf, uint64(dataLens[i]))
		for _, p := range datas[i] {
			if len(p) < aliasBytes {
				buf = append(buf, p...)
				continue
			}
			out = append(out, mem.SliceBuffer(buf), mem.SliceBuffer(p))
			buf = nil
		}
	}
	if len(buf) > 0 {
		out = append(out, mem.SliceBuffer(buf))
	}
	return out, nil
}

func (c peerCodec) Unmarshal(data mem.BufferSlice, v any) error {
	rm, ok := v.(*remote.RemoteMessage)
	if !ok || data.Len() < aliasBytes {
		return c.std.Unmarshal(data, v)
	}
	// A buffer of its own (gRPC frees its buffers when this returns): the
	// decoded message_data are slices of it.
	return unmarshalRemote(data.Materialize(), rm)
}

// unmarshalRemote decodes b into rm, the message_data of a batch's
// envelopes as slices of b. Anything but one MessageBatch goes to
// proto.Unmarshal.
func unmarshalRemote(b []byte, rm *remote.RemoteMessage) error {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num != remoteMessageBatch || typ != protowire.BytesType {
		return proto.Unmarshal(b, rm)
	}
	batchBytes, m := protowire.ConsumeBytes(b[n:])
	if m < 0 || n+m != len(b) {
		return proto.Unmarshal(b, rm)
	}
	var (
		envs []*remote.MessageEnvelope
		rest []byte // the batch's other fields, to proto.Unmarshal
	)
	err := eachField(batchBytes, func(num protowire.Number, typ protowire.Type, field, value []byte) error {
		if num != batchEnvelopes || typ != protowire.BytesType {
			rest = append(rest, field...)
			return nil
		}
		env, err := unmarshalEnvelope(value)
		if err != nil {
			return err
		}
		envs = append(envs, env)
		return nil
	})
	if err != nil {
		return err
	}
	batch := &remote.MessageBatch{}
	if err := proto.Unmarshal(rest, batch); err != nil {
		return err
	}
	for _, env := range envs {
		// A large RaftBatch is decoded with its entries in place
		// (serializer.go).
		if id := env.TypeId; aliasSerializerID >= 0 && env.SerializerId == remote.DefaultSerializerID &&
			len(env.MessageData) >= aliasBytes && id >= 0 && int(id) < len(batch.TypeNames) &&
			batch.TypeNames[id] == raftBatchName {
			env.SerializerId = aliasSerializerID
		}
	}
	batch.Envelopes = envs
	proto.Reset(rm)
	rm.MessageType = &remote.RemoteMessage_MessageBatch{MessageBatch: batch}
	return nil
}

// unmarshalEnvelope decodes an envelope, its message_data a slice of b.
func unmarshalEnvelope(b []byte) (*remote.MessageEnvelope, error) {
	var (
		data    []byte
		hasData bool
		rest    []byte
	)
	err := eachField(b, func(num protowire.Number, typ protowire.Type, field, value []byte) error {
		if num == envelopeMessageData && typ == protowire.BytesType {
			data, hasData = value[:len(value):len(value)], true // the last one wins, as in proto
			return nil
		}
		rest = append(rest, field...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	env := &remote.MessageEnvelope{}
	if err := proto.Unmarshal(rest, env); err != nil {
		return nil, err
	}
	if hasData && len(data) > 0 {
		env.MessageData = data
	}
	return env, nil
}

// eachField calls fn with each field of the encoded message b: its number,
// wire type, whole encoding and, for length-delimited fields, its value.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, field, value []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("transport: decode peer message: %w", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return fmt.Errorf("transport: decode peer message: %w", protowire.ParseError(m))
		}
		var value []byte
		if typ == protowire.BytesType {
			value, _ = protowire.ConsumeBytes(b[n:])
		}
		if err := fn(num, typ, b[:n+m], value); err != nil {
			return err
		}
		b = b[n+m:]
	}
	return nil
}

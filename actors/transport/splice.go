package transport

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/runtime/protoiface"

	"github.com/cairnkv/cairn/proto/alias"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

// Sending a raft entry to every follower without a copy for each.
//
// Remoting serializes each message it sends with proto.Marshal, into one
// buffer per message: a leader's 1 MiB entry was copied, into a buffer
// allocated and zeroed for it, once per follower (in the profile of 1 MiB
// puts on 3 members, a tenth of the leader's CPU). proto.Marshal must
// return one contiguous buffer, which a RaftBatch holding the entry cannot
// be without a copy; PeerCodec, which gRPC hands the batch of envelopes,
// returns a list of buffers and may point at the entry itself.
//
// So the transport sends a RaftBatch carrying large entries as a
// splicedBatch: to protobuf it is that RaftBatch (same descriptor, same
// type name on the wire), except that marshalling it yields a placeholder
// of placeholderLen bytes, and files the batch under the placeholder's
// token. PeerCodec, encoding the envelopes right after (remoting's endpoint
// writer serializes a batch of envelopes, then sends it: the same
// goroutine, the same call), finds the placeholder, takes the batch back
// and encodes it with alias.MarshalParts, its entries' data as buffers of
// their own. What goes on the wire is a RaftBatch encoding like any other:
// the receiver cannot tell.
//
// A placeholder that is never encoded (nothing but remoting's writer
// marshals a splicedBatch, so this is a safeguard) leaves its batch filed;
// at most maxSpliced are, the oldest forgotten first. A forgotten batch
// fails its send, which remoting treats as a broken stream: raft sends
// again.

// splicedBatch is a RaftBatch that PeerCodec encodes without copying its
// large entries.
type splicedBatch struct{ b *cairnpb.RaftBatch }

// spliceFrom is the smallest entry data for which a batch is spliced: as
// PeerCodec's, smaller data costs less to copy than a buffer of its own.
const spliceFrom = aliasBytes

// splice returns what to send for b: b itself, or a splicedBatch if one of
// its entries is large.
func splice(b *cairnpb.RaftBatch) proto.Message {
	for _, m := range b.GetMessages() {
		for _, e := range m.GetEntries() {
			if len(e.GetData()) >= spliceFrom {
				return &splicedBatch{b}
			}
		}
	}
	return b
}

// Unspliced returns the RaftBatch (package loopback marshals it itself).
func (s *splicedBatch) Unspliced() proto.Message { return s.b }

func (s *splicedBatch) ProtoReflect() protoreflect.Message {
	return splicedReflect{Message: s.b.ProtoReflect(), s: s}
}

// splicedReflect is the RaftBatch's reflection, but for its methods.
type splicedReflect struct {
	protoreflect.Message
	s *splicedBatch
}

func (r splicedReflect) Interface() protoreflect.ProtoMessage { return r.s }

func (r splicedReflect) ProtoMethods() *protoiface.Methods { return &splicedMethods }

var splicedMethods = protoiface.Methods{
	Flags:   protoiface.SupportMarshalDeterministic,
	Marshal: marshalPlaceholder,
	// Without it proto.Size would marshal, and file a batch nobody takes.
	Size: func(protoiface.SizeInput) protoiface.SizeOutput { return protoiface.SizeOutput{Size: placeholderLen} },
	CheckInitialized: func(protoiface.CheckInitializedInput) (protoiface.CheckInitializedOutput, error) {
		return protoiface.CheckInitializedOutput{}, nil
	},
}

func marshalPlaceholder(in protoiface.MarshalInput) (protoiface.MarshalOutput, error) {
	r, ok := in.Message.(splicedReflect)
	if !ok {
		return protoiface.MarshalOutput{}, fmt.Errorf("transport: marshal %T as a spliced batch", in.Message)
	}
	token := spliced.file(r.s.b)
	return protoiface.MarshalOutput{Buf: appendPlaceholder(in.Buf, token)}, nil
}

// A placeholder is placeholderMagic, this process's spliceNonce, and a
// token: an encoding of 24 bytes that no RaftBatch PeerCodec is handed
// begins with by chance (the nonce is random in each process).
const (
	placeholderMagic = "cairn\x00sp"
	placeholderLen   = len(placeholderMagic) + 16
)

var spliceNonce = func() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return binary.BigEndian.Uint64(b[:])
}()

func appendPlaceholder(b []byte, token uint64) []byte {
	b = append(b, placeholderMagic...)
	b = binary.BigEndian.AppendUint64(b, spliceNonce)
	return binary.BigEndian.AppendUint64(b, token)
}

// placeholderToken returns the token of data if it is a placeholder of
// this process.
func placeholderToken(data []byte) (uint64, bool) {
	if len(data) != placeholderLen || string(data[:len(placeholderMagic)]) != placeholderMagic {
		return 0, false
	}
	rest := data[len(placeholderMagic):]
	if binary.BigEndian.Uint64(rest) != spliceNonce {
		return 0, false
	}
	return binary.BigEndian.Uint64(rest[8:]), true
}

// maxSpliced bounds the batches filed and not yet taken back.
const maxSpliced = 256

var errSpliceForgotten = errors.New("transport: spliced batch forgotten before it was sent")

// splices files the batches of placeholders until PeerCodec takes them.
type splices struct {
	mu      sync.Mutex
	next    uint64
	batches map[uint64]*cairnpb.RaftBatch
	oldest  uint64 // no token below it is filed
}

var spliced = &splices{batches: map[uint64]*cairnpb.RaftBatch{}}

func (s *splices) file(b *cairnpb.RaftBatch) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.batches[s.next] = b
	for len(s.batches) > maxSpliced {
		delete(s.batches, s.oldest)
		s.oldest++
	}
	return s.next
}

func (s *splices) take(token uint64) (*cairnpb.RaftBatch, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.batches[token]
	delete(s.batches, token)
	return b, ok
}

func (s *splices) filed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}

// splicedParts returns the encoding of the batch filed under a
// placeholder's token, its large entries' data as pieces of their own.
func splicedParts(token uint64) ([][]byte, int, error) {
	b, ok := spliced.take(token)
	if !ok {
		return nil, 0, errSpliceForgotten
	}
	return alias.MarshalParts(b, spliceFrom)
}

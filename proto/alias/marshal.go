package alias

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MarshalParts encodes m as pieces whose concatenation is a protobuf
// encoding of m: every bytes field of at least minBytes, at any depth, is a
// piece of its own, m's own slice rather than a copy, and everything else is
// encoded by protobuf into pieces of the package's own, merged where they
// are adjacent. It returns the pieces and their total length.
//
// The encoding may order fields differently from proto.Marshal's (fields may
// come in any order on the wire; the elements of a repeated field keep
// theirs), so it decodes to a message equal to m but need not be byte for
// byte what proto.Marshal returns. m must not change until the pieces have
// been written.
//
// It is the mirror of Unmarshal for a sender: a leader sends each raft
// entry to every follower, and proto.Marshal copied a 1 MiB entry into a
// new buffer for each of them.
func MarshalParts(m proto.Message, minBytes int) ([][]byte, int, error) {
	var e encoder
	e.minBytes = minBytes
	if err := e.message(m.ProtoReflect()); err != nil {
		return nil, 0, err
	}
	e.flush()
	return e.parts, e.n, nil
}

// encoder collects the pieces of an encoding: small ones are appended to
// cur, a buffer of its own, until a large field's slice must follow.
type encoder struct {
	minBytes int
	parts    [][]byte
	cur      []byte
	n        int
}

func (e *encoder) small(b []byte) {
	e.cur = append(e.cur, b...)
	e.n += len(b)
}

func (e *encoder) large(b []byte) {
	e.flush()
	e.parts = append(e.parts, b)
	e.n += len(b)
}

func (e *encoder) flush() {
	if len(e.cur) > 0 {
		e.parts = append(e.parts, e.cur)
		e.cur = nil
	}
}

// message appends m's encoding: its fields without a large bytes field
// below them by protobuf, in one piece, then each of the others.
func (e *encoder) message(m protoreflect.Message) error {
	if !e.hasLarge(m) {
		b, err := proto.Marshal(m.Interface())
		if err != nil {
			return err
		}
		e.small(b)
		return nil
	}
	rest := m.New()
	type field struct {
		fd protoreflect.FieldDescriptor
		v  protoreflect.Value
	}
	var split []field
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if e.largeField(fd, v) {
			split = append(split, field{fd, v})
		} else {
			rest.Set(fd, v)
		}
		return true
	})
	rest.SetUnknown(m.GetUnknown())
	b, err := proto.Marshal(rest.Interface())
	if err != nil {
		return err
	}
	e.small(b)
	for _, f := range split {
		switch {
		case f.fd.Kind() == protoreflect.BytesKind:
			e.small(protowire.AppendTag(nil, f.fd.Number(), protowire.BytesType))
			e.small(protowire.AppendVarint(nil, uint64(len(f.v.Bytes()))))
			e.large(f.v.Bytes())
		case f.fd.IsList():
			l := f.v.List()
			for i := 0; i < l.Len(); i++ {
				if err := e.nested(f.fd.Number(), l.Get(i).Message()); err != nil {
					return err
				}
			}
		default:
			if err := e.nested(f.fd.Number(), f.v.Message()); err != nil {
				return err
			}
		}
	}
	return nil
}

// nested appends m as field num of its parent: tag, length, encoding.
func (e *encoder) nested(num protowire.Number, m protoreflect.Message) error {
	var sub encoder
	sub.minBytes = e.minBytes
	if err := sub.message(m); err != nil {
		return err
	}
	sub.flush()
	e.small(protowire.AppendTag(nil, num, protowire.BytesType))
	e.small(protowire.AppendVarint(nil, uint64(sub.n)))
	for _, p := range sub.parts {
		if len(p) >= e.minBytes {
			e.large(p)
		} else {
			e.small(p)
		}
	}
	return nil
}

// largeField reports whether field fd of value v is, or holds, a bytes field
// of at least minBytes. Maps are left to protobuf.
func (e *encoder) largeField(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
	switch {
	case fd.IsMap(), fd.Kind() == protoreflect.GroupKind:
		return false
	case fd.Kind() == protoreflect.BytesKind:
		return !fd.IsList() && len(v.Bytes()) >= e.minBytes
	case fd.Message() == nil:
		return false
	case fd.IsList():
		l := v.List()
		for i := 0; i < l.Len(); i++ {
			if e.hasLarge(l.Get(i).Message()) {
				return true
			}
		}
		return false
	default:
		return e.hasLarge(v.Message())
	}
}

func (e *encoder) hasLarge(m protoreflect.Message) bool {
	large := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		large = e.largeField(fd, v)
		return !large
	})
	return large
}

package alias

import (
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Unmarshal decodes b into m (which it resets first), as proto.Unmarshal
// does, except that each singular bytes field of at least minBytes, in m or
// in the messages it holds, is a slice of b rather than a copy: the caller
// must not change b while m is in use.
//
// Fields are aliased only where the result is certainly the same as
// proto.Unmarshal's: a bytes field that occurs once in its message, in a
// message that is not a map entry. Message fields are decoded in their
// order; a message whose oneof has more than one member on the wire
// (protobuf keeps the last) is decoded by protobuf alone.
func Unmarshal(b []byte, m proto.Message, minBytes int) error {
	return UnmarshalOnly(b, m, minBytes)
}

// UnmarshalOnly is Unmarshal aliasing only the named fields (all bytes
// fields if none is named): for a message kept long, whose other large
// fields (a key, say) must not keep all of b alive.
func UnmarshalOnly(b []byte, m proto.Message, minBytes int, fields ...protoreflect.FullName) error {
	proto.Reset(m)
	d := decoder{minBytes: minBytes, only: fields}
	return d.unmarshal(b, m.ProtoReflect())
}

type decoder struct {
	minBytes int
	only     []protoreflect.FullName
}

// aliases reports whether the bytes field fd may be aliased.
func (d decoder) aliases(fd protoreflect.FieldDescriptor) bool {
	return len(d.only) == 0 || slices.Contains(d.only, fd.FullName())
}

// unmarshal merges b into m.
func (d decoder) unmarshal(b []byte, m protoreflect.Message) error {
	minBytes := d.minBytes
	if len(b) < minBytes || !aliasable(b, m.Descriptor(), minBytes) {
		return proto.UnmarshalOptions{Merge: true}.Unmarshal(b, m.Interface())
	}
	fields := m.Descriptor().Fields()
	// rest is every field that is not aliased nor decoded on its own, in
	// its order, for protobuf; a copy, so b is not changed.
	var rest []byte
	type aliased struct {
		fd    protoreflect.FieldDescriptor
		value []byte
	}
	var values []aliased
	for i := 0; i < len(b); {
		num, typ, value, n := consumeField(b[i:])
		fd := fields.ByNumber(num)
		switch {
		case fd != nil && typ == protowire.BytesType && fd.Kind() == protoreflect.BytesKind &&
			!fd.IsList() && len(value) >= minBytes && d.aliases(fd):
			values = append(values, aliased{fd, value[:len(value):len(value)]})
		case fd != nil && typ == protowire.BytesType && fd.Message() != nil && !fd.IsMap():
			// Every occurrence, large or not, in its order: the elements
			// of a repeated field keep theirs, and the occurrences of a
			// singular message merge as protobuf merges them.
			if err := d.unmarshal(value, mutableMessage(m, fd)); err != nil {
				return err
			}
		default:
			rest = append(rest, b[i:i+n]...)
		}
		i += n
	}
	if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(rest, m.Interface()); err != nil {
		return err
	}
	for _, a := range values {
		m.Set(a.fd, protoreflect.ValueOfBytes(a.value))
	}
	return nil
}

// mutableMessage returns the message to decode one occurrence of message
// field fd into: a new element of a repeated field, or the singular field
// (set in m if it was not).
func mutableMessage(m protoreflect.Message, fd protoreflect.FieldDescriptor) protoreflect.Message {
	if fd.IsList() {
		return m.Mutable(fd).List().AppendMutable().Message()
	}
	return m.Mutable(fd).Message()
}

// aliasable reports whether b, an encoding of a message of type md, is
// well formed at its top level and may be decoded field by field:
//   - a bytes field that might be aliased (at least minBytes) occurs once;
//   - no oneof has more than one of its members, nor one member twice,
//     when one of them is aliased or decoded on its own (protobuf keeps
//     the last occurrence, which decoding field by field would not).
func aliasable(b []byte, md protoreflect.MessageDescriptor, minBytes int) bool {
	if md.IsMapEntry() {
		return false
	}
	fields := md.Fields()
	seen := map[protowire.Number]int{}
	oneofs := map[protoreflect.Name]int{}
	large := false
	for i := 0; i < len(b); {
		num, typ, value, n := consumeField(b[i:])
		if n < 0 {
			return false
		}
		seen[num]++
		if fd := fields.ByNumber(num); fd != nil {
			if oo := fd.ContainingOneof(); oo != nil && !oo.IsSynthetic() {
				oneofs[oo.Name()]++
			}
			if typ == protowire.BytesType && len(value) >= minBytes &&
				(fd.Kind() == protoreflect.BytesKind || fd.Message() != nil) {
				large = true
			}
		}
		i += n
	}
	if !large {
		return false
	}
	for num, count := range seen {
		fd := fields.ByNumber(num)
		if fd == nil || count == 1 {
			continue
		}
		if fd.Kind() == protoreflect.BytesKind && !fd.IsList() {
			return false
		}
	}
	for _, count := range oneofs {
		if count > 1 {
			return false
		}
	}
	return true
}

// consumeField parses the field at the start of b: its number, wire type,
// contents if length-delimited, and length; n < 0 if malformed.
func consumeField(b []byte) (num protowire.Number, typ protowire.Type, value []byte, n int) {
	num, typ, tagLen := protowire.ConsumeTag(b)
	if tagLen < 0 {
		return 0, 0, nil, tagLen
	}
	valLen := protowire.ConsumeFieldValue(num, typ, b[tagLen:])
	if valLen < 0 {
		return 0, 0, nil, valLen
	}
	if typ == protowire.BytesType {
		value, _ = protowire.ConsumeBytes(b[tagLen:])
	}
	return num, typ, value, tagLen + valLen
}

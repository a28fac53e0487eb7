// Package alias decodes protobuf messages whose large bytes fields alias
// the encoded input instead of being copied out of it, and encodes them
// without copying those fields.
//
// protobuf-go copies every bytes field it decodes. On the path of a 1 MiB
// value through a member, the value is decoded from a buffer that is
// already the member's own (a gRPC message materialized into a fresh
// slice, a peer's batch received by actors/transport's codec) and that
// nothing changes afterwards: the copy costs a megabyte allocated, zeroed
// and written, for nothing. Unmarshal keeps the value a slice of the input
// instead, and decodes everything else with protobuf itself, so that the
// result is what proto.Unmarshal returns (the package's tests compare the
// two on arbitrary inputs).
//
// MarshalParts is the other direction: an encoding in pieces, each large
// bytes field a piece of its own, the message's own slice, for a sender that
// writes a list of buffers (gRPC does) rather than one.
package alias

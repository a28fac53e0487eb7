package raftlog

import (
	"encoding/binary"
	"fmt"
	"github.com/cockroachdb/pebble/v2"

	"github.com/cairnkv/cairn/storage"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Key layout. Every key starts with storage.RaftLogPrefix (0x01); the second
// byte says what the key holds. No other prefix is read or written.
//
//	0x01 'e' <index: 8 bytes big-endian>  one log entry (entryValue)
//	0x01 'h'                              the hard state: a marshaled raftpb.HardState
//	0x01 's'                              the snapshot metadata (snapshotValue)
//	0x01 'p'                              a snapshot being installed: a marshaled
//	                                      raftpb.SnapshotMetadata (BeginSnapshot),
//	                                      present only until it is settled
//
// Big-endian indexes make pebble's key order the log order, so a range of
// entries is one iterator and a compaction is one DeleteRange.
//
// Values:
//
//	entryValue    = term (8 bytes BE) | cum (8 bytes BE) | marshaled raftpb.Entry
//	snapshotValue = cum (8 bytes BE) | marshaled raftpb.SnapshotMetadata
//
// cum is a running total of the encoded size (proto.Size) of the entries up
// to and including this one. It is relative to an arbitrary base that only
// changes when a snapshot is applied, so Bytes() is cum(last) - cum(snapshot)
// and needs no scan: Open reads two values, a compaction reads one. The term
// is repeated in the header so that Term reads 8 bytes instead of decoding
// the entry.
const (
	entryTag     byte = 'e'
	hardStateTag byte = 'h'
	snapshotTag  byte = 's'
	pendingTag   byte = 'p'

	entryKeyLen    = 2 + 8
	entryHeaderLen = 16
	snapHeaderLen  = 8
)

var (
	hardStateKey = []byte{storage.RaftLogPrefix, hardStateTag}
	snapshotKey  = []byte{storage.RaftLogPrefix, snapshotTag}
	pendingKey   = []byte{storage.RaftLogPrefix, pendingTag}
	// entriesStart and entriesEnd bound every entry key: [start, end).
	entriesStart = []byte{storage.RaftLogPrefix, entryTag}
	entriesEnd   = []byte{storage.RaftLogPrefix, entryTag + 1}
)

// LogSpan returns the bounds [start, end) of every key this package writes.
// It is exactly the keys starting with storage.RaftLogPrefix.
func LogSpan() (start, end []byte) {
	return []byte{storage.RaftLogPrefix}, []byte{storage.RaftLogPrefix + 1}
}

// entryKey returns the key of the entry at index i.
func entryKey(i uint64) []byte {
	k := make([]byte, entryKeyLen)
	k[0], k[1] = storage.RaftLogPrefix, entryTag
	binary.BigEndian.PutUint64(k[2:], i)
	return k
}

// parseEntryKey returns the index an entry key names.
func parseEntryKey(k []byte) (uint64, error) {
	if len(k) != entryKeyLen || k[0] != storage.RaftLogPrefix || k[1] != entryTag {
		return 0, fmt.Errorf("%w: bad entry key %x", ErrCorrupt, k)
	}
	return binary.BigEndian.Uint64(k[2:]), nil
}

// setEntry adds entry e, whose running total before it is prevCum, to b,
// marshalling it straight into the batch: through a scratch buffer, a large
// entry was copied twice, into a buffer as large (allocated anew for each
// entry over 1 MiB) and then into the batch. It returns e's encoded size.
func setEntry(b *pebble.Batch, e *raftpb.Entry, prevCum uint64) (uint64, error) {
	size := proto.Size(e)
	op := b.SetDeferred(entryKeyLen, entryHeaderLen+size)
	copy(op.Key, entryKey(e.GetIndex()))
	binary.BigEndian.PutUint64(op.Value, e.GetTerm())
	binary.BigEndian.PutUint64(op.Value[8:], prevCum+uint64(size))
	// UseCachedSize: proto.Size just computed it.
	out, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(op.Value[entryHeaderLen:entryHeaderLen], e)
	if err != nil {
		return 0, fmt.Errorf("raftlog: marshal entry %d: %w", e.GetIndex(), err)
	}
	if len(out) != size {
		return 0, fmt.Errorf("raftlog: entry %d marshalled to %d bytes, sized %d", e.GetIndex(), len(out), size)
	}
	if err := op.Finish(); err != nil {
		return 0, fmt.Errorf("raftlog: append: %w", err)
	}
	return uint64(size), nil
}

// entryHeader decodes the term and running total stored before an entry.
func entryHeader(v []byte) (term, cum uint64, err error) {
	if len(v) < entryHeaderLen {
		return 0, 0, fmt.Errorf("%w: entry value of %d bytes", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), nil
}

// decodeEntry unmarshals an entry value into a new entry. The entry does not
// alias v (protobuf copies bytes fields), so v may be reused afterwards.
func decodeEntry(v []byte) (*raftpb.Entry, error) {
	if len(v) < entryHeaderLen {
		return nil, fmt.Errorf("%w: entry value of %d bytes", ErrCorrupt, len(v))
	}
	e := &raftpb.Entry{}
	if err := proto.Unmarshal(v[entryHeaderLen:], e); err != nil {
		return nil, fmt.Errorf("%w: unmarshal entry: %v", ErrCorrupt, err)
	}
	return e, nil
}

// snapshotValue encodes the snapshot metadata with the running total of the
// entries it covers.
func snapshotValue(md *raftpb.SnapshotMetadata, cum uint64) ([]byte, error) {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 64), cum)
	v, err := proto.MarshalOptions{}.MarshalAppend(v, md)
	if err != nil {
		return nil, fmt.Errorf("raftlog: marshal snapshot metadata: %w", err)
	}
	return v, nil
}

// decodeSnapshotValue is the inverse of snapshotValue.
func decodeSnapshotValue(v []byte) (*raftpb.SnapshotMetadata, uint64, error) {
	if len(v) < snapHeaderLen {
		return nil, 0, fmt.Errorf("%w: snapshot value of %d bytes", ErrCorrupt, len(v))
	}
	md := &raftpb.SnapshotMetadata{}
	if err := proto.Unmarshal(v[snapHeaderLen:], md); err != nil {
		return nil, 0, fmt.Errorf("%w: unmarshal snapshot metadata: %v", ErrCorrupt, err)
	}
	return md, binary.BigEndian.Uint64(v), nil
}

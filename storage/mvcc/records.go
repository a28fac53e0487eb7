package mvcc

import (
	"encoding/binary"
	"fmt"
)

// Values of the records named in keys.go. Each is a hand-written sequence of
// varints, so that decoding allocates nothing and a stored value is copied
// once, into the response that returns it.

// meta is a key's state at one revision: its latest record, or the metadata
// of one of its versions.
type meta struct {
	create  int64 // create_revision
	mod     int64 // mod_revision (main)
	modSub  int64 // sub-revision of the change within mod
	version int64
	lease   int64
}

// latest record: uvarint create, uvarint mod, uvarint modSub, varint version,
// varint lease.
func appendLatest(dst []byte, m *meta) []byte {
	dst = binary.AppendUvarint(dst, uint64(m.create))
	dst = binary.AppendUvarint(dst, uint64(m.mod))
	dst = binary.AppendUvarint(dst, uint64(m.modSub))
	dst = binary.AppendVarint(dst, m.version)
	return binary.AppendVarint(dst, m.lease)
}

func decodeLatest(b []byte, m *meta) error {
	d := decoder{b: b}
	m.create = int64(d.uvarint())
	m.mod = int64(d.uvarint())
	m.modSub = int64(d.uvarint())
	m.version = d.varint()
	m.lease = d.varint()
	if d.bad || len(d.b) != 0 {
		return fmt.Errorf("%w: latest record %x", ErrCorrupt, b)
	}
	return nil
}

// Flags of a version record.
const flagTombstone byte = 1

// version record: flags byte; unless a tombstone, uvarint create, varint
// version, varint lease, then the value's bytes up to the end.
func appendVersion(dst []byte, m *meta, value []byte) []byte {
	return append(appendVersionHeader(dst, m), value...)
}

// appendVersionHeader appends what a version record holds before its value.
func appendVersionHeader(dst []byte, m *meta) []byte {
	dst = append(dst, 0)
	dst = binary.AppendUvarint(dst, uint64(m.create))
	dst = binary.AppendVarint(dst, m.version)
	return binary.AppendVarint(dst, m.lease)
}

var tombstoneRecord = []byte{flagTombstone}

// decodeVersion fills m's create, version and lease and returns the value,
// aliasing b. A tombstone returns tombstone true and nothing else.
func decodeVersion(b []byte, m *meta) (value []byte, tombstone bool, err error) {
	if len(b) == 0 {
		return nil, false, fmt.Errorf("%w: empty version record", ErrCorrupt)
	}
	if b[0]&flagTombstone != 0 {
		return nil, true, nil
	}
	d := decoder{b: b[1:]}
	m.create = int64(d.uvarint())
	m.version = d.varint()
	m.lease = d.varint()
	if d.bad {
		return nil, false, fmt.Errorf("%w: version record %x", ErrCorrupt, b)
	}
	return d.b, false, nil
}

// Types of a change in the revision log.
const (
	logPut    byte = 0
	logDelete byte = 1
)

// revision-log record: type byte, then the key up to the end.
func appendLogRecord(dst []byte, typ byte, key []byte) []byte {
	return append(append(dst, typ), key...)
}

func decodeLogRecord(b []byte) (typ byte, key []byte, err error) {
	if len(b) == 0 || b[0] > logDelete {
		return 0, nil, fmt.Errorf("%w: revision-log record %x", ErrCorrupt, b)
	}
	return b[0], b[1:], nil
}

// lease record: varint ttl, varint remaining.
func appendLeaseRecord(dst []byte, ttl, remaining int64) []byte {
	return binary.AppendVarint(binary.AppendVarint(dst, ttl), remaining)
}

func decodeLeaseRecord(b []byte) (ttl, remaining int64, err error) {
	d := decoder{b: b}
	ttl, remaining = d.varint(), d.varint()
	if d.bad || len(d.b) != 0 {
		return 0, 0, fmt.Errorf("%w: lease record %x", ErrCorrupt, b)
	}
	return ttl, remaining, nil
}

// state record (system meta "state"): big-endian current revision,
// compaction revision and applied index.
type stateRecord struct {
	rev        int64
	compactRev int64
	applied    uint64
}

// emptyState is the state of a store no batch was ever committed to. As in
// etcd, the revision of an empty store is 1: the first change gets 2.
var emptyState = stateRecord{rev: 1}

func (s stateRecord) append(dst []byte) []byte {
	dst = appendUint64(dst, uint64(s.rev))
	dst = appendUint64(dst, uint64(s.compactRev))
	return appendUint64(dst, s.applied)
}

func decodeState(b []byte) (stateRecord, error) {
	if len(b) != 24 {
		return stateRecord{}, fmt.Errorf("%w: state record %x", ErrCorrupt, b)
	}
	return stateRecord{
		rev:        int64(binary.BigEndian.Uint64(b)),
		compactRev: int64(binary.BigEndian.Uint64(b[8:])),
		applied:    binary.BigEndian.Uint64(b[16:]),
	}, nil
}

// compaction-progress record (system meta "compaction"): big-endian done,
// target, cursor main, cursor sub. done is the revision physical compaction
// last completed (0 if none). target is the revision of the pass in progress
// (0 if none); the pass has processed every revision-log entry below the
// cursor.
type compactionProgress struct {
	done       int64
	target     int64
	cursorMain int64
	cursorSub  int64
}

func (p compactionProgress) append(dst []byte) []byte {
	dst = appendUint64(dst, uint64(p.done))
	dst = appendUint64(dst, uint64(p.target))
	dst = appendUint64(dst, uint64(p.cursorMain))
	return appendUint64(dst, uint64(p.cursorSub))
}

func decodeCompactionProgress(b []byte) (compactionProgress, error) {
	if len(b) != 32 {
		return compactionProgress{}, fmt.Errorf("%w: compaction record %x", ErrCorrupt, b)
	}
	return compactionProgress{
		done:       int64(binary.BigEndian.Uint64(b)),
		target:     int64(binary.BigEndian.Uint64(b[8:])),
		cursorMain: int64(binary.BigEndian.Uint64(b[16:])),
		cursorSub:  int64(binary.BigEndian.Uint64(b[24:])),
	}, nil
}

// decoder reads varints from b, recording any failure in bad.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

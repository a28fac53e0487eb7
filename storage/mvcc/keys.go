package mvcc

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cairnkv/cairn/storage"
)

// Layout of the state machine's keys. Every key starts with one of the
// prefixes below, all inside storage.StateMachineSpan:
//
//	0x10 0x01 name                      system meta: the state record (current
//	                                    revision, compaction revision, applied
//	                                    index) and physical-compaction progress.
//	0x10 0x02 name                      user meta (Batch.PutMeta).
//	0x11 key                            latest: one record per live key (create,
//	                                    mod main/sub, version, lease; no value).
//	0x12 esc(key) 0x00 0x01 ^main ^sub  version: one record per change of a key
//	                                    (value or tombstone), newest first.
//	0x13 main sub                       revision log: (type, key) of each change
//	                                    in revision order.
//	0x14 id                             lease: TTL and checkpointed remaining TTL.
//	0x15 id key                         a key attached to a lease.
//	0x16 name                           auth: users, roles, the enabled flag
//	                                    and the auth revision (package auth;
//	                                    opaque here, kept by a restore).
//
// Integers in keys are big-endian uint64 so that byte order is numeric order;
// ^x is the bitwise complement (newest first); lease IDs have their sign bit
// flipped so that negative IDs sort before positive ones.
//
// esc(key) replaces every 0x00 in key by 0x00 0xFF, and 0x00 0x01 terminates
// it. The escaped form never contains 0x00 0x01, and 0x01 < 0xFF and 0x01 <
// any non-zero byte, so version keys sort by user key first (a key sorts
// before every key it is a prefix of), then by revision, newest first. The
// versions of one key are contiguous: the next key's versions start at or
// after esc(key) 0x00 0x02.
//
// Invariants (see also doc.go):
//
//  1. A key has a latest record iff its newest version is not a tombstone; the
//     latest record names that version (mod main/sub).
//  2. Between physical-compaction passes (compaction.go), with P the
//     revision of the last completed pass: every version at or above P has a
//     revision-log entry and vice versa; below P the log is empty and each
//     key keeps at most one version, its newest below P, never a tombstone.
//     A pass in progress has removed part of the log and versions between P
//     and its cursor, never a version a read at or above its target needs.
//  3. A key has a lease-attachment record iff its latest record names that
//     non-zero lease.
const (
	prefixMeta     byte = 0x10
	prefixLatest   byte = 0x11
	prefixVersion  byte = 0x12
	prefixLog      byte = 0x13
	prefixLease    byte = 0x14
	prefixLeaseKey byte = 0x15
	prefixAuth     byte = 0x16
	prefixEnd      byte = 0x17 // first byte after the last prefix in use

	metaSystem byte = 0x01
	metaUser   byte = 0x02

	// versionSuffixLen is the length of ^main ^sub at the end of a version key.
	versionSuffixLen = 16
)

// Names of system meta records.
const (
	// metaState holds the current revision, compaction revision and applied
	// index, written by every Batch.Commit.
	metaState = "state"
	// metaCompaction holds the progress of physical compaction.
	metaCompaction = "compaction"
)

func init() {
	lo, hi := storage.StateMachineSpan()
	if prefixMeta < lo[0] || prefixEnd > hi[0] {
		panic("mvcc: key prefixes outside storage.StateMachineSpan")
	}
}

func appendUint64(dst []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(dst, v) }

// appendEscaped appends esc(key) and its terminator to dst.
func appendEscaped(dst, key []byte) []byte {
	for {
		i := bytes.IndexByte(key, 0)
		if i < 0 {
			dst = append(dst, key...)
			break
		}
		dst = append(dst, key[:i+1]...)
		dst = append(dst, 0xFF)
		key = key[i+1:]
	}
	return append(dst, 0x00, 0x01)
}

// appendUnescaped appends the user key encoded in esc, which must be an
// escaped key with its terminator, to dst.
func appendUnescaped(dst, esc []byte) ([]byte, error) {
	if len(esc) < 2 || esc[len(esc)-2] != 0 || esc[len(esc)-1] != 1 {
		return dst, fmt.Errorf("%w: unterminated escaped key %q", ErrCorrupt, esc)
	}
	esc = esc[:len(esc)-2]
	for {
		i := bytes.IndexByte(esc, 0)
		if i < 0 {
			return append(dst, esc...), nil
		}
		if i+1 >= len(esc) || esc[i+1] != 0xFF {
			return dst, fmt.Errorf("%w: bad escape in key %q", ErrCorrupt, esc)
		}
		dst = append(dst, esc[:i+1]...)
		esc = esc[i+2:]
	}
}

// latestKey appends the latest-record key of key to dst.
func latestKey(dst, key []byte) []byte {
	return append(append(dst, prefixLatest), key...)
}

// versionPrefix appends the common prefix of every version key of key.
func versionPrefix(dst, key []byte) []byte {
	return appendEscaped(append(dst, prefixVersion), key)
}

// versionKey appends the key of the version (main, sub) of key.
func versionKey(dst, key []byte, main, sub int64) []byte {
	return appendVersionSuffix(versionPrefix(dst, key), main, sub)
}

// appendVersionSuffix appends ^main ^sub to a version prefix.
func appendVersionSuffix(prefix []byte, main, sub int64) []byte {
	return appendUint64(appendUint64(prefix, ^uint64(main)), ^uint64(sub))
}

// seekAtRev appends the smallest version key of prefix's key whose revision
// is at most rev: a SeekGE to it lands on the newest version at or below rev,
// if the key has one.
func seekAtRev(dst, prefix []byte, rev int64) []byte {
	return appendUint64(appendUint64(append(dst, prefix...), ^uint64(rev)), 0)
}

// nextKeyVersions appends the smallest version key that is above every
// version of prefix's key (and below the versions of any later key).
func nextKeyVersions(dst, prefix []byte) []byte {
	dst = append(dst, prefix...)
	dst[len(dst)-1] = 0x02
	return dst
}

// splitVersionKey splits a version key into its prefix (the first
// len(k)-versionSuffixLen bytes, aliasing k) and revision.
func splitVersionKey(k []byte) (prefix []byte, main, sub int64, err error) {
	n := len(k) - versionSuffixLen
	if n < 3 || k[0] != prefixVersion || k[n-2] != 0 || k[n-1] != 1 {
		return nil, 0, 0, fmt.Errorf("%w: bad version key %q", ErrCorrupt, k)
	}
	main = int64(^binary.BigEndian.Uint64(k[n:]))
	sub = int64(^binary.BigEndian.Uint64(k[n+8:]))
	return k[:n], main, sub, nil
}

// logKey appends the revision-log key of (main, sub).
func logKey(dst []byte, main, sub int64) []byte {
	return appendUint64(appendUint64(append(dst, prefixLog), uint64(main)), uint64(sub))
}

func splitLogKey(k []byte) (main, sub int64, err error) {
	if len(k) != 17 || k[0] != prefixLog {
		return 0, 0, fmt.Errorf("%w: bad revision-log key %q", ErrCorrupt, k)
	}
	return int64(binary.BigEndian.Uint64(k[1:])), int64(binary.BigEndian.Uint64(k[9:])), nil
}

func leaseIDBytes(dst []byte, id int64) []byte { return appendUint64(dst, uint64(id)^(1<<63)) }

func leaseIDFrom(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// leaseKey appends the key of lease id's record.
func leaseKey(dst []byte, id int64) []byte {
	return leaseIDBytes(append(dst, prefixLease), id)
}

// leaseKeysPrefix appends the common prefix of lease id's attachment records.
func leaseKeysPrefix(dst []byte, id int64) []byte {
	return leaseIDBytes(append(dst, prefixLeaseKey), id)
}

// leaseAttachKey appends the key recording that key is attached to lease id.
func leaseAttachKey(dst []byte, id int64, key []byte) []byte {
	return append(leaseKeysPrefix(dst, id), key...)
}

// metaKey appends the key of a meta record of the given kind.
func metaKey(dst []byte, kind byte, name string) []byte {
	return append(append(dst, prefixMeta, kind), name...)
}

// prefixUpperBound returns the smallest key above every key with the given
// prefix, or nil if there is none (prefix is all 0xFF).
func prefixUpperBound(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

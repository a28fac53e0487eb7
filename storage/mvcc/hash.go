package mvcc

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/cockroachdb/pebble/v2"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Hash returns a CRC-32C hash of the history readable between the view's
// compaction revision C and rev (0 means the view's revision), and C. For
// each key, in key order, it covers every version with C < mod_revision <=
// rev, tombstones included, then the newest version at or below C unless
// that is a tombstone: so it includes every key-value visible at any revision
// in [C, rev], with its create and mod revision, version, lease and value.
// Like etcd's HashKV it does not depend on how far physical compaction got,
// so members that applied the same entries return the same hash.
//
// ErrCompacted if rev is below C, ErrFutureRev if above the view's revision.
// It reads every version in the store: a maintenance operation.
func (v *ReadView) Hash(rev int64) (hash uint32, compactRev int64, err error) {
	if err := v.usable(); err != nil {
		return 0, 0, err
	}
	compactRev = v.st.compactRev
	switch {
	case rev == 0:
		rev = v.st.rev
	case rev < compactRev:
		return 0, 0, ErrCompacted
	case rev > v.st.rev:
		return 0, 0, ErrFutureRev
	}
	h, err := hashHistory(v.snap, compactRev, rev)
	return h, compactRev, v.valid(err)
}

func hashHistory(rd pebble.Reader, compactRev, rev int64) (uint32, error) {
	it, err := rd.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixVersion},
		UpperBound: []byte{prefixVersion + 1},
	})
	if err != nil {
		return 0, err
	}
	defer func() { _ = it.Close() }()
	var (
		crc     uint32
		buf     []byte
		seekBuf []byte
		prefix  []byte
		m       meta
	)
	ok := it.First()
	for ok {
		k := it.Key()
		p, main, sub, err := splitVersionKey(k)
		if err != nil {
			return 0, err
		}
		if main > rev {
			ok = it.Next()
			continue
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return 0, err
		}
		value, tomb, err := decodeVersion(raw, &m)
		if err != nil {
			return 0, err
		}
		last := main <= compactRev // the newest version at or below C
		if !(last && tomb) {
			buf = buf[:0]
			buf = binary.AppendUvarint(buf, uint64(len(p)))
			buf = append(buf, p...)
			buf = binary.AppendUvarint(buf, uint64(main))
			buf = binary.AppendUvarint(buf, uint64(sub))
			if tomb {
				buf = append(buf, 1)
			} else {
				buf = append(buf, 0)
				buf = binary.AppendUvarint(buf, uint64(m.create))
				buf = binary.AppendVarint(buf, m.version)
				buf = binary.AppendVarint(buf, m.lease)
				buf = binary.AppendUvarint(buf, uint64(len(value)))
			}
			crc = crc32.Update(crc, castagnoli, buf)
			crc = crc32.Update(crc, castagnoli, value)
		}
		if !last {
			ok = it.Next()
			continue
		}
		// Older versions are not readable at or above C: skip to the next
		// key.
		prefix = append(prefix[:0], p...)
		seekBuf = nextKeyVersions(seekBuf[:0], prefix)
		ok = it.SeekGE(seekBuf)
	}
	if err := it.Error(); err != nil {
		return 0, err
	}
	return crc, nil
}

// HashAll returns a CRC-32C hash of every record of the state machine the
// view sees (etcd's Maintenance.Hash, which hashes its whole backend):
// keys, versions, revision log, leases, auth and the cluster's records,
// all but the member's own bookkeeping (the system meta records: the
// revision and applied index it reached, how far physical compaction got).
// Members that applied the same entries and finished the same physical
// compactions return the same hash; unlike Hash, a compaction still
// removing history on one member changes its hash until it is done, as in
// etcd. It reads the whole store.
func (v *ReadView) HashAll() (uint32, error) {
	if err := v.usable(); err != nil {
		return 0, err
	}
	it, err := v.snap.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixMeta},
		UpperBound: []byte{prefixEnd},
	})
	if err != nil {
		return 0, err
	}
	var crc uint32
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) >= 2 && k[0] == prefixMeta && k[1] == metaSystem {
			continue
		}
		val, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return 0, err
		}
		crc = crc32.Update(crc, castagnoli, k)
		crc = crc32.Update(crc, castagnoli, val)
	}
	err = it.Error()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return crc, v.valid(err)
}

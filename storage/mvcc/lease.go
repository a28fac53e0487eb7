package mvcc

import (
	"bytes"

	"github.com/cockroachdb/pebble/v2"
)

// Leases are stored as records (TTL and checkpointed remaining TTL, both in
// seconds) plus one attachment record per key attached. Expiry is the
// lessor's business; the store records grants, checkpoints and revocations
// applied through raft, as etcd's lessor persists them.

// LeaseGrant records a lease with ttl seconds. As in etcd's lessor, ID 0
// returns ErrLeaseNotFound, a TTL above MaxLeaseTTL ErrLeaseTTLTooLarge, and
// an ID in use ErrLeaseExists. Raising a TTL below the minimum is the
// lessor's job, before proposing. A grant does not change the revision.
func (b *Batch) LeaseGrant(id, ttl int64) error {
	if err := b.usable(); err != nil {
		return err
	}
	switch {
	case id == 0:
		return ErrLeaseNotFound
	case ttl > MaxLeaseTTL:
		return ErrLeaseTTLTooLarge
	}
	if ok, err := leaseExists(b.b, id); err != nil || ok {
		if err == nil {
			err = ErrLeaseExists
		}
		return err
	}
	b.vbuf = appendLeaseRecord(b.vbuf[:0], ttl, 0)
	return b.setKey(leaseKey(b.kbuf[:0], id), b.vbuf)
}

// LeaseRevoke removes a lease and deletes every key attached to it, in key
// order, in one revision (none if no key is attached), with a DELETE event
// per key. ErrLeaseNotFound if the lease does not exist.
func (b *Batch) LeaseRevoke(id int64) error {
	if err := b.usable(); err != nil {
		return err
	}
	if ok, err := leaseExists(b.b, id); err != nil || !ok {
		if err == nil {
			err = ErrLeaseNotFound
		}
		return err
	}
	b.beginTxn()
	if err := b.revokeKeys(id); err != nil {
		return b.fail(err)
	}
	if err := b.deleteKeyRecord(leaseKey(b.kbuf[:0], id)); err != nil {
		return b.fail(err)
	}
	b.endTxn()
	return nil
}

func (b *Batch) revokeKeys(id int64) error {
	prefix := leaseKeysPrefix(nil, id)
	// The iterator sees the batch as it is now, not the deletions below.
	it, err := b.b.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixUpperBound(prefix)})
	if err != nil {
		return err
	}
	defer func() { _ = it.Close() }()
	var m meta
	for ok := it.First(); ok; ok = it.Next() {
		key := bytes.Clone(it.Key()[len(prefix):])
		found, err := getLatest(b.b, nil, key, &m)
		if err != nil {
			return err
		}
		if !found || m.lease != id {
			// Invariant 3 of keys.go is broken; the attachment is stale.
			// Drop it rather than delete a key the lease does not hold.
			if err := b.deleteKeyRecord(leaseAttachKey(b.kbuf[:0], id, key)); err != nil {
				return err
			}
			continue
		}
		if err := b.deleteKey(key, &m); err != nil {
			return err
		}
	}
	return it.Error()
}

// LeaseCheckpoint records the remaining TTL of a lease, in seconds. As in
// etcd, a checkpoint of a lease that does not exist (revoked meanwhile) is
// ignored.
func (b *Batch) LeaseCheckpoint(id, remaining int64) error {
	if err := b.usable(); err != nil {
		return err
	}
	var ttl int64
	found := false
	err := getWith(b.b, leaseKey(b.kbuf[:0], id), func(v []byte) error {
		var err error
		ttl, _, err = decodeLeaseRecord(v)
		found = true
		return err
	})
	if err != nil || !found {
		return err
	}
	b.vbuf = appendLeaseRecord(b.vbuf[:0], ttl, remaining)
	return b.setKey(leaseKey(b.kbuf[:0], id), b.vbuf)
}

// Lease returns the granted TTL and the last checkpointed remaining TTL (0 if
// never checkpointed) of a lease, in seconds, or ErrLeaseNotFound.
func (v *ReadView) Lease(id int64) (ttl, remaining int64, err error) {
	if err := v.usable(); err != nil {
		return 0, 0, err
	}
	found := false
	err = getWith(v.snap, leaseKey(nil, id), func(b []byte) error {
		found = true
		ttl, remaining, err = decodeLeaseRecord(b)
		return err
	})
	if err == nil && !found {
		err = ErrLeaseNotFound
	}
	return ttl, remaining, v.valid(err)
}

// Leases calls fn for every lease in ID order (negative IDs first). An error
// from fn stops the walk and is returned.
func (v *ReadView) Leases(fn func(id, ttl, remaining int64) error) error {
	if err := v.usable(); err != nil {
		return err
	}
	it, err := v.snap.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixLease},
		UpperBound: []byte{prefixLease + 1},
	})
	if err != nil {
		return err
	}
	defer func() { _ = it.Close() }()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 9 {
			return ErrCorrupt
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		ttl, remaining, err := decodeLeaseRecord(raw)
		if err != nil {
			return err
		}
		if err := fn(leaseIDFrom(k[1:]), ttl, remaining); err != nil {
			return err
		}
	}
	return v.valid(it.Error())
}

// LeaseKeys calls fn for every key attached to a lease, in key order. The
// slice is valid only during the call. A lease that does not exist has no
// keys.
func (v *ReadView) LeaseKeys(id int64, fn func(key []byte) error) error {
	if err := v.usable(); err != nil {
		return err
	}
	return v.valid(leaseKeys(v.snap, id, fn))
}

// LeaseKeys is ReadView.LeaseKeys through the batch: it sees the batch's
// own writes (the apply actor checks a user's permission on them).
func (b *Batch) LeaseKeys(id int64, fn func(key []byte) error) error {
	if err := b.usable(); err != nil {
		return err
	}
	return leaseKeys(b.b, id, fn)
}

func leaseKeys(rd pebble.Reader, id int64, fn func(key []byte) error) error {
	prefix := leaseKeysPrefix(nil, id)
	it, err := rd.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixUpperBound(prefix)})
	if err != nil {
		return err
	}
	defer func() { _ = it.Close() }()
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Key()[len(prefix):]); err != nil {
			return err
		}
	}
	return it.Error()
}

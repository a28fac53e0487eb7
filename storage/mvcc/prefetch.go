package mvcc

import (
	"bytes"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Prefetching the latest records of a batch's keys.
//
// Every put reads its key's latest record first: a new key must learn that it
// has none, an existing one its create revision, version and lease. etcd
// answers from its in-memory index of every key; this package has none, and
// a pebble Get per put costs an iterator built over every level (memtables,
// L0 files, each level's file, their bloom filters) for one key. Prefetch
// does the lookups of a whole batch in one pass instead: keys sorted, one
// iterator, SeekPrefixGE (which consults the bloom filters and, keys being
// ascending, moves forward from where the previous seek left each level).
// With 1,000 puts of new keys per batch on a store of 200,000 keys (the
// load of cmd/bench's restart-1m), a put costs about 4.7 µs of CPU instead
// of 6.3, flushes and compactions included (BenchmarkPutNewKeysOnDisk).
//
// Keys whose latest record a recent batch committed come from the store's
// cache instead (latestcache.go).
//
// Invariants:
//
//  1. b.pre is sorted by key, without duplicates; its keys alias the
//     caller's slices (a Batch's events alias them already).
//  2. For each entry of b.pre, (found, m) is the key's latest record as the
//     batch sees it now: Prefetch reads through the batch, and every write
//     of a latest record made through the batch afterwards (put, deleteKey)
//     updates the entry. A key not in b.pre is read from the batch.
//
// Memory: one entry (a slice header, a bool and five integers, about 72
// bytes) per distinct key prefetched, for the life of the batch; the caller
// passes the keys of the entries it applies in one batch, which raft bounds
// (MaxCommittedSizePerReady).

// prefetched is the latest record of one prefetched key.
type prefetched struct {
	key   []byte
	found bool
	m     meta
	// admit: the record came from the store's cache or pebble found one,
	// so the key goes to the cache if the batch writes it; written: the
	// batch wrote it (latestcache.go).
	admit, written bool
}

// Prefetch looks up the latest records of keys, so that puts of these keys
// made through the batch afterwards need no lookup of their own. It may be
// called at any time and more than once; a later call replaces what an
// earlier one fetched. keys may contain duplicates and may be in any order.
// Prefetch sorts and dedups the slice in place: the caller must not use it
// afterwards. The batch keeps the keys' bytes, not copies: the caller must
// not modify them while the batch is open. An error leaves the batch
// usable, without prefetched keys.
func (b *Batch) Prefetch(keys [][]byte) error {
	if err := b.usable(); err != nil {
		return err
	}
	// Keys the batch already wrote through its prefetched entries are
	// dropped from the store's cache at commit, like any key written
	// without one (latestcache.go). The cache is consulted only while the
	// batch has written no key (the apply actor prefetches every put's
	// key before applying any): the seek, through the batch, sees its own
	// writes, newer than the cache.
	for _, p := range b.pre {
		if p.written {
			b.dirty = append(b.dirty, p.key)
		}
	}
	useCache := len(b.dirty) == 0
	b.pre = b.pre[:0]
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, bytes.Compare)
	keys = slices.CompactFunc(keys, bytes.Equal)
	if cap(b.pre) < len(keys) {
		b.pre = make([]prefetched, 0, len(keys))
	}
	for _, k := range keys {
		b.pre = append(b.pre, prefetched{key: k})
	}
	var (
		it  *pebble.Iterator
		buf []byte
		err error
	)
	for i := range b.pre {
		p := &b.pre[i]
		// What the batch committed last (the store's cache), else a seek
		// through the batch and pebble.
		if useCache {
			if r, ok := b.s.latest.get(p.key); ok {
				p.found, p.m, p.admit = r.found, r.m, true
				continue
			}
		}
		if it == nil {
			if it, err = b.b.NewIter(&pebble.IterOptions{
				LowerBound: []byte{prefixLatest},
				UpperBound: []byte{prefixLatest + 1},
			}); err != nil {
				b.pre = b.pre[:0]
				return err
			}
		}
		buf = latestKey(buf[:0], p.key)
		if it.SeekPrefixGE(buf) && bytes.Equal(it.Key(), buf) {
			v, verr := it.ValueAndErr()
			if verr == nil {
				verr = decodeLatest(v, &p.m)
			}
			if verr != nil {
				err = verr
				break
			}
			p.found, p.admit = true, true
		}
	}
	if it != nil {
		if cerr := it.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		b.pre = b.pre[:0]
	}
	return err
}

// prefetchedAt returns the entry of key in b.pre, or nil.
func (b *Batch) prefetchedAt(key []byte) *prefetched {
	i, ok := slices.BinarySearchFunc(b.pre, key, func(p prefetched, k []byte) int { return bytes.Compare(p.key, k) })
	if !ok {
		return nil
	}
	return &b.pre[i]
}

// latest reads key's latest record as the batch sees it into m: from p, the
// key's prefetched entry (prefetchedAt), if it has one.
func (b *Batch) latest(key []byte, p *prefetched, m *meta) (bool, error) {
	if p != nil {
		*m = p.m
		return p.found, nil
	}
	return getLatest(b.b, b.kbuf[:0], key, m)
}

// wroteLatest records that the batch set key's latest record to m, or
// deleted it if m is nil: in p, its prefetched entry, if it has one
// (invariant 2), else among the batch's dirty keys (latestcache.go).
func (b *Batch) wroteLatest(p *prefetched, key []byte, m *meta) {
	if p == nil {
		b.dirty = append(b.dirty, key)
		return
	}
	if b.undo.on {
		b.undo.entries = append(b.undo.entries, prefetchedUndo{p: p, was: *p})
	}
	p.written = true
	p.found = m != nil
	p.m = meta{}
	if m != nil {
		p.m = *m
	}
}

// TxnPutKeys appends to dst the keys of every put in either branch of r,
// nested txns included: what to Prefetch before applying r. The keys alias
// r.
func TxnPutKeys(dst [][]byte, r *pb.TxnRequest) [][]byte {
	for _, ops := range [2][]*pb.RequestOp{r.GetSuccess(), r.GetFailure()} {
		for _, op := range ops {
			switch {
			case op.GetRequestPut() != nil:
				dst = append(dst, op.GetRequestPut().GetKey())
			case op.GetRequestTxn() != nil:
				dst = TxnPutKeys(dst, op.GetRequestTxn())
			}
		}
	}
	return dst
}

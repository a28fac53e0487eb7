package mvcc

import (
	"bytes"

	"github.com/cockroachdb/pebble/v2"
)

// Meta entries hold other state-machine state (members, raft conf state)
// that the apply actor keeps with the data, so that it commits atomically
// with the entries that changed it and travels in the same snapshot. Names
// are opaque strings; values are opaque bytes.

// PutMeta stores value under name, atomically with the batch. pebble copies
// both. It panics if the batch is closed (a bug of the caller); on a failed
// batch it does nothing, as Commit will fail.
func (b *Batch) PutMeta(name string, value []byte) {
	if b.closed {
		panic(errBatchClosed)
	}
	if b.err != nil {
		return
	}
	if err := b.setKey(metaKey(b.kbuf[:0], metaUser, name), value); err != nil {
		b.err = err
	}
}

// DeleteMeta removes a meta entry. It panics if the batch is closed.
func (b *Batch) DeleteMeta(name string) {
	if b.closed {
		panic(errBatchClosed)
	}
	if b.err != nil {
		return
	}
	if err := b.deleteKeyRecord(metaKey(b.kbuf[:0], metaUser, name)); err != nil {
		b.err = err
	}
}

// Meta reads a meta entry through the batch: a copy of its value, or nil if
// there is none.
func (b *Batch) Meta(name string) ([]byte, error) {
	if err := b.usable(); err != nil {
		return nil, err
	}
	return getMeta(b.b, name)
}

// Meta returns a copy of the value stored under name by Batch.PutMeta, or nil
// if there is none.
func (v *ReadView) Meta(name string) ([]byte, error) {
	if err := v.usable(); err != nil {
		return nil, err
	}
	m, err := getMeta(v.snap, name)
	if err = v.valid(err); err != nil {
		return nil, err
	}
	return m, nil
}

func getMeta(rd pebble.Reader, name string) ([]byte, error) {
	var out []byte
	err := getWith(rd, metaKey(nil, metaUser, name), func(v []byte) error {
		out = append([]byte{}, v...)
		return nil
	})
	return out, err
}

// MetaPrefix calls fn for every meta entry whose name starts with prefix, in
// name order. The slices are valid only during the call. An error from fn
// stops the walk and is returned.
func (v *ReadView) MetaPrefix(prefix string, fn func(name string, value []byte) error) error {
	if err := v.usable(); err != nil {
		return err
	}
	return v.valid(metaPrefix(v.snap, prefix, fn))
}

// MetaPrefix is ReadView.MetaPrefix through the batch: it sees the batch's
// own writes.
func (b *Batch) MetaPrefix(prefix string, fn func(name string, value []byte) error) error {
	if err := b.usable(); err != nil {
		return err
	}
	return metaPrefix(b.b, prefix, fn)
}

func metaPrefix(rd pebble.Reader, prefix string, fn func(name string, value []byte) error) error {
	return namedPrefix(rd, metaKey(nil, metaUser, ""), prefix, fn)
}

// namedPrefix calls fn for every record whose key is base followed by a
// name starting with prefix, in name order, with the name and the value
// (valid only during the call): the walk of meta entries and of auth
// records.
func namedPrefix(rd pebble.Reader, base []byte, prefix string, fn func(name string, value []byte) error) error {
	lower := append(base[:len(base):len(base)], prefix...)
	it, err := rd.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixUpperBound(lower)})
	if err != nil {
		return err
	}
	defer func() { _ = it.Close() }()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if !bytes.HasPrefix(k, lower) {
			break
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := fn(string(k[len(base):]), raw); err != nil {
			return err
		}
	}
	return it.Error()
}

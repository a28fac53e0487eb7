package mvcc

import (
	"bytes"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// History for watchers. The revision log (keys.go, prefix 0x13) lists every
// change in revision order with its type and key; the version record of the
// change (prefix 0x12) holds its value. Events walks the log between two
// revisions and reads the value of each change it reports, so a watcher that
// starts in the past, or fell behind, replays history from pebble with memory
// bounded by what its caller keeps of each event.

// EventOptions select the changes Events reports and what it attaches.
type EventOptions struct {
	// Key and RangeEnd select keys with etcd's conventions: an empty
	// RangeEnd selects Key alone, "\x00" every key at or above Key, anything
	// else [Key, RangeEnd). RangeEnd at or below Key selects nothing.
	Key, RangeEnd []byte
	// Match, if not nil, is asked about each change of a selected key (the
	// key is valid only during the call) before its value is read: false
	// skips the change. It lets a caller serving several ranges, each from
	// its own revision, walk the log once.
	Match func(key []byte, rev int64) bool
	// PrevKV attaches to each event the key-value its key had before the
	// event's revision, as etcd's watch prev_kv does: read at revision-1, not
	// attached when the key did not exist then, when the event creates the
	// key (a PUT whose create and mod revisions are equal: etcd does not look
	// it up) or when revision-1 is below the view's compaction revision.
	PrevKV bool
}

// Events calls fn with every change of a selected key whose revision is in
// [from, to], in revision and sub-revision order. Events are shaped as
// Batch.Events shapes them: a PUT carries the whole key-value, a DELETE the
// key and, as ModRevision, the revision of the deletion. fn owns each event
// and its slices.
//
// from must be at or above the view's compaction revision (ErrCompacted) and
// to at most the view's revision (ErrFutureRev); from below 1 means 1, and
// from above to reports nothing. A non-nil error from fn stops the walk and is
// returned as it is.
func (v *ReadView) Events(from, to int64, opts EventOptions, fn func(*mvccpb.Event) error) error {
	if err := v.usable(); err != nil {
		return err
	}
	switch {
	case from < v.st.compactRev:
		return ErrCompacted
	case to > v.st.rev:
		return ErrFutureRev
	}
	from = max(from, 1)
	sp, ok := requestSpan(opts.Key, opts.RangeEnd)
	if !ok || from > to {
		return nil
	}
	it, err := v.snap.NewIter(&pebble.IterOptions{
		LowerBound: logKey(nil, from, 0),
		UpperBound: logKey(nil, to+1, 0),
	})
	if err != nil {
		return err
	}
	vals := &valueReader{r: v.snap}
	err = v.walkLog(it, sp, opts, vals, fn)
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if cerr := vals.close(); err == nil {
		err = cerr
	}
	return v.valid(err)
}

func (v *ReadView) walkLog(it *pebble.Iterator, sp span, opts EventOptions, vals *valueReader,
	fn func(*mvccpb.Event) error) error {
	for ok := it.First(); ok; ok = it.Next() {
		main, sub, err := splitLogKey(it.Key())
		if err != nil {
			return err
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		typ, key, err := decodeLogRecord(raw)
		if err != nil {
			return err
		}
		if !sp.contains(key) || (opts.Match != nil && !opts.Match(key, main)) {
			continue
		}
		key = bytes.Clone(key)
		ev := &mvccpb.Event{}
		if typ == logDelete {
			ev.Type = mvccpb.Event_DELETE
			ev.Kv = &mvccpb.KeyValue{Key: key, ModRevision: main}
		} else {
			val, err := vals.get(key, main, sub)
			if err != nil {
				return err
			}
			ev.Kv = &mvccpb.KeyValue{
				Key:            key,
				Value:          bytes.Clone(val),
				CreateRevision: vals.m.create,
				ModRevision:    main,
				Version:        vals.m.version,
				Lease:          vals.m.lease,
			}
		}
		if opts.PrevKV && !isCreate(ev) && main-1 >= v.st.compactRev {
			if ev.PrevKv, err = vals.kvAt(key, main-1); err != nil {
				return err
			}
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return it.Error()
}

// PrevKV returns key's key-value as of revision rev-1, etcd's prev_kv of a
// change of key at rev, or nil if the key did not exist then. ErrCompacted if
// rev-1 is below the view's compaction revision, ErrFutureRev if it is above
// the view's revision. The key-value is the caller's.
func (v *ReadView) PrevKV(key []byte, rev int64) (*mvccpb.KeyValue, error) {
	if err := v.usable(); err != nil {
		return nil, err
	}
	switch {
	case rev-1 < v.st.compactRev || rev-1 < 1:
		return nil, ErrCompacted
	case rev-1 > v.st.rev:
		return nil, ErrFutureRev
	}
	vals := &valueReader{r: v.snap}
	kv, err := vals.kvAt(key, rev-1)
	if cerr := vals.close(); err == nil {
		err = cerr
	}
	if err = v.valid(err); err != nil {
		return nil, err
	}
	return kv, nil
}

// isCreate reports whether ev creates its key (etcd's IsCreateEvent).
func isCreate(ev *mvccpb.Event) bool {
	return ev.Type == mvccpb.Event_PUT && ev.Kv.CreateRevision == ev.Kv.ModRevision
}

// kvAt returns a copy of key's key-value at revision rev (its newest version
// at or below rev), or nil if it has none or that version is a tombstone.
func (v *valueReader) kvAt(key []byte, rev int64) (*mvccpb.KeyValue, error) {
	if err := v.open(); err != nil {
		return nil, err
	}
	v.buf = versionPrefix(v.buf[:0], key)
	n := len(v.buf)
	v.buf = appendUint64(appendUint64(v.buf, ^uint64(rev)), 0)
	if !v.it.SeekGE(v.buf) {
		return nil, v.it.Error()
	}
	k := v.it.Key()
	if len(k) != n+versionSuffixLen || !bytes.HasPrefix(k, v.buf[:n]) {
		return nil, nil // the key's versions end before rev
	}
	_, main, _, err := splitVersionKey(k)
	if err != nil {
		return nil, err
	}
	raw, err := v.it.ValueAndErr()
	if err != nil {
		return nil, err
	}
	val, tomb, err := decodeVersion(raw, &v.m)
	if err != nil || tomb {
		return nil, err
	}
	return &mvccpb.KeyValue{
		Key:            bytes.Clone(key),
		Value:          bytes.Clone(val),
		CreateRevision: v.m.create,
		ModRevision:    main,
		Version:        v.m.version,
		Lease:          v.m.lease,
	}, nil
}

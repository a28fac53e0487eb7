package mvcc

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// errViewClosed is returned by a ReadView used after Close.
var errViewClosed = errors.New("mvcc: read view is closed")

// ReadView is a consistent, read-only view of one committed state: a pebble
// snapshot, whose state record gives the view's revision and compaction
// revision. A view pins the versions it can see: pebble keeps them on disk
// until the view is closed, so views should be short-lived.
//
// Its reads (Range, Txn and the accessors) may run on several goroutines at
// once; Close must not run concurrently with any of them.
type ReadView struct {
	snap     *pebble.Snapshot
	borrowed bool // snap belongs to the caller of ViewOf
	st       stateRecord
	err      error // failure to read the state record; returned by every call
	closed   bool

	s   *Store
	gen uint64 // s.replacements when the view was opened
}

// Read opens a view of the last committed state. The caller must Close it.
func (s *Store) Read() *ReadView {
	v := &ReadView{s: s, gen: s.replacements.Load()}
	v.snap = s.db.NewSnapshot()
	v.st, v.err = readState(v.snap)
	if v.err != nil {
		v.err = fmt.Errorf("mvcc: read view: %w", v.err)
	}
	v.err = v.valid(v.err)
	return v
}

// ViewOf returns a view of the state machine as snap sees it (a pebble
// snapshot of the store's database, such as the one a snapshot sender reads
// from). Closing the view leaves snap open: it belongs to the caller.
func (s *Store) ViewOf(snap *pebble.Snapshot) *ReadView {
	st, err := readState(snap)
	if err != nil {
		err = fmt.Errorf("mvcc: read view: %w", err)
	}
	// The caller opened snap before this call: a replacement since then
	// is not seen here (the snapshot sender runs on leaders, which do not
	// install snapshots).
	return &ReadView{snap: snap, borrowed: true, st: st, err: err, s: s, gen: s.replacements.Load()}
}

func (v *ReadView) usable() error {
	if v.closed {
		return errViewClosed
	}
	return v.err
}

// valid returns err, or ErrViewReplaced if a replacement of the state
// machine began since the view was opened (or was under way then): what the
// view read may then be a mix of the old state and nothing. Every read
// checks it after reading; a read that fails this way has delivered nothing
// the caller may use (a walk's callbacks may have been called: the caller
// discards what they collected).
func (v *ReadView) valid(err error) error {
	if v.s == nil {
		return err
	}
	if v.gen%2 == 1 || v.s.replacements.Load() != v.gen {
		return ErrViewReplaced
	}
	return err
}

// Replaced reports whether a replacement of the state machine began since
// the view was opened (or was under way then): every read of such a view
// fails with ErrViewReplaced.
func (v *ReadView) Replaced() bool { return v.valid(nil) != nil }

// Rev returns the view's current revision.
func (v *ReadView) Rev() int64 { return v.st.rev }

// CompactRev returns the view's compaction revision (0 if none).
func (v *ReadView) CompactRev() int64 { return v.st.compactRev }

// AppliedIndex returns the raft index of the last entry the view's state
// includes.
func (v *ReadView) AppliedIndex() uint64 { return v.st.applied }

// Range serves r with etcd's semantics. The response header carries only the
// view's revision. The response owns its keys and values.
func (v *ReadView) Range(r *pb.RangeRequest) (*pb.RangeResponse, error) {
	return v.RangeWithin(r, 0)
}

// RangeWithin is Range with the response's key-values bounded to maxBytes
// (each costs its key, its value and a few dozen bytes; maxBytes <= 0: no
// bound). A range that would exceed it fails with ErrResponseTooLarge as
// soon as it knows, having held at most about maxBytes.
func (v *ReadView) RangeWithin(r *pb.RangeRequest, maxBytes int64) (*pb.RangeResponse, error) {
	if err := v.usable(); err != nil {
		return nil, err
	}
	resp, err := rangeKVs(v.snap, r, v.st.rev, v.st.compactRev, newResponseBudget(maxBytes))
	if err = v.valid(err); err != nil {
		return nil, err
	}
	return resp, nil
}

// Txn serves a read-only txn (see IsReadOnlyTxn; ErrNotReadOnly otherwise).
// The response header carries the view's revision.
func (v *ReadView) Txn(r *pb.TxnRequest) (*pb.TxnResponse, error) {
	return v.TxnWithin(r, 0)
}

// TxnWithin is Txn with the key-values of all its ranges together bounded
// to maxBytes, as RangeWithin bounds one range.
func (v *ReadView) TxnWithin(r *pb.TxnRequest, maxBytes int64) (*pb.TxnResponse, error) {
	if err := v.usable(); err != nil {
		return nil, err
	}
	if !IsReadOnlyTxn(r) {
		return nil, ErrNotReadOnly
	}
	t := &txnRunner{rd: v.snap, begin: v.st.rev, compactRev: v.st.compactRev, budget: newResponseBudget(maxBytes)}
	resp, _, err := t.run(r)
	if err = v.valid(err); err != nil {
		return nil, err
	}
	return resp, nil
}

// Close releases the view. Safe more than once.
func (v *ReadView) Close() {
	if v.closed {
		return
	}
	v.closed = true
	if !v.borrowed {
		_ = v.snap.Close()
	}
}

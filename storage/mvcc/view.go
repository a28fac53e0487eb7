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
// A ReadView may be used by one goroutine at a time.
type ReadView struct {
	snap     *pebble.Snapshot
	borrowed bool // snap belongs to the caller of ViewOf
	st       stateRecord
	err      error // failure to read the state record; returned by every call
	closed   bool
}

// Read opens a view of the last committed state. The caller must Close it.
func (s *Store) Read() *ReadView {
	snap := s.db.NewSnapshot()
	st, err := readState(snap)
	if err != nil {
		err = fmt.Errorf("mvcc: read view: %w", err)
	}
	return &ReadView{snap: snap, st: st, err: err}
}

// ViewOf returns a view of the state machine as snap sees it (a pebble
// snapshot of the store's database, such as the one a snapshot sender reads
// from). Closing the view leaves snap open: it belongs to the caller.
func (s *Store) ViewOf(snap *pebble.Snapshot) *ReadView {
	st, err := readState(snap)
	if err != nil {
		err = fmt.Errorf("mvcc: read view: %w", err)
	}
	return &ReadView{snap: snap, borrowed: true, st: st, err: err}
}

func (v *ReadView) usable() error {
	if v.closed {
		return errViewClosed
	}
	return v.err
}

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
	if err := v.usable(); err != nil {
		return nil, err
	}
	return rangeKVs(v.snap, r, v.st.rev, v.st.compactRev)
}

// Txn serves a read-only txn (see IsReadOnlyTxn; ErrNotReadOnly otherwise).
// The response header carries the view's revision.
func (v *ReadView) Txn(r *pb.TxnRequest) (*pb.TxnResponse, error) {
	if err := v.usable(); err != nil {
		return nil, err
	}
	if !IsReadOnlyTxn(r) {
		return nil, ErrNotReadOnly
	}
	t := &txnRunner{rd: v.snap, begin: v.st.rev, compactRev: v.st.compactRev}
	resp, _, err := t.run(r)
	return resp, err
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

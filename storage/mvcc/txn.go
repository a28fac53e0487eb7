package mvcc

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// txnRunner runs one txn request as etcd's txn.Txn does:
//
//  1. Evaluate the compares of the txn and of every nested txn on the chosen
//     path, all against the state before the txn (etcd's compareToPath).
//  2. Check the chosen path's operations before writing anything: ranges
//     against the revision and compaction revision, puts against their lease
//     and, for ignore_value/ignore_lease, the key's existence.
//  3. Execute the chosen path in order. Reads see the txn's earlier writes;
//     all writes share one revision, sub-revisions counting up. The ranges'
//     key-values together are bounded by budget: beyond it execution stops
//     with ErrResponseTooLarge (Batch.TxnWith then undoes the txn).
type txnRunner struct {
	rd         pebble.Reader // the batch, or a view's snapshot
	w          *Batch        // nil for a read-only txn
	begin      int64         // revision before the txn
	compactRev int64
	budget     *responseBudget // of its ranges' key-values; nil: no bound
	// measureOnly: the ranges' key-values are not built, only taken from
	// budget (measure.go); their responses carry a header alone. For a
	// member that answers nobody (TxnOptions.Answer).
	measureOnly bool
}

// readRev is the revision reads inside the txn report: begin, or begin+1 once
// the txn has changed something (etcd's storeTxnWrite.Range).
func (t *txnRunner) readRev() int64 {
	if t.w != nil && t.w.txChanges > 0 {
		return t.begin + 1
	}
	return t.begin
}

// run evaluates and checks r, then executes it. An error from steps 1 and 2
// is returned with nothing written; an error in step 3 is ErrResponseTooLarge
// (possibly after writes) or comes from storage, and the caller must then
// undo the txn or treat the batch as failed.
func (t *txnRunner) run(r *pb.TxnRequest) (resp *pb.TxnResponse, executed bool, err error) {
	path, err := t.compareToPath(r, nil)
	if err != nil {
		return nil, false, err
	}
	// Only puts with ignore_value or ignore_lease ask whether their key
	// exists; without them nothing needs to be tracked.
	var sim *existSim
	if hasIgnorePut(r) {
		sim = &existSim{rd: t.rd}
	}
	pos := 0
	if err := t.check(r, path, &pos, sim); err != nil {
		return nil, false, err
	}
	resp = &pb.TxnResponse{}
	pos = 0
	if err := t.execute(r, path, &pos, resp); err != nil {
		return nil, true, err
	}
	resp.Header.Revision = t.readRev()
	return resp, true, nil
}

// hasIgnorePut reports whether a put in either branch of r, nested txns
// included, has ignore_value or ignore_lease.
func hasIgnorePut(r *pb.TxnRequest) bool {
	for _, ops := range [2][]*pb.RequestOp{r.GetSuccess(), r.GetFailure()} {
		for _, op := range ops {
			if p := op.GetRequestPut(); p != nil && (p.IgnoreValue || p.IgnoreLease) {
				return true
			}
			if nt := op.GetRequestTxn(); nt != nil && hasIgnorePut(nt) {
				return true
			}
		}
	}
	return false
}

func branch(r *pb.TxnRequest, succeeded bool) []*pb.RequestOp {
	if succeeded {
		return r.GetSuccess()
	}
	return r.GetFailure()
}

// compareToPath appends to path, in pre-order, the outcome of r's compares
// and of those of every nested txn in the branch each outcome chooses.
func (t *txnRunner) compareToPath(r *pb.TxnRequest, path []bool) ([]bool, error) {
	ok, err := applyCompares(t.rd, r.GetCompare())
	if err != nil {
		return nil, err
	}
	path = append(path, ok)
	for _, op := range branch(r, ok) {
		if nt := op.GetRequestTxn(); nt != nil {
			if path, err = t.compareToPath(nt, path); err != nil {
				return nil, err
			}
		}
	}
	return path, nil
}

// check validates the chosen path of r (etcd's checkTxn). As in etcd, a put
// with ignore_value/ignore_lease needs its key to exist before the txn; it
// must also still exist when the put runs, which check simulates in sim (a
// delete earlier in the path may remove it, past ValidateTxn only through
// its "\x00" quirk; etcd would crash applying such a txn). sim may be nil
// if r has no such put.
func (t *txnRunner) check(r *pb.TxnRequest, path []bool, pos *int, sim *existSim) error {
	ok := path[*pos]
	*pos++
	for _, op := range branch(r, ok) {
		switch {
		case op.GetRequestRange() != nil:
			rev := op.GetRequestRange().Revision
			switch {
			case rev == 0:
			case rev > t.begin:
				return ErrFutureRev
			case rev < t.compactRev:
				return ErrCompacted
			}
		case op.GetRequestPut() != nil:
			p := op.GetRequestPut()
			if err := checkLease(t.rd, p.Lease); err != nil {
				return err
			}
			if p.IgnoreValue || p.IgnoreLease {
				exists, err := sim.exists(p.Key)
				if err != nil {
					return err
				}
				if !exists {
					return ErrKeyNotFound
				}
			}
			if sim != nil {
				sim.put(p.Key)
			}
		case op.GetRequestDeleteRange() != nil:
			d := op.GetRequestDeleteRange()
			if sp, ok := requestSpan(d.Key, d.RangeEnd); ok && sim != nil {
				sim.del(sp)
			}
		case op.GetRequestTxn() != nil:
			if err := t.check(op.GetRequestTxn(), path, pos, sim); err != nil {
				return err
			}
		}
	}
	return nil
}

// execute runs the chosen path of r into resp (etcd's newTxnResp and
// executeTxn). Nested txn responses carry an empty header, as in etcd; an
// empty request op gets an empty response op.
func (t *txnRunner) execute(r *pb.TxnRequest, path []bool, pos *int, resp *pb.TxnResponse) error {
	ok := path[*pos]
	*pos++
	ops := branch(r, ok)
	resp.Succeeded = ok
	resp.Header = &pb.ResponseHeader{}
	resp.Responses = make([]*pb.ResponseOp, len(ops))
	for i, op := range ops {
		ro := &pb.ResponseOp{}
		resp.Responses[i] = ro
		switch {
		case op.GetRequestRange() != nil:
			rr, err := t.rangeOp(op.GetRequestRange())
			if errors.Is(err, ErrResponseTooLarge) {
				// The same error as a plain range's, for the client.
				return err
			}
			if err != nil {
				return fmt.Errorf("mvcc: txn range: %w", err)
			}
			ro.Response = &pb.ResponseOp_ResponseRange{ResponseRange: rr}
		case op.GetRequestPut() != nil:
			if t.w == nil {
				return ErrNotReadOnly
			}
			p := op.GetRequestPut()
			prev, err := t.w.prevKV(p)
			if err != nil {
				return fmt.Errorf("mvcc: txn put: %w", err)
			}
			pr, err := t.w.applyPut(p, prev)
			if err != nil {
				return fmt.Errorf("mvcc: txn put: %w", err)
			}
			ro.Response = &pb.ResponseOp_ResponsePut{ResponsePut: pr}
		case op.GetRequestDeleteRange() != nil:
			if t.w == nil {
				return ErrNotReadOnly
			}
			dr, err := t.w.applyDeleteRange(op.GetRequestDeleteRange())
			if err != nil {
				return fmt.Errorf("mvcc: txn delete: %w", err)
			}
			ro.Response = &pb.ResponseOp_ResponseDeleteRange{ResponseDeleteRange: dr}
		case op.GetRequestTxn() != nil:
			nested := &pb.TxnResponse{}
			if err := t.execute(op.GetRequestTxn(), path, pos, nested); err != nil {
				return err
			}
			ro.Response = &pb.ResponseOp_ResponseTxn{ResponseTxn: nested}
		}
	}
	return nil
}

// rangeOp serves one range of the txn: built, or only measured against the
// budget (measureOnly), with the same errors either way.
func (t *txnRunner) rangeOp(r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if !t.measureOnly {
		resp, err := rangeKVs(t.rd, r, t.readRev(), t.compactRev, t.budget)
		if t.w != nil && err == nil {
			var n int64
			for _, kv := range resp.Kvs {
				n += kvCost(kv.Key, kv.Value)
			}
			t.w.s.txnBuilt.Add(n)
		}
		return resp, err
	}
	var before int64
	if t.budget != nil {
		before = t.budget.used
	}
	err := measureRange(t.rd, r, t.readRev(), t.compactRev, t.budget)
	if t.budget != nil && t.w != nil {
		t.w.s.txnMeasured.Add(t.budget.used - before)
	}
	if err != nil {
		return nil, err
	}
	return &pb.RangeResponse{Header: &pb.ResponseHeader{Revision: t.readRev()}}, nil
}

// existSim tracks which keys exist as a txn's path runs: keys put or deleted
// so far, and the spans deleted, over the state before the txn. exists
// reports a key that exists both before the txn (etcd's check) and at this
// point of the path.
type existSim struct {
	rd    pebble.Reader
	state map[string]bool
	dels  []span
	buf   []byte
}

func (s *existSim) exists(key []byte) (bool, error) {
	var m meta
	before, err := getLatest(s.rd, s.buf[:0], key, &m)
	if err != nil || !before {
		return false, err
	}
	if v, ok := s.state[string(key)]; ok {
		return v, nil
	}
	for _, sp := range s.dels {
		if sp.contains(key) {
			return false, nil
		}
	}
	return true, nil
}

func (s *existSim) put(key []byte) {
	if s.state == nil {
		s.state = make(map[string]bool)
	}
	s.state[string(key)] = true
}

func (s *existSim) del(sp span) {
	for k := range s.state {
		if sp.contains([]byte(k)) {
			s.state[k] = false
		}
	}
	s.dels = append(s.dels, sp)
}

// checkLease returns ErrLeaseNotFound if id is not 0 (no lease) and names no
// lease.
func checkLease(rd pebble.Reader, id int64) error {
	if id == 0 {
		return nil
	}
	ok, err := leaseExists(rd, id)
	if err == nil && !ok {
		err = ErrLeaseNotFound
	}
	return err
}

// leaseExists reports whether lease id has a record. Lease 0 never does.
func leaseExists(rd pebble.Reader, id int64) (bool, error) {
	found := false
	err := getWith(rd, leaseKey(nil, id), func([]byte) error { found = true; return nil })
	return found, err
}

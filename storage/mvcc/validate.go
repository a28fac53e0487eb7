package mvcc

import (
	"sort"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// The Validate functions are the checks etcd's gRPC front door
// (api/v3rpc/key.go) makes before proposing a request. The store does not
// make them again when applying.

// ValidateRange checks a range request: a key (ErrEmptyKey) and known sort
// options (ErrInvalidSortOption).
func ValidateRange(r *pb.RangeRequest) error {
	if len(r.GetKey()) == 0 {
		return ErrEmptyKey
	}
	return checkSortOptions(r)
}

// ValidatePut checks a put request: a key (ErrEmptyKey), no value with
// ignore_value (ErrValueProvided), no lease with ignore_lease
// (ErrLeaseProvided).
func ValidatePut(r *pb.PutRequest) error {
	switch {
	case len(r.GetKey()) == 0:
		return ErrEmptyKey
	case r.IgnoreValue && len(r.Value) != 0:
		return ErrValueProvided
	case r.IgnoreLease && r.Lease != 0:
		return ErrLeaseProvided
	}
	return nil
}

// ValidateDeleteRange checks a delete request: a key (ErrEmptyKey).
func ValidateDeleteRange(r *pb.DeleteRangeRequest) error {
	if len(r.GetKey()) == 0 {
		return ErrEmptyKey
	}
	return nil
}

// ValidateTxn checks a txn request before it is proposed, as etcd's front door
// does (checkTxnRequest, then checkIntervals on each branch):
//
//   - ErrTooManyOps if the compares, the success ops or the failure ops number
//     more than maxOps; a nested txn is checked the same way against maxOps
//     minus the largest of those three counts of its parent.
//   - ErrEmptyKey for a compare or an op without a key, ErrValueProvided and
//     ErrLeaseProvided as ValidatePut, ErrInvalidSortOption as ValidateRange,
//     ErrKeyNotFound for an empty op.
//   - ErrDuplicateKey if a branch writes a key twice: two puts of one key, or a
//     put of a key inside a delete range, including in nested txns. A put in a
//     nested txn's success branch and the same put in its failure branch are
//     not a duplicate, as only one runs.
//
// etcd's checkIntervals has quirks this keeps: a delete whose range_end is
// "\x00" (every key from key on) conflicts with no put, and a delete in a
// nested txn conflicts with puts in nested txns before it only through puts
// of the enclosing level.
func ValidateTxn(r *pb.TxnRequest, maxOps int) error {
	if err := checkTxnRequest(r, maxOps); err != nil {
		return err
	}
	if _, _, err := checkIntervals(r.GetSuccess()); err != nil {
		return err
	}
	_, _, err := checkIntervals(r.GetFailure())
	return err
}

func checkTxnRequest(r *pb.TxnRequest, maxOps int) error {
	opc := max(len(r.GetCompare()), len(r.GetSuccess()), len(r.GetFailure()))
	if opc > maxOps {
		return ErrTooManyOps
	}
	for _, c := range r.GetCompare() {
		if len(c.GetKey()) == 0 {
			return ErrEmptyKey
		}
	}
	for _, op := range r.GetSuccess() {
		if err := checkRequestOp(op, maxOps-opc); err != nil {
			return err
		}
	}
	for _, op := range r.GetFailure() {
		if err := checkRequestOp(op, maxOps-opc); err != nil {
			return err
		}
	}
	return nil
}

func checkRequestOp(op *pb.RequestOp, maxOps int) error {
	switch {
	case op.GetRequestRange() != nil:
		return ValidateRange(op.GetRequestRange())
	case op.GetRequestPut() != nil:
		return ValidatePut(op.GetRequestPut())
	case op.GetRequestDeleteRange() != nil:
		return ValidateDeleteRange(op.GetRequestDeleteRange())
	case op.GetRequestTxn() != nil:
		return checkTxnRequest(op.GetRequestTxn(), maxOps)
	default:
		return ErrKeyNotFound
	}
}

// checkIntervals returns the keys put and the spans deleted by ops, nested
// txns included, or ErrDuplicateKey (etcd's checkIntervals, with a sorted
// list in place of its interval tree).
func checkIntervals(ops []*pb.RequestOp) (map[string]struct{}, *delSpans, error) {
	dels := &delSpans{}
	for _, op := range ops {
		if d := op.GetRequestDeleteRange(); d != nil {
			dels.addRequest(d)
		}
	}
	puts := make(map[string]struct{}, len(ops))
	for _, op := range ops {
		nt := op.GetRequestTxn()
		if nt == nil {
			continue
		}
		putsThen, delsThen, err := checkIntervals(nt.GetSuccess())
		if err != nil {
			return nil, nil, err
		}
		putsElse, delsElse, err := checkIntervals(nt.GetFailure())
		if err != nil {
			return nil, nil, err
		}
		for k := range putsThen {
			if _, ok := puts[k]; ok || dels.covers(k) {
				return nil, nil, ErrDuplicateKey
			}
			puts[k] = struct{}{}
		}
		for k := range putsElse {
			_, inThen := putsThen[k]
			if _, ok := puts[k]; (ok && !inThen) || dels.covers(k) {
				return nil, nil, ErrDuplicateKey
			}
			puts[k] = struct{}{}
		}
		dels.merge(delsThen)
		dels.merge(delsElse)
	}
	for _, op := range ops {
		p := op.GetRequestPut()
		if p == nil {
			continue
		}
		k := string(p.Key)
		if _, ok := puts[k]; ok || dels.covers(k) {
			return nil, nil, ErrDuplicateKey
		}
		puts[k] = struct{}{}
	}
	return puts, dels, nil
}

// delSpans is a set of deleted spans [begin, end) under etcd's
// StringAffineComparable order, where "" sorts above every other string
// (an end of "" is unbounded; a begin of "" contains nothing).
type delSpans struct {
	spans [][2]string
	// Built on demand: spans sorted by begin, and the running maximum of
	// their ends, so that covers is a binary search.
	sorted bool
	maxEnd []string
}

func (d *delSpans) addRequest(r *pb.DeleteRangeRequest) {
	begin := string(r.Key)
	end := begin + "\x00"
	if len(r.RangeEnd) != 0 {
		end = string(r.RangeEnd)
	}
	d.spans = append(d.spans, [2]string{begin, end})
	d.sorted = false
}

func (d *delSpans) merge(o *delSpans) {
	if o == nil || len(o.spans) == 0 {
		return
	}
	d.spans = append(d.spans, o.spans...)
	d.sorted = false
}

// affineLess orders strings with "" above all others.
func affineLess(a, b string) bool {
	switch {
	case a == "":
		return false
	case b == "":
		return true
	}
	return a < b
}

// covers reports whether some span has begin <= k < end: etcd's interval
// overlap of the point [k, k+"\x00") with the span.
func (d *delSpans) covers(k string) bool {
	if len(d.spans) == 0 || k == "" {
		return false
	}
	if !d.sorted {
		sort.Slice(d.spans, func(i, j int) bool { return affineLess(d.spans[i][0], d.spans[j][0]) })
		d.maxEnd = d.maxEnd[:0]
		for i, s := range d.spans {
			e := s[1]
			if i > 0 && affineLess(e, d.maxEnd[i-1]) {
				e = d.maxEnd[i-1]
			}
			d.maxEnd = append(d.maxEnd, e)
		}
		d.sorted = true
	}
	// Spans [0, n) have begin <= k.
	n := sort.Search(len(d.spans), func(i int) bool { return affineLess(k, d.spans[i][0]) })
	return n > 0 && affineLess(k, d.maxEnd[n-1])
}

// IsReadOnlyTxn reports whether a txn has no write operations in any branch,
// nested txns included (a nested txn of ranges only is read-only). An empty
// op is not read-only, as in etcd.
func IsReadOnlyTxn(r *pb.TxnRequest) bool {
	for _, ops := range [][]*pb.RequestOp{r.GetSuccess(), r.GetFailure()} {
		for _, op := range ops {
			switch {
			case op.GetRequestRange() != nil:
			case op.GetRequestTxn() != nil:
				if !IsReadOnlyTxn(op.GetRequestTxn()) {
					return false
				}
			default:
				return false
			}
		}
	}
	return true
}

package mvcc

import (
	"bytes"
	"cmp"
	"container/heap"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Measuring a range without building it.
//
// A txn applied by a Batch runs on every member, but only the member that
// answers the client needs its ranges' key-values (TxnOptions.Answer). The
// others still need to know whether those key-values exceed the txn's
// response budget, since the answer to that decides whether the txn is
// applied: measure walks the range as run does and takes from the budget
// the cost of the key-values run would return, keeping none of them.
//
// Invariant: for the same reader, request and budget, measure fails with
// ErrResponseTooLarge if and only if run (with fill) does, and otherwise
// takes the same bytes from the budget. Both fail exactly when the cost of
// the response's key-values (kvCost of each, as fill takes it) is more than
// the budget has left; each may stop walking earlier only once that is
// certain. Members that build and members that measure therefore reach the
// same decision from the same data, which keeps their state machines equal.
//
// What measure keeps: nothing for a range in key order or without a sort
// (the response is the first limit keys that pass); the worst key-value so
// far for a sort of the first limit+1 keys (one of which is cut); and for a
// sort with a limit over all keys, the sort attribute, walk position and
// cost of the limit best keys, with their values only for the VALUE sort.

// measure takes from p.budget the cost of the key-values run would return
// from c (see the invariant above).
func (p *rangePlan) measure(c cursor) error {
	r := p.r
	switch {
	case r.CountOnly:
		return nil
	case p.sort && p.prefetch == 0 && r.Limit > 0:
		return p.measureTop(c)
	case p.sort && p.prefetch > 0:
		return p.measureCut(c)
	}
	// The response is the first limit keys that pass the filters (all of
	// them without a limit), in the order of the walk; a sort of all keys
	// changes only their order.
	var n int64
	for r.Limit <= 0 || n < r.Limit {
		ok, err := c.next()
		if err != nil || !ok {
			return err
		}
		if p.prefetch == 0 && !p.passes(c.meta()) {
			continue
		}
		_, cost, err := p.costAt(c, false)
		if err != nil {
			return err
		}
		if err := p.budget.take(cost); err != nil {
			return err
		}
		n++
	}
	return nil
}

// costAt returns what the key-value at c costs in the response, and its
// value if withValue (aliasing the cursor until it moves).
func (p *rangePlan) costAt(c cursor, withValue bool) (value []byte, cost int64, err error) {
	if withValue || !p.r.KeysOnly {
		if value, err = c.value(); err != nil {
			return nil, 0, err
		}
	}
	return value, p.kvCost(c.key(), value), nil
}

// measureCut measures a range whose first prefetch keys are sorted and cut
// to limit (run with prefetch and sort): the response is all of them but
// the last in the sort when there are more than limit.
func (p *rangePlan) measureCut(c cursor) error {
	var (
		n, total, largest int64
		worst             item // a copy of the last key-value in the sort so far
		worstCost         int64
	)
	for n < p.prefetch {
		ok, err := c.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		v, cost, err := p.costAt(c, p.needValue)
		if err != nil {
			return err
		}
		cand := item{key: c.key(), m: *c.meta(), value: v, read: p.needValue}
		if n == 0 || p.less(&worst, &cand) {
			worst.key = append(worst.key[:0], cand.key...)
			worst.m, worst.read = cand.m, cand.read
			if cand.read {
				worst.value = append(worst.value[:0], cand.value...)
			}
			worstCost = cost
		}
		n++
		total, largest = total+cost, max(largest, cost)
		// All but one of these are in the response, whichever is cut.
		if !p.budget.fits(total - largest) {
			return p.budget.exceeded()
		}
	}
	if n > p.r.Limit {
		total -= worstCost
	}
	return p.budget.take(total)
}

// measureTop measures a range sorted with a limit over all its keys (run's
// topK): the response is the limit best keys that pass the filters.
func (p *rangePlan) measureTop(c cursor) error {
	t := &costTop{p: p, limit: int(p.r.Limit)}
	var seq int64
	for {
		ok, err := c.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		m := c.meta()
		if !p.passes(m) {
			continue
		}
		seq++
		cand := measured{m: *m, seq: seq}
		if p.needValue {
			if cand.value, err = c.value(); err != nil {
				return err
			}
		}
		if !t.admits(&cand) {
			continue
		}
		if p.needValue {
			cand.cost = p.kvCost(c.key(), cand.value)
		} else if _, cand.cost, err = p.costAt(c, false); err != nil {
			return err
		}
		t.add(&cand)
	}
	var total int64
	for _, it := range t.items {
		total += it.cost
	}
	return p.budget.take(total)
}

// measured is one key a sorted range may return, without its key: the walk
// of a sort over all keys is in key order (only KEY DESCEND walks in
// reverse, and it does not sort), so the walk position seq orders ties as
// the key does. value is kept for the VALUE sort only.
type measured struct {
	m     meta
	value []byte
	seq   int64
	cost  int64
}

// lessMeasured is p.less for measured keys.
func (p *rangePlan) lessMeasured(a, b *measured) bool {
	var c int
	switch p.r.SortTarget {
	case pb.RangeRequest_VERSION:
		c = cmp.Compare(a.m.version, b.m.version)
	case pb.RangeRequest_CREATE:
		c = cmp.Compare(a.m.create, b.m.create)
	case pb.RangeRequest_MOD:
		c = cmp.Compare(a.m.mod, b.m.mod)
	case pb.RangeRequest_VALUE:
		c = bytes.Compare(a.value, b.value)
	}
	if p.desc {
		c = -c
	}
	if c != 0 {
		return c < 0
	}
	return a.seq < b.seq
}

// costTop keeps the limit best measured keys, as topK keeps items: a
// max-heap whose root is the worst kept.
type costTop struct {
	p     *rangePlan
	limit int
	items []*measured
}

func (t *costTop) Len() int           { return len(t.items) }
func (t *costTop) Less(i, j int) bool { return t.p.lessMeasured(t.items[j], t.items[i]) }
func (t *costTop) Swap(i, j int)      { t.items[i], t.items[j] = t.items[j], t.items[i] }
func (t *costTop) Push(x any)         { t.items = append(t.items, x.(*measured)) }
func (t *costTop) Pop() any {
	x := t.items[len(t.items)-1]
	t.items = t.items[:len(t.items)-1]
	return x
}

func (t *costTop) admits(c *measured) bool {
	return len(t.items) < t.limit || t.p.lessMeasured(c, t.items[0])
}

// add keeps a copy of c, which must be admitted, evicting the worst if full.
func (t *costTop) add(c *measured) {
	full := len(t.items) == t.limit
	var it *measured
	if full {
		it = t.items[0]
	} else {
		it = new(measured)
	}
	value := append(it.value[:0], c.value...)
	*it = *c
	it.value = value
	if full {
		heap.Fix(t, 0)
		return
	}
	heap.Push(t, it)
}

package mvcc

import (
	"bytes"
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/cockroachdb/pebble/v2"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// rangeKVs serves r against rd, whose newest state is curRev, as etcd's
// txn.Range with withTotalCount does. See doc.go, "Range", for the rules this
// follows and the work it bounds. The key-values it returns are taken from
// budget (nil: no bound).
func rangeKVs(rd pebble.Reader, r *pb.RangeRequest, curRev, compactRev int64, budget *responseBudget) (*pb.RangeResponse, error) {
	rev, err := rangeRev(r, curRev, compactRev)
	if err != nil {
		return nil, err
	}
	resp := &pb.RangeResponse{Header: &pb.ResponseHeader{Revision: curRev}}
	plan := planRange(r)
	plan.budget = budget
	c, err := openRangeCursor(rd, r, rev, curRev, plan.reverse)
	if err != nil || c == nil {
		if err != nil {
			return nil, err
		}
		return resp, nil
	}
	err = plan.run(rd, c, resp)
	if cerr := c.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// measureRange takes from budget what the key-values of rangeKVs(rd, r,
// curRev, compactRev, budget) would take, without building them: it fails
// as rangeKVs does, and with ErrResponseTooLarge exactly when rangeKVs
// would (measure.go). A nil budget only checks r, reading no key.
func measureRange(rd pebble.Reader, r *pb.RangeRequest, curRev, compactRev int64, budget *responseBudget) error {
	rev, err := rangeRev(r, curRev, compactRev)
	if err != nil || budget == nil {
		return err
	}
	plan := planRange(r)
	plan.budget = budget
	c, err := openRangeCursor(rd, r, rev, curRev, plan.reverse)
	if err != nil || c == nil {
		return err
	}
	err = plan.measure(c)
	if cerr := c.close(); err == nil {
		err = cerr
	}
	return err
}

// rangeRev checks r's options and returns the revision it reads at.
func rangeRev(r *pb.RangeRequest, curRev, compactRev int64) (int64, error) {
	if err := checkSortOptions(r); err != nil {
		return 0, err
	}
	rev := r.Revision
	if rev > curRev {
		return 0, ErrFutureRev
	}
	if rev <= 0 {
		rev = curRev
	}
	if rev < compactRev {
		return 0, ErrCompacted
	}
	return rev, nil
}

// openRangeCursor returns the cursor of r's keys at rev, or nil if r's span
// is empty.
func openRangeCursor(rd pebble.Reader, r *pb.RangeRequest, rev, curRev int64, reverse bool) (cursor, error) {
	if len(r.RangeEnd) == 0 && rev == curRev {
		// One key at the newest state (a client's get): point lookups.
		pc := &pointCursor{rd: rd, k: r.Key}
		pc.buf = pc.arr[:0]
		return pc, nil
	}
	sp, ok := requestSpan(r.Key, r.RangeEnd)
	if !ok {
		return nil, nil
	}
	return newCursor(rd, sp, rev, rev == curRev, reverse)
}

// pointCursor is the cursor of a range of one key at the reader's newest
// state: a point lookup of the key's latest record, and one of its value
// when asked for, instead of two iterators. It finds what a latestCursor
// over the key's span would.
type pointCursor struct {
	rd      pebble.Reader
	k       []byte
	started bool
	m       meta
	buf     []byte
	arr     [64]byte  // buf's first backing: a key and its version fit for keys up to 40 bytes
	closer  io.Closer // of the last value looked up; it aliases the reader
}

func (c *pointCursor) next() (bool, error) {
	if c.started {
		return false, nil
	}
	c.started = true
	c.buf = latestKey(c.buf[:0], c.k)
	v, closer, err := c.rd.Get(c.buf)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	err = decodeLatest(v, &c.m)
	if cerr := closer.Close(); err == nil {
		err = cerr
	}
	return err == nil, err
}

func (c *pointCursor) key() []byte { return c.k }
func (c *pointCursor) meta() *meta { return &c.m }

// value returns the key's value, valid until the next call or close.
func (c *pointCursor) value() ([]byte, error) {
	if err := c.release(); err != nil {
		return nil, err
	}
	c.buf = versionKey(c.buf[:0], c.k, c.m.mod, c.m.modSub)
	raw, closer, err := c.rd.Get(c.buf)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("%w: version %d.%d of key %q missing", ErrCorrupt, c.m.mod, c.m.modSub, c.k)
	}
	if err != nil {
		return nil, err
	}
	c.closer = closer
	var vm meta
	val, tomb, err := decodeVersion(raw, &vm)
	if err == nil && tomb {
		err = fmt.Errorf("%w: version %d.%d of key %q is a tombstone", ErrCorrupt, c.m.mod, c.m.modSub, c.k)
	}
	return val, err
}

func (c *pointCursor) release() error {
	if c.closer == nil {
		return nil
	}
	err := c.closer.Close()
	c.closer = nil
	return err
}

func (c *pointCursor) close() error { return c.release() }

func checkSortOptions(r *pb.RangeRequest) error {
	if _, ok := pb.RangeRequest_SortOrder_name[int32(r.SortOrder)]; !ok {
		return ErrInvalidSortOption
	}
	if _, ok := pb.RangeRequest_SortTarget_name[int32(r.SortTarget)]; !ok {
		return ErrInvalidSortOption
	}
	return nil
}

// isDefaultOrdering reports whether the order is the key order the store
// produces (etcd's txn.IsDefaultOrdering).
func isDefaultOrdering(target pb.RangeRequest_SortTarget, order pb.RangeRequest_SortOrder) bool {
	return order == pb.RangeRequest_NONE || (target == pb.RangeRequest_KEY && order == pb.RangeRequest_ASCEND)
}

func hasRevisionFilters(r *pb.RangeRequest) bool {
	return r.MinModRevision != 0 || r.MaxModRevision != 0 || r.MinCreateRevision != 0 || r.MaxCreateRevision != 0
}

// rangePlan is how one range request walks and selects keys.
//
// etcd fetches limit+1 keys in key order when the requested order is
// default (sort_order NONE, or KEY ASCEND) and there are no revision filters;
// otherwise it fetches every key. It then filters, sorts (NONE with a target
// other than KEY means ASCEND), and cuts to limit, setting more if it cut.
// count is the number of keys in the range before filtering. The plan gives
// the same answer with bounded memory:
//
//   - prefetch > 0: keep the first prefetch keys, count the rest; sort those
//     if the target asks for it (NONE order with a non-KEY target sorts only
//     the fetched keys, as etcd does).
//   - key order, either direction (walking in reverse for KEY DESCEND):
//     filter as keys come, keep the first limit+1 that pass.
//   - any other sort: keep the best limit keys in a heap.
type rangePlan struct {
	r        *pb.RangeRequest
	prefetch int64 // keys to keep before filtering; 0 means all
	sort     bool  // sort by r.SortTarget after filtering
	desc     bool  // the sort is descending
	reverse  bool  // walk keys in reverse (KEY DESCEND)
	// fastKeysOnly mirrors etcd's FastKeysOnly: keys_only with a target other
	// than VALUE reads neither values nor leases (lease is reported as 0).
	fastKeysOnly bool
	// needValue: values are read while walking (for the VALUE sort).
	needValue bool
	// budget bounds the bytes of the response's key-values; nil: no bound.
	budget *responseBudget
}

// responseBudget bounds the bytes of key-values one response holds
// (ReadView.RangeWithin, TxnWithin): each key-value costs its key, its value
// and kvOverheadBytes. A range that would go over it stops walking and
// fails with ErrResponseTooLarge, so a range over a large keyspace never
// holds more than about the budget.
type responseBudget struct {
	max, used int64
}

// kvOverheadBytes is what a key-value costs beyond its key and value: about
// its encoded revisions, version, lease and framing.
const kvOverheadBytes = 32

func newResponseBudget(maxBytes int64) *responseBudget {
	if maxBytes <= 0 {
		return nil
	}
	return &responseBudget{max: maxBytes}
}

// fits reports whether n more bytes would stay within the budget, without
// taking them.
func (b *responseBudget) fits(n int64) bool { return b == nil || b.used+n <= b.max }

// take takes n bytes, or fails with ErrResponseTooLarge if they do not fit.
func (b *responseBudget) take(n int64) error {
	if !b.fits(n) {
		return b.exceeded()
	}
	if b != nil {
		b.used += n
	}
	return nil
}

func (b *responseBudget) exceeded() error {
	return fmt.Errorf("%w: its key-values take more than %d bytes", ErrResponseTooLarge, b.max)
}

func kvCost(key, value []byte) int64 { return int64(len(key)+len(value)) + kvOverheadBytes }

// kvCost is what a key-value costs in p's response: without its value for
// keys_only (fill).
func (p *rangePlan) kvCost(key, value []byte) int64 {
	if p.r.KeysOnly {
		value = nil
	}
	return kvCost(key, value)
}

func planRange(r *pb.RangeRequest) rangePlan {
	p := rangePlan{r: r}
	if isDefaultOrdering(r.SortTarget, r.SortOrder) && !hasRevisionFilters(r) && r.Limit > 0 {
		p.prefetch = r.Limit + 1
		if r.Limit == 1<<63-1 {
			p.prefetch = r.Limit
		}
	}
	order := r.SortOrder
	if r.SortTarget != pb.RangeRequest_KEY && order == pb.RangeRequest_NONE {
		order = pb.RangeRequest_ASCEND
	}
	p.sort = !isDefaultOrdering(r.SortTarget, order)
	p.desc = order == pb.RangeRequest_DESCEND
	if p.sort && p.prefetch == 0 && r.SortTarget == pb.RangeRequest_KEY {
		// KEY DESCEND: keys are unique, so walking in reverse is the sort.
		p.reverse, p.sort = true, false
	}
	p.fastKeysOnly = r.KeysOnly && r.SortTarget != pb.RangeRequest_VALUE
	p.needValue = p.sort && r.SortTarget == pb.RangeRequest_VALUE
	return p
}

// item is one selected key. value is set when read.
type item struct {
	key   []byte
	m     meta
	value []byte
	read  bool
}

func (p *rangePlan) passes(m *meta) bool {
	r := p.r
	return (r.MaxModRevision == 0 || m.mod <= r.MaxModRevision) &&
		(r.MinModRevision == 0 || m.mod >= r.MinModRevision) &&
		(r.MaxCreateRevision == 0 || m.create <= r.MaxCreateRevision) &&
		(r.MinCreateRevision == 0 || m.create >= r.MinCreateRevision)
}

func (p *rangePlan) run(rd pebble.Reader, c cursor, resp *pb.RangeResponse) error {
	r := p.r
	if r.CountOnly {
		n, err := countRest(c)
		resp.Count = n
		return err
	}
	var (
		items    []*item
		count    int64
		filtered int64 // keys that passed the filters (when not prefetching)
		top      *topK
		// kept is the cost of items so far. One of them may be cut (the
		// last, limit + 1, or the last after sorting), so the walk stops
		// only when all but the largest do not fit: then the response
		// cannot fit either, whichever is cut, and the walk fails exactly
		// when fill would (the txns of a Batch rely on it, measure.go).
		kept, largest int64
	)
	if p.sort && p.prefetch == 0 && r.Limit > 0 {
		top = &topK{p: p, limit: int(r.Limit)}
	}
	// keep reports whether the walk still selects keys; once it does not,
	// the rest of the range is only counted.
	keep := func() bool {
		switch {
		case p.prefetch > 0:
			return int64(len(items)) < p.prefetch
		case top != nil || p.sort || r.Limit <= 0:
			return true
		default:
			return int64(len(items)) <= r.Limit
		}
	}
	for keep() {
		ok, err := c.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		count++
		m := c.meta()
		if p.prefetch == 0 && !p.passes(m) {
			continue
		}
		filtered++
		// cand aliases the cursor's key and value until it is kept.
		cand := item{key: c.key(), m: *m}
		if p.needValue {
			v, err := c.value()
			if err != nil {
				return err
			}
			cand.value, cand.read = v, true
		}
		if top != nil {
			if top.admits(&cand) {
				top.add(&cand)
			}
			continue
		}
		it := new(item)
		*it = cand
		it.key = bytes.Clone(it.key)
		if !p.fastKeysOnly && !r.KeysOnly && !p.sort {
			// Final order already: read the value while the cursor is here.
			v, err := c.value()
			if err != nil {
				return err
			}
			it.value, it.read = v, true
		}
		if it.read {
			it.value = bytes.Clone(it.value)
		}
		items = append(items, it)
		cost := p.kvCost(it.key, it.value)
		kept, largest = kept+cost, max(largest, cost)
		if !p.budget.fits(kept - largest) {
			return p.budget.exceeded()
		}
	}
	rest, err := countRest(c)
	if err != nil {
		return err
	}
	count += rest
	resp.Count = count

	if top != nil {
		items = top.sorted()
	}
	if p.prefetch > 0 {
		// Filters are never combined with prefetching; only the sort of the
		// fetched keys remains.
		filtered = int64(len(items))
	}
	if p.sort && top == nil {
		sort.Sort(itemSorter{items: items, less: p.less})
	}
	if r.Limit > 0 && filtered > r.Limit {
		if int64(len(items)) > r.Limit {
			items = items[:r.Limit]
		}
		resp.More = true
	}
	return p.fill(rd, items, resp)
}

// fill builds the response's key-values, reading the values not read yet.
func (p *rangePlan) fill(rd pebble.Reader, items []*item, resp *pb.RangeResponse) error {
	var vals *valueReader
	defer func() {
		if vals != nil {
			_ = vals.close()
		}
	}()
	resp.Kvs = make([]*mvccpb.KeyValue, len(items))
	for i, it := range items {
		kv := &mvccpb.KeyValue{
			Key:            it.key,
			CreateRevision: it.m.create,
			ModRevision:    it.m.mod,
			Version:        it.m.version,
		}
		if !p.fastKeysOnly {
			kv.Lease = it.m.lease
		}
		if !p.r.KeysOnly {
			if !it.read {
				if vals == nil {
					vals = &valueReader{r: rd}
				}
				v, err := vals.get(it.key, it.m.mod, it.m.modSub)
				if err != nil {
					return err
				}
				if err := p.budget.take(kvCost(it.key, v)); err != nil {
					return err
				}
				it.value = bytes.Clone(v)
			} else if err := p.budget.take(kvCost(it.key, it.value)); err != nil {
				return err
			}
			kv.Value = it.value
		} else if err := p.budget.take(kvCost(it.key, nil)); err != nil {
			return err
		}
		resp.Kvs[i] = kv
	}
	return nil
}

// countRest counts the keys the cursor has not reached yet.
func countRest(c cursor) (int64, error) {
	switch c := c.(type) {
	case *latestCursor:
		return c.skipCount()
	case *historyCursor:
		if c.reverse {
			return c.countBelow()
		}
	}
	var n int64
	for {
		ok, err := c.next()
		if err != nil || !ok {
			return n, err
		}
		n++
	}
}

// less orders items by the sort target, ties by key ascending: etcd's sort is
// not stable, but for up to 12 keys (insertion sort) it keeps key order among
// ties in both directions, and this order is the same.
func (p *rangePlan) less(a, b *item) bool {
	var c int
	switch p.r.SortTarget {
	case pb.RangeRequest_KEY:
		c = bytes.Compare(a.key, b.key)
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
	return bytes.Compare(a.key, b.key) < 0
}

type itemSorter struct {
	items []*item
	less  func(a, b *item) bool
}

func (s itemSorter) Len() int           { return len(s.items) }
func (s itemSorter) Less(i, j int) bool { return s.less(s.items[i], s.items[j]) }
func (s itemSorter) Swap(i, j int)      { s.items[i], s.items[j] = s.items[j], s.items[i] }

// topK keeps the limit smallest items under p.less: a max-heap whose root is
// the worst item kept. It calls p.less directly, not through a func value,
// so that a candidate checked by admits does not escape to the heap.
type topK struct {
	p     *rangePlan
	limit int
	items []*item
}

func (t *topK) Len() int           { return len(t.items) }
func (t *topK) Less(i, j int) bool { return t.p.less(t.items[j], t.items[i]) }
func (t *topK) Swap(i, j int)      { t.items[i], t.items[j] = t.items[j], t.items[i] }
func (t *topK) Push(x any)         { t.items = append(t.items, x.(*item)) }
func (t *topK) Pop() any {
	x := t.items[len(t.items)-1]
	t.items = t.items[:len(t.items)-1]
	return x
}

// admits reports whether it would be kept.
func (t *topK) admits(it *item) bool {
	return len(t.items) < t.limit || t.p.less(it, t.items[0])
}

// add keeps a copy of c, which must be admitted, evicting the worst item if
// full. The evicted item and its buffers hold the copy, so that a walk whose
// keys arrive in the opposite of the sort order allocates only limit items.
func (t *topK) add(c *item) {
	full := len(t.items) == t.limit
	var it *item
	if full {
		it = t.items[0]
	} else {
		it = new(item)
	}
	key, value := append(it.key[:0], c.key...), []byte(nil)
	if c.read {
		value = append(it.value[:0], c.value...)
	}
	*it = *c
	it.key, it.value = key, value
	if full {
		heap.Fix(t, 0)
		return
	}
	heap.Push(t, it)
}

func (t *topK) sorted() []*item {
	items := t.items
	sort.Sort(itemSorter{items: items, less: t.p.less})
	return items
}

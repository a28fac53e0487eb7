package watch

import (
	"bytes"
	"sort"
)

// keyRange is a watched range with etcd's conventions, as a watch create
// request names it after the front door's normalisation: end nil is the
// single key start; end empty (the request's "\x00") is every key at or
// above start; anything else is [start, end).
type keyRange struct {
	start, end []byte
}

// newKeyRange converts a request's (key, range_end) to a keyRange, as etcd's
// v3rpc does: an empty key is "\x00", an empty range_end the key alone,
// "\x00" every key at or above the key.
func newKeyRange(key, rangeEnd []byte) keyRange {
	if len(key) == 0 {
		key = []byte{0}
	}
	switch {
	case len(rangeEnd) == 0:
		return keyRange{start: key}
	case len(rangeEnd) == 1 && rangeEnd[0] == 0:
		return keyRange{start: key, end: []byte{}}
	default:
		return keyRange{start: key, end: rangeEnd}
	}
}

func (r keyRange) single() bool { return r.end == nil }

// empty reports etcd's ErrEmptyWatcherRange: an end at or below the start.
func (r keyRange) empty() bool {
	return len(r.end) != 0 && bytes.Compare(r.start, r.end) >= 0
}

// rangeEnd returns the range_end a request would carry for r.
func (r keyRange) rangeEnd() []byte {
	switch {
	case r.end == nil:
		return nil
	case len(r.end) == 0:
		return []byte{0}
	default:
		return r.end
	}
}

func (r keyRange) contains(k []byte) bool {
	if r.single() {
		return bytes.Equal(k, r.start)
	}
	return bytes.Compare(k, r.start) >= 0 && endAbove(r.end, k)
}

// endAbove reports whether a range ending at end contains keys at k: end is
// exclusive, and an empty end is unbounded.
func endAbove(end, k []byte) bool {
	return len(end) == 0 || bytes.Compare(end, k) > 0
}

// rangeID identifies a range in maps.
type rangeID struct {
	start, end string
	kind       uint8 // 0 single key, 1 unbounded, 2 [start, end)
}

func (r keyRange) id() rangeID {
	id := rangeID{start: string(r.start), end: string(r.end)}
	switch {
	case r.end == nil:
	case len(r.end) == 0:
		id.kind = 1
	default:
		id.kind = 2
	}
	return id
}

// index finds the holders (streams for the hub, watchers for a stream) whose
// ranges contain a key. Each holder is registered under a range any number
// of times (counted). Single keys are a map lookup; ranges are an interval
// tree over the distinct ranges, kept as a sorted array with the largest end
// of each implicit subtree, rebuilt on the first lookup after a distinct
// range comes or goes. A lookup costs O(log ranges + matches).
//
// Memory: one entry per distinct key or range, and one per holder in it.
type index[T comparable] struct {
	keys   map[string]map[T]int
	ranges map[rangeID]*rangeEntry[T]

	sorted []*rangeEntry[T]
	maxEnd [][]byte // maxEnd[mid] is the largest end in sorted[lo:hi) (empty: unbounded)
	dirty  bool
}

type rangeEntry[T comparable] struct {
	r       keyRange
	holders map[T]int
}

func newIndex[T comparable]() *index[T] {
	return &index[T]{keys: make(map[string]map[T]int), ranges: make(map[rangeID]*rangeEntry[T])}
}

// add registers h under r once more.
func (x *index[T]) add(r keyRange, h T) {
	if r.single() {
		hs := x.keys[string(r.start)]
		if hs == nil {
			hs = make(map[T]int)
			x.keys[string(r.start)] = hs
		}
		hs[h]++
		return
	}
	id := r.id()
	e := x.ranges[id]
	if e == nil {
		e = &rangeEntry[T]{r: r, holders: make(map[T]int)}
		x.ranges[id] = e
		x.dirty = true
	}
	e.holders[h]++
}

// remove undoes one add of h under r. It reports false if there was none.
func (x *index[T]) remove(r keyRange, h T) bool {
	var hs map[T]int
	var e *rangeEntry[T]
	if r.single() {
		hs = x.keys[string(r.start)]
	} else if e = x.ranges[r.id()]; e != nil {
		hs = e.holders
	}
	if hs[h] == 0 {
		return false
	}
	hs[h]--
	if hs[h] == 0 {
		delete(hs, h)
	}
	if len(hs) == 0 {
		if r.single() {
			delete(x.keys, string(r.start))
		} else {
			delete(x.ranges, r.id())
			x.dirty = true
		}
	}
	return true
}

// len returns the number of distinct keys and ranges.
func (x *index[T]) len() int { return len(x.keys) + len(x.ranges) }

// stab calls fn for each holder of each key or range that contains k, once
// per distinct range (a holder registered under two ranges that both contain
// k is reported twice). The order is not specified.
func (x *index[T]) stab(k []byte, fn func(T)) {
	for h := range x.keys[string(k)] {
		fn(h)
	}
	if len(x.ranges) == 0 {
		return
	}
	if x.dirty {
		x.rebuild()
	}
	x.visit(0, len(x.sorted), k, fn)
}

func (x *index[T]) visit(lo, hi int, k []byte, fn func(T)) {
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if !endAbove(x.maxEnd[mid], k) {
			return // every range here ends at or below k
		}
		x.visit(lo, mid, k, fn)
		e := x.sorted[mid]
		if bytes.Compare(e.r.start, k) > 0 {
			return // this range and those after it start above k
		}
		if endAbove(e.r.end, k) {
			for h := range e.holders {
				fn(h)
			}
		}
		lo = mid + 1
	}
}

func (x *index[T]) rebuild() {
	x.sorted = x.sorted[:0]
	for _, e := range x.ranges {
		x.sorted = append(x.sorted, e)
	}
	sort.Slice(x.sorted, func(i, j int) bool {
		return bytes.Compare(x.sorted[i].r.start, x.sorted[j].r.start) < 0
	})
	x.maxEnd = make([][]byte, len(x.sorted))
	x.build(0, len(x.sorted))
	x.dirty = false
}

// build fills maxEnd for the implicit subtree over sorted[lo:hi) and returns
// its largest end.
func (x *index[T]) build(lo, hi int) []byte {
	if lo >= hi {
		return nil
	}
	mid := int(uint(lo+hi) >> 1)
	m := x.sorted[mid].r.end
	for _, c := range [][]byte{x.build(lo, mid), x.build(mid+1, hi)} {
		if c != nil && (len(c) == 0 || len(m) != 0 && bytes.Compare(c, m) > 0) {
			m = c
		}
	}
	x.maxEnd[mid] = m
	return m
}

package lessor

import (
	"cmp"
	"slices"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// expiry is the lessor's in-memory state while it leads: when each lease
// expires and when its next checkpoint is due. It is plain, synchronous code
// driven by the actor, with the time passed in (nanoseconds on the actor's
// monotonic clock), so that transcript tests can drive it.
//
// Per lease it keeps one entry (40 bytes) in a min-heap ordered by due
// time and one slot of an ID-to-position map (8-byte key, 4-byte value,
// about 20 bytes with the map's control bytes and load factor): about 60
// bytes per lease (69 measured with growth slack, TestExpiryBytesPerLease),
// up to about twice 60 just after the slice and map grow. A lease whose TTL
// is longer than the checkpoint interval also has one 16-byte slot in the
// checkpoint queue. The lease's keys, and everything else about it, stay in
// pebble.
type expiry struct {
	params

	heap  []entry
	index map[int64]int32 // lease ID → position in heap
	// ckpts is a FIFO of scheduled checkpoints, ckpts[ckHead:] pending.
	// Every checkpoint is scheduled one interval after "now" and now never
	// goes back, so the queue is ordered by due time. An item is current
	// only if its lease still has ckpt == due; others (stale: their lease
	// was removed) are dropped when they come due, or all at once when
	// they are over half the queue, so the queue holds at most twice as
	// many items as there are long leases.
	ckpts  []scheduled
	ckHead int
	stale  int // stale items in ckpts[ckHead:]
}

// params are the expiry rules, fixed for the actor's life.
type params struct {
	minTTL   int64 // seconds: leases granted with less are timed with this
	extend   int64 // ns added to remaining TTLs on promotion (an election timeout)
	interval int64 // ns between checkpoints of a lease; 0: no checkpoints
	retry    int64 // ns before the revoke of an expired lease is proposed again
	rate     int   // revokes per second, for spreading expiries on promotion
}

// entry is one lease's expiry state: 40 bytes.
type entry struct {
	id int64
	// due is when the lease expires or, once revoking, when its revoke is
	// proposed again.
	due int64
	// ckpt is when its next checkpoint is due; 0 when none is scheduled.
	ckpt int64
	// ttl is the granted TTL in seconds, at least minTTL.
	ttl   int64
	flags uint8
}

const (
	// revoking: the lease has expired and its revoke has been proposed.
	revoking uint8 = 1 << iota
	// recorded: the state machine holds (or will, once a proposed checkpoint
	// applies) a non-zero remaining TTL for the lease, which a renewal must
	// clear so that a later leader does not expire the lease early.
	recorded
)

type scheduled struct{ id, due int64 }

// status of a lease as the expiry state knows it.
type status int

const (
	unknown status = iota // not tracked: ask pebble
	live                  // tracked and not expired
	expired               // tracked, expired, being revoked
)

const second = int64(time.Second)

func newExpiry(p params) *expiry {
	return &expiry{params: p, index: make(map[int64]int32)}
}

// held is the number of items held in memory: tracked leases and queued
// checkpoints.
func (x *expiry) held() int { return len(x.heap) + len(x.ckpts) - x.ckHead }

// leases is the number of tracked leases.
func (x *expiry) leases() int { return len(x.heap) }

// reset drops everything (demotion), releasing the memory.
func (x *expiry) reset() {
	x.heap = nil
	x.index = make(map[int64]int32)
	x.ckpts = nil
	x.ckHead = 0
	x.stale = 0
}

// load adds a lease read from the state machine on promotion: it expires
// after its checkpointed remaining TTL (its TTL if none) plus the extension.
// Call finishLoad after the last one.
func (x *expiry) load(now, id, ttl, remaining int64) {
	if _, ok := x.index[id]; ok {
		return
	}
	ttl = max(ttl, x.minTTL)
	e := entry{id: id, ttl: ttl}
	left := ttl
	if remaining > 0 {
		left = remaining
		e.flags |= recorded
	}
	e.due = now + x.extend + left*second
	x.index[id] = int32(len(x.heap))
	x.heap = append(x.heap, e)
	x.schedule(now, &x.heap[len(x.heap)-1])
}

// finishLoad spreads expiries if more leases would expire within a second
// than can be revoked in one (as etcd's Promote does, so that piled-up
// leases do not use the whole revoke rate), then orders the heap.
func (x *expiry) finishLoad(now int64) {
	if x.rate > 0 && len(x.heap) >= x.rate {
		x.spread(now)
	}
	x.heapify()
}

// spread delays expiries so that at most 3/4 of the revoke rate expire in
// any one-second window, each delayed as little as possible (etcd's
// algorithm, lessor.go Promote).
func (x *expiry) spread(now int64) {
	slices.SortFunc(x.heap, func(a, b entry) int { return cmp.Compare(a.due, b.due) })
	target := max(1, 3*x.rate/4)
	base := x.heap[0].due - now
	next := base + second
	expires := 0
	for i := range x.heap {
		e := &x.heap[i]
		remaining := e.due - now
		if remaining > next {
			base = remaining
			next = base + second
			expires = 1
			continue
		}
		expires++
		if expires <= target {
			continue
		}
		delay := second*int64(expires)/int64(target) - (remaining - base)
		next = base + delay
		e.due += delay
	}
}

// granted tracks a lease the state machine has just granted. A lease
// already tracked is left alone (the grant was read from pebble already).
func (x *expiry) granted(now, id, ttl int64) {
	if _, ok := x.index[id]; ok {
		return
	}
	ttl = max(ttl, x.minTTL)
	x.push(entry{id: id, ttl: ttl, due: now + ttl*second})
	x.schedule(now, &x.heap[x.index[id]])
}

// revoked forgets a lease the state machine has revoked.
func (x *expiry) revoked(id int64) {
	i, ok := x.index[id]
	if !ok {
		return
	}
	x.remove(int(i))
}

// checkpointed notes a remaining TTL the state machine recorded.
func (x *expiry) checkpointed(id, remaining int64) {
	i, ok := x.index[id]
	if !ok {
		return
	}
	if remaining > 0 {
		x.heap[i].flags |= recorded
	} else {
		x.heap[i].flags &^= recorded
	}
}

// status returns what the state knows of a lease.
func (x *expiry) status(now, id int64) status {
	i, ok := x.index[id]
	switch {
	case !ok:
		return unknown
	case x.heap[i].flags&revoking != 0 || x.heap[i].due <= now:
		return expired
	}
	return live
}

// renew restarts a live lease's TTL from now and returns it, and whether a
// checkpoint of remaining TTL 0 must be proposed to clear a recorded one.
// It returns 0 for a lease that is not live.
func (x *expiry) renew(now, id int64) (ttl int64, clear bool) {
	if x.status(now, id) != live {
		return 0, false
	}
	i := int(x.index[id])
	e := &x.heap[i]
	e.due = now + e.ttl*second
	ttl = e.ttl
	if e.flags&recorded != 0 && x.interval > 0 {
		e.flags &^= recorded
		clear = true
	}
	x.down(i)
	return ttl, clear
}

// remaining returns the time left to a tracked lease in whole seconds
// (truncated, 0 once expired) and its TTL.
func (x *expiry) remaining(now, id int64) (left, ttl int64, ok bool) {
	i, ok := x.index[id]
	if !ok {
		return 0, 0, false
	}
	e := x.heap[i]
	if e.flags&revoking == 0 && e.due > now {
		left = (e.due - now) / second
	}
	return left, e.ttl, true
}

// expire returns up to limit leases that are due: expired leases, and
// expired leases whose revoke did not apply within the retry interval. Each
// is marked revoking and comes due again after the retry interval.
func (x *expiry) expire(now int64, limit int) []int64 {
	var out []int64
	for len(x.heap) > 0 && len(out) < limit && x.heap[0].due <= now {
		e := &x.heap[0]
		e.flags |= revoking
		e.due = now + x.retry
		out = append(out, e.id)
		x.down(0)
	}
	return out
}

// checkpoints returns up to limit checkpoints that are due: the remaining
// TTL, rounded up to a second, of live leases that have run for at least a
// second since their last renewal. Each lease's next checkpoint is scheduled
// one interval later.
func (x *expiry) checkpoints(now int64, limit int) []*pb.LeaseCheckpoint {
	var out []*pb.LeaseCheckpoint
	for x.ckHead < len(x.ckpts) && len(out) < limit {
		s := x.ckpts[x.ckHead]
		if s.due > now {
			break
		}
		x.ckpts[x.ckHead] = scheduled{}
		x.ckHead++
		i, ok := x.index[s.id]
		if !ok || x.heap[i].ckpt != s.due {
			x.stale--
			continue
		}
		e := &x.heap[i]
		e.ckpt = 0
		if e.flags&revoking != 0 || e.due <= now {
			continue
		}
		if left := ceilDiv(e.due-now, second); left < e.ttl {
			out = append(out, &pb.LeaseCheckpoint{ID: e.id, Remaining_TTL: left})
			e.flags |= recorded
		}
		x.schedule(now, e)
	}
	x.compactQueue()
	return out
}

// schedule queues the next checkpoint of a lease longer than the interval.
func (x *expiry) schedule(now int64, e *entry) {
	if x.interval <= 0 || e.ttl*second <= x.interval {
		return
	}
	e.ckpt = now + x.interval
	x.ckpts = append(x.ckpts, scheduled{id: e.id, due: e.ckpt})
}

// compactQueue releases the consumed head of the checkpoint queue.
func (x *expiry) compactQueue() {
	if x.ckHead == len(x.ckpts) {
		if cap(x.ckpts) > 1024 {
			x.ckpts = nil
		}
		x.ckpts = x.ckpts[:0]
		x.ckHead = 0
		return
	}
	if x.ckHead > 1024 && x.ckHead > len(x.ckpts)/2 {
		n := copy(x.ckpts, x.ckpts[x.ckHead:])
		clear(x.ckpts[n:])
		x.ckpts = x.ckpts[:n]
		x.ckHead = 0
	}
}

// The heap: a binary min-heap on due, with index kept in step.

func (x *expiry) push(e entry) {
	x.heap = append(x.heap, e)
	i := len(x.heap) - 1
	x.index[e.id] = int32(i)
	x.up(i)
}

func (x *expiry) remove(i int) {
	last := len(x.heap) - 1
	if x.heap[i].ckpt != 0 {
		x.stale++ // its queued checkpoint
	}
	delete(x.index, x.heap[i].id)
	if i != last {
		x.heap[i] = x.heap[last]
		x.index[x.heap[i].id] = int32(i)
	}
	x.heap = x.heap[:last]
	if i != last {
		x.down(i)
		x.up(i)
	}
	x.shrink()
	if 2*x.stale > len(x.ckpts)-x.ckHead {
		x.dropStale()
	}
}

// dropStale removes the stale items from the checkpoint queue.
func (x *expiry) dropStale() {
	kept := x.ckpts[:0]
	for _, s := range x.ckpts[x.ckHead:] {
		if i, ok := x.index[s.id]; ok && x.heap[i].ckpt == s.due {
			kept = append(kept, s)
		}
	}
	clear(x.ckpts[len(kept):])
	x.ckpts, x.ckHead, x.stale = kept, 0, 0
	x.compactQueue()
}

// shrink releases memory once most leases are gone: Go maps never shrink,
// so the map is rebuilt with the slice when the slice is a quarter full
// (amortized O(1) per removal), and both are dropped when empty.
func (x *expiry) shrink() {
	switch {
	case len(x.heap) == 0:
		x.heap = nil
		x.index = make(map[int64]int32)
	case cap(x.heap) >= 1024 && len(x.heap) < cap(x.heap)/4:
		h := make([]entry, len(x.heap), 2*len(x.heap))
		copy(h, x.heap)
		x.heap = h
		x.index = make(map[int64]int32, len(x.heap))
		for i := range x.heap {
			x.index[x.heap[i].id] = int32(i)
		}
	}
}

func (x *expiry) heapify() {
	for i := range x.heap {
		x.index[x.heap[i].id] = int32(i)
	}
	for i := len(x.heap)/2 - 1; i >= 0; i-- {
		x.down(i)
	}
}

func (x *expiry) swap(i, j int) {
	x.heap[i], x.heap[j] = x.heap[j], x.heap[i]
	x.index[x.heap[i].id] = int32(i)
	x.index[x.heap[j].id] = int32(j)
}

func (x *expiry) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if x.heap[p].due <= x.heap[i].due {
			return
		}
		x.swap(i, p)
		i = p
	}
}

func (x *expiry) down(i int) {
	n := len(x.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && x.heap[r].due < x.heap[l].due {
			m = r
		}
		if x.heap[i].due <= x.heap[m].due {
			return
		}
		x.swap(i, m)
		i = m
	}
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

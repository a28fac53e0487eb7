package frontdoor

import (
	"sync"
	"time"

	"github.com/cairnkv/cairn/storage/mvcc"
)

// Shared read views.
//
// Every read used to open a view of its own: a pebble snapshot (taken and
// released under the database's lock) and a lookup of the state record. In
// the profile of linearizable gets spread over three members that was a
// twentieth of the leader's CPU. A read needs only a view that includes
// every entry up to its read index (or, serializable, up to what was
// applied when it began): any view whose applied index is at or above that
// serves it with the same answer a view opened at that moment would give
// as a linearizable read. So reads share the newest view for a while.
//
// The cache holds one view, replaced only by a newer one (views' applied
// indexes only grow, so a client never reads an older state after a newer
// one), and for at most viewMaxAge: a view pins the versions it sees, so
// one timer releases it once it is that old, whether or not reads come. A
// view is closed when the cache has let it go and the last read using it
// ends. A view that a replacement of the state machine invalidated is never
// handed out again. Once the member begins to stop (Config.Stopping), the
// cache lets its view go and keeps none: every read then opens its own, so
// that none is left open when the store closes.

// viewMaxAge bounds how long a shared view is handed out.
const viewMaxAge = 10 * time.Millisecond

type viewCache struct {
	store *mvcc.Store

	mu     sync.Mutex
	cur    *sharedView // nil: none
	timer  *time.Timer // releases cur once it is viewMaxAge old; nil until first used
	closed bool        // keep no view
}

type sharedView struct {
	v      *mvcc.ReadView
	opened time.Time
	refs   int // reads using it, and one for the cache while it is cur; under the cache's mu
}

// acquire returns a view whose applied index is at least index. The caller
// must release it.
func (c *viewCache) acquire(index uint64) *sharedView {
	now := time.Now()
	c.mu.Lock()
	if sv := c.cur; sv != nil && sv.v.AppliedIndex() >= index && now.Sub(sv.opened) < viewMaxAge && !sv.v.Replaced() {
		sv.refs++
		c.mu.Unlock()
		return sv
	}
	c.mu.Unlock()

	sv := &sharedView{v: c.store.Read(), opened: time.Now(), refs: 1}
	var dropped *sharedView
	c.mu.Lock()
	// Once closed, not cached: the read's own.
	if old := c.cur; !c.closed && (old == nil || sv.v.AppliedIndex() >= old.v.AppliedIndex() || old.v.Replaced()) {
		dropped = c.drop()
		c.cur = sv
		sv.refs++
		if c.timer == nil {
			c.timer = time.AfterFunc(viewMaxAge, c.expire)
		} else {
			c.timer.Reset(viewMaxAge)
		}
	}
	c.mu.Unlock()
	if dropped != nil {
		dropped.v.Close()
	}
	return sv
}

// release ends a read's use of sv.
func (c *viewCache) release(sv *sharedView) {
	c.mu.Lock()
	sv.refs--
	last := sv.refs == 0
	c.mu.Unlock()
	if last {
		sv.v.Close()
	}
}

// expire lets the cached view go once it is viewMaxAge old.
func (c *viewCache) expire() {
	c.mu.Lock()
	var dropped *sharedView
	if sv := c.cur; sv != nil {
		if age := time.Since(sv.opened); age < viewMaxAge {
			c.timer.Reset(viewMaxAge - age)
		} else {
			dropped = c.drop()
		}
	}
	c.mu.Unlock()
	if dropped != nil {
		dropped.v.Close()
	}
}

// close lets the cached view go and keeps none from then on.
func (c *viewCache) close() {
	c.mu.Lock()
	c.closed = true
	dropped := c.drop()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	if dropped != nil {
		dropped.v.Close()
	}
}

// drop takes cur out of the cache and returns it if that was its last
// reference (the caller closes it outside the lock). Called with mu held.
func (c *viewCache) drop() *sharedView {
	sv := c.cur
	if sv == nil {
		return nil
	}
	c.cur = nil
	if sv.refs--; sv.refs == 0 {
		return sv
	}
	return nil
}

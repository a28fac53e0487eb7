package watch

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// Errors a create request is refused with, in its response's cancel_reason:
// etcd's texts (storage/mvcc/watcher.go).
var (
	errEmptyRange  = errors.New("mvcc: watcher range is empty")
	errDuplicateID = errors.New("mvcc: duplicate watch ID provided on the WatchStream")
)

// ErrTooManyWatchers is the cancel reason of a watcher created beyond
// Options.WatcherBytes on its stream. etcd has no such bound.
var ErrTooManyWatchers = errors.New("etcdserver: too many watchers on this stream (watch-watcher-bytes); open another stream or watch a wider range")

// Watch IDs with a meaning of their own (clientv3.AutoWatchID and
// clientv3.InvalidWatchID).
const (
	autoWatchID    int64 = 0
	invalidWatchID int64 = -1
)

// chunkRevisions bounds the revisions one catch-up read walks, so that a
// watcher of a quiet range behind a busy log still reads in slices.
const chunkRevisions = 4096

// errChunkFull stops a catch-up read at a revision boundary.
var errChunkFull = errors.New("watch: chunk full")

// streamEnv is what a stream's state machine asks of the world. The stream
// actor implements it with messages; the transcript tests record it.
type streamEnv interface {
	// subscribe sends WatchSubscribe for r to the hub.
	subscribe(sub int64, r keyRange)
	// unsubscribe sends WatchUnsubscribe for r to the hub.
	unsubscribe(r keyRange)
	// queryHub sends WatchProgressQuery to the hub.
	queryHub(min int64)
	// catchUpLater has WatchCatchUp delivered to the stream after the
	// messages already waiting.
	catchUpLater()
	// answer answers the parked pull.
	answer(*cairnpb.WatchResponses)
	// ticker starts or stops the progress_notify timer.
	ticker(on bool)
}

type wstate uint8

const (
	// subscribing: WatchSubscribe is out; events are not taken yet.
	subscribing wstate = iota
	// synced: events from the hub at or above next are queued.
	synced
	// unsynced: events from the hub are dropped; catch-up reads history
	// from next.
	unsynced
	// compacted: cancelled because next fell below the compaction
	// revision; the ID stays taken until the client cancels it, as in etcd.
	compacted
)

var stateNames = [...]string{"subscribing", "synced", "unsynced", "compacted"}

func (s wstate) String() string { return stateNames[s] }

// watcher is one watch of a stream.
type watcher struct {
	id       int64
	sub      int64 // subscription number, unique in the stream
	r        keyRange
	startRev int64 // as requested (0: from now)
	// next is the first revision whose events have not been queued: every
	// event of the watcher's range below next has been queued once, none
	// at or above it.
	next  int64
	state wstate

	prevKV, fragment, progress bool
	noPut, noDelete            bool
	// sent: a response with events was queued since the last progress tick
	// (etcd elides the next progress notification then).
	sent bool

	evs     []*mvccpb.Event // scratch: events of the response being built
	touched bool            // scratch: in stream.touched
}

// resetScratch empties w.evs, and lets a large one go: one huge revision
// must not leave a large array behind for the watcher's life.
func (w *watcher) resetScratch() {
	if cap(w.evs) > 64 {
		w.evs = nil
		return
	}
	clear(w.evs)
	w.evs = w.evs[:0]
}

func (w *watcher) filtered(ev *mvccpb.Event) bool {
	return (w.noPut && ev.Type == mvccpb.Event_PUT) || (w.noDelete && ev.Type == mvccpb.Event_DELETE)
}

// entry is one queued response. watch is the ID of the watcher whose events
// or progress it carries, or invalidWatchID for a response that must reach
// the client even if the watcher goes (created, canceled, compacted).
type entry struct {
	resp  *pb.WatchResponse
	size  int64
	watch int64
}

// stream is the state machine of one gRPC Watch stream: etcd's
// serverWatchStream and watchStream in one, fed by the hub instead of a
// shared store lock. See doc.go for its invariants.
type stream struct {
	cfg *Config
	env streamEnv

	watchers map[int64]*watcher
	subs     map[int64]*watcher // subscribing, by subscription number
	nextID   int64              // next automatic watch ID to try
	nextSub  int64
	idx      *index[*watcher]

	queue  []entry
	queued int64 // bytes in queue

	watcherBytes int64 // WatcherCost of the watchers

	pullMax      int64 // bytes of the parked pull; 0 if none
	requestsDone uint32

	unsynced       int  // watchers in state unsynced
	catchUpPending bool // a WatchCatchUp is on its way
	notifying      int  // watchers with progress_notify

	progressAll int     // progress requests waiting for their answer
	progressMin int64   // the store's revision at the last of them
	queryOut    bool    // a WatchProgressQuery is out
	tick        []int64 // watchers a progress tick asks about

	touched []*watcher // scratch
}

func newStream(cfg *Config, env streamEnv) *stream {
	return &stream{
		cfg:      cfg,
		env:      env,
		watchers: make(map[int64]*watcher),
		subs:     make(map[int64]*watcher),
		idx:      newIndex[*watcher](),
	}
}

func (s *stream) header(rev int64) *pb.ResponseHeader {
	return &pb.ResponseHeader{
		ClusterId: s.cfg.ClusterID,
		MemberId:  s.cfg.MemberID,
		Revision:  rev,
		RaftTerm:  s.cfg.Term(),
	}
}

// request handles one client request, as etcd's recvLoop does.
func (s *stream) request(r *pb.WatchRequest) {
	s.requestsDone++
	switch u := r.GetRequestUnion().(type) {
	case *pb.WatchRequest_CreateRequest:
		if u.CreateRequest != nil {
			s.create(u.CreateRequest)
		}
	case *pb.WatchRequest_CancelRequest:
		if u.CancelRequest != nil {
			s.cancel(u.CancelRequest.GetWatchId())
		}
	case *pb.WatchRequest_ProgressRequest:
		if u.ProgressRequest != nil {
			s.requestProgressAll()
		}
	}
	s.flush()
}

func (s *stream) create(c *pb.WatchCreateRequest) {
	rev := s.cfg.Store.Rev()
	if c.GetStartRevision() < 0 {
		s.push(entry{watch: invalidWatchID, resp: &pb.WatchResponse{
			Header: s.header(rev), WatchId: invalidWatchID, Canceled: true, Created: true,
			CancelReason: rpctypes.ErrCompacted.Error(),
		}})
		return
	}
	r := newKeyRange(c.GetKey(), c.GetRangeEnd())
	id := c.GetWatchId()
	var err error
	switch {
	case r.empty():
		err = errEmptyRange
	case id == autoWatchID:
		for s.watchers[s.nextID] != nil {
			s.nextID++
		}
		id = s.nextID
		s.nextID++
	case s.watchers[id] != nil:
		err = errDuplicateID
	}
	cost := WatcherCost(r.start, r.end)
	if err == nil && s.watcherBytes+cost > s.cfg.WatcherBytes {
		err = ErrTooManyWatchers
	}
	if err != nil {
		s.push(entry{watch: invalidWatchID, resp: &pb.WatchResponse{
			Header: s.header(rev), WatchId: invalidWatchID, Created: true, Canceled: true,
			CancelReason: err.Error(),
		}})
		return
	}
	s.nextSub++
	w := &watcher{
		id:       id,
		sub:      s.nextSub,
		r:        cloneRange(r),
		startRev: c.GetStartRevision(),
		next:     c.GetStartRevision(),
		prevKV:   c.GetPrevKv(),
		fragment: c.GetFragment(),
		progress: c.GetProgressNotify(),
	}
	if w.next == 0 {
		w.next = rev + 1
	}
	for _, f := range c.GetFilters() {
		switch f {
		case pb.WatchCreateRequest_NOPUT:
			w.noPut = true
		case pb.WatchCreateRequest_NODELETE:
			w.noDelete = true
		}
	}
	s.watchers[id] = w
	s.watcherBytes += cost
	s.subs[w.sub] = w
	s.idx.add(w.r, w)
	s.env.subscribe(w.sub, w.r)
	if w.progress {
		s.notifying++
		if s.notifying == 1 {
			s.env.ticker(true)
		}
	}
	s.push(entry{watch: invalidWatchID, resp: &pb.WatchResponse{Header: s.header(rev), WatchId: id, Created: true}})
}

func cloneRange(r keyRange) keyRange {
	out := keyRange{start: slices.Clone(r.start)}
	if r.end != nil {
		out.end = append([]byte{}, r.end...)
	}
	return out
}

func (s *stream) cancel(id int64) {
	w := s.watchers[id]
	if w == nil {
		return // etcd answers nothing for an unknown ID
	}
	s.drop(w)
	s.forgetQueued(id)
	delete(s.watchers, id)
	s.watcherBytes -= WatcherCost(w.r.start, w.r.end)
	s.push(entry{watch: invalidWatchID, resp: &pb.WatchResponse{
		Header: s.header(s.cfg.Store.Rev()), WatchId: id, Canceled: true,
	}})
}

// drop removes w from the hub and the index; the caller decides whether its
// ID stays taken and what becomes of its queued responses.
func (s *stream) drop(w *watcher) {
	switch w.state {
	case compacted:
		return // dropped when it was compacted
	case subscribing:
		delete(s.subs, w.sub)
	case unsynced:
		s.addUnsynced(-1)
	}
	s.idx.remove(w.r, w)
	s.env.unsubscribe(w.r)
	if w.progress {
		s.notifying--
		if s.notifying == 0 {
			s.env.ticker(false)
		}
	}
}

// forgetQueued removes the queued events and progress notifications of
// watcher id: a cancelled watcher is sent nothing after its cancellation.
func (s *stream) forgetQueued(id int64) {
	kept := s.queue[:0]
	for _, e := range s.queue {
		if e.watch == id {
			s.addQueued(-e.size)
			continue
		}
		kept = append(kept, e)
	}
	clear(s.queue[len(kept):])
	s.queue = kept
}

// compact cancels w because its next revision is below the compaction
// revision c, with etcd's response (header revision 0, compact_revision c).
func (s *stream) compact(w *watcher, c int64) {
	s.drop(w)
	w.state = compacted
	s.push(entry{watch: invalidWatchID, resp: &pb.WatchResponse{
		Header: s.header(0), WatchId: w.id, CompactRevision: c, Canceled: true,
	}})
}

// subscribed handles the hub's answer to a WatchSubscribe: every event above
// rev will come from the hub, so a watcher whose next is above rev is in
// sync, and any other first reads history up to a view at least as new.
func (s *stream) subscribed(sub, rev int64) {
	w := s.subs[sub]
	if w == nil {
		return // cancelled meanwhile
	}
	delete(s.subs, sub)
	if w.next > rev {
		w.state = synced
		s.maybeProgressAll()
		return
	}
	s.lag(w, false)
}

// lag moves w to catch up from history from w.next.
func (s *stream) lag(w *watcher, fromSynced bool) {
	w.state = unsynced
	s.addUnsynced(1)
	if fromSynced {
		s.cfg.Stats.Lagged.Add(1)
	}
	s.catchUpSoon()
}

// lagged handles the hub's WatchLagged: every synced watcher catches up.
func (s *stream) lagged() {
	for _, w := range s.sortedWatchers() {
		if w.state == synced {
			s.lag(w, true)
		}
	}
}

func (s *stream) sortedWatchers() []*watcher {
	ws := make([]*watcher, 0, len(s.watchers))
	for _, w := range s.watchers {
		ws = append(ws, w)
	}
	slices.SortFunc(ws, func(a, b *watcher) int { return cmp.Compare(a.id, b.id) })
	return ws
}

// catchUpSoon asks for a catch-up read if a watcher is behind and the queue
// is below half its budget (a pull that drains it asks again).
func (s *stream) catchUpSoon() {
	if s.unsynced > 0 && !s.catchUpPending && s.queued < s.cfg.QueueBytes/2 {
		s.catchUpPending = true
		s.env.catchUpLater()
	}
}

// events handles events from the hub: each revision becomes one response
// per synced watcher it concerns, as etcd's notify makes them.
func (s *stream) events(evs []*mvccpb.Event) {
	prev := prevKVs{s: s}
	defer prev.close()
	for i := 0; i < len(evs); {
		rev := evs[i].GetKv().GetModRevision()
		j := i + 1
		for j < len(evs) && evs[j].GetKv().GetModRevision() == rev {
			j++
		}
		s.liveRevision(rev, evs[i:j], &prev)
		i = j
	}
	s.flush()
}

func (s *stream) liveRevision(rev int64, evs []*mvccpb.Event, prev *prevKVs) {
	s.touched = s.touched[:0]
	for _, ev := range evs {
		s.idx.stab(ev.GetKv().GetKey(), func(w *watcher) {
			if w.state != synced || rev < w.next {
				return
			}
			if !w.touched {
				w.touched = true
				s.touched = append(s.touched, w)
			}
			if !w.filtered(ev) {
				w.evs = append(w.evs, ev)
			}
		})
	}
	slices.SortFunc(s.touched, func(a, b *watcher) int { return cmp.Compare(a.id, b.id) })
	for _, w := range s.touched {
		w.touched = false
		if len(w.evs) == 0 {
			w.next = rev + 1 // every event filtered out: nothing to send, as etcd
			continue
		}
		out := make([]*mvccpb.Event, len(w.evs))
		for i, ev := range w.evs {
			out[i] = ev
			if w.prevKV && !isCreate(ev) {
				out[i] = &mvccpb.Event{Type: ev.Type, Kv: ev.Kv, PrevKv: prev.get(ev)}
			}
		}
		w.resetScratch()
		resp := &pb.WatchResponse{Header: s.header(rev), WatchId: w.id, Events: out}
		if size := responseSize(resp); s.queued+size > s.cfg.QueueBytes {
			// No room: this revision and the ones after it come from history.
			s.lag(w, true)
			continue
		}
		w.next = rev + 1
		s.queueEvents(w, resp)
	}
}

func isCreate(ev *mvccpb.Event) bool {
	return ev.GetType() == mvccpb.Event_PUT && ev.GetKv().GetCreateRevision() == ev.GetKv().GetModRevision()
}

// prevKVs looks up prev_kv for live events, once per event, with one view.
type prevKVs struct {
	s    *stream
	view *mvcc.ReadView
	seen map[*mvccpb.Event]*mvccpb.KeyValue
}

func (p *prevKVs) get(ev *mvccpb.Event) *mvccpb.KeyValue {
	if kv, ok := p.seen[ev]; ok {
		return kv
	}
	if p.view == nil {
		p.view = p.s.cfg.Store.Read()
		p.seen = make(map[*mvccpb.Event]*mvccpb.KeyValue)
	}
	kv, err := p.view.PrevKV(ev.GetKv().GetKey(), ev.GetKv().GetModRevision())
	if err != nil && !errors.Is(err, mvcc.ErrCompacted) {
		// The history of a committed revision is missing: the store is
		// damaged. Stop this stream; its client watches again.
		panic(fmt.Errorf("watch: prev_kv of %q at %d: %w", ev.GetKv().GetKey(), ev.GetKv().GetModRevision(), err))
	}
	p.seen[ev] = kv // nil when compacted, as etcd leaves it out
	return kv
}

func (p *prevKVs) close() {
	if p.view != nil {
		p.view.Close()
	}
}

// catchUp reads the next chunk of history for the watchers that are behind:
// one walk of the revision log from the lowest next, at most ChunkBytes of
// events (whole revisions) and chunkRevisions revisions, from a new view.
// Watchers that reach the view's revision are in sync again.
func (s *stream) catchUp() {
	s.catchUpPending = false
	if s.unsynced == 0 || s.queued >= s.cfg.QueueBytes/2 {
		return // a pull that drains the queue asks again
	}
	v := s.cfg.Store.Read()
	defer v.Close()
	vrev, crev := v.Rev(), v.CompactRev()

	var parts []*watcher
	from, prevKV := int64(0), false
	for _, w := range s.sortedWatchers() {
		if w.state != unsynced {
			continue
		}
		if w.next < crev {
			s.compact(w, crev)
			continue
		}
		parts = append(parts, w)
		if from == 0 || w.next < from {
			from = w.next
		}
		prevKV = prevKV || w.prevKV
	}
	if len(parts) > 0 {
		s.readChunk(v, parts, from, vrev, prevKV)
	}
	s.catchUpSoon()
	s.maybeProgressAll()
	s.flush()
}

func (s *stream) readChunk(v *mvcc.ReadView, parts []*watcher, from, vrev int64, prevKV bool) {
	to := min(vrev, from+chunkRevisions-1)
	budget := max(min(s.cfg.ChunkBytes, s.cfg.QueueBytes-s.queued), 1)
	var bytes, last, stop int64
	match := func(key []byte, rev int64) bool {
		found := false
		s.idx.stab(key, func(w *watcher) { found = found || (w.state == unsynced && rev >= w.next) })
		return found
	}
	err := v.Events(from, to, mvcc.EventOptions{RangeEnd: []byte{0}, Match: match, PrevKV: prevKV},
		func(ev *mvccpb.Event) error {
			rev := ev.GetKv().GetModRevision()
			if rev != last {
				if last != 0 && bytes >= budget {
					stop = rev
					return errChunkFull
				}
				last = rev
			}
			s.idx.stab(ev.GetKv().GetKey(), func(w *watcher) {
				if w.state != unsynced || rev < w.next || w.filtered(ev) {
					return
				}
				e := ev
				if !w.prevKV && ev.PrevKv != nil {
					e = &mvccpb.Event{Type: ev.Type, Kv: ev.Kv}
				}
				w.evs = append(w.evs, e)
				bytes += eventSize(e)
			})
			return nil
		})
	if err != nil && !errors.Is(err, errChunkFull) {
		// History the view promises is unreadable: stop this stream.
		panic(fmt.Errorf("watch: read history [%d, %d]: %w", from, to, err))
	}
	end := to
	if stop != 0 {
		end = stop - 1
	}
	inSync := end == vrev
	for _, w := range parts {
		if len(w.evs) > 0 {
			resp := &pb.WatchResponse{Header: s.header(vrev), WatchId: w.id, Events: slices.Clone(w.evs)}
			w.resetScratch()
			s.queueEvents(w, resp)
		}
		w.next = max(w.next, end+1)
		if inSync {
			w.state = synced
			s.addUnsynced(-1)
		}
	}
}

// queueEvents queues a response with events for w, in fragments if w asked
// for them and the response is too large (etcd's sendFragments).
func (s *stream) queueEvents(w *watcher, resp *pb.WatchResponse) {
	w.sent = true
	if !w.fragment || len(resp.Events) < 2 || proto.Size(resp) < s.cfg.FragmentBytes {
		s.push(entry{watch: w.id, resp: resp})
		return
	}
	evs := resp.Events
	resp.Events = nil
	base := proto.Size(resp) + 2 // the fragment flag
	for len(evs) > 0 {
		cur := &pb.WatchResponse{Header: resp.Header, WatchId: resp.WatchId, Fragment: true}
		size := base
		n := 0
		for n < len(evs) {
			size += eventFieldSize(evs[n])
			if n > 0 && size >= s.cfg.FragmentBytes {
				break
			}
			n++
		}
		cur.Events, evs = evs[:n:n], evs[n:]
		cur.Fragment = len(evs) > 0
		s.push(entry{watch: w.id, resp: cur})
	}
}

// eventFieldSize is what one event adds to an encoded WatchResponse.
func eventFieldSize(ev *mvccpb.Event) int {
	return protowire.SizeTag(11) + protowire.SizeBytes(proto.Size(ev))
}

// push queues a response.
func (s *stream) push(e entry) {
	if e.size == 0 {
		e.size = responseSize(e.resp)
	}
	s.queue = append(s.queue, e)
	s.addQueued(e.size)
}

// addUnsynced changes the count of watchers catching up, and the hub's
// count of streams catching up when it leaves or reaches zero.
func (s *stream) addUnsynced(n int) {
	before := s.unsynced
	s.unsynced += n
	switch {
	case before == 0 && s.unsynced > 0:
		s.cfg.Stats.CatchingUp.Add(1)
	case before > 0 && s.unsynced == 0:
		s.cfg.Stats.CatchingUp.Add(-1)
	}
}

// addQueued changes the bytes queued, here and in the hub's Stats.
func (s *stream) addQueued(n int64) {
	s.queued += n
	s.cfg.Stats.QueuedBytes.Add(n)
}

// responseSize estimates the memory of a response for the queue's budget:
// the bytes of its keys and values and a fixed overhead per event, without
// encoding it. Events shared by several responses count in each.
func responseSize(r *pb.WatchResponse) int64 {
	n := int64(64) + int64(len(r.CancelReason))
	for _, ev := range r.Events {
		n += eventSize(ev)
	}
	return n
}

func eventSize(ev *mvccpb.Event) int64 {
	n := int64(48)
	if kv := ev.GetKv(); kv != nil {
		n += int64(len(kv.Key) + len(kv.Value))
	}
	if kv := ev.GetPrevKv(); kv != nil {
		n += 48 + int64(len(kv.Key)+len(kv.Value))
	}
	return n
}

// pull parks the handler's pull and answers it if there is something.
func (s *stream) pull(maxBytes int64) {
	s.pullMax = max(maxBytes, 1)
	s.flush()
}

// flush answers the parked pull with queued responses, up to its bytes (at
// least one), if there are responses or processed requests to report.
func (s *stream) flush() {
	if s.pullMax == 0 || (len(s.queue) == 0 && s.requestsDone == 0) {
		return
	}
	var (
		out   []*pb.WatchResponse
		bytes int64
		n     int
	)
	for n < len(s.queue) && (n == 0 || bytes+s.queue[n].size <= s.pullMax) {
		out = append(out, s.queue[n].resp)
		bytes += s.queue[n].size
		n++
	}
	clear(s.queue[:n])
	s.queue = s.queue[n:]
	if len(s.queue) == 0 {
		s.queue = nil // let the backing array go
	}
	s.addQueued(-bytes)
	s.env.answer(&cairnpb.WatchResponses{Responses: out, RequestsDone: s.requestsDone})
	s.pullMax, s.requestsDone = 0, 0
	s.catchUpSoon()
}

// progressTick handles the progress_notify timer: watchers that were sent
// nothing since the last tick are told the hub's revision, if in sync.
func (s *stream) progressTick() {
	for _, w := range s.sortedWatchers() {
		if !w.progress || w.state == compacted {
			continue
		}
		if !w.sent {
			s.tick = append(s.tick, w.id)
		}
		w.sent = false
	}
	if len(s.tick) > 0 {
		s.query(0)
	}
}

// requestProgressAll handles a client's progress request as etcd's
// RequestProgressAll: if every watcher is in sync and at or past its start
// revision now, one response with watch ID -1 will carry a revision they
// have all seen; otherwise, or with no watchers, there is no answer. A
// watcher from now whose subscription is out is in sync (etcd's are at
// once). The answer waits until the hub has forwarded the store's current
// revision to the stream, so that its revision is never below it.
func (s *stream) requestProgressAll() {
	rev := s.cfg.Store.Rev()
	n := 0
	for _, w := range s.watchers {
		switch {
		case w.startRev > rev:
			return
		case w.state == synced || (w.state == subscribing && w.startRev == 0):
			n++
		default:
			return // catching up, or compacted: not in etcd's synced group
		}
	}
	if n == 0 {
		return
	}
	s.progressAll++
	s.progressMin = max(s.progressMin, rev)
	s.maybeProgressAll()
}

// maybeProgressAll asks the hub for its revision for the progress requests
// that wait, once every watcher is in sync.
func (s *stream) maybeProgressAll() {
	if s.progressAll == 0 || s.queryOut {
		return
	}
	need := s.progressMin
	for _, w := range s.watchers {
		switch w.state {
		case compacted:
		case synced:
			need = max(need, w.startRev, w.next-1)
		default:
			return // asked again when it is in sync
		}
	}
	s.query(need)
}

func (s *stream) query(min int64) {
	if s.queryOut {
		return // its answer serves this need too, or asks again
	}
	s.queryOut = true
	s.env.queryHub(min)
}

// eligible reports whether a progress notification at hub revision rev is
// true for w, as etcd's progressIfSync: w is in sync, rev has reached its
// start revision, and w has been sent nothing above rev.
func eligible(w *watcher, rev int64) bool {
	return w.state == synced && rev >= w.startRev && rev >= w.next-1
}

// hubRevision handles the hub's answer to WatchProgressQuery.
func (s *stream) hubRevision(rev int64) {
	s.queryOut = false
	for _, id := range s.tick {
		if w := s.watchers[id]; w != nil && w.progress && eligible(w, rev) {
			s.push(entry{watch: id, resp: &pb.WatchResponse{Header: s.header(rev), WatchId: id}})
		}
	}
	s.tick = s.tick[:0]
	if s.progressAll > 0 {
		all, n := rev >= s.progressMin, 0
		for _, w := range s.watchers {
			if w.state != compacted {
				n++
				all = all && eligible(w, rev)
			}
		}
		switch {
		case n == 0:
			s.progressAll, s.progressMin = 0, 0
		case all:
			for range s.progressAll {
				s.push(entry{watch: invalidWatchID, resp: &pb.WatchResponse{Header: s.header(rev), WatchId: invalidWatchID}})
			}
			s.progressAll, s.progressMin = 0, 0
		default:
			s.maybeProgressAll()
		}
	}
	s.flush()
}

// watcherOverhead is a watcher's state beside its key range: the watcher,
// its map entries in the stream, its index entry and the hub's.
const watcherOverhead = 384

// WatcherCost is what a watcher of [key, rangeEnd) counts for in
// Options.WatcherBytes: its range is held by the stream and by the hub.
func WatcherCost(key, rangeEnd []byte) int64 {
	return watcherOverhead + 2*int64(len(key)+len(rangeEnd))
}

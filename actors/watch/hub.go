package watch

import (
	"slices"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// hubEnv is what the hub's state machine asks of the world: the hub actor
// sends messages; the transcript tests record them.
type hubEnv interface {
	send(to string, msg proto.Message)
}

// streamEntry is the hub's record of one stream actor.
type streamEntry struct {
	id   string               // the stream actor's PID id
	subs map[rangeID]keyRange // distinct ranges subscribed, with...
	refs map[rangeID]int      // ...how many subscriptions each
	n    int64                // subscriptions in all

	batch []*mvccpb.Event // scratch: the events of the dispatch in progress
	last  int             // scratch: index of the last event added to batch, +1
}

type query struct {
	to  string
	min int64
}

// hub is the state machine of the watch hub: it knows which stream wants
// which ranges and forwards each committed event to the streams whose
// ranges contain its key. It holds no events after a dispatch. See doc.go
// for its invariants.
type hub struct {
	env     hubEnv
	rev     int64 // every event up to rev has been dispatched
	streams map[string]*streamEntry
	idx     *index[*streamEntry]
	subs    int64 // subscriptions in all streams
	queries []query
	touched []*streamEntry
}

func newHub(env hubEnv, rev int64) *hub {
	return &hub{env: env, rev: rev, streams: make(map[string]*streamEntry), idx: newIndex[*streamEntry]()}
}

// addStream records a new stream actor.
func (h *hub) addStream(id string) {
	h.streams[id] = &streamEntry{id: id, subs: make(map[rangeID]keyRange), refs: make(map[rangeID]int)}
}

// removeStream forgets a stream actor that stopped, with its subscriptions
// and queries.
func (h *hub) removeStream(id string) {
	e := h.streams[id]
	if e == nil {
		return
	}
	for rid, r := range e.subs {
		for range e.refs[rid] {
			h.idx.remove(r, e)
		}
	}
	h.subs -= e.n
	delete(h.streams, id)
	h.queries = slices.DeleteFunc(h.queries, func(q query) bool { return q.to == id })
}

// subscribe adds one subscription of stream id to r and answers it.
func (h *hub) subscribe(id string, m *cairnpb.WatchSubscribe) {
	e := h.streams[id]
	if e == nil {
		return // not a stream of this hub (an earlier incarnation's)
	}
	r := cloneRange(newKeyRange(m.GetKey(), m.GetRangeEnd()))
	rid := r.id()
	if e.refs[rid] == 0 {
		e.subs[rid] = r
	}
	e.refs[rid]++
	e.n++
	h.subs++
	h.idx.add(r, e)
	h.env.send(id, &cairnpb.WatchSubscribed{Subscription: m.GetSubscription(), Revision: h.rev})
}

// unsubscribe removes one subscription of stream id to r.
func (h *hub) unsubscribe(id string, m *cairnpb.WatchUnsubscribe) {
	e := h.streams[id]
	if e == nil {
		return
	}
	r := newKeyRange(m.GetKey(), m.GetRangeEnd())
	rid := r.id()
	if e.refs[rid] == 0 {
		return
	}
	e.refs[rid]--
	if e.refs[rid] == 0 {
		delete(e.refs, rid)
		delete(e.subs, rid)
	}
	e.n--
	h.subs--
	h.idx.remove(r, e)
}

// progressQuery answers stream id with the hub's revision once it reaches
// min.
func (h *hub) progressQuery(id string, min int64) {
	if h.streams[id] == nil {
		return
	}
	if h.rev >= min {
		h.env.send(id, &cairnpb.WatchHubRevision{Revision: h.rev})
		return
	}
	h.queries = append(h.queries, query{to: id, min: min})
}

// dispatch forwards the events of a WatchEvents from the apply actor. It
// reports whether the hub's revision advanced.
//
// Revisions are consecutive and each has at least one event, so the hub
// sees a gap when a message starts above rev+1 or carries only a revision
// above rev: the events in between were not sent (the apply actor had no
// room for them, or failed between its commit and its send). Every stream
// is then told WatchLagged, and its synced watchers read those revisions
// from history. Events at or below rev were dispatched already and are
// skipped.
func (h *hub) dispatch(m *cairnpb.WatchEvents) bool {
	if m.GetRevision() <= h.rev {
		return false
	}
	evs := m.GetEvents()
	for len(evs) > 0 && evs[0].GetKv().GetModRevision() <= h.rev {
		evs = evs[1:]
	}
	if len(evs) == 0 || evs[0].GetKv().GetModRevision() > h.rev+1 {
		h.rev = m.GetRevision()
		for _, id := range h.sortedStreams() {
			h.env.send(id, &cairnpb.WatchLagged{Revision: h.rev})
		}
		h.answerQueries()
		return true
	}
	h.touched = h.touched[:0]
	for i, ev := range evs {
		h.idx.stab(ev.GetKv().GetKey(), func(e *streamEntry) {
			if e.last == i+1 {
				return // already added through another of its ranges
			}
			if e.last == 0 {
				h.touched = append(h.touched, e)
			}
			e.last = i + 1
			e.batch = append(e.batch, ev)
		})
	}
	h.rev = m.GetRevision()
	for _, e := range h.touched {
		// The batch goes to the stream: the next dispatch starts a new one.
		h.env.send(e.id, &cairnpb.WatchEvents{Events: e.batch, Revision: h.rev})
		e.batch, e.last = nil, 0
	}
	clear(h.touched)
	h.answerQueries()
	return true
}

func (h *hub) answerQueries() {
	kept := h.queries[:0]
	for _, q := range h.queries {
		if q.min <= h.rev {
			h.env.send(q.to, &cairnpb.WatchHubRevision{Revision: h.rev})
			continue
		}
		kept = append(kept, q)
	}
	clear(h.queries[len(kept):])
	h.queries = kept
}

func (h *hub) sortedStreams() []string {
	ids := make([]string, 0, len(h.streams))
	for id := range h.streams {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

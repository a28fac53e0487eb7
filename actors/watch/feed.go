package watch

import (
	"github.com/asynkron/protoactor-go/actor"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// Feed is the apply actor's side of the hub's inbound queue: it sends the
// events of each committed batch to the hub while the events the hub has
// not acknowledged stay within a byte budget, and only the revision when
// they would not (the hub's watchers then read those revisions from
// history). Owned by the apply actor; a nil *Feed does nothing.
type Feed struct {
	hub      *actor.PID
	budget   int64
	stats    *Stats // HubBytes follows inflight; nil: none
	inflight int64  // bytes sent and not acknowledged
	sent     []sent // in revision order
	// behind is the last revision whose events were not sent, until the
	// hub has been told it; 0 if none.
	behind int64
}

type sent struct {
	rev   int64
	bytes int64
}

// markerBytes is what a WatchEvents without events counts for.
const markerBytes = 64

// NewFeed returns a feed to hub with budget bytes (Options.HubBytes; 0 means
// its default). A nil hub returns nil. stats, if not nil, gets the bytes in
// flight (Stats.HubBytes), from 0: a new feed is a new apply actor, and the
// hub acknowledges what an earlier one sent to nobody.
func NewFeed(hub *actor.PID, budget int64, stats *Stats) *Feed {
	if hub == nil {
		return nil
	}
	if budget <= 0 {
		budget = Options{}.WithDefaults().HubBytes
	}
	f := &Feed{hub: hub, budget: budget, stats: stats}
	f.publishInflight()
	return f
}

// publishInflight stores inflight in Stats.HubBytes: once per message sent
// or acknowledgement handled.
func (f *Feed) publishInflight() {
	if f.stats != nil {
		f.stats.HubBytes.Store(f.inflight)
	}
}

// Sync tells the hub the store's revision without events: when the apply
// actor starts (an earlier incarnation may have committed events and failed
// before sending them) and after it installs a snapshot. The hub sees the
// gap, if any, and its watchers read it from history.
func (f *Feed) Sync(ctx actor.SenderContext, rev int64) {
	if f == nil {
		return
	}
	f.send(ctx, &cairnpb.WatchEvents{Revision: rev}, markerBytes)
}

// Publish sends the events of a committed batch that brought the store to
// rev. The events must not be modified afterwards (stream actors read them).
func (f *Feed) Publish(ctx actor.SenderContext, rev int64, events []*mvccpb.Event) {
	if f == nil || len(events) == 0 {
		return
	}
	var bytes int64
	for _, ev := range events {
		bytes += eventSize(ev)
	}
	if f.inflight > 0 && f.inflight+bytes > f.budget {
		f.behind = rev // the hub learns of it once it has room
		return
	}
	f.behind = 0
	f.send(ctx, &cairnpb.WatchEvents{Events: events, Revision: rev}, bytes)
}

// Acked handles the hub's WatchEventsAck.
func (f *Feed) Acked(ctx actor.SenderContext, m *cairnpb.WatchEventsAck) {
	if f == nil {
		return
	}
	n := 0
	for n < len(f.sent) && f.sent[n].rev <= m.GetRevision() {
		f.inflight -= f.sent[n].bytes
		n++
	}
	f.sent = append(f.sent[:0], f.sent[n:]...)
	if f.behind > m.GetRevision() && f.inflight+markerBytes <= f.budget {
		rev := f.behind
		f.behind = 0
		f.send(ctx, &cairnpb.WatchEvents{Revision: rev}, markerBytes)
		return
	}
	f.publishInflight()
}

// Inflight returns the bytes sent to the hub and not acknowledged.
func (f *Feed) Inflight() int64 {
	if f == nil {
		return 0
	}
	return f.inflight
}

func (f *Feed) send(ctx actor.SenderContext, m *cairnpb.WatchEvents, bytes int64) {
	f.inflight += bytes
	f.sent = append(f.sent, sent{rev: m.Revision, bytes: bytes})
	f.publishInflight() // before the hub can acknowledge
	ctx.RequestWithCustomSender(f.hub, m, ctx.Self())
}

// Package watch is etcd's Watch service as actors: a hub that receives the
// events of every committed batch from the apply actor and forwards each to
// the streams that watch its key, and one stream actor per gRPC Watch stream
// that turns them into etcd's watch responses, with bounded memory. It
// follows etcd v3.7's server (etcdserver/api/v3rpc/watch.go and
// storage/mvcc/watchable_store.go) response by response; where it departs
// from etcd it says so.
//
// # Actors and messages
//
// The hub (a child of the node supervisor) accepts:
//
//   - cairnpb.WatchEvents from the apply actor (through a Feed), answered
//     with WatchEventsAck;
//   - WatchStreamOpen from the front door: it spawns a stream actor as its
//     child and answers WatchStreamOpened;
//   - WatchSubscribe (answered WatchSubscribed), WatchUnsubscribe and
//     WatchProgressQuery (answered WatchHubRevision) from its streams;
//   - actor.Terminated of a stream: its subscriptions go.
//
// It sends WatchEvents (the events a stream's ranges select) and WatchLagged
// to streams, WatchEventsAck to the apply actor when it starts, and a closed
// WatchResponses to a stream's handler (its inbox) when the stream stops.
//
// A stream actor accepts etcdserverpb.WatchRequest (create, cancel,
// progress) and WatchPull from its gRPC handler (see Stream), WatchEvents,
// WatchSubscribed, WatchLagged and WatchHubRevision from the hub, and its own
// WatchCatchUp and WatchProgressTick. It answers pulls with WatchResponses.
// It reads history from storage/mvcc read views (pebble snapshots), as the
// front door does, never the apply actor's batch.
//
// # A watcher's life
//
// A watcher has a next revision: every event of its range below next has
// been queued for its client exactly once, none at or above. It is created
// subscribing (next = start_revision, or the store's revision + 1 for "from
// now"), and tells the hub its range. The hub answers with its revision H:
// it will forward every event above H. If next > H the watcher is synced at
// once; otherwise it is unsynced and reads history first.
//
// A synced watcher queues each revision the hub forwards as one response
// (header revision = that revision, as etcd's notify), if its stream's
// queue has room; if not, it becomes unsynced and drops what the hub sends
// until it has caught up. An unsynced watcher catches up from the revision
// log in chunks (header revision = the view's revision, as etcd's
// syncWatchers) while the queue is below half its budget; the chunk that
// reaches the view's revision V leaves it synced with next = V + 1.
//
// # Invariants
//
//  1. The hub dispatches revisions in order, each once: it tracks H, skips
//     events at or below H, and detects a gap (a batch that starts above
//     H+1, or a revision without events) and then sends WatchLagged to
//     every stream.
//  2. Messages from the hub to a stream arrive in the order sent; so after
//     WatchSubscribed{H} every event above H of the range arrives, or a
//     WatchLagged precedes the gap.
//  3. A watcher queues an event only if its revision is at or above next,
//     and then sets next above it; so no event is queued twice.
//  4. An event of a watcher's range that the watcher drops has a revision
//     the store had committed when it was dropped (the apply actor commits
//     before it sends), so it is at or below the revision V of any view
//     opened later; the watcher reads it in a catch-up up to V. A view is
//     only opened after WatchSubscribed, so V >= H; a watcher is synced
//     again only by a catch-up that reached V, or by WatchSubscribed with
//     next > H; so no event is missed.
//  5. A watcher whose next is below the compaction revision is cancelled
//     with compact_revision, as etcd does; its ID stays taken until the
//     client cancels it.
//  6. A stream's queue holds at most QueueBytes of event responses (a
//     catch-up chunk may exceed it by one revision so that it always makes
//     progress), plus control responses bounded by MaxRequests; its handler
//     holds one pull of at most PullBytes (or one response). The hub holds
//     no events between dispatches; the apply actor's events in flight to it
//     stay within HubBytes (Stats.HubBytes: how much now). A stream's mailbox holds what the hub sent and
//     the stream has not handled: a stream never waits on the network, only
//     on short reads of one chunk of history, so it drains as fast as the
//     CPU allows. A stream's watchers cost at most WatcherBytes
//     (WatcherCost each); a watcher created beyond it is created canceled
//     with ErrTooManyWatchers, as etcd answers a watcher it cannot create.
//  7. A progress notification at revision R is sent only when the hub has
//     forwarded every event up to R to the stream and the watcher (for a
//     progress request, every watcher of the stream) is synced with
//     next-1 <= R and start_revision <= R; clients resume from R+1, so R
//     never claims an event not yet sent.
//  8. A stream actor that stops leaves nothing: the hub removes its
//     subscriptions on Terminated; a hub that restarts stops every stream
//     (their handlers end with "server stopped" and clients watch again from
//     their last revision).
//
// Departures from etcd 3.7.3: catch-up responses hold up to ChunkBytes of
// events (whole revisions) rather than up to 1,000 revisions; the revision
// of a progress notification is the hub's, which is at or above the store's
// revision when the request arrived (etcd answers with the store's, at
// once); a watcher's first response after falling behind comes from history
// (etcd first retries the live batch it could not send).
package watch

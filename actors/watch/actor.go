package watch

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// Props returns the props of a watch hub. The caller chooses its
// supervisor; the hub stops (never restarts) a stream actor that fails, and
// its client watches again.
func Props(cfg Config) (*actor.Props, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	stopChild := actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })
	// The producer runs once per instance: at the spawn, then at each
	// restart by the supervisor.
	var instances atomic.Int64
	return actor.PropsFromProducer(func() actor.Actor {
		a := newHubActor(&cfg)
		a.restarted = instances.Add(1) > 1
		return a
	}, actor.WithSupervisor(stopChild)), nil
}

// newHubActor returns a hub actor with its state set up: whatever message
// comes first finds it ready.
func newHubActor(cfg *Config) *hubActor {
	a := &hubActor{
		cfg:     cfg,
		pids:    make(map[string]*actor.PID),
		inboxes: make(map[string]*actor.PID),
		props:   actor.PropsFromProducer(func() actor.Actor { return &streamActor{cfg: cfg} }),
	}
	a.h = newHub(a, cfg.Store.Rev())
	return a
}

// hubActor runs the hub's state machine.
type hubActor struct {
	cfg     *Config
	h       *hub
	ctx     actor.Context         // during Receive
	pids    map[string]*actor.PID // streams by id
	inboxes map[string]*actor.PID // their handlers' inboxes, by stream id
	props   *actor.Props
	// restarted: an earlier instance ran, whose unacknowledged events the
	// apply actor still counts.
	restarted bool
}

func (a *hubActor) send(to string, msg proto.Message) {
	if pid := a.pids[to]; pid != nil {
		a.ctx.Send(pid, msg)
	}
}

func (a *hubActor) Receive(ctx actor.Context) {
	a.ctx = ctx
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if a.cfg.Apply != nil && a.restarted {
			// Whatever an earlier incarnation did not acknowledge is covered
			// by starting at the store's revision. Not at the first start:
			// the apply actor's feed is new then and counts nothing, and
			// the node is still spawning it (protoactor registers a PID
			// before its mailbox is ready: a message then races its
			// spawn).
			ctx.Send(a.cfg.Apply, &cairnpb.WatchEventsAck{Revision: a.h.rev})
		}
	case *cairnpb.WatchEvents:
		a.h.dispatch(m)
		if ctx.Sender() != nil {
			ctx.Respond(&cairnpb.WatchEventsAck{Revision: a.h.rev})
		}
	case *cairnpb.WatchStreamOpen:
		a.open(ctx, m)
	case *cairnpb.WatchSubscribe:
		if s := ctx.Sender(); s != nil {
			a.h.subscribe(s.GetId(), m)
		}
	case *cairnpb.WatchUnsubscribe:
		if s := ctx.Sender(); s != nil {
			a.h.unsubscribe(s.GetId(), m)
		}
	case *cairnpb.WatchProgressQuery:
		if s := ctx.Sender(); s != nil {
			a.h.progressQuery(s.GetId(), m.GetMinRevision())
		}
	case *actor.Terminated:
		id := m.GetWho().GetId()
		if inbox := a.inboxes[id]; inbox != nil {
			// The handler may have a pull in the stopped actor's mailbox.
			ctx.Send(inbox, streamClosed())
		}
		a.h.removeStream(id)
		delete(a.pids, id)
		delete(a.inboxes, id)
	}
	a.cfg.Stats.Streams.Store(int64(len(a.h.streams)))
	a.cfg.Stats.Watchers.Store(a.h.subs)
	a.cfg.Stats.Revision.Store(a.h.rev)
}

func (a *hubActor) open(ctx actor.Context, m *cairnpb.WatchStreamOpen) {
	if ctx.Sender() == nil {
		return
	}
	if a.cfg.MaxStreams > 0 && len(a.h.streams) >= a.cfg.MaxStreams {
		ctx.Respond(&cairnpb.WatchStreamOpened{Error: &cairnpb.Error{
			Code: cairnpb.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS, Message: "too many watch streams"}})
		return
	}
	pid := ctx.Spawn(a.props)
	a.pids[pid.GetId()] = pid
	if m.GetInboxId() != "" {
		a.inboxes[pid.GetId()] = actor.NewPID(ctx.ActorSystem().Address(), m.GetInboxId())
	}
	a.h.addStream(pid.GetId())
	ctx.Respond(&cairnpb.WatchStreamOpened{ActorId: pid.GetId()})
}

// streamClosed is the answer a handler gets once its stream actor stops.
func streamClosed() *cairnpb.WatchResponses {
	return &cairnpb.WatchResponses{Closed: true, Error: &cairnpb.Error{
		Code: cairnpb.ErrorCode_ERROR_CODE_STOPPED, Message: "watch stream stopped"}}
}

// firstPullTimeout is how long a new stream actor waits for its handler's
// first pull (a variable for tests).
var firstPullTimeout = 10 * time.Second

// streamActor runs one stream's state machine.
type streamActor struct {
	cfg      *Config
	s        *stream
	ctx      actor.Context // during Receive
	pullTo   *actor.PID    // the parked pull's sender
	stopTick scheduler.CancelFunc
}

func (a *streamActor) Receive(ctx actor.Context) {
	a.ctx = ctx
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.s = newStream(a.cfg, a)
		// A handler that gave up while its stream was being opened never
		// pulls: the stream then stops by itself.
		ctx.SetReceiveTimeout(firstPullTimeout)
	case *actor.ReceiveTimeout:
		ctx.Stop(ctx.Self())
	case *actor.Stopping:
		// A parked pull is answered by the hub, which tells the handler's
		// inbox when this actor has stopped (a pull may still be in the
		// mailbox, never to be read).
		a.ticker(false)
		a.s.addQueued(-a.s.queued) // the queue goes with the stream
		a.s.addUnsynced(-a.s.unsynced)
	case *pb.WatchRequest:
		a.s.request(m)
	case *cairnpb.WatchPull:
		ctx.CancelReceiveTimeout()
		a.pullTo = ctx.Sender()
		a.s.pull(m.GetMaxBytes())
	case *cairnpb.WatchEvents:
		a.s.events(m.GetEvents())
	case *cairnpb.WatchSubscribed:
		a.s.subscribed(m.GetSubscription(), m.GetRevision())
	case *cairnpb.WatchLagged:
		a.s.lagged()
	case *cairnpb.WatchHubRevision:
		a.s.hubRevision(m.GetRevision())
	case *cairnpb.WatchCatchUp:
		a.s.catchUp()
	case *cairnpb.WatchProgressTick:
		a.s.progressTick()
	}
}

// The streamEnv of a stream actor. The hub knows a stream by its PID, so
// messages to it go with the stream as sender.

func (a *streamActor) subscribe(sub int64, r keyRange) {
	a.ctx.Request(a.ctx.Parent(), &cairnpb.WatchSubscribe{Subscription: sub, Key: r.start, RangeEnd: r.rangeEnd()})
}

func (a *streamActor) unsubscribe(r keyRange) {
	a.ctx.Request(a.ctx.Parent(), &cairnpb.WatchUnsubscribe{Key: r.start, RangeEnd: r.rangeEnd()})
}

func (a *streamActor) queryHub(min int64) {
	a.ctx.Request(a.ctx.Parent(), &cairnpb.WatchProgressQuery{MinRevision: min})
}

func (a *streamActor) catchUpLater() {
	a.ctx.Send(a.ctx.Self(), &cairnpb.WatchCatchUp{})
}

func (a *streamActor) answer(r *cairnpb.WatchResponses) {
	if a.pullTo != nil {
		a.ctx.Send(a.pullTo, r)
		a.pullTo = nil
	}
}

func (a *streamActor) ticker(on bool) {
	if a.stopTick != nil {
		a.stopTick()
		a.stopTick = nil
	}
	if !on {
		return
	}
	// etcd adds up to a tenth of the interval as jitter, so that watchers
	// created together do not all report at once.
	every := a.cfg.ProgressNotifyInterval
	every += time.Duration(rand.Int64N(int64(every)/10 + 1))
	a.stopTick = scheduler.NewTimerScheduler(a.ctx).SendRepeatedly(every, every, a.ctx.Self(), &cairnpb.WatchProgressTick{})
}

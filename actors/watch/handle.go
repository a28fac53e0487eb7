package watch

import (
	"context"
	"errors"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/cairnkv/cairn/actors/reply"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

// Errors of a Stream handle. The front door maps them to etcd's gRPC errors.
var (
	// ErrStreamClosed: the stream actor stopped (the hub restarted, the
	// member is stopping, or the stream failed). The client watches again
	// from its last revision on a new stream, as etcd's clients do.
	ErrStreamClosed = errors.New("watch: stream closed")
	// ErrTooManyStreams: Options.MaxStreams streams are open.
	ErrTooManyStreams = errors.New("watch: too many streams")
)

// Stream is a gRPC Watch handler's handle on its stream actor. Two
// goroutines use it: the one reading client requests calls Request, the one
// sending responses calls Next; either may call Close.
//
// Flow control, both ways bounded:
//
//   - Next pulls: it asks the actor for up to PullBytes of responses and
//     waits; only one pull is outstanding, so the handler holds at most one
//     pulled batch while gRPC sends it, and a client that does not read
//     stops the pulls, which leaves the actor's queue to fill and its
//     watchers to fall back on history.
//   - Request takes one of MaxRequests credits per request forwarded; the
//     actor returns credits in its answers to pulls. A client that sends
//     requests but does not read its responses is no longer read from, as
//     etcd's ctrlStream buffer does.
type Stream struct {
	root    *actor.RootContext
	pid     *actor.PID
	inbox   *inbox
	credits chan struct{} // holds one token per request in flight
	maxPull int64
	once    sync.Once
}

// Open asks the hub for a stream actor. ctx bounds the wait.
func Open(ctx context.Context, root *actor.RootContext, hub *actor.PID, opts Options) (*Stream, error) {
	opts = opts.WithDefaults()
	in := newInbox(root.ActorSystem())
	m, err := reply.Ask(ctx, root, hub, &cairnpb.WatchStreamOpen{InboxId: in.pid.GetId()})
	opened, ok := m.(*cairnpb.WatchStreamOpened)
	switch {
	case err != nil:
	case !ok:
		err = ErrStreamClosed // the hub is not running
	case opened.GetError().GetCode() == cairnpb.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS:
		err = ErrTooManyStreams
	case opened.GetError() != nil:
		err = ErrStreamClosed
	}
	if err != nil {
		in.close()
		return nil, err
	}
	return &Stream{
		root:    root,
		pid:     actor.NewPID(root.ActorSystem().Address(), opened.GetActorId()),
		inbox:   in,
		credits: make(chan struct{}, opts.MaxRequests),
		maxPull: opts.PullBytes,
	}, nil
}

// PID returns the stream actor's PID.
func (s *Stream) PID() *actor.PID { return s.pid }

// Request forwards a client request to the stream actor, waiting for a
// credit if MaxRequests are in flight. It returns ctx's error if ctx ends
// first.
func (s *Stream) Request(ctx context.Context, r *pb.WatchRequest) error {
	select {
	case s.credits <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.root.Send(s.pid, r)
	return nil
}

// Next returns the next responses for the client, in order, waiting until
// there are some. The responses are the caller's. It returns
// ErrStreamClosed once the stream actor has stopped, or ctx's error.
func (s *Stream) Next(ctx context.Context) ([]*pb.WatchResponse, error) {
	for {
		s.root.RequestWithCustomSender(s.pid, &cairnpb.WatchPull{MaxBytes: s.maxPull}, s.inbox.pid)
		var m any
		select {
		case m = <-s.inbox.ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		rs, ok := m.(*cairnpb.WatchResponses)
		if !ok {
			return nil, ErrStreamClosed // dead letter: the actor is gone
		}
		for range rs.GetRequestsDone() {
			select {
			case <-s.credits:
			default:
			}
		}
		if rs.GetClosed() {
			return nil, ErrStreamClosed
		}
		if len(rs.GetResponses()) > 0 {
			return rs.GetResponses(), nil
		}
	}
}

// Close stops the stream actor: its watchers leave the hub, and the hub's
// notice that it stopped removes the inbox. Safe more than once and from
// either goroutine.
func (s *Stream) Close() {
	s.once.Do(func() { s.root.Stop(s.pid) })
}

// inbox is a process that receives the answers to a stream's pulls: like a
// reply.Waiter, but registered once for the stream's life rather than once
// per pull. One pull is outstanding at a time, so one answer waits at most,
// with the hub's notice that the stream actor stopped, which also removes
// the inbox.
type inbox struct {
	system *actor.ActorSystem
	pid    *actor.PID
	ch     chan any
}

func newInbox(system *actor.ActorSystem) *inbox {
	in := &inbox{system: system, ch: make(chan any, 2)}
	pid, ok := system.ProcessRegistry.Add((*inboxProcess)(in), "watchpull"+system.ProcessRegistry.NextId())
	if !ok {
		panic("watch: inbox id already registered: " + pid.Id)
	}
	in.pid = pid
	return in
}

func (in *inbox) close() { in.system.ProcessRegistry.Remove(in.pid) }

type inboxProcess inbox

func (p *inboxProcess) SendUserMessage(_ *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	select {
	case p.ch <- msg:
	default: // a third: not possible with one pull at a time
	}
	if r, ok := msg.(*cairnpb.WatchResponses); ok && r.GetClosed() {
		(*inbox)(p).close()
	}
}

func (p *inboxProcess) SendSystemMessage(*actor.PID, any) {}

func (p *inboxProcess) Stop(*actor.PID) { (*inbox)(p).close() }

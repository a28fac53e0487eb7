package watch

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// Tests of the actors themselves, in an actor system: the handle's flow
// control, the hub's restart, the feed's budget.

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testStore(t *testing.T) *mvcc.Store {
	t.Helper()
	engine, err := storage.Open(t.TempDir(), storage.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	store, err := mvcc.Open(engine.DB)
	if err != nil {
		t.Fatal(err)
	}
	return store
}

func testSystem(t *testing.T) *actor.ActorSystem {
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet() }))
	t.Cleanup(system.Shutdown)
	return system
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// commit writes a put and returns its events.
func commit(t *testing.T, s *mvcc.Store, key string) []*mvccpb.Event {
	t.Helper()
	b := s.NewBatch()
	defer b.Close()
	if _, err := b.Put(&pb.PutRequest{Key: []byte(key), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	evs := b.Events()
	if err := b.Commit(s.AppliedIndex() + 1); err != nil {
		t.Fatal(err)
	}
	return evs
}

func createReq(key string) *pb.WatchRequest {
	return &pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{
		CreateRequest: &pb.WatchCreateRequest{Key: []byte(key)}}}
}

// parent supervises a hub and restarts it on request, as the node
// supervisor does when the hub fails.
type parent struct {
	props *actor.Props
	hub   chan *actor.PID
}

type restartHub struct{}

func (p *parent) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		pid, err := ctx.SpawnNamed(p.props, "watch")
		if err != nil {
			panic(err)
		}
		p.hub <- pid
	case restartHub:
		ctx.(actor.Supervisor).RestartChildren(ctx.Children()...)
	}
}

// TestHubRestartClosesStreams: a hub that restarts stops its streams, whose
// handlers see ErrStreamClosed (clients then watch again), and starts empty.
func TestHubRestartClosesStreams(t *testing.T) {
	system := testSystem(t)
	store := testStore(t)
	stats := new(Stats)
	props, err := Props(Config{Store: store, Stats: stats, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	p := &parent{props: props, hub: make(chan *actor.PID, 1)}
	parentPID := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return p }))
	hub := <-p.hub
	ctx := ctxFor(t, 10*time.Second)

	st, err := Open(ctx, system.Root, hub, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Request(ctx, createReq("k")); err != nil {
		t.Fatal(err)
	}
	rs, err := st.Next(ctx)
	if err != nil || len(rs) != 1 || !rs[0].Created {
		t.Fatalf("created: %v %v", rs, err)
	}
	for stats.Watchers.Load() != 1 {
		time.Sleep(time.Millisecond)
	}

	system.Root.Send(parentPID, restartHub{})
	if _, err := st.Next(ctx); !errors.Is(err, ErrStreamClosed) {
		t.Fatalf("Next after the hub restarted: %v, want ErrStreamClosed", err)
	}
	for stats.Streams.Load() != 0 || stats.Watchers.Load() != 0 {
		time.Sleep(time.Millisecond)
	}
	// The new hub serves new streams.
	st2, err := Open(ctx, system.Root, hub, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if err := st2.Request(ctx, createReq("k")); err != nil {
		t.Fatal(err)
	}
	if rs, err := st2.Next(ctx); err != nil || !rs[0].Created {
		t.Fatalf("created on the new hub: %v %v", rs, err)
	}
}

// TestStreamCredits: a handler forwards at most MaxRequests requests that
// it has not seen answered; a client that sends requests without reading
// is no longer read from.
func TestStreamCredits(t *testing.T) {
	system := testSystem(t)
	props, err := Props(Config{Store: testStore(t), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	hub := system.Root.Spawn(props)
	ctx := ctxFor(t, 10*time.Second)
	st, err := Open(ctx, system.Root, hub, Options{MaxRequests: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for range 2 {
		if err := st.Request(ctx, createReq("k")); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := st.Request(short, createReq("k")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third request without a pull: %v, want to wait", err)
	}
	got := 0
	for got < 2 {
		rs, err := st.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got += len(rs)
	}
	if err := st.Request(ctx, createReq("k")); err != nil {
		t.Fatalf("after the pull: %v", err)
	}
}

// fakeApply owns a Feed, as the apply actor does.
type fakeApply struct {
	feed  *Feed
	hub   *actor.PID
	stats *Stats
	acks  chan int64
}

type publish struct {
	rev int64
	evs []*mvccpb.Event
}

func (a *fakeApply) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.feed = NewFeed(a.hub, 300, a.stats)
	case publish:
		a.feed.Publish(ctx, m.rev, m.evs)
	case *cairnpb.WatchEventsAck:
		a.feed.Acked(ctx, m)
		a.acks <- m.GetRevision()
	}
}

// fakeHub records what the feed sends and acknowledges on request.
type fakeHub struct {
	got chan *cairnpb.WatchEvents
}

type ackUpTo struct {
	to  *actor.PID
	rev int64
}

func (h *fakeHub) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *cairnpb.WatchEvents:
		h.got <- m
	case ackUpTo:
		ctx.Send(m.to, &cairnpb.WatchEventsAck{Revision: m.rev})
	}
}

// TestFeedBudget: the apply actor's events in flight to the hub stay within
// the budget; beyond it only the revision goes, once the hub has room.
// Stats.HubBytes follows the bytes in flight.
func TestFeedBudget(t *testing.T) {
	system := testSystem(t)
	store := testStore(t)
	h := &fakeHub{got: make(chan *cairnpb.WatchEvents, 100)}
	hub := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return h }))
	stats := new(Stats)
	a := &fakeApply{hub: hub, stats: stats, acks: make(chan int64, 100)}
	inHub := func(want int64) {
		t.Helper()
		if got := stats.HubBytes.Load(); got != want {
			t.Fatalf("Stats.HubBytes = %d, want %d", got, want)
		}
	}
	apply := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return a }))
	recv := func() *cairnpb.WatchEvents {
		t.Helper()
		select {
		case m := <-h.got:
			return m
		case <-time.After(10 * time.Second):
			t.Fatal("nothing sent to the hub")
			return nil
		}
	}
	// Each event counts 48 + its key and value: three of ~100 bytes fit in
	// 300, the fourth does not.
	key := "0123456789012345678901234567890123456789"
	var sentBytes int64 // of the three that fit
	for i := range 5 {
		evs := commit(t, store, key)
		if i < 3 {
			sentBytes += eventSize(evs[0])
		}
		system.Root.Send(apply, publish{rev: store.Rev(), evs: evs})
	}
	for want := int64(2); want <= 4; want++ {
		if m := recv(); m.GetRevision() != want || len(m.GetEvents()) != 1 {
			t.Fatalf("sent %v, want the events of revision %d", m, want)
		}
	}
	select {
	case m := <-h.got:
		t.Fatalf("sent %v beyond the budget", m)
	case <-time.After(50 * time.Millisecond):
	}
	inHub(sentBytes)
	// The hub acknowledges: the feed tells it where the store is, without
	// the events it had no room for.
	system.Root.Send(hub, ackUpTo{to: apply, rev: 4})
	if m := recv(); m.GetRevision() != 6 || len(m.GetEvents()) != 0 {
		t.Fatalf("after the ack: %v, want revision 6 without events", m)
	}
	// Room again: events go as they come.
	<-a.acks
	inHub(markerBytes)
	system.Root.Send(hub, ackUpTo{to: apply, rev: 6})
	<-a.acks
	inHub(0)
	evs := commit(t, store, "k")
	system.Root.Send(apply, publish{rev: store.Rev(), evs: evs})
	if m := recv(); m.GetRevision() != 7 || len(m.GetEvents()) != 1 {
		t.Fatalf("with room: %v", m)
	}
	inHub(eventSize(evs[0]))
}

// TestAbandonedStreamStops: a stream whose handler never pulls (it gave up
// while the stream was being opened) stops by itself.
func TestAbandonedStreamStops(t *testing.T) {
	old := firstPullTimeout
	firstPullTimeout = 50 * time.Millisecond
	defer func() { firstPullTimeout = old }()
	system := testSystem(t)
	stats := new(Stats)
	props, err := Props(Config{Store: testStore(t), Stats: stats, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	hub := system.Root.Spawn(props)
	ctx := ctxFor(t, 10*time.Second)
	if _, err := Open(ctx, system.Root, hub, Options{}); err != nil {
		t.Fatal(err)
	}
	for stats.Streams.Load() != 1 { // counted once the hub's message is done
		time.Sleep(time.Millisecond)
	}
	for stats.Streams.Load() != 0 {
		if ctx.Err() != nil {
			t.Fatal("the abandoned stream is still there")
		}
		time.Sleep(time.Millisecond)
	}
}

// processes counts the processes registered in system.
func processes(system *actor.ActorSystem) int {
	n := 0
	for _, m := range system.ProcessRegistry.LocalPIDs.LocalPIDs {
		n += m.Count()
	}
	return n
}

// TestClosedStreamsLeaveNothing: streams closed by their handlers, with
// pulls parked or not, leave no actor, no inbox and no subscription.
func TestClosedStreamsLeaveNothing(t *testing.T) {
	system := testSystem(t)
	stats := new(Stats)
	props, err := Props(Config{Store: testStore(t), Stats: stats, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	hub := system.Root.Spawn(props)
	ctx := ctxFor(t, 10*time.Second)
	base := processes(system)
	var streams []*Stream
	for i := range 10 {
		st, err := Open(ctx, system.Root, hub, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Request(ctx, createReq("k")); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Next(ctx); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			// A pull parked in the actor when the handler goes.
			pctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
			if _, err := st.Next(pctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("parked pull: %v", err)
			}
			cancel()
		}
		streams = append(streams, st)
	}
	for stats.Watchers.Load() != 10 {
		time.Sleep(time.Millisecond)
	}
	for _, st := range streams {
		st.Close()
	}
	for stats.Streams.Load() != 0 || stats.Watchers.Load() != 0 || processes(system) != base {
		if ctx.Err() != nil {
			t.Fatalf("%d streams, %d watchers, %d processes (%d before) left",
				stats.Streams.Load(), stats.Watchers.Load(), processes(system), base)
		}
		time.Sleep(time.Millisecond)
	}
}

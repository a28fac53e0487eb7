package compactor

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// probe records what an actor sends it, in order.
type probe chan any

func (p probe) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *cairnpb.Compacted, *cairnpb.Result:
		p <- m
	}
}

// startCompactor starts a compactor over an empty store, whose history is
// never compacted: waiters for any revision above 0 wait.
func startCompactor(t *testing.T, cfg Config) (*actor.ActorSystem, *actor.PID, *actor.PID, probe) {
	t.Helper()
	e, err := storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	s, err := mvcc.Open(e.DB)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store = s
	props, err := Props(cfg)
	if err != nil {
		t.Fatal(err)
	}
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	c := system.Root.Spawn(props)
	p := make(probe, 16)
	return system, c, system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return p })), p
}

// next returns the next message the probe got.
func (p probe) next(t *testing.T) any {
	t.Helper()
	select {
	case m := <-p:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no answer from the compactor")
		return nil
	}
}

// A waiter beyond MaxWaiters is refused with TOO_MANY_REQUESTS; one that
// fits is kept and not answered.
func TestWaitersBounded(t *testing.T) {
	system, c, p, got := startCompactor(t, Config{MaxWaiters: 2, WaitTimeout: time.Hour})
	for range 3 {
		system.Root.RequestWithCustomSender(c, &cairnpb.WaitCompacted{Revision: 5}, p)
	}
	// Answered at once (revision 0 is below what is done); it comes after
	// any answer to the three above.
	system.Root.RequestWithCustomSender(c, &cairnpb.WaitCompacted{Revision: 0}, p)
	res, ok := got.next(t).(*cairnpb.Result)
	if !ok || res.GetError().GetCode() != cairnpb.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS {
		t.Fatalf("third waiter answered %v, want TOO_MANY_REQUESTS", res)
	}
	if m, ok := got.next(t).(*cairnpb.Compacted); !ok {
		t.Fatalf("then %v, want the answer to the fourth", m)
	}
}

// Waiters past their WaitTimeout are forgotten: they make no room for
// refusals however many come.
func TestExpiredWaitersForgotten(t *testing.T) {
	system, c, p, got := startCompactor(t, Config{MaxWaiters: 2, WaitTimeout: time.Nanosecond})
	for range 10 {
		system.Root.RequestWithCustomSender(c, &cairnpb.WaitCompacted{Revision: 5}, p)
	}
	system.Root.RequestWithCustomSender(c, &cairnpb.WaitCompacted{Revision: 0}, p)
	if m, ok := got.next(t).(*cairnpb.Compacted); !ok {
		t.Fatalf("first answer %v, want only the answer to the last (expired waiters refused nobody)", m)
	}
}

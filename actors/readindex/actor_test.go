package readindex_test

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/cairnkv/cairn/actors/readindex"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

// raftStub stands for the raft actor: it hands on the contexts of the
// rounds it is sent.
type raftStub struct{ rounds chan []byte }

func (r *raftStub) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*cairnpb.ReadIndexRound); ok {
		r.rounds <- m.GetContext()
	}
}

// TestRestartedActorIgnoresAnswersToItsPredecessor restarts the read-index
// actor with a round in flight, as its supervisor does after a failure,
// and delivers raft's late answer to the old round to the new actor, whose
// own first round is in flight: the answer must not release the new
// actor's read. Were the new round's context the old one's (the same
// incarnation, a sequence started again at 0), the read would be answered
// at the old index, possibly below a write committed before the read
// began: a stale read.
func TestRestartedActorIgnoresAnswersToItsPredecessor(t *testing.T) {
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	root := system.Root
	stub := &raftStub{rounds: make(chan []byte, 4)}
	raft := root.Spawn(actor.PropsFromProducer(func() actor.Actor { return stub }))
	apply := root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	props, err := readindex.Props(readindex.Config{Raft: raft, Apply: apply, Incarnation: 7})
	if err != nil {
		t.Fatal(err)
	}
	round := func() []byte {
		t.Helper()
		select {
		case c := <-stub.rounds:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no round reached raft")
			return nil
		}
	}

	old := root.Spawn(props)
	root.RequestFuture(old, &cairnpb.ReadIndexRequest{}, 10*time.Second)
	stale := round()
	if err := root.StopFuture(old).Wait(); err != nil {
		t.Fatal(err)
	}

	fresh := root.Spawn(props)
	read := root.RequestFuture(fresh, &cairnpb.ReadIndexRequest{}, 10*time.Second)
	current := round()
	if bytes.Equal(stale, current) {
		t.Errorf("the restarted actor's first round has its predecessor's context %x", current)
	}
	root.Send(fresh, &cairnpb.ReadState{Context: stale, Index: 5})
	root.Send(fresh, &cairnpb.ReadState{Context: current, Index: 9})
	root.Send(fresh, &cairnpb.Applied{Index: 20})
	res, err := read.Result()
	if err != nil {
		t.Fatal(err)
	}
	if got := res.(*cairnpb.ReadIndexResult); got.GetError() != nil || got.GetIndex() != 9 {
		t.Errorf("read answered with %v, want index 9 (the answer to its own round)", got)
	}
}

package node

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// dispatcher runs the mailboxes of a member's actors on goroutines it keeps,
// instead of protoactor's default of a new goroutine each time a mailbox
// gets a message while idle. A new goroutine starts with a small stack and
// grows it, copying it, to the depth of the actor's handler; with actors
// that idle between most messages (read-index, transport, raft on a
// follower) the profile of linearizable reads showed a twentieth of a
// member's CPU in that growth. A kept goroutine has grown already.
//
// A goroutine that finishes a mailbox's run waits up to keepIdle for the
// next one, then exits: there are never more goroutines than mailboxes
// running at once, plus those idle for less than keepIdle.
type dispatcher struct {
	throughput int
	keepIdle   time.Duration
	idle       chan func() // unbuffered: a send succeeds only to an idle goroutine
}

// keepIdle is how long an idle goroutine waits for a mailbox to run.
const keepIdle = 10 * time.Second

func newDispatcher(throughput int) *dispatcher {
	return &dispatcher{throughput: throughput, keepIdle: keepIdle, idle: make(chan func())}
}

var _ actor.Dispatcher = (*dispatcher)(nil)

func (d *dispatcher) Schedule(fn func()) {
	select {
	case d.idle <- fn:
	default:
		go d.run(fn)
	}
}

func (d *dispatcher) Throughput() int { return d.throughput }

func (d *dispatcher) run(fn func()) {
	t := time.NewTimer(d.keepIdle)
	defer t.Stop()
	for {
		fn() // protoactor's mailbox recovers its actor's panics
		t.Reset(d.keepIdle)
		select {
		case fn = <-d.idle:
		case <-t.C:
			return
		}
	}
}

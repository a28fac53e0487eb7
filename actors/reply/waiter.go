package reply

import (
	"context"
	"errors"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// ErrClosed is returned by Wait after Close.
var ErrClosed = errors.New("reply: waiter closed")

// Waiter receives one answer. Create it with New; use it once.
type Waiter struct {
	system *actor.ActorSystem
	pid    *actor.PID
	ch     chan any // capacity 1: the first answer wins, later ones are dropped
	once   sync.Once
}

// New registers a waiter in system.
func New(system *actor.ActorSystem) *Waiter {
	w := &Waiter{system: system, ch: make(chan any, 1)}
	// NextId is unique within the system; the prefix keeps waiters apart from
	// protoactor's own futures in diagnostics.
	pid, ok := system.ProcessRegistry.Add((*process)(w), "reply"+system.ProcessRegistry.NextId())
	if !ok {
		// Ids come from a process-wide counter: a clash is a bug.
		panic("reply: waiter id already registered: " + pid.Id)
	}
	w.pid = pid
	return w
}

// PID is where the answer must be sent. Valid until the wait ends.
func (w *Waiter) PID() *actor.PID { return w.pid }

// Wait returns the first message sent to the waiter, or ctx's error if ctx
// ends first. Either way the waiter is deregistered.
func (w *Waiter) Wait(ctx context.Context) (any, error) {
	defer w.Close()
	select {
	case m, ok := <-w.ch:
		if !ok {
			return nil, ErrClosed
		}
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close deregisters the waiter. Messages sent afterwards go to dead letters.
// Safe to call more than once and concurrently with Wait.
func (w *Waiter) Close() {
	w.once.Do(func() { w.system.ProcessRegistry.Remove(w.pid) })
}

// Ask sends msg to pid with the waiter as sender and waits for the answer.
func Ask(ctx context.Context, root *actor.RootContext, pid *actor.PID, msg any) (any, error) {
	w := New(root.ActorSystem())
	root.RequestWithCustomSender(pid, msg, w.PID())
	return w.Wait(ctx)
}

// process is the Waiter as protoactor sees it.
type process Waiter

func (p *process) SendUserMessage(_ *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	select {
	case p.ch <- msg:
	default: // already answered
	}
}

// SendSystemMessage ignores system messages: a waiter has no lifecycle beyond
// its one answer.
func (p *process) SendSystemMessage(*actor.PID, any) {}

func (p *process) Stop(*actor.PID) { (*Waiter)(p).Close() }

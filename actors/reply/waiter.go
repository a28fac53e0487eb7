package reply

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// ErrClosed is returned by Wait after Close.
var ErrClosed = errors.New("reply: waiter closed")

// ErrTimeout is returned by WaitTimeout when its timeout passes first.
var ErrTimeout = errors.New("reply: no answer within the timeout")

// Waiter receives one answer. Create it with New; use it once.
type Waiter struct {
	system *actor.ActorSystem
	pid    *actor.PID
	ch     chan any // capacity 1: the first answer wins, later ones are dropped
	closed atomic.Bool
}

// ids numbers waiters. The "reply$" prefix keeps their ids apart from
// protoactor's own (its ids and futures' start with "$" or "future$"), and
// from those of every other actor system of the process.
var ids atomic.Uint64

// idPrefix begins every waiter's id.
const idPrefix = "reply$"

// IsWaiterID reports whether id can be a waiter's: an answer that names a
// process by id (a refusal from another member) is sent only to waiters.
func IsWaiterID(id string) bool { return len(id) > len(idPrefix) && id[:len(idPrefix)] == idPrefix }

// New registers a waiter in system.
func New(system *actor.ActorSystem) *Waiter {
	w := &Waiter{system: system, ch: make(chan any, 1)}
	var buf [32]byte
	id := string(strconv.AppendUint(append(buf[:0], idPrefix...), ids.Add(1), 36))
	pid, ok := system.ProcessRegistry.Add((*process)(w), id)
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
	return w.wait(ctx, nil)
}

// wait returns the first message sent to the waiter, ctx's error if ctx ends
// first, or ErrTimeout if timeout (nil: never) fires first.
func (w *Waiter) wait(ctx context.Context, timeout <-chan time.Time) (any, error) {
	select {
	case m, ok := <-w.ch:
		if !ok {
			return nil, ErrClosed
		}
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timeout:
		return nil, ErrTimeout
	}
}

// timers are stopped timers for WaitTimeout. A stopped timer delivers
// nothing afterwards (Go 1.23 timers), so it can be reset for another wait.
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// WaitTimeout is Wait, bounded by timeout as well as by ctx: if timeout
// passes first it returns ErrTimeout. It is context.WithTimeout and Wait
// without the derived context, whose timer and cancellation cost more than
// the wait itself on a busy server.
func (w *Waiter) WaitTimeout(ctx context.Context, timeout time.Duration) (any, error) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= timeout {
		// ctx ends first.
		return w.Wait(ctx)
	}
	defer w.Close()
	t := timers.Get().(*time.Timer)
	t.Reset(timeout)
	defer func() {
		t.Stop()
		timers.Put(t)
	}()
	return w.wait(ctx, t.C)
}

// Close deregisters the waiter. Messages sent afterwards go to dead letters.
// Safe to call more than once and concurrently with Wait.
func (w *Waiter) Close() {
	if w.closed.CompareAndSwap(false, true) {
		w.system.ProcessRegistry.Remove(w.pid)
	}
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

package node

import (
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/asynkron/protoactor-go/actor"
)

// logPanics returns a receiver middleware that logs a panic of the actor
// with its stack, then panics again for the supervisor to handle.
// protoactor's mailbox recovers the panic and hands the supervisor only its
// value, so without this a failure says "nil pointer dereference" and not
// where.
func logPanics(logger *slog.Logger, name string) actor.ReceiverMiddleware {
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			defer func() {
				if r := recover(); r != nil {
					logger.Error("member actor panicked", "actor", name, "message", fmt.Sprintf("%T", env.Message),
						"reason", fmt.Sprint(r), "stack", string(debug.Stack()))
					panic(r)
				}
			}()
			next(c, env)
		}
	}
}

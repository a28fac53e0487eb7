package ticker

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Start sends msg to pid every interval, from system's root context, until
// the returned function is called (more than once is harmless). A tick
// being sent as it is called may still arrive, as with SendRepeatedly.
func Start(system *actor.ActorSystem, interval time.Duration, pid *actor.PID, msg any) (stop func()) {
	t := time.NewTicker(interval)
	done := make(chan struct{})
	go func() {
		defer t.Stop()
		for {
			select {
			case <-t.C:
				system.Root.Send(pid, msg)
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

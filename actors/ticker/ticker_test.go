package ticker

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// TestStartStop starts and stops tickers of busy actors many times; under
// -race it fails if stopping races with a tick (as SendRepeatedly does).
func TestStartStop(t *testing.T) {
	system := actor.NewActorSystem()
	got := make(chan struct{}, 1)
	for i := 0; i < 20; i++ {
		var stop func()
		pid := system.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			switch ctx.Message().(type) {
			case *actor.Started:
				stop = Start(ctx.ActorSystem(), time.Millisecond, ctx.Self(), "tick")
			case string:
				select {
				case got <- struct{}{}:
				default:
				}
			case *actor.Stopping:
				stop()
				stop() // twice is harmless
			}
		}))
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("no tick within 10s")
		}
		if err := system.Root.StopFuture(pid).Wait(); err != nil {
			t.Fatal(err)
		}
	}
}

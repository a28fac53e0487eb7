package node

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestDispatcherRunsAndLetsIdleGoroutinesGo(t *testing.T) {
	before := runtime.NumGoroutine()
	d := newDispatcher(300)
	d.keepIdle = 20 * time.Millisecond

	var ran atomic.Int64
	var wg sync.WaitGroup
	for range 1000 {
		wg.Add(1)
		d.Schedule(func() { ran.Add(1); wg.Done() })
	}
	// Concurrent runs get goroutines of their own.
	release := make(chan struct{})
	var started sync.WaitGroup
	for range 4 {
		started.Add(1)
		wg.Add(1)
		d.Schedule(func() { started.Done(); <-release; wg.Done() })
	}
	started.Wait()
	close(release)
	wg.Wait()
	if ran.Load() != 1000 {
		t.Fatalf("ran %d of 1000", ran.Load())
	}

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before: idle ones did not exit", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

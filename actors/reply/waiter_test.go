package reply

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

func TestWaitTimeout(t *testing.T) {
	system := actor.NewActorSystem()

	w := New(system)
	system.Root.Send(w.PID(), "answer")
	if m, err := w.WaitTimeout(context.Background(), time.Second); err != nil || m != "answer" {
		t.Fatalf("answered: got %v, %v", m, err)
	}
	if _, ok := system.ProcessRegistry.GetLocal(w.PID().GetId()); ok {
		t.Fatal("waiter still registered after its answer")
	}

	w = New(system)
	if _, err := w.WaitTimeout(context.Background(), 10*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("no answer: got %v, want ErrTimeout", err)
	}
	if _, ok := system.ProcessRegistry.GetLocal(w.PID().GetId()); ok {
		t.Fatal("waiter still registered after its timeout")
	}

	// A context that ends before the timeout wins, with its own error.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := New(system).WaitTimeout(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("context deadline: got %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := New(system).WaitTimeout(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: got %v", err)
	}

	// Timers go back to the pool stopped: a wait that reuses one after an
	// answer does not see the earlier timer fire.
	for range 100 {
		w := New(system)
		system.Root.Send(w.PID(), 1)
		if _, err := w.WaitTimeout(context.Background(), time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	w = New(system)
	system.Root.Send(w.PID(), 2)
	if m, err := w.WaitTimeout(context.Background(), time.Hour); err != nil || m != 2 {
		t.Fatalf("after reuse: got %v, %v", m, err)
	}
}

func BenchmarkWaiter(b *testing.B) {
	system := actor.NewActorSystem()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		w := New(system)
		system.Root.Send(w.PID(), 1)
		if _, err := w.WaitTimeout(ctx, time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

func TestIsWaiterID(t *testing.T) {
	system := actor.NewActorSystem()
	w := New(system)
	defer w.Close()
	if !IsWaiterID(w.PID().GetId()) {
		t.Fatalf("a waiter's id %q is not a waiter's", w.PID().GetId())
	}
	for _, id := range []string{"", "reply$", "raft", "$1", "future$1"} {
		if IsWaiterID(id) {
			t.Errorf("%q taken for a waiter's id", id)
		}
	}
}

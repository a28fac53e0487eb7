package metrics_test

import (
	"log/slog"
	"runtime"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	dto "github.com/prometheus/client_model/go"

	"github.com/cairnkv/cairn/metrics"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

// blocker blocks on its first Tick until release is closed, and reports
// every Tick it handled.
type blocker struct {
	release chan struct{}
	handled chan struct{}
}

func (b *blocker) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*cairnpb.Tick); ok {
		<-b.release
		b.handled <- struct{}{}
	}
}

// The mailbox depth counts what waits or is being handled, by role, and drops to zero once
// handled; each message is timed under the actor's role and message type;
// a stopped actor leaves the depth series.
func TestActorDepthAndTime(t *testing.T) {
	m := metrics.New(metrics.Sources{})
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	b := &blocker{release: make(chan struct{}), handled: make(chan struct{}, 10)}
	pid := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return b }, m.ActorOptions("watch/$")...))
	for range 5 {
		system.Root.Send(pid, &cairnpb.Tick{})
	}
	// The first is being handled (blocked), four wait: a message counts
	// until it has been handled.
	waitDepth(t, m, 5)
	close(b.release)
	for range 5 {
		<-b.handled
	}
	waitDepth(t, m, 0)
	durations := family(t, m, "cairn_actor_message_duration_seconds").GetMetric()
	if len(durations) != 2 { // Started, Tick
		t.Fatalf("%d duration series, want Started and Tick", len(durations))
	}
	for _, d := range durations {
		if l := d.GetLabel(); l[0].GetValue() != "watch/blocker" {
			t.Errorf("duration series labels %v", l)
		}
	}
	if err := system.Root.StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	if n := len(family(t, m, "cairn_actor_mailbox_depth").GetMetric()); n != 0 {
		t.Fatalf("%d depth series after the actor stopped", n)
	}
}

func family(t *testing.T, m *metrics.Member, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range mfs {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

// waitDepth waits until the blocker's depth is n: the mailbox counts a
// message as received just after the actor handled it.
func waitDepth(t *testing.T, m *metrics.Member, n float64) {
	t.Helper()
	var got []*dto.Metric
	for range 10000 {
		got = family(t, m, "cairn_actor_mailbox_depth").GetMetric()
		if len(got) == 1 && got[0].GetGauge().GetValue() == n {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("depth %v, want %v", got, n)
}

// panicker panics on its first Tick, and reports every Started.
type panicker struct {
	started chan struct{}
	failed  *bool
}

func (p *panicker) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		p.started <- struct{}{}
	case *cairnpb.Tick:
		if !*p.failed {
			*p.failed = true
			panic("first tick")
		}
	}
}

// A restart by the supervisor counts in cairn_actor_restarts_total under
// the actor's role; the restarted actor is still one running actor.
func TestActorRestarts(t *testing.T) {
	m := metrics.New(metrics.Sources{})
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	started, failed := make(chan struct{}, 2), false
	pid := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &panicker{started: started, failed: &failed} },
		m.ActorOptions("apply")...))
	<-started
	system.Root.Send(pid, &cairnpb.Tick{})
	<-started // restarted
	if got := family(t, m, "cairn_actor_restarts_total").GetMetric(); len(got) != 1 || got[0].GetCounter().GetValue() != 1 {
		t.Fatalf("restarts %v, want 1 for apply", got)
	}
	if got := family(t, m, "cairn_actor_running").GetMetric(); len(got) != 1 || got[0].GetGauge().GetValue() != 1 {
		t.Fatalf("running %v, want 1", got)
	}
}

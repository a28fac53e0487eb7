package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// idleReads is issue 5's workload 3, the etcd 3.1 ReadIndex leak: a
// 3-member cluster that nobody writes to, under a steady stream of
// linearizable reads of one small key, spread over every member (a
// follower's read goes to the leader for a read index). Nothing is
// written, so memory must stay flat: every pending read has to be
// forgotten once answered.
//
// Phases: start, warm-up, reads. Growth is the mean over the last fifth
// of the reads less the mean over their second and third tenths (see
// growth), of the live Go heap after each GC (heap.go) and of RSS.
type idleReads struct {
	duration time.Duration
	warmup   time.Duration
	workers  int
}

// Figures of idle-reads.
const (
	figHeapGrowth    = "heap growth"     // the leader's
	figRSSGrowth     = "RSS growth"      // the leader's
	figMaxHeapGrowth = "max heap growth" // of any member
	figReads         = "reads"
)

func (w *idleReads) Name() string { return "idle-reads" }

func (w *idleReads) Flags(fs *flag.FlagSet) {
	fs.DurationVar(&w.duration, "idle-duration", 10*time.Minute, "idle-reads: how long to read")
	fs.DurationVar(&w.warmup, "idle-warmup", 30*time.Second, "idle-reads: reads before the measured ones (they also fill protoactor's process registry, about 10 MiB once)")
	fs.IntVar(&w.workers, "idle-workers", 6, "idle-reads: reads in flight at once, spread over the members")
}

func (w *idleReads) Describe(LoadShape) string {
	return fmt.Sprintf("%s: 3 members, no writes, %d linearizable reads in flight spread over the members for %s "+
		"(after %s of warm-up). Growth: mean over the last fifth less mean over the second and third tenths; "+
		"heap is the live Go heap after each GC (GODEBUG=gctrace=1). Peak RSS, RSS after and growth are the leader's.",
		w.Name(), w.workers, w.duration, w.warmup)
}

func (w *idleReads) Run(ctx context.Context, env *Env) (*Result, error) {
	res := &Result{Workload: w.Name(), System: env.System.Name()}
	env.Phase("start")
	ms, leader, err := startCluster(ctx, env, 3)
	if err != nil {
		return nil, err
	}
	res.Leader = leader.Spec.Name
	clients, err := memberClients(env, ms)
	if err != nil {
		return nil, err
	}
	defer func() { closeClients(clients) }()
	if _, err := clients[0].Put(ctx, "idle/key", "a small value of a few bytes"); err != nil {
		return nil, err
	}
	get := func(ctx context.Context, c *clientv3.Client, i int) (int, error) {
		resp, err := c.Get(ctx, "idle/key")
		if err == nil && len(resp.Kvs) != 1 {
			err = fmt.Errorf("idle/key: %d values, want 1", len(resp.Kvs))
		}
		return 1, err
	}

	env.Phase("warm-up")
	if _, err := runLoadSpec(ctx, env, clients, loadSpec{Workers: w.workers, For: w.warmup}, get); err != nil {
		return nil, err
	}
	for _, m := range ms {
		env.HeapProfile(ctx, m, "warm-up-"+m.Spec.Name) // with -cpuprofile: compare with -base
	}
	env.Phase("reads")
	stats, err := runLoadSpec(ctx, env, clients, loadSpec{Workers: w.workers, For: w.duration}, get)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		env.HeapProfile(ctx, m, "reads-"+m.Spec.Name)
	}
	env.Logf("%d reads in %s (%.0f/s, %d retries)", stats.Units, stats.Elapsed.Round(time.Millisecond), stats.Rate(), stats.Retries)
	after, err := leader.Memory()
	if err != nil {
		return nil, err
	}
	from, to, _ := env.PhaseWindow("reads")
	// Every member has collected at least once more: the last window's
	// heap is known (the runtime forces a GC every two minutes at most,
	// and reads allocate).
	samples, hs := env.rec.snapshot(), env.HeapSamples()

	stats.addTo(res)
	res.Add(FigPeakRSS, Bytes, float64(env.PeakRSSOf(leader.Spec.Name)))
	res.Add(FigFinalRSS, Bytes, float64(after.RSS))
	res.Add(figHeapGrowth, Bytes, growth(heapPoints(hs, leader.Spec.Name, from, to), from, to))
	res.Add(figRSSGrowth, Bytes, growth(rssPoints(samples, leader.Spec.Name, from, to), from, to))
	var maxGrowth float64
	for _, m := range ms {
		maxGrowth = max(maxGrowth, growth(heapPoints(hs, m.Spec.Name, from, to), from, to))
	}
	res.Add(figMaxHeapGrowth, Bytes, maxGrowth)
	res.Add(figReads, Count, float64(stats.Units))
	addClusterFigures(env, res, ms, leader)
	closeClients(clients) // before the members stop: a graceful stop waits for connections
	clients = nil
	return res, stopAll(env, ms)
}

package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// put1MB is issue 5's workload 1, the reproduction of etcd issue 17098:
// N puts of 1 MB values (distinct keys) to the leader of a 3-member
// cluster. etcd keeps every raft entry since its last snapshot (up to
// --snapshot-count, 10,000 entries) in memory, so its leader holds every
// value it was sent; Cairn's raft log lives in pebble.
//
// Phases: start, load, settle (idle, then the final RSS reading).
type put1MB struct {
	count     int
	valueSize int
	workers   int
	settle    time.Duration
}

func (w *put1MB) Name() string { return "put-1mb" }

func (w *put1MB) Flags(fs *flag.FlagSet) {
	fs.IntVar(&w.count, "put-count", 1000, "put-1mb: number of puts")
	fs.IntVar(&w.valueSize, "put-value-size", 1<<20, "put-1mb: bytes per value")
	fs.IntVar(&w.workers, "put-workers", 4, "put-1mb: puts in flight at once")
	fs.DurationVar(&w.settle, "put-settle", 10*time.Second, "put-1mb: idle time after the load before the final RSS reading")
}

func (w *put1MB) Describe(LoadShape) string {
	return fmt.Sprintf("%s: %d puts of %s values (distinct keys) to the leader of 3 members, %d in flight; %s idle. "+
		"Peak RSS and RSS after are the leader's.", w.Name(), w.count, sizeText(w.valueSize), w.workers, w.settle)
}

func (w *put1MB) Run(ctx context.Context, env *Env) (*Result, error) {
	res := &Result{Workload: w.Name(), System: env.System.Name()}
	env.Phase("start")
	ms, leader, err := startCluster(ctx, env, 3)
	if err != nil {
		return nil, err
	}
	res.Leader = leader.Spec.Name

	env.Phase("load")
	clients, err := env.Clients(leader, 2)
	if err != nil {
		return nil, err
	}
	defer closeClients(clients)
	vals := newValues(w.valueSize, 0)
	put := func(ctx context.Context, c *clientv3.Client, i int) (int, error) {
		_, err := c.Put(ctx, fmt.Sprintf("big/%06d", i), vals.at(i))
		return 1, err
	}
	// With -cpuprofile: the leader and one follower, from the load's start.
	waitLeader := env.Profile(ctx, leader, "load")
	waitFollower := env.Profile(ctx, ms[slices.IndexFunc(ms, func(m *Member) bool { return m != leader })], "follower-load")
	stats, err := runLoadSpec(ctx, env, clients, loadSpec{Workers: w.workers, Requests: w.count}, put)
	if err != nil {
		return nil, err
	}
	env.Logf("%d puts in %s (%.1f/s, %d retries)", stats.Units, stats.Elapsed.Round(time.Millisecond), stats.Rate(), stats.Retries)
	waitLeader()
	waitFollower()

	env.Phase("settle")
	if err := sleep(ctx, w.settle); err != nil {
		return nil, err
	}
	if err := addLoadFigures(env, res, stats, leader); err != nil {
		return nil, err
	}
	res.Add(FigMiBps, Rate, stats.Rate()*float64(w.valueSize)/(1<<20))
	addClusterFigures(env, res, ms, leader)
	closeClients(clients) // before the members stop: a graceful stop waits for connections
	return res, stopAll(env, ms)
}

// addLoadFigures adds the load's throughput and latencies, and the
// leader's peak RSS and its RSS now.
func addLoadFigures(env *Env, res *Result, stats loadStats, leader *Member) error {
	after, err := leader.Memory()
	if err != nil {
		return err
	}
	stats.addTo(res)
	res.Add(FigPeakRSS, Bytes, float64(env.PeakRSSOf(leader.Spec.Name)))
	res.Add(FigFinalRSS, Bytes, float64(after.RSS))
	return nil
}

// memberClients returns one client per member.
func memberClients(env *Env, ms []*Member) ([]*clientv3.Client, error) {
	return spreadClients(env, ms, len(ms))
}

// spreadClients returns n clients, client i connected to ms[i%len(ms)],
// each its own gRPC connection.
func spreadClients(env *Env, ms []*Member, n int) ([]*clientv3.Client, error) {
	var clients []*clientv3.Client
	for i := range n {
		cs, err := env.Clients(ms[i%len(ms)], 1)
		if err != nil {
			closeClients(clients)
			return nil, err
		}
		clients = append(clients, cs...)
	}
	return clients, nil
}

// startCluster starts a cluster of n members and finds its leader.
func startCluster(ctx context.Context, env *Env, n int) ([]*Member, *Member, error) {
	ms, err := env.StartCluster(ctx, n)
	if err != nil {
		return nil, nil, err
	}
	leader, err := env.Leader(ctx, ms)
	if err != nil {
		return nil, nil, err
	}
	env.Logf("%d members serving, %s leads", n, leader.Spec.Name)
	return ms, leader, nil
}

// addClusterFigures adds the leader's heap peak and the other members'
// peak RSS, and notes whether another member leads now (the peak and final
// RSS are still those of the member that led at the start, the one the
// clients wrote to).
func addClusterFigures(env *Env, res *Result, ms []*Member, leader *Member) {
	noteLeaderMoved(env, res, ms, leader)
	hs := env.HeapSamples()
	res.Add(FigHeapPeak, Bytes, maxOf(heapPoints(hs, leader.Spec.Name, 0, env.rec.now())))
	var others uint64
	for _, m := range ms {
		if m != leader {
			others = max(others, env.PeakRSSOf(m.Spec.Name))
		}
	}
	res.Add(FigOthersPeak, Bytes, float64(others))
}

// noteLeaderMoved adds FigLeaderMoved if a member of ms other than leader
// leads now.
func noteLeaderMoved(env *Env, res *Result, ms []*Member, leader *Member) {
	var running []*Member
	for _, m := range ms {
		if env.live[m] {
			running = append(running, m)
		}
	}
	if now, err := env.Leader(context.Background(), running); err == nil && now.Spec.Name != leader.Spec.Name {
		env.Logf("leadership moved from %s to %s during the run", leader.Spec.Name, now.Spec.Name)
		res.Add(FigLeaderMoved, Count, 1)
	}
}

// stopAll stops the members still running.
func stopAll(env *Env, ms []*Member) error {
	for _, m := range ms {
		if !env.live[m] {
			continue
		}
		took, err := env.StopMember(m)
		if err != nil {
			return err
		}
		env.Logf("stopped %s in %s", m.Spec.Name, took.Round(time.Millisecond))
	}
	return nil
}

// sizeText prints a byte size the way a person would write it.
func sizeText(n int) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

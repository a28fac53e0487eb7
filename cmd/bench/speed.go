package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// speedLoad is one of the three loads of make bench-speed (-workloads
// speed), which compare how fast the two systems are and what each request
// costs them. The costs are summed over the 3 members, since the followers
// do their share of every write, over the load phase only, and divided by
// the requests done: CPU time (utime+stime), Go heap allocated
// (go_memstats_alloc_bytes_total, which both systems serve on /metrics),
// bytes written to disk (write_bytes) and bytes passed to write (wchar).
// Puts go to the leader, as a client that found it would; gets are spread
// over every member, so two thirds of them take a follower's read-index
// round trip to the leader.
//
// Phases: start, fill (gets only: every key written once), load.
type speedLoad struct {
	name  string
	reads bool // linearizable gets of keys written by the fill, instead of puts
	// count bounds a load of puts to distinct keys; 0: the load runs for
	// duration, each request on one of keys at random.
	count           int
	duration        time.Duration
	workers         int // requests in flight
	conns           int // gRPC connections they share
	keys            int
	valueSize       int
	maxRequestBytes int // --max-request-bytes on both systems; 0: their default
}

// speedLoads are make bench-speed's loads. The 1 MB puts are a bounded
// count rather than a duration so that each system writes the same data,
// few enough that a round stays short.
var speedLoads = []Workload{
	&speedLoad{name: "speed-put-1mb", count: 300, workers: 4, conns: 2, valueSize: 1 << 20, maxRequestBytes: 2 << 20},
	&speedLoad{name: "speed-small-puts", duration: 20 * time.Second, workers: 100, conns: 10, keys: 10_000, valueSize: 256},
	&speedLoad{name: "speed-lin-reads", reads: true, duration: 20 * time.Second, workers: 100, conns: 10, keys: 10_000, valueSize: 256},
}

// speedLegend explains the speed loads' columns, above their tables.
const speedLegend = `Costs per request, summed over the 3 members over the load phase: CPU/op their CPU time (utime+stime),
alloc/op the Go heap they allocated (go_memstats_alloc_bytes_total), disk/op the bytes they wrote to disk
(write_bytes of /proc/PID/io), wchar/op the bytes they passed to write(2). Peak RSS is the leader's.
`

// Figures of the speed loads beyond the standard ones: costs per request.
const (
	FigReqRate    = "req/s"
	figCPUPerOp   = "CPU/op"
	figAllocPerOp = "alloc/op"
	figDiskPerOp  = "disk/op"
	figWCharPerOp = "wchar/op"
)

func (w *speedLoad) Name() string { return w.name }

// Flags registers the size of the load, each default the load's own.
func (w *speedLoad) Flags(fs *flag.FlagSet) {
	if w.count > 0 {
		fs.IntVar(&w.count, w.name+"-count", w.count, w.name+": number of puts")
		return
	}
	fs.DurationVar(&w.duration, w.name+"-duration", w.duration, w.name+": how long to load")
}

func (w *speedLoad) Describe(LoadShape) string {
	switch {
	case w.reads:
		return fmt.Sprintf("%s: linearizable gets of one of %d keys of %s, %d in flight on %d connections spread over the 3 members, for %s.",
			w.name, w.keys, sizeText(w.valueSize), w.workers, w.conns, w.duration)
	case w.count > 0:
		return fmt.Sprintf("%s: %d puts of %s values (distinct keys), %d in flight on %d connections to the leader of 3 members, --max-request-bytes %s on both.",
			w.name, w.count, sizeText(w.valueSize), w.workers, w.conns, sizeText(w.maxRequestBytes))
	}
	return fmt.Sprintf("%s: puts of %s to one of %d keys, %d in flight on %d connections to the leader of 3 members, for %s.",
		w.name, sizeText(w.valueSize), w.keys, w.workers, w.conns, w.duration)
}

func (w *speedLoad) Run(ctx context.Context, env *Env) (*Result, error) {
	res := &Result{Workload: w.Name(), System: env.System.Name()}
	if w.maxRequestBytes > 0 {
		env.Args = append(env.Args, fmt.Sprintf("--max-request-bytes=%d", w.maxRequestBytes))
	}
	env.Phase("start")
	ms, leader, err := startCluster(ctx, env, 3)
	if err != nil {
		return nil, err
	}
	res.Leader = leader.Spec.Name
	over := []*Member{leader}
	if w.reads {
		over = ms
	}
	clients, err := spreadClients(env, over, w.conns)
	if err != nil {
		return nil, err
	}
	defer func() { closeClients(clients) }()

	vals := newValues(w.valueSize, 0)
	key := func(i int) string { return fmt.Sprintf("speed/%08d", i) }
	spec := loadSpec{Workers: w.workers, Requests: w.count}
	if w.count == 0 {
		spec.For = w.duration
	}
	do := func(ctx context.Context, c *clientv3.Client, i int) (int, error) {
		k := i
		if w.count == 0 {
			k = rand.IntN(w.keys)
		}
		_, err := c.Put(ctx, key(k), vals.at(i))
		return 1, err
	}
	if w.reads {
		var err error
		if do, err = fillForGets(ctx, env, clients, w.workers, w.keys, key, vals); err != nil {
			return nil, err
		}
	}

	env.Phase("load")
	before, err := readCounters(ctx, ms)
	if err != nil {
		return nil, err
	}
	wait := env.Profile(ctx, leader, "load")
	waitFollower := env.Profile(ctx, ms[slices.IndexFunc(ms, func(m *Member) bool { return m != leader })], "follower-load")
	stats, err := runLoadSpec(ctx, env, clients, spec, do)
	if err != nil {
		return nil, err
	}
	after, err := readCounters(ctx, ms)
	if err != nil {
		return nil, err
	}
	wait()
	waitFollower()
	env.Logf("%d requests in %s (%.0f/s, %d retries)", stats.Requests, stats.Elapsed.Round(time.Millisecond), stats.Rate(), stats.Retries)
	if stats.Capped {
		res.Add(FigCapped, Count, 1)
	}
	res.Add(FigReqRate, Rate, float64(stats.Requests)/stats.Elapsed.Seconds())
	res.Add(FigP50, Duration, stats.Percentile(0.50).Seconds())
	res.Add(FigP99, Duration, stats.Percentile(0.99).Seconds())
	addCostFigures(res, after.sub(before), stats.Requests)
	res.Add(FigPeakRSS, Bytes, float64(env.PeakRSSOf(leader.Spec.Name)))
	noteLeaderMoved(env, res, ms, leader)
	closeClients(clients) // before the members stop: a graceful stop waits for connections
	clients = nil
	return res, stopAll(env, ms)
}

// addCostFigures adds the costs per request of n requests that cost d.
func addCostFigures(res *Result, d counters, n int) {
	if n == 0 {
		return
	}
	per := func(v float64) float64 { return v / float64(n) }
	res.Add(figCPUPerOp, Duration, per(d.CPU.Seconds()))
	res.Add(figAllocPerOp, Size, per(d.Alloc))
	res.Add(figDiskPerOp, Size, per(float64(d.WriteBytes)))
	res.Add(figWCharPerOp, Size, per(float64(d.WChar)))
}

// isSpeedLoad reports whether w is one of the speed loads.
func isSpeedLoad(w Workload) bool {
	_, ok := w.(*speedLoad)
	return ok
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// overloadFlood is the flood phase of issue 10's overload benchmark: far
// more clients than a member can serve at once, each putting 64 KB values
// as fast as it is answered, spread over the 3 members. It measures what a
// crowd does to a system: its peak RSS per member, the puts it still
// completes (goodput) as a fraction of what a modest load gets (the peak,
// measured first on the same cluster), the p99 of the completed puts, how
// fast a refused put is answered, the errors clients see by kind, and
// whether a member exited or restarted an actor.
//
// A client that fails waits floodBackoff before its next put, as an etcd
// client backing off would; puts are not retried (a retry would hide the
// refusal the figures are about).
//
// Phases: start, peak, flood.
type overloadFlood struct {
	clients, conns    int
	peakWorkers       int
	peakFor, floodFor time.Duration
	valueSize         int
}

// floodBackoff is how long a flooding client waits after a failed put.
const floodBackoff = 50 * time.Millisecond

// Figures of the flood.
const (
	figPeakRate  = "peak ok/s"
	figGoodput   = "ok/s"
	figGoodFrac  = "goodput %"
	figFailed    = "failed %"
	figTooMany   = "too-many %"
	figTimedOut  = "timeout %"
	figOtherErr  = "other-err %"
	figRefuseP99 = "refused p99"
	figExited    = "exited"
	figRestarts  = "actor restarts"
)

func (w *overloadFlood) Name() string { return "overload-flood" }

func (w *overloadFlood) Flags(fs *flag.FlagSet) {
	fs.IntVar(&w.clients, "flood-clients", 2000, "overload-flood: clients putting at once in the flood")
	fs.IntVar(&w.conns, "flood-conns", 200, "overload-flood: gRPC connections the flooding clients share, spread over the members")
	fs.IntVar(&w.peakWorkers, "flood-peak-workers", 16, "overload-flood: clients of the load that measures the unloaded peak")
	fs.DurationVar(&w.peakFor, "flood-peak-duration", 10*time.Second, "overload-flood: how long the peak is measured")
	fs.DurationVar(&w.floodFor, "flood-duration", 30*time.Second, "overload-flood: how long the flood lasts")
	fs.IntVar(&w.valueSize, "flood-value-size", 64<<10, "overload-flood: bytes per value")
}

func (w *overloadFlood) Describe(LoadShape) string {
	return fmt.Sprintf("%d clients on %d connections spread over 3 members put %s values for %s, after a peak measured with %d clients for %s; a failed put waits %s.",
		w.clients, w.conns, sizeText(w.valueSize), w.floodFor, w.peakWorkers, w.peakFor, floodBackoff)
}

func (w *overloadFlood) Run(ctx context.Context, env *Env) (*Result, error) {
	res := &Result{Workload: w.Name(), System: env.System.Name()}
	env.Phase("start")
	ms, leader, err := startCluster(ctx, env, 3)
	if err != nil {
		return nil, err
	}
	res.Leader = leader.Spec.Name
	clients, err := spreadClients(env, ms, w.conns)
	if err != nil {
		return nil, err
	}
	defer func() { closeClients(clients) }()
	cairn := env.System.Name() == "cairn"
	var restartsBefore float64
	if cairn {
		if restartsBefore, err = actorRestarts(ctx, ms); err != nil {
			return nil, err
		}
	}
	vals := newValues(w.valueSize, 0)
	var next atomic.Int64
	put := func(ctx context.Context, c *clientv3.Client) error {
		i := next.Add(1)
		_, err := c.Put(ctx, fmt.Sprintf("flood/%09d", i), vals.at(int(i)))
		return err
	}

	env.Phase("peak")
	peak := floodLoad(ctx, clients[:min(len(clients), 6)], w.peakWorkers, w.peakFor, put)
	env.Logf("peak: %d puts in %s (%.0f/s), %d failed", peak.ok, peak.elapsed.Round(time.Millisecond), peak.rate(), peak.failedCount())

	env.Phase("flood")
	flood := floodLoad(ctx, clients, w.clients, w.floodFor, put)
	env.Logf("flood: %d puts in %s (%.0f/s), %d failed: %v", flood.ok, flood.elapsed.Round(time.Millisecond), flood.rate(), flood.failedCount(), flood.failed)

	res.Add(figPeakRate, Rate, peak.rate())
	res.Add(figGoodput, Rate, flood.rate())
	if peak.rate() > 0 {
		res.Add(figGoodFrac, Count, 100*flood.rate()/peak.rate())
	}
	res.Add(FigP50, Duration, percentile(flood.okLat, 0.50).Seconds())
	res.Add(FigP99, Duration, percentile(flood.okLat, 0.99).Seconds())
	res.Add(figRefuseP99, Duration, percentile(flood.failLat, 0.99).Seconds())
	total := float64(flood.ok + flood.failedCount())
	if total > 0 {
		res.Add(figFailed, Count, 100*float64(flood.failedCount())/total)
		res.Add(figTooMany, Count, 100*float64(flood.failed["too many requests"])/total)
		res.Add(figTimedOut, Count, 100*float64(flood.failed["timeout"])/total)
		res.Add(figOtherErr, Count, 100*float64(flood.failedCount()-flood.failed["too many requests"]-flood.failed["timeout"])/total)
	}
	var peakRSS uint64
	for _, m := range ms {
		peakRSS = max(peakRSS, env.PeakRSSOf(m.Spec.Name, "flood"))
	}
	res.Add(FigPeakRSS, Bytes, float64(peakRSS))
	exited := 0
	for _, m := range ms {
		if syscall.Kill(m.PID(), 0) != nil {
			exited++
		}
	}
	res.Add(figExited, Count, float64(exited))
	if cairn && exited == 0 {
		after, err := actorRestarts(ctx, ms)
		if err != nil {
			return nil, err
		}
		res.Add(figRestarts, Count, after-restartsBefore)
	}
	closeClients(clients) // before the members stop: a graceful stop waits for connections
	clients = nil
	return res, stopAll(env, ms)
}

// floodStats are what one load of floodLoad saw.
type floodStats struct {
	ok      int
	elapsed time.Duration
	okLat   []time.Duration
	failLat []time.Duration
	failed  map[string]int // by errorKind
}

func (s floodStats) rate() float64 { return float64(s.ok) / s.elapsed.Seconds() }

func (s floodStats) failedCount() int {
	n := 0
	for _, c := range s.failed {
		n += c
	}
	return n
}

// floodLoad runs workers clients (round robin over clients) putting for d;
// a failed put waits floodBackoff. Unlike runLoad, a failure does not stop
// the load: it is what the flood measures.
func floodLoad(ctx context.Context, clients []*clientv3.Client, workers int, d time.Duration, put func(context.Context, *clientv3.Client) error) floodStats {
	var (
		mu sync.Mutex
		s  = floodStats{failed: map[string]int{}}
		wg sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		c := clients[w%len(clients)]
		wg.Go(func() {
			var ok, fail []time.Duration
			kinds := map[string]int{}
			for ctx.Err() == nil && time.Now().Before(deadline) {
				rctx, cancel := context.WithTimeout(ctx, requestTimeout)
				t := time.Now()
				err := put(rctx, c)
				lat := time.Since(t)
				cancel()
				if err == nil {
					ok = append(ok, lat)
					continue
				}
				fail = append(fail, lat)
				kinds[errorKind(err)]++
				select {
				case <-ctx.Done():
				case <-time.After(floodBackoff):
				}
			}
			mu.Lock()
			defer mu.Unlock()
			s.ok += len(ok)
			s.okLat = append(s.okLat, ok...)
			s.failLat = append(s.failLat, fail...)
			for k, n := range kinds {
				s.failed[k] += n
			}
		})
	}
	wg.Wait()
	s.elapsed = time.Since(start)
	slices.Sort(s.okLat)
	slices.Sort(s.failLat)
	return s
}

// errorKind names the kind of a failed put, for the table.
func errorKind(err error) string {
	err = rpctypes.Error(err) // a server's status as the client's error, as clientv3 returns it
	switch {
	case errors.Is(err, rpctypes.ErrTooManyRequests), status.Code(err) == codes.ResourceExhausted:
		return "too many requests"
	case errors.Is(err, context.DeadlineExceeded), status.Code(err) == codes.DeadlineExceeded,
		errors.Is(err, rpctypes.ErrTimeout), errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail),
		errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost):
		return "timeout"
	case status.Code(err) == codes.Unavailable:
		return "unavailable"
	default:
		msg := err.Error()
		if i := strings.LastIndex(msg, "desc = "); i >= 0 {
			msg = msg[i+len("desc = "):]
		}
		return msg
	}
}

// actorRestarts returns the actor restarts Cairn's members count
// (cairn_actor_restarts_total, every label summed: a counter no actor has
// raised yet has no sample, which counts as 0).
func actorRestarts(ctx context.Context, ms []*Member) (float64, error) {
	sum := 0.0
	for _, m := range ms {
		v, err := scrapeMetricSum(ctx, m.Spec.MetricsURL+"/metrics", "cairn_actor_restarts_total")
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

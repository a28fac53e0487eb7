package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// LoadShape is how a workload's clients are arranged; it is the same for
// every system.
type LoadShape struct {
	Workers int // requests in flight at once
	Conns   int // gRPC connections the workers share, round robin
	Batch   int // puts per request; more than 1 makes each request a txn
	// RSSCap, if not 0, ends every load of a run early once a member's RSS
	// passes it (the workload goes on to its next phase): a system whose
	// memory follows the workload would otherwise take the machine's. The
	// figure FigCapped marks such a run.
	RSSCap uint64
}

// Validate names the first field out of range.
func (s LoadShape) Validate() error {
	switch {
	case s.Workers < 1:
		return errors.New("workers must be at least 1")
	case s.Conns < 1 || s.Conns > s.Workers:
		return errors.New("conns must be between 1 and workers")
	case s.Batch < 1 || s.Batch > 128:
		return errors.New("batch must be between 1 and 128 (both systems' default max-txn-ops)")
	}
	return nil
}

// loadStats is what runLoad measured.
type loadStats struct {
	Requests  int
	Units     int // what the requests did, in the workload's unit (keys put)
	Elapsed   time.Duration
	Latencies []time.Duration // of each request, retries included; sorted
	Retries   int64
	Capped    bool // the load ended early: a member passed LoadShape.RSSCap
}

// Rate is units per second.
func (s loadStats) Rate() float64 { return float64(s.Units) / s.Elapsed.Seconds() }

// Percentile returns the latency below which p (0..1) of the requests
// completed (nearest rank).
func (s loadStats) Percentile(p float64) time.Duration { return percentile(s.Latencies, p) }

// percentile returns the p-th (0..1) of sorted latencies (nearest rank), 0
// if there are none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// addTo adds the standard throughput and latency figures to r, and
// FigCapped if the load ended at the RSS cap.
func (s loadStats) addTo(r *Result) {
	if s.Capped {
		r.Add(FigCapped, Count, 1)
	}
	r.Add(FigThroughput, Rate, s.Rate())
	r.Add(FigP50, Duration, s.Percentile(0.50).Seconds())
	r.Add(FigP90, Duration, s.Percentile(0.90).Seconds())
	r.Add(FigP99, Duration, s.Percentile(0.99).Seconds())
}

// requestFunc sends request i over c and returns how many units it did.
type requestFunc func(ctx context.Context, c *clientv3.Client, i int) (units int, err error)

// Retrying a refused request stands in for the back-off a real client
// would do; the retries count in its latency.
const (
	maxAttempts    = 100
	retryPause     = 20 * time.Millisecond
	requestTimeout = 30 * time.Second
	progressEvery  = 5 * time.Second
)

// runLoad sends requests 0..n-1 from env.Shape.Workers goroutines over
// clients, each worker taking the next request index, and records each
// request's latency. The first request that fails for good stops the load.
func runLoad(ctx context.Context, env *Env, clients []*clientv3.Client, n int, do requestFunc) (loadStats, error) {
	return runLoadSpec(ctx, env, clients, loadSpec{Workers: env.Shape.Workers, Requests: n}, do)
}

// loadSpec says how many workers send how many requests, or for how long.
type loadSpec struct {
	Workers  int
	Requests int           // requests 0..Requests-1; 0: no bound (For must be set)
	For      time.Duration // stop starting requests after this long; 0: no bound
}

// runLoadSpec sends requests from spec.Workers goroutines over clients
// (round robin), each worker taking the next request index, until
// spec.Requests are done or spec.For has passed, and records each
// request's latency. The first request that fails for good stops the load.
func runLoadSpec(ctx context.Context, env *Env, clients []*clientv3.Client, spec loadSpec, do requestFunc) (loadStats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next, done, units, retries atomic.Int64
		firstErr                   error
		errOnce                    sync.Once
		wg                         sync.WaitGroup
	)
	n := spec.Requests
	if n <= 0 {
		n = math.MaxInt
	}
	workers := spec.Workers
	perWorker := make([][]time.Duration, workers)
	start := time.Now()
	var deadline time.Time
	if spec.For > 0 {
		deadline = start.Add(spec.For)
	}
	stopProgress := startProgress(env, start, &done, spec.Requests)
	defer stopProgress()
	for w := range workers {
		c := clients[w%len(clients)]
		wg.Go(func() {
			lat := make([]time.Duration, 0, min(n/workers+1, 1<<16))
			defer func() { perWorker[w] = lat }()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil || (!deadline.IsZero() && time.Now().After(deadline)) || env.Capped() {
					return
				}
				t := time.Now()
				u, tries, err := sendWithRetry(ctx, c, i, do)
				retries.Add(int64(tries - 1))
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("request %d: %w", i, err); cancel() })
					return
				}
				lat = append(lat, time.Since(t))
				units.Add(int64(u))
				done.Add(1)
			}
		})
	}
	wg.Wait()
	s := loadStats{Requests: int(done.Load()), Units: int(units.Load()), Elapsed: time.Since(start), Retries: retries.Load(), Capped: env.Capped()}
	if s.Capped {
		env.Logf("load ended early: %s", env.capNote())
	}
	if firstErr != nil {
		return s, firstErr
	}
	if err := ctx.Err(); err != nil {
		return s, err
	}
	for _, l := range perWorker {
		s.Latencies = append(s.Latencies, l...)
	}
	slices.Sort(s.Latencies)
	return s, nil
}

func sendWithRetry(ctx context.Context, c *clientv3.Client, i int, do requestFunc) (units, tries int, err error) {
	for tries = 1; ; tries++ {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		units, err = do(rctx, c, i)
		cancel()
		if err == nil || !retryable(err) || tries == maxAttempts {
			return units, tries, err
		}
		select {
		case <-ctx.Done():
			return 0, tries, ctx.Err()
		case <-time.After(retryPause):
		}
	}
}

// retryable reports whether the server refused a request for now (overload,
// not serving yet, or it timed out waiting for raft or apply) rather than
// for good. A client of etcd retries these; the retries are counted and
// their time is in the request's latency.
func retryable(err error) bool {
	return errors.Is(err, rpctypes.ErrTooManyRequests) || status.Code(err) == codes.Unavailable ||
		errors.Is(err, rpctypes.ErrNoLeader) || errors.Is(err, rpctypes.ErrLeaderChanged) ||
		errors.Is(err, rpctypes.ErrTimeout) || errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail) ||
		errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost)
}

// startProgress logs how far a load is every progressEvery; the returned
// function stops it.
func startProgress(env *Env, start time.Time, done *atomic.Int64, total int) (stop func()) {
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				d := done.Load()
				if total > 0 {
					env.Logf("%d/%d requests, %.0f requests/s", d, total, float64(d)/time.Since(start).Seconds())
				} else {
					env.Logf("%d requests, %.0f requests/s", d, float64(d)/time.Since(start).Seconds())
				}
			}
		}
	}()
	return func() { close(quit); <-finished }
}

package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// restart1M is issue 5's workload 5: many small keys on one member, then a
// restart. etcd rebuilds an in-memory B-tree of every key and revision when
// it starts and keeps it, so its start-up time and RSS grow with the number
// of keys; Cairn's key index is in pebble, so they should not.
//
// Phases: start, load (N keys in requests of Batch puts), stop (SIGTERM),
// restart (process start to the first successful linearizable Get of the
// first key), idle, then verify (a count of the keys, not measured).
type restart1M struct {
	keys      int
	valueSize int
	idle      time.Duration
}

// Figures of restart-1m beyond the standard ones, in table order.
const (
	figLoadedRSS = "RSS loaded"   // right after the load, before the stop
	figLoadCPU   = "load CPU"     // server CPU time during the load
	figDisk      = "disk"         // data dir size after the load
	figStop      = "stop"         // SIGTERM to exit
	figServe     = "start→serve"  // process start to first linearizable Get
	figServedRSS = "RSS served"   // right after that Get
	figPeak2     = "restart peak" // peak RSS of the restarted process
	figFinalAnon = "anon after"   // RssAnon at the end: RSS less file pages
)

// valuePoolBytes of random bytes are the source of every value (values.go).
const valuePoolBytes = 1 << 20

func (w *restart1M) Name() string { return "restart-1m" }

func (w *restart1M) Flags(fs *flag.FlagSet) {
	fs.IntVar(&w.keys, "keys", 1_000_000, "restart-1m: number of keys to load")
	fs.IntVar(&w.valueSize, "value-size", 100, "restart-1m: bytes per value")
	fs.DurationVar(&w.idle, "idle", 5*time.Second, "restart-1m: idle time after the restart before the final RSS reading")
}

func (w *restart1M) Describe(s LoadShape) string {
	requests := "single puts"
	if s.Batch > 1 {
		requests = fmt.Sprintf("txns of %d puts (ops = keys; latency per txn)", s.Batch)
	}
	return fmt.Sprintf("%s: %d keys x %d B into one member by %d workers on %d connections in %s; "+
		"SIGTERM; start; first linearizable Get; %s idle",
		w.Name(), w.keys, w.valueSize, s.Workers, s.Conns, requests, w.idle)
}

func key(i int) string { return fmt.Sprintf("bench/%09d", i) }

func (w *restart1M) Run(ctx context.Context, env *Env) (*Result, error) {
	if w.keys < 1 || w.valueSize < 1 || w.valueSize > valuePoolBytes/2 {
		return nil, fmt.Errorf("%s: keys must be positive and value-size between 1 and %d", w.Name(), valuePoolBytes/2)
	}
	res := &Result{Workload: w.Name(), System: env.System.Name()}

	env.Phase("start")
	m, err := env.StartMember(ctx, "m1")
	if err != nil {
		return nil, err
	}
	if _, _, err := m.WaitServing(ctx, key(0), time.Minute); err != nil {
		return nil, err
	}

	env.Phase("load")
	stats, cpu, err := w.load(ctx, env, m)
	if err != nil {
		return nil, err
	}
	loaded, err := m.Memory()
	if err != nil {
		return nil, err
	}
	disk, err := dirSize(m.Spec.DataDir)
	if err != nil {
		return nil, err
	}
	env.Logf("loaded %d keys in %s (%.0f keys/s, %d retries), RSS %s", stats.Units, stats.Elapsed.Round(time.Millisecond), stats.Rate(), stats.Retries, mib(loaded.RSS))

	env.Phase("stop")
	stopTook, err := env.StopMember(m)
	if err != nil {
		return nil, err
	}

	env.Phase("restart")
	m, err = env.StartMember(ctx, "m1")
	if err != nil {
		return nil, err
	}
	resp, serveTook, err := m.WaitServing(ctx, key(0), 10*time.Minute)
	if err != nil {
		return nil, err
	}
	served, err := m.Memory()
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) != 1 || len(resp.Kvs[0].Value) != w.valueSize {
		return nil, fmt.Errorf("after restart, %s has %d values (want 1 of %d bytes)", key(0), len(resp.Kvs), w.valueSize)
	}
	env.Logf("serving %s after process start, RSS %s", serveTook.Round(time.Millisecond), mib(served.RSS))

	env.Phase("idle")
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(w.idle):
	}
	idle, err := m.Memory()
	if err != nil {
		return nil, err
	}
	peak := env.PeakRSS() // before verify, which is not measured
	env.HeapProfile(ctx, m, "idle")

	env.Phase("verify")
	if err := w.verify(ctx, m); err != nil {
		return nil, err
	}
	if _, err := env.StopMember(m); err != nil {
		return nil, err
	}

	stats.addTo(res)
	res.Add(FigPeakRSS, Bytes, float64(peak))
	res.Add(FigFinalRSS, Bytes, float64(idle.RSS))
	res.Add(figLoadedRSS, Bytes, float64(loaded.RSS))
	res.Add(figLoadCPU, Duration, cpu.Seconds())
	res.Add(figDisk, Bytes, float64(disk))
	res.Add(figStop, Duration, stopTook.Seconds())
	res.Add(figServe, Duration, serveTook.Seconds())
	res.Add(figServedRSS, Bytes, float64(served.RSS))
	res.Add(figPeak2, Bytes, float64(idle.HWM))
	res.Add(figFinalAnon, Bytes, float64(idle.Anon))
	return res, nil
}

// load puts every key and returns the load's figures and the server CPU
// time it took.
func (w *restart1M) load(ctx context.Context, env *Env, m *Member) (loadStats, time.Duration, error) {
	clients, err := env.Clients(m, env.Shape.Conns)
	if err != nil {
		return loadStats{}, 0, err
	}
	defer closeClients(clients)

	value := newValues(w.valueSize, valuePoolBytes).at
	batch := env.Shape.Batch
	requests := (w.keys + batch - 1) / batch
	put := func(ctx context.Context, c *clientv3.Client, i int) (int, error) {
		first, end := i*batch, min((i+1)*batch, w.keys)
		if batch == 1 {
			_, err := c.Put(ctx, key(first), value(first))
			return 1, err
		}
		ops := make([]clientv3.Op, 0, end-first)
		for k := first; k < end; k++ {
			ops = append(ops, clientv3.OpPut(key(k), value(k)))
		}
		_, err := c.Txn(ctx).Then(ops...).Commit()
		return end - first, err
	}

	cpu0, err := m.CPU()
	if err != nil {
		return loadStats{}, 0, err
	}
	waitProfile := env.Profile(ctx, m, "load")
	stats, err := runLoad(ctx, env, clients, requests, put)
	cpu1, cpuErr := m.CPU()
	waitProfile()
	if err != nil {
		return stats, 0, err
	}
	return stats, cpu1 - cpu0, cpuErr
}

// verify counts the keys: every key loaded must have survived the restart.
// It runs after the measurements, as a count reads every key (and fills
// caches).
func (w *restart1M) verify(ctx context.Context, m *Member) error {
	c, err := newClient(m.Spec.ClientURL)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	resp, err := c.Get(ctx, "bench/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("count keys: %w", err)
	}
	if resp.Count != int64(w.keys) {
		return fmt.Errorf("after restart the member has %d keys, want %d", resp.Count, w.keys)
	}
	return nil
}

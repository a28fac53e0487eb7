package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// smallKV is the everyday load of a Kubernetes-like client: single puts of
// small values, or linearizable single-key gets, many in flight, on a
// 3-member cluster. Its rows compare speed rather than memory: how a system
// does where etcd is at its best. Puts go to the leader (as a client that
// found it would); gets are spread over every member, so two thirds of them
// take a follower's read-index round trip to the leader.
//
// Phases: start, fill (gets only: every key written once), load.
type smallKV struct {
	name      string
	reads     bool
	duration  time.Duration
	workers   int
	keys      int
	valueSize int
}

func (w *smallKV) Name() string { return w.name }

func (w *smallKV) Flags(fs *flag.FlagSet) {
	fs.DurationVar(&w.duration, w.name+"-duration", 30*time.Second, w.name+": how long to load")
	fs.IntVar(&w.workers, w.name+"-workers", 64, w.name+": requests in flight at once")
	fs.IntVar(&w.keys, w.name+"-keys", 10_000, w.name+": distinct keys, each request picks one at random")
	fs.IntVar(&w.valueSize, w.name+"-value-size", 256, w.name+": bytes per value")
}

func (w *smallKV) Describe(LoadShape) string {
	if w.reads {
		return fmt.Sprintf("%s: 3 members; linearizable gets of one of %d keys of %d B, %d in flight over 3 connections, one per member, for %s. Peak RSS and RSS after are the leader's.",
			w.name, w.keys, w.valueSize, w.workers, w.duration)
	}
	return fmt.Sprintf("%s: 3 members; puts of %d B to one of %d keys, %d in flight over 3 connections to the leader, for %s. Peak RSS and RSS after are the leader's.",
		w.name, w.valueSize, w.keys, w.workers, w.duration)
}

func (w *smallKV) Run(ctx context.Context, env *Env) (*Result, error) {
	res := &Result{Workload: w.Name(), System: env.System.Name()}
	env.Phase("start")
	ms, leader, err := startCluster(ctx, env, 3)
	if err != nil {
		return nil, err
	}
	res.Leader = leader.Spec.Name
	var clients []*clientv3.Client
	defer func() { closeClients(clients) }()
	if w.reads {
		clients, err = memberClients(env, ms)
	} else {
		clients, err = env.Clients(leader, 3)
	}
	if err != nil {
		return nil, err
	}
	vals := newValues(w.valueSize, 0)
	key := func(i int) string { return fmt.Sprintf("small/%08d", i) }
	put := func(ctx context.Context, c *clientv3.Client, i int) (int, error) {
		_, err := c.Put(ctx, key(rand.IntN(w.keys)), vals.at(i))
		return 1, err
	}
	do := put
	if w.reads {
		var err error
		if do, err = fillForGets(ctx, env, clients, w.workers, w.keys, key, vals); err != nil {
			return nil, err
		}
	}

	env.Phase("load")
	wait := env.Profile(ctx, leader, "load")
	stats, err := runLoadSpec(ctx, env, clients, loadSpec{Workers: w.workers, For: w.duration}, do)
	if err != nil {
		return nil, err
	}
	wait()
	env.Logf("%d requests in %s (%.0f/s, %d retries)", stats.Units, stats.Elapsed.Round(time.Millisecond), stats.Rate(), stats.Retries)
	if err := addLoadFigures(env, res, stats, leader); err != nil {
		return nil, err
	}
	addClusterFigures(env, res, ms, leader)
	closeClients(clients) // before the members stop: a graceful stop waits for connections
	clients = nil
	return res, stopAll(env, ms)
}

// fillForGets writes each of keys once, in phase "fill", and returns the
// request of a load of gets: one of the keys at random, which must hold one
// value.
func fillForGets(ctx context.Context, env *Env, clients []*clientv3.Client, workers, keys int, key func(int) string, vals *values) (requestFunc, error) {
	env.Phase("fill")
	fill := func(ctx context.Context, c *clientv3.Client, i int) (int, error) {
		_, err := c.Put(ctx, key(i), vals.at(i))
		return 1, err
	}
	if _, err := runLoadSpec(ctx, env, clients, loadSpec{Workers: workers, Requests: keys}, fill); err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *clientv3.Client, i int) (int, error) {
		resp, err := c.Get(ctx, key(rand.IntN(keys)))
		if err == nil && len(resp.Kvs) != 1 {
			err = fmt.Errorf("get: %d values, want 1", len(resp.Kvs))
		}
		return 1, err
	}, nil
}

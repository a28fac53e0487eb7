package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// rewrite2MB is issue 5's workload 2, the Easegress case: one key with a
// 2 MB value rewritten continuously on a 3-member cluster, while a client
// compacts history every -rewrite-compact-every to the revision of the
// round before (as etcd's periodic auto-compaction and kube-apiserver do;
// without it both systems' disks fill). A 2 MB value needs
// --max-request-bytes above both systems' default 1.5 MiB: the workload
// gives both 3 MiB.
//
// Phases: start, load (for -rewrite-duration), settle. RSS 1st/last min
// are the leader's mean RSS over the first and the last minute (or fifth,
// if shorter) of the load: memory that follows the workload grows between
// them.
type rewrite2MB struct {
	duration     time.Duration
	valueSize    int
	workers      int
	compactEvery time.Duration
	settle       time.Duration
}

// Figures of rewrite-2mb.
const (
	figRSSFirst    = "RSS 1st min"
	figRSSLast     = "RSS last min"
	figCompactions = "compactions"
)

func (w *rewrite2MB) Name() string { return "rewrite-2mb" }

func (w *rewrite2MB) Flags(fs *flag.FlagSet) {
	fs.DurationVar(&w.duration, "rewrite-duration", 5*time.Minute, "rewrite-2mb: how long to rewrite the key")
	fs.IntVar(&w.valueSize, "rewrite-value-size", 2<<20, "rewrite-2mb: bytes per value")
	fs.IntVar(&w.workers, "rewrite-workers", 2, "rewrite-2mb: puts in flight at once")
	fs.DurationVar(&w.compactEvery, "rewrite-compact-every", 10*time.Second, "rewrite-2mb: compact history this often, to the revision of the round before")
	fs.DurationVar(&w.settle, "rewrite-settle", 10*time.Second, "rewrite-2mb: idle time after the load before the final RSS reading")
}

func (w *rewrite2MB) Describe(LoadShape) string {
	return fmt.Sprintf("%s: one key of %s rewritten for %s on the leader of 3 members, %d puts in flight, "+
		"history compacted every %s, --max-request-bytes 3 MiB on both; %s idle. Peak RSS and RSS after are the leader's.",
		w.Name(), sizeText(w.valueSize), w.duration, w.workers, w.compactEvery, w.settle)
}

// maxRequestBytesFor is --max-request-bytes for values of size bytes:
// 3 MiB for the 2 MB of the workload, more for larger values.
func maxRequestBytesFor(size int) int { return max(3<<20, size+64<<10) }

func (w *rewrite2MB) Run(ctx context.Context, env *Env) (*Result, error) {
	res := &Result{Workload: w.Name(), System: env.System.Name()}
	env.Args = append(env.Args, fmt.Sprintf("--max-request-bytes=%d", maxRequestBytesFor(w.valueSize)))
	env.Phase("start")
	ms, leader, err := startCluster(ctx, env, 3)
	if err != nil {
		return nil, err
	}
	res.Leader = leader.Spec.Name

	clients, err := env.Clients(leader, 2)
	if err != nil {
		return nil, err
	}
	defer closeClients(clients)
	env.Phase("load")
	k := startCompactor(ctx, env, clients[0], w.compactEvery)
	vals := newValues(w.valueSize, 0)
	put := func(ctx context.Context, c *clientv3.Client, i int) (int, error) {
		_, err := c.Put(ctx, "rewritten", vals.at(i))
		return 1, err
	}
	stats, err := runLoadSpec(ctx, env, clients, loadSpec{Workers: w.workers, For: w.duration}, put)
	compactions := k.close()
	if err != nil {
		return nil, err
	}
	env.Logf("%d puts in %s (%.1f/s, %d retries), %d compactions", stats.Units, stats.Elapsed.Round(time.Millisecond), stats.Rate(), stats.Retries, compactions)
	from, to, _ := env.PhaseWindow("load")

	env.Phase("settle")
	if err := sleep(ctx, w.settle); err != nil {
		return nil, err
	}
	if err := addLoadFigures(env, res, stats, leader); err != nil {
		return nil, err
	}
	res.Add(FigMiBps, Rate, stats.Rate()*float64(w.valueSize)/(1<<20))
	window := min(time.Minute, (to-from)/5)
	ps := rssPoints(env.rec.snapshot(), leader.Spec.Name, from, to)
	res.Add(figRSSFirst, Bytes, max(mean(ps, from, from+window), 0))
	res.Add(figRSSLast, Bytes, max(mean(ps, to-window, to), 0))
	res.Add(figCompactions, Count, float64(compactions))
	addClusterFigures(env, res, ms, leader)
	closeClients(clients) // before the members stop: a graceful stop waits for connections
	return res, stopAll(env, ms)
}

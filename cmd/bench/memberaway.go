package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// memberAway is issue 5's workload 4: one follower of a 3-member cluster
// is stopped while the leader takes -away-bytes of writes (distinct keys),
// then started again and left to catch up. etcd's leader keeps every entry
// since its last snapshot in memory (and 5,000 after it, for followers
// that are behind); Cairn's leader keeps its log in pebble, compacts it to
// --raft-log-retention-bytes, and sends a member further behind a
// snapshot, streamed in bounded chunks.
//
// Phases: start, away (the follower is stopped; the writes), catch-up
// (the follower starts; until its revision reaches the leader's), settle.
type memberAway struct {
	bytes     int64
	valueSize int
	workers   int
	settle    time.Duration
}

// Figures of member-away.
const (
	figAwayPeak    = "away peak"    // the leader's peak RSS while the follower is away
	figMemberPeak  = "member peak"  // the restarted member's peak RSS
	figMemberAfter = "member after" // the restarted member's RSS at the end
	figCatchUp     = "catch-up"     // restart to the member's revision reaching the leader's
	figSnapshots   = "snapshots"    // snapshots the restarted member received
)

func (w *memberAway) Name() string { return "member-away" }

func (w *memberAway) Flags(fs *flag.FlagSet) {
	fs.Int64Var(&w.bytes, "away-bytes", 2<<30, "member-away: value bytes written while the follower is stopped")
	fs.IntVar(&w.valueSize, "away-value-size", 1<<20, "member-away: bytes per value")
	fs.IntVar(&w.workers, "away-workers", 4, "member-away: puts in flight at once")
	fs.DurationVar(&w.settle, "away-settle", 10*time.Second, "member-away: idle time after the catch-up before the final RSS readings")
}

func (w *memberAway) puts() int { return int(max(w.bytes/int64(w.valueSize), 1)) }

func (w *memberAway) Describe(LoadShape) string {
	return fmt.Sprintf("%s: 3 members; one follower stopped while %d puts of %s (%s, distinct keys) go to the leader, %d in flight; "+
		"the follower started and timed until its revision reaches the leader's; %s idle. Peak RSS and RSS after are the leader's.",
		w.Name(), w.puts(), sizeText(w.valueSize), sizeText(int(w.bytes)), w.workers, w.settle)
}

func (w *memberAway) Run(ctx context.Context, env *Env) (*Result, error) {
	if w.valueSize < 1 || w.bytes < 1 {
		return nil, errors.New("member-away: away-bytes and away-value-size must be positive")
	}
	res := &Result{Workload: w.Name(), System: env.System.Name()}
	env.Args = append(env.Args, fmt.Sprintf("--max-request-bytes=%d", maxRequestBytesFor(w.valueSize)))
	env.Phase("start")
	ms, leader, err := startCluster(ctx, env, 3)
	if err != nil {
		return nil, err
	}
	res.Leader = leader.Spec.Name
	var away *Member
	for _, m := range ms {
		if m != leader {
			away = m
			break
		}
	}
	clients, err := env.Clients(leader, 2)
	if err != nil {
		return nil, err
	}
	defer closeClients(clients)

	env.Phase("away")
	if _, err := env.StopMember(away); err != nil {
		return nil, err
	}
	env.Logf("stopped %s", away.Spec.Name)
	vals := newValues(w.valueSize, 0)
	put := func(ctx context.Context, c *clientv3.Client, i int) (int, error) {
		_, err := c.Put(ctx, fmt.Sprintf("away/%08d", i), vals.at(i))
		return 1, err
	}
	stats, err := runLoadSpec(ctx, env, clients, loadSpec{Workers: w.workers, Requests: w.puts()}, put)
	if err != nil {
		return nil, err
	}
	resp, err := clients[0].Get(ctx, "bench-ready")
	if err != nil {
		return nil, err
	}
	target := resp.Header.Revision
	env.Logf("%d puts in %s (%.1f/s, %d retries); leader at revision %d", stats.Units, stats.Elapsed.Round(time.Millisecond), stats.Rate(), stats.Retries, target)

	env.Phase("catch-up")
	back, err := env.StartMember(ctx, away.Spec.Name)
	if err != nil {
		return nil, err
	}
	took, err := waitRevision(ctx, back, target, 30*time.Minute)
	if err != nil {
		return nil, err
	}
	env.Logf("%s caught up to revision %d in %s", back.Spec.Name, target, took.Round(time.Millisecond))

	env.Phase("settle")
	if err := sleep(ctx, w.settle); err != nil {
		return nil, err
	}
	after, err := leader.Memory()
	if err != nil {
		return nil, err
	}
	backAfter, err := back.Memory()
	if err != nil {
		return nil, err
	}
	snaps, err := back.countInLog(env.System.SnapshotMarker())
	if err != nil {
		return nil, err
	}
	stats.addTo(res)
	res.Add(FigPeakRSS, Bytes, float64(env.PeakRSSOf(leader.Spec.Name)))
	res.Add(FigFinalRSS, Bytes, float64(after.RSS))
	res.Add(FigMiBps, Rate, stats.Rate()*float64(w.valueSize)/(1<<20))
	res.Add(figAwayPeak, Bytes, float64(env.PeakRSSOf(leader.Spec.Name, "away")))
	res.Add(figCatchUp, Duration, took.Seconds())
	res.Add(figMemberPeak, Bytes, float64(backAfter.HWM))
	res.Add(figMemberAfter, Bytes, float64(backAfter.RSS))
	res.Add(figSnapshots, Count, float64(snaps))
	addClusterFigures(env, res, append(ms, back), leader)
	closeClients(clients) // before the members stop: a graceful stop waits for connections
	return res, stopAll(env, append(ms, back))
}

// waitRevision polls a serializable read of m until its revision reaches
// rev, and returns the time from m's process start.
func waitRevision(ctx context.Context, m *Member, rev int64, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := newClient(m.Spec.ClientURL)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var last int64
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
		resp, err := c.Get(attempt, "bench-ready", clientv3.WithSerializable())
		cancelAttempt()
		if err == nil {
			last = resp.Header.Revision
			if last >= rev {
				return time.Since(m.Started), nil
			}
		}
		select {
		case <-m.exited:
			return 0, fmt.Errorf("%s exited while catching up: %v\n%s", m.Spec.Name, m.waitErr, m.logTail())
		case <-ctx.Done():
			return 0, fmt.Errorf("%s at revision %d, not %d, after %s", m.Spec.Name, last, rev, timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// countInLog counts the lines of this run of m's log that contain s.
func (m *Member) countInLog(s string) (int, error) {
	f, err := os.Open(m.logPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(m.logStart, io.SeekStart); err != nil {
		return 0, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return 0, err
	}
	return bytes.Count(b, []byte(s)), nil
}

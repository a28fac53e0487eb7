package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// StartCluster starts a new cluster of n members named m1..mN and waits
// until every member serves a linearizable read. It returns the members in
// name order. Restart one with StartMember(ctx, m.Spec.Name).
func (e *Env) StartCluster(ctx context.Context, n int) ([]*Member, error) {
	var names []string
	for i := 1; i <= n; i++ {
		names = append(names, fmt.Sprintf("m%d", i))
	}
	specs, err := e.newSpecs(names)
	if err != nil {
		return nil, err
	}
	var ms []*Member
	for _, spec := range specs {
		m, err := e.StartMember(ctx, spec.Name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	for _, m := range ms {
		if _, _, err := m.WaitServing(ctx, "bench-ready", 2*time.Minute); err != nil {
			return nil, err
		}
	}
	return ms, nil
}

// Leader returns the member of ms that leads, as the members report it.
func (e *Env) Leader(ctx context.Context, ms []*Member) (*Member, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		for _, m := range ms {
			id, lead, err := m.status(ctx)
			if err == nil && lead != 0 && id == lead {
				return m, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, errors.New("no member reports itself as leader")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// status returns the member's ID and the leader it knows.
func (m *Member) status(ctx context.Context) (id, leader uint64, err error) {
	c, err := newClient(m.Spec.ClientURL)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := c.Status(ctx, m.Spec.ClientURL)
	if err != nil {
		return 0, 0, err
	}
	return st.Header.GetMemberId(), st.Leader, nil
}

// PeakRSSOf returns the highest VmHWM sampled of the member called name
// (over all its runs), from its samples in phases (every phase if none).
func (e *Env) PeakRSSOf(name string, phases ...string) uint64 {
	return peakOf(e.rec.snapshot(), name, phases)
}

func peakOf(samples []Sample, name string, phases []string) uint64 {
	var peak uint64
	for _, s := range samples {
		if s.Member == name && inPhases(s.Phase, phases) {
			// VmHWM covers the time between samples, but also
			// everything the process did before the phase began.
			v := s.RSS
			if len(phases) == 0 {
				v = s.HWM
			}
			peak = max(peak, v)
		}
	}
	return peak
}

func inPhases(phase string, phases []string) bool {
	if len(phases) == 0 {
		return true
	}
	for _, p := range phases {
		if p == phase {
			return true
		}
	}
	return false
}

// compactor compacts the history of a member every interval to the
// revision it saw one interval earlier (etcd's periodic auto-compaction;
// kube-apiserver does the same every five minutes), so that a workload that
// rewrites keys keeps its disk use bounded on both systems.
type compactor struct {
	stop chan struct{}
	done chan struct{}
	n    int // compactions done
}

func startCompactor(ctx context.Context, env *Env, c *clientv3.Client, every time.Duration) *compactor {
	k := &compactor{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(k.done)
		t := time.NewTicker(every)
		defer t.Stop()
		var prev int64
		for {
			select {
			case <-k.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rctx, cancel := context.WithTimeout(ctx, requestTimeout)
			resp, err := c.Get(rctx, "bench-ready", clientv3.WithSerializable())
			if err == nil && prev > 0 {
				if _, err = c.Compact(rctx, prev); err == nil {
					k.n++
				}
			}
			cancel()
			if err != nil && ctx.Err() == nil {
				env.Logf("compaction to %d: %v", prev, err)
			}
			if resp != nil {
				prev = resp.Header.Revision
			}
		}
	}()
	return k
}

// close stops the compactor and returns how many compactions it did.
func (k *compactor) close() int {
	close(k.stop)
	<-k.done
	return k.n
}

package robustness

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// watcher watches every workload key through one member from StartRev on
// and records what it receives. The etcd client resumes a watch by itself
// when its connection breaks (from the revision after the last it
// delivered); a watch the member cancels (with RequireLeader, when the
// member loses its leader) ends, and the watcher opens it again from the
// revision after the last event it received: both are resumes whose gaps
// checkWatch would see.
type watcher struct {
	name          string
	cli           *clientv3.Client
	requireLeader bool

	mu      sync.Mutex
	stream  watchStream
	lastRev int64         // of the last event or progress received
	more    chan struct{} // signalled when lastRev moves
}

func newWatcher(name string, cli *clientv3.Client, requireLeader bool) *watcher {
	return &watcher{name: name, cli: cli, requireLeader: requireLeader,
		stream: watchStream{Name: name, StartRev: 1}, more: make(chan struct{}, 1)}
}

// run watches until ctx ends.
func (w *watcher) run(ctx context.Context) {
	next := w.stream.StartRev
	for ctx.Err() == nil {
		wctx := ctx
		if w.requireLeader {
			wctx = clientv3.WithRequireLeader(ctx)
		}
		wctx, cancel := context.WithCancel(wctx)
		for resp := range w.cli.Watch(wctx, keyPrefix, clientv3.WithPrefix(), clientv3.WithRev(next)) {
			if resp.Err() != nil {
				break
			}
			w.mu.Lock()
			for _, ev := range resp.Events {
				if e, ok := fromWatch(ev); ok {
					w.stream.Events = append(w.stream.Events, e)
				}
				next = max(next, ev.Kv.ModRevision+1)
			}
			w.lastRev = max(w.lastRev, next-1)
			w.mu.Unlock()
			select {
			case w.more <- struct{}{}:
			default:
			}
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		w.stream.Resumes++
		w.mu.Unlock()
		// A member with no leader cancels at once: a modest pace.
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitFor waits until the watcher received revision rev, for at most
// timeout.
func (w *watcher) waitFor(rev int64, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		last := w.lastRev
		w.mu.Unlock()
		if last >= rev {
			return nil
		}
		select {
		case <-w.more:
		case <-deadline:
			return fmt.Errorf("watch %s at revision %d after %v, want %d", w.name, last, timeout, rev)
		}
	}
}

// result returns what the watcher received.
func (w *watcher) result() watchStream {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stream
	s.Events = append([]event(nil), s.Events...)
	return s
}

// eventHistory reads the whole event history of the workload keys through
// cli, up to finalRev, with a watch from revision 1.
func eventHistory(ctx context.Context, cli *clientv3.Client, finalRev int64) ([]event, error) {
	if finalRev <= 1 {
		return nil, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var events []event
	for resp := range cli.Watch(ctx, keyPrefix, clientv3.WithPrefix(), clientv3.WithRev(1)) {
		if err := resp.Err(); err != nil {
			return nil, err
		}
		reached := false
		for _, ev := range resp.Events {
			// A response may carry revisions past finalRev: writes whose
			// outcome a client did not learn can still commit after the
			// final read. The history is what finalRev covers.
			if e, ok := fromWatch(ev); ok && ev.Kv.ModRevision <= finalRev {
				events = append(events, e)
			}
			reached = reached || ev.Kv.ModRevision >= finalRev
		}
		// The events of one revision come in one response.
		if reached {
			return events, nil
		}
	}
	return nil, fmt.Errorf("event history: watch ended before revision %d: %w", finalRev, ctx.Err())
}

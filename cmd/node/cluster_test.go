package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn/cairntest"
)

// The tests in this file run three-member clusters of the member binary
// (cairntest.StartProcessCluster), each member a process talking to the
// others over actor remoting through a proxy in the test's process, and the
// real etcd client against them. They check what issue 3 asks of a cluster:
// a new leader after the old one is killed, a partitioned member rejoining,
// a member catching up by snapshot, and the same keyspace on every member
// with no acknowledged write lost.

// electionTimeout is the members' --election-timeout (etcd's default); the
// tests assert bounds of many election timeouts only, and log what they
// measure.
const electionTimeout = time.Second

var clusterArgs = []string{
	"--heartbeat-interval=100",
	fmt.Sprintf("--election-timeout=%d", electionTimeout/time.Millisecond),
}

// TestClusterKillLeader kills the leader with SIGKILL while clients write
// through every member, and checks that the others elect a leader within a
// generous bound and go on acknowledging writes, that the old leader rejoins
// on its data directory and serves writes again, and that every member ends
// with the same keyspace holding every acknowledged write.
func TestClusterKillLeader(t *testing.T) {
	t.Parallel()
	c := cairntest.StartProcessCluster(t, 3, clusterArgs...)
	w := startWriters(t, c, 6, 100)
	w.waitAcks(200, nil)

	old := c.Leader(10 * time.Second)
	killed := time.Now()
	old.Kill()
	var survivors []*cairntest.ProcessMember
	for _, m := range c.Members {
		if m != old {
			survivors = append(survivors, m)
		}
	}
	leader, err := c.WaitLeader(10*electionTimeout, survivors...)
	if err != nil {
		t.Fatalf("after killing the leader %s: %v", old.Name, err)
	}
	elected := time.Since(killed)
	t.Logf("killed leader %s; %s leads %v later (%.1f election timeouts)",
		old.Name, leader.Name, elected.Round(time.Millisecond), float64(elected)/float64(electionTimeout))

	// Writes go on through the survivors.
	w.waitAcks(200, survivors)

	old.Restart() // waits until it serves: it has a leader and lists itself
	t.Logf("%s serves again %v after the kill", old.Name, time.Since(killed).Round(time.Millisecond))
	// The old leader's own writers are acknowledged again.
	w.waitAcks(20, []*cairntest.ProcessMember{old})

	acks := w.stop()
	checkConverged(t, c, acks)
}

// TestClusterPartitionFollower cuts a follower's inbound peer traffic while
// clients write, then heals it. Cut off, the follower hears nobody: after
// its election timeout it has no leader; its pre-votes reach the others,
// who ignore them, so the leader and the term stay. Healed, it follows the
// leader again and converges.
func TestClusterPartitionFollower(t *testing.T) {
	t.Parallel()
	testPartition(t, false)
}

// TestClusterPartitionLeader cuts the leader's inbound peer traffic while
// clients write, then heals it. The leader hears no follower but still
// reaches them: check-quorum makes it step down after an election timeout,
// its heartbeats stop, and only then do the others elect a new leader;
// writes go on through them. Healed, the old leader follows the new one,
// and its log (which may hold entries it appended while cut off) converges.
func TestClusterPartitionLeader(t *testing.T) {
	t.Parallel()
	testPartition(t, true)
}

// testPartition cuts the leader, or a follower, off (its proxy), checks
// what it and the others do while it is cut, heals it, and checks that it
// rejoins and converges.
func testPartition(t *testing.T, cutLeader bool) {
	c := cairntest.StartProcessCluster(t, 3, clusterArgs...)
	w := startWriters(t, c, 6, 100)
	w.waitAcks(100, nil)
	ctx := cairntest.Ctx(t)

	leader := c.Leader(10 * time.Second)
	if _, err := leader.Client().Put(ctx, "probe", "before"); err != nil {
		t.Fatal(err)
	}
	term := status(t, leader).RaftTerm
	cut := leader
	for _, m := range c.Members {
		if !cutLeader && m != leader {
			cut = m
			break
		}
	}
	var others []*cairntest.ProcessMember
	for _, m := range c.Members {
		if m != cut {
			others = append(others, m)
		}
	}
	role := "follower"
	if cutLeader {
		role = "leader"
	}

	cutAt := time.Now()
	cut.Cut()
	if cutLeader {
		waitStatus(t, cut, 10*electionTimeout, "to step down", func(st *clientv3.StatusResponse) bool { return st.Leader != cut.ID })
		t.Logf("cut leader %s steps down %v after the cut", cut.Name, time.Since(cutAt).Round(time.Millisecond))
		var err error
		if leader, err = c.WaitLeader(10*electionTimeout, others...); err != nil {
			t.Fatalf("after cutting the leader %s off: %v", cut.Name, err)
		}
		t.Logf("%s leads %v after the cut", leader.Name, time.Since(cutAt).Round(time.Millisecond))
	} else {
		waitStatus(t, cut, 10*electionTimeout, "no leader", func(st *clientv3.StatusResponse) bool { return st.Leader == 0 })
		t.Logf("cut follower %s has no leader %v after the cut", cut.Name, time.Since(cutAt).Round(time.Millisecond))
	}
	leaderTerm := status(t, leader).RaftTerm

	// The cut member serves no stale linearizable read: it cannot know of
	// a write the others acknowledged after the cut. (The read waits for
	// its timeout while the writes go on.)
	if _, err := others[0].Client().Put(ctx, "probe", "after"); err != nil {
		t.Fatal(err)
	}
	read := make(chan string, 1)
	go func() {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		get, err := cut.Client().Get(rctx, "probe")
		switch {
		case err != nil:
			read <- ""
			t.Logf("linearizable read on the cut %s: %v", role, err)
		case len(get.Kvs) == 1 && string(get.Kvs[0].Value) == "before":
			read <- fmt.Sprintf("the cut %s %s served a stale linearizable read: probe=before, after probe=after was acknowledged", role, cut.Name)
		default:
			read <- fmt.Sprintf("the cut %s %s read %v", role, cut.Name, get.Kvs)
		}
	}()
	w.waitAcks(200, others)
	if msg := <-read; msg != "" {
		t.Error(msg)
	}
	// Pre-vote: campaigning alone does not raise its term.
	if st := status(t, cut); st.RaftTerm != term {
		t.Errorf("the cut %s %s is at term %d, want %d still", role, cut.Name, st.RaftTerm, term)
	}

	cut.Heal()
	healed := time.Now()
	// Healing deposes nobody: the cut member's pre-votes lose against the
	// leader's lease and its longer log.
	if got := c.Leader(10 * electionTimeout); got != leader {
		t.Errorf("%s leads after the heal, want %s", got.Name, leader.Name)
	}
	if st := status(t, leader); st.RaftTerm != leaderTerm {
		t.Errorf("term %d after the heal, want %d: the healed %s disturbed the cluster", st.RaftTerm, leaderTerm, role)
	}
	w.waitAcks(20, []*cairntest.ProcessMember{cut})
	t.Logf("healed %s %s follows %s and serves writes %v after the heal", role, cut.Name, leader.Name, time.Since(healed).Round(time.Millisecond))

	checkConverged(t, c, w.stop())
}

// TestClusterSnapshotCatchUp stops a follower, writes far more than the
// members keep of their raft logs (--raft-log-retention-bytes=4096), and
// restarts it: the leader has compacted the entries it lacks, so it catches
// up by snapshot, and then holds the same keyspace as the others.
func TestClusterSnapshotCatchUp(t *testing.T) {
	t.Parallel()
	c := cairntest.StartProcessCluster(t, 3, append([]string{"--raft-log-retention-bytes=4096"}, clusterArgs...)...)
	leader := c.Leader(10 * time.Second)
	var f *cairntest.ProcessMember
	for _, m := range c.Members {
		if m != leader {
			f = m
			break
		}
	}
	if err := f.Stop(); err != nil {
		t.Fatalf("stop %s: %v", f.Name, err)
	}
	stopped := time.Now()
	w := startWriters(t, c, 4, 1000, leader)
	// 400 writes of 1 KB are a hundred times the retention; the log
	// compactors run every second (there is no flag for the interval and no
	// sign of a compaction outside the process), so go on writing for
	// three of them.
	w.waitAcks(400, nil)
	for time.Since(stopped) < 3*time.Second {
		w.waitAcks(10, nil)
	}
	f.Restart()
	w.waitAcks(20, nil)
	acks := w.stop()
	checkConverged(t, c, acks)
	if !strings.Contains(f.Stderr(), "snapshot received") {
		t.Errorf("%s caught up without a snapshot", f.Name)
	}
	t.Logf("%d writes while %s was down; it caught up by snapshot", len(acks), f.Name)
}

// TestClusterReplicatesLargeValues writes values of 100 KB through every
// member of three processes: the leader sends each entry to both followers
// over remoting without a copy for each (actors/transport's spliced
// batches), and every member must end with the same keyspace holding every
// acknowledged write, each value as written.
func TestClusterReplicatesLargeValues(t *testing.T) {
	t.Parallel()
	c := cairntest.StartProcessCluster(t, 3, clusterArgs...)
	w := startWriters(t, c, 3, 100<<10)
	w.waitAcks(60, nil)
	acks := w.stop()
	checkConverged(t, c, acks)
	ctx := cairntest.Ctx(t)
	for _, m := range c.Running() {
		for _, a := range acks[:10] {
			resp, err := m.Client().Get(ctx, a.key, clientv3.WithSerializable())
			if err != nil {
				t.Fatalf("get %s on %s: %v", a.key, m.Name, err)
			}
			if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != a.value {
				t.Fatalf("%s on %s: the value differs from the one written", a.key, m.Name)
			}
		}
	}
}

// writers put unique keys through the members, each writer through one
// member, and record every acknowledgement.
type writers struct {
	t      *testing.T
	cancel context.CancelFunc
	wg     sync.WaitGroup
	via    []*cairntest.ProcessMember // writer i writes through via[i]

	mu     sync.Mutex
	acks   []ack
	count  []int          // acknowledgements per writer
	failed map[string]int // failed writes by error
	more   chan struct{}  // signalled after each acknowledgement
}

// ack is an acknowledged put.
type ack struct {
	key, value string
	rev        int64 // the response header's revision
}

// startWriters starts n writers of values of size bytes, writer i through
// members[i%len(members)] (default: every member of c, in turn). They write
// until stop.
func startWriters(t *testing.T, c *cairntest.ProcessCluster, n, size int, members ...*cairntest.ProcessMember) *writers {
	if len(members) == 0 {
		members = c.Members
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &writers{t: t, cancel: cancel, count: make([]int, n), failed: map[string]int{}, more: make(chan struct{}, 1)}
	for i := range n {
		m := members[i%len(members)]
		w.via = append(w.via, m)
		cli := cairntest.NewRetryClient(t, m.Endpoint)
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for j := 0; ctx.Err() == nil; j++ {
				key := fmt.Sprintf("w%02d/%06d", i, j)
				value := fmt.Sprintf("%s-%s-", key, m.Name)
				value += strings.Repeat("x", max(0, size-len(value)))
				// Shorter than the members' request timeout (7s): a
				// proposal forwarded to a leader that dies is lost, and
				// its writer would wait that long.
				pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				resp, err := cli.Put(pctx, key, value)
				cancel()
				if err != nil {
					// It may or may not have happened.
					if ctx.Err() == nil {
						w.mu.Lock()
						w.failed[err.Error()]++
						w.mu.Unlock()
					}
					// Errors that come at once (no leader, the member
					// is down) are retried at a modest pace.
					select {
					case <-ctx.Done():
					case <-time.After(10 * time.Millisecond):
					}
					continue
				}
				w.mu.Lock()
				w.acks = append(w.acks, ack{key, value, resp.Header.Revision})
				w.count[i]++
				w.mu.Unlock()
				select {
				case w.more <- struct{}{}:
				default:
				}
			}
		}()
	}
	t.Cleanup(func() { cancel(); w.wg.Wait() })
	return w
}

// acked returns the acknowledgements of the writers through members in ms
// (every writer if ms is empty).
func (w *writers) acked(ms []*cairntest.ProcessMember) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for i, c := range w.count {
		for _, m := range ms {
			if w.via[i] == m {
				n += c
			}
		}
		if len(ms) == 0 {
			n += c
		}
	}
	return n
}

// waitAcks waits until the writers through members ms (every writer if ms
// is empty) have had n more writes acknowledged.
func (w *writers) waitAcks(n int, ms []*cairntest.ProcessMember) {
	w.t.Helper()
	target := w.acked(ms) + n
	deadline := time.After(30 * time.Second)
	for w.acked(ms) < target {
		select {
		case <-w.more:
		case <-deadline:
			var names []string
			for _, m := range ms {
				names = append(names, m.Name)
			}
			w.t.Fatalf("writes through %v stalled: %d acknowledged, waiting for %d", names, w.acked(ms), target)
		}
	}
}

// stop stops the writers and returns every acknowledged write.
func (w *writers) stop() []ack {
	w.cancel()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	for err, n := range w.failed {
		w.t.Logf("%d writes failed: %s", n, err)
	}
	return w.acks
}

// checkConverged checks that every running member holds the same keyspace
// (HashKV at one revision, after a linearizable read on each member) and
// every acknowledged write.
func checkConverged(t *testing.T, c *cairntest.ProcessCluster, acks []ack) {
	t.Helper()
	ctx := cairntest.Ctx(t)
	leader := c.Leader(10 * electionTimeout)
	// Nobody writes any more: the leader's revision is the last.
	head, err := leader.Client().Get(ctx, "w", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatalf("read on the leader %s: %v", leader.Name, err)
	}
	rev := head.Header.Revision

	byRev := map[int64]string{}
	for _, a := range acks {
		if other, ok := byRev[a.rev]; ok {
			t.Errorf("revision %d acknowledged for %s and for %s", a.rev, a.key, other)
		}
		byRev[a.rev] = a.key
		if a.rev > rev {
			t.Errorf("%s acknowledged at revision %d, beyond the leader's %d", a.key, a.rev, rev)
		}
	}

	var want uint32
	for i, m := range c.Running() {
		cli := m.Client()
		// A linearizable read makes the member apply up to the leader's
		// commit, which is rev: reads after it see rev.
		if _, err := cli.Get(ctx, "barrier"); err != nil {
			t.Fatalf("linearizable read on %s: %v", m.Name, err)
		}
		h, err := cli.HashKV(ctx, m.Endpoint, rev)
		if err != nil {
			t.Fatalf("hash on %s: %v", m.Name, err)
		}
		if i == 0 {
			want = h.Hash
		} else if h.Hash != want {
			t.Errorf("%s hashes the keyspace at revision %d to %d, %s to %d", m.Name, rev, h.Hash, c.Running()[0].Name, want)
		}
		get, err := cli.Get(ctx, "w", clientv3.WithPrefix(), clientv3.WithSerializable(), clientv3.WithRev(rev))
		if err != nil {
			t.Fatalf("read on %s: %v", m.Name, err)
		}
		if get.Count != head.Count {
			t.Errorf("%s holds %d keys at revision %d, the leader %d", m.Name, get.Count, rev, head.Count)
		}
		store := map[string]int{}
		for i, kv := range get.Kvs {
			store[string(kv.Key)] = i
		}
		missing := 0
		for _, a := range acks {
			i, ok := store[a.key]
			switch {
			case !ok:
				missing++
				if missing <= 10 {
					t.Errorf("%s: acknowledged %s at revision %d is missing", m.Name, a.key, a.rev)
				}
			case string(get.Kvs[i].Value) != a.value || get.Kvs[i].ModRevision != a.rev:
				t.Errorf("%s: acknowledged %s=%s at revision %d, found %s at revision %d",
					m.Name, a.key, a.value, a.rev, get.Kvs[i].Value, get.Kvs[i].ModRevision)
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of %d acknowledged writes missing", m.Name, missing, len(acks))
		}
	}
	t.Logf("%d members hash alike at revision %d; %d keys, all %d acknowledged writes present",
		len(c.Running()), rev, head.Count, len(acks))
}

// status returns m's status, failing the test on an error.
func status(t *testing.T, m *cairntest.ProcessMember) *clientv3.StatusResponse {
	t.Helper()
	st, err := m.Status(cairntest.Ctx(t))
	if err != nil {
		t.Fatalf("status of %s: %v", m.Name, err)
	}
	return st
}

// waitStatus polls m's status every 20ms until ok holds, for at most
// timeout.
func waitStatus(t *testing.T, m *cairntest.ProcessMember, timeout time.Duration, what string, ok func(*clientv3.StatusResponse) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *clientv3.StatusResponse
	var lastErr error
	for time.Now().Before(deadline) {
		st, err := m.Status(context.Background())
		if err == nil && ok(st) {
			return
		}
		last, lastErr = st, err
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: waited %v for %s; last status %+v, %v", m.Name, timeout, what, last, lastErr)
}

package robustness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/cairnkv/cairn/cairntest"
)

// The faults the injector knows, by name (the -robustness.faults flag).
const (
	faultKill       = "kill"        // SIGKILL a member (the leader half the time), restart it
	faultPause      = "pause"       // SIGSTOP a member, SIGCONT it
	faultMoveLeader = "move-leader" // Maintenance.MoveLeader to another member
	faultIsolate    = "isolate"     // a member hears nobody and nobody hears it
	faultCutIn      = "cut-in"      // a member hears nobody; the others hear it
	faultCutOut     = "cut-out"     // nobody hears a member; it hears the others
	faultDropLink   = "drop-link"   // one member does not hear one other
	faultReplace    = "replace"     // remove a member (MemberRemove), add a new one (MemberAdd)
)

// allFaults are the faults a mixed schedule draws from.
var allFaults = []string{faultKill, faultPause, faultMoveLeader, faultIsolate, faultCutIn, faultCutOut, faultDropLink, faultReplace}

// partitionFaults need to tell members' connections apart by dialler.
var partitionFaults = []string{faultIsolate, faultCutOut, faultDropLink}

// injector applies one fault at a time to a cluster: it waits a random
// gap, applies a fault, holds it for a random while, undoes it, and waits
// until the cluster has a leader every member agrees on before the next.
// Its randomness comes from the run's seed. It runs in the test's
// goroutine (it fails the test through cairntest's helpers).
type injector struct {
	t      *testing.T
	c      *cairntest.ProcessCluster
	rng    *rand.Rand
	h      *history // for timestamps
	faults []string
	// retarget points the clients and watchers of a removed member at
	// the member that replaced it.
	retarget func(old, new *cairntest.ProcessMember)
	added    int // members added so far
	deadline time.Time

	// refused counts the connections the partition rules closed: proof
	// that a one-way cut cut something.
	refused atomic.Int64

	mu     sync.Mutex
	events []porcupine.Annotation
	counts map[string]int
}

func newInjector(t *testing.T, c *cairntest.ProcessCluster, seed uint64, h *history, faults []string) *injector {
	return &injector{t: t, c: c, rng: rand.New(rand.NewPCG(seed, 0x6661756c74)), h: h, faults: faults, counts: map[string]int{}}
}

// between returns a random duration in [lo, hi).
func (f *injector) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(f.rng.Int64N(int64(hi-lo)))
}

// hold returns how long to hold a fault: a random duration in [lo, hi),
// cut short to end by the deadline (and lo at least), so that a run ends
// on time.
func (f *injector) hold(lo, hi time.Duration) time.Duration {
	return max(lo, min(f.between(lo, hi), time.Until(f.deadline)))
}

// run injects faults until the deadline.
func (f *injector) run(deadline time.Time) {
	f.deadline = deadline
	for time.Now().Before(deadline) {
		// The schedule's gaps are timed, from the seed: nothing to await.
		time.Sleep(f.between(200*time.Millisecond, 1200*time.Millisecond))
		kind := f.faults[f.rng.IntN(len(f.faults))]
		start := f.h.now()
		what := f.inject(kind)
		f.record(kind, start, what)
		f.settle()
	}
}

func (f *injector) record(kind string, start int64, what string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[kind]++
	f.events = append(f.events, porcupine.Annotation{
		Tag: "faults", Start: start, End: f.h.now(), Description: what, BackgroundColor: "#f4cccc",
	})
	f.t.Logf("%7.3fs fault: %s", float64(start)/1e9, what)
}

// settle waits until every member runs and agrees on a leader.
func (f *injector) settle() {
	f.t.Helper()
	if _, err := f.c.WaitLeader(30*time.Second, f.c.Members...); err != nil {
		f.t.Fatalf("the cluster did not recover from the last fault: %v", err)
	}
}

// pick returns the leader half the time, any member otherwise.
func (f *injector) pick() *cairntest.ProcessMember {
	if f.rng.IntN(2) == 0 {
		return f.c.Leader(30 * time.Second)
	}
	return f.c.Members[f.rng.IntN(len(f.c.Members))]
}

// others returns the members other than m.
func (f *injector) others(m *cairntest.ProcessMember) []*cairntest.ProcessMember {
	var out []*cairntest.ProcessMember
	for _, x := range f.c.Members {
		if x != m {
			out = append(out, x)
		}
	}
	return out
}

// inject applies one fault, holds it, undoes it, and says what it did.
func (f *injector) inject(kind string) string {
	t := f.t
	switch kind {
	case faultKill:
		m := f.pick()
		hold := f.hold(0, 2*time.Second)
		m.Kill()
		time.Sleep(hold)
		m.Restart() // waits until it serves again
		return fmt.Sprintf("kill %s, restart after %v", m.Name, hold.Round(time.Millisecond))

	case faultPause:
		m := f.pick()
		// Up to three election timeouts: a paused leader is deposed,
		// and learns it when it wakes.
		hold := f.hold(300*time.Millisecond, 3*time.Second)
		pid := m.Pid()
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP %s: %v", m.Name, err)
		}
		time.Sleep(hold)
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Fatalf("SIGCONT %s: %v", m.Name, err)
		}
		return fmt.Sprintf("pause %s for %v", m.Name, hold.Round(time.Millisecond))

	case faultMoveLeader:
		leader := f.c.Leader(30 * time.Second)
		others := f.others(leader)
		to := others[f.rng.IntN(len(others))]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := leader.Client().MoveLeader(ctx, to.ID); err != nil {
			return fmt.Sprintf("move leader %s -> %s: %v", leader.Name, to.Name, err)
		}
		return fmt.Sprintf("move leader %s -> %s", leader.Name, to.Name)

	case faultIsolate, faultCutIn, faultCutOut, faultDropLink:
		m := f.pick()
		// Up to six election timeouts: beyond three without a leader,
		// a cut-off member cancels its RequireLeader watches.
		hold := f.hold(500*time.Millisecond, 6*time.Second)
		f.refused.Store(0)
		what := f.partition(kind, m)
		time.Sleep(hold)
		f.heal()
		if kind != faultCutIn {
			what += fmt.Sprintf(" (%d connections refused)", f.refused.Load())
		}
		return fmt.Sprintf("%s for %v", what, hold.Round(time.Millisecond))

	case faultReplace:
		return f.replace(f.pick())
	}
	t.Fatalf("unknown fault %q", kind)
	return ""
}

// partition cuts m off as kind says and describes the cut. Members'
// processes are fixed while a partition holds (no restart until heal), so
// the rules may name them by process ID.
func (f *injector) partition(kind string, m *cairntest.ProcessMember) string {
	others := f.others(m)
	switch kind {
	case faultCutIn:
		m.Cut()
		return fmt.Sprintf("%s hears nobody", m.Name)
	case faultCutOut:
		for _, o := range others {
			f.refuseFrom(o, m)
		}
		return fmt.Sprintf("nobody hears %s", m.Name)
	case faultIsolate:
		m.Cut()
		for _, o := range others {
			f.refuseFrom(o, m)
		}
		return fmt.Sprintf("%s isolated", m.Name)
	default: // faultDropLink
		o := others[f.rng.IntN(len(others))]
		f.refuseFrom(o, m)
		return fmt.Sprintf("%s does not hear %s", o.Name, m.Name)
	}
}

// refuseFrom makes to's proxy refuse what from dials.
func (f *injector) refuseFrom(to, from *cairntest.ProcessMember) {
	pids := []int{from.Pid()}
	proxy := to.Proxy.Addr()
	to.Proxy.Refuse(func(remote net.Addr) bool {
		local, err := net.ResolveTCPAddr("tcp", proxy)
		if err != nil {
			return false
		}
		if slices.Contains(pids, socketOwner(remote, local, pids)) {
			f.refused.Add(1)
			return true
		}
		return false
	})
}

// heal undoes every partition.
func (f *injector) heal() {
	for _, m := range f.c.Members {
		m.Proxy.Refuse(nil)
		if m.Proxy.IsCut() {
			m.Heal()
		}
	}
}

// annotations returns the faults injected so far, for the visualisation.
func (f *injector) annotations() []porcupine.Annotation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// replace removes m from the cluster, through the leader, and adds a new
// member in its place, which starts empty and catches up; the clients and
// watchers of m move to it.
func (f *injector) replace(m *cairntest.ProcessMember) string {
	t := f.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader := f.c.Leader(30 * time.Second)
	if err := untilHealthy(ctx, func() error { _, err := leader.Client().MemberRemove(ctx, m.ID); return err }); err != nil {
		t.Fatalf("remove %s through %s: %v", m.Name, leader.Name, err)
	}
	f.c.Forget(m) // and kill it
	f.added++
	n := f.c.PrepareMember(fmt.Sprintf("m%d", 3+f.added))
	leader, err := f.c.WaitLeader(30*time.Second, f.c.Members...)
	if err != nil {
		t.Fatalf("after removing %s: %v", m.Name, err)
	}
	if err := untilHealthy(ctx, func() error { _, err := leader.Client().MemberAdd(ctx, []string{n.PeerURL}); return err }); err != nil {
		t.Fatalf("add %s through %s: %v", n.Name, leader.Name, err)
	}
	f.c.StartMember(n, "") // waits until it serves
	f.retarget(m, n)
	return fmt.Sprintf("remove %s, add %s", m.Name, n.Name)
}

// untilHealthy calls change until it is not refused as unhealthy, at a
// modest pace, until ctx ends. As etcd's, a leader refuses a membership
// change that would leave fewer than a quorum of members it has heard
// from lately: after a partition heals, for a few seconds.
func untilHealthy(ctx context.Context, change func() error) error {
	for {
		err := change()
		if err == nil || !strings.Contains(err.Error(), rpctypes.ErrUnhealthy.Error()) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (until %w)", err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

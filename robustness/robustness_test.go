package robustness

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn/cairntest"
)

func TestMain(m *testing.M) { cairntest.Main(m) }

var (
	flagDuration = flag.Duration("robustness.duration", 0,
		"how long faults are injected in each run; 0 is the short version (one mixed run, as make test runs it)")
	flagSeed   = flag.Uint64("robustness.seed", 0, "the seed of the first run (0: from the clock); a failure names its seed")
	flagFaults = flag.String("robustness.faults", "",
		"comma-separated faults, one run each and a mixed run (default: all of "+strings.Join(allFaults, ",")+")")
	flagClients = flag.Int("robustness.clients", 6, "concurrent clients, spread over the members")
	flagMixed   = flag.Bool("robustness.mixed-only", false, "with -robustness.duration: only the mixed run")
)

// shortDuration is the short version's time under faults: with the
// cluster's start and the checks, well under a minute with -race on 2
// cores.
const shortDuration = 12 * time.Second

// clusterArgs: etcd's default timing, so that a pause of a few seconds
// deposes a leader.
var clusterArgs = []string{"--heartbeat-interval=100", "--election-timeout=1000"}

// TestRobustness runs the workload against three member processes while
// the injector applies faults, then checks the history (see check). By
// default it runs one short mixed run; -robustness.duration runs each
// fault alone for that long, then all mixed (make robustness), in runs of
// at most maxRunDuration.
func TestRobustness(t *testing.T) {
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	faults := allFaults
	if *flagFaults != "" {
		faults = strings.Split(*flagFaults, ",")
	}
	if !canSplitByDialler {
		faults = slices.DeleteFunc(slices.Clone(faults), func(f string) bool { return slices.Contains(partitionFaults, f) })
	}
	if *flagDuration == 0 {
		t.Run("mixed", func(t *testing.T) { runRobustness(t, seed, shortDuration, faults) })
		return
	}
	runs := 0
	segments := func(name string, faults []string) {
		for left := *flagDuration; left > 0; left -= maxRunDuration {
			s := seed + uint64(runs)
			runs++
			t.Run(name, func(t *testing.T) { runRobustness(t, s, min(left, maxRunDuration), faults) })
		}
	}
	for _, f := range faults {
		if !*flagMixed {
			segments(f, []string{f})
		}
	}
	segments("mixed", faults)
}

// maxRunDuration bounds one run's time under faults: a longer duration is
// run as several runs, each on a new cluster with its own seed, because
// porcupine's search grows faster than the history (a run of a minute
// checks in seconds, one of two minutes may take many minutes).
const maxRunDuration = time.Minute

// runRobustness is one run: a new cluster, the clients, the watchers and
// the injector for d, then the checks.
func runRobustness(t *testing.T, seed uint64, d time.Duration, faults []string) {
	t.Logf("seed %d (repeat with -robustness.seed=%d -robustness.faults=%s), faults for %v", seed, seed, strings.Join(faults, ","), d)
	c := cairntest.StartProcessCluster(t, 3, clusterArgs...)
	h := newHistory()
	// The clients stop first; the watchers go on until they reach the
	// final revision.
	clientsCtx, stopClients := context.WithCancel(context.Background())
	watchCtx, stopWatchers := context.WithCancel(context.Background())
	var clients, watching sync.WaitGroup
	t.Cleanup(func() { stopClients(); stopWatchers(); clients.Wait(); watching.Wait() })

	// Each client and watcher talks to one member: its etcd client, by
	// member, to move them if the member is replaced.
	via := map[*cairntest.ProcessMember][]*clientv3.Client{}
	var ours []*client
	for i := range *flagClients {
		m := c.Members[i%len(c.Members)]
		cl := newClient(i, cairntest.NewRetryClient(t, m.Endpoint), seed, h)
		ours = append(ours, cl)
		clients.Go(func() { cl.run(clientsCtx) })
	}
	var watchers []*watcher
	// Two watchers per member: one the etcd client resumes when its
	// connection breaks, one (RequireLeader) the member cancels when it
	// loses its leader, which the watcher opens again.
	for i := range 2 * len(c.Members) {
		m := c.Members[i%len(c.Members)]
		cli := cairntest.NewRetryClient(t, m.Endpoint)
		via[m] = append(via[m], cli)
		requireLeader := i >= len(c.Members)
		w := newWatcher(fmt.Sprintf("%d via %s (require leader %v)", i, m.Name, requireLeader), cli, requireLeader)
		watchers = append(watchers, w)
		watching.Go(func() { w.run(watchCtx) })
	}
	home := map[*client]*cairntest.ProcessMember{}
	for i, cl := range ours {
		home[cl] = c.Members[i%len(c.Members)]
	}

	inj := newInjector(t, c, seed, h, faults)
	inj.retarget = func(old, new *cairntest.ProcessMember) {
		for _, cl := range ours {
			if home[cl] == old {
				home[cl] = new
				cl.retarget(new.Endpoint)
			}
		}
		for _, cli := range via[old] {
			cli.SetEndpoints(new.Endpoint)
		}
		via[new], via[old] = via[old], nil
	}
	inj.run(time.Now().Add(d))
	// Every member runs and agrees on a leader (the injector settled):
	// each client, through each member, must be answered again.
	for _, cl := range ours {
		if err := cl.waitAnswers(20, 30*time.Second); err != nil {
			t.Errorf("after the last fault, through %s: %v", home[cl].Name, err)
		}
	}
	stopClients()
	clients.Wait()

	o := finalOutcome(t, c, h, seed)
	for _, w := range watchers {
		if err := w.waitFor(o.FinalRev, 30*time.Second); err != nil {
			t.Log(err) // checkWatch reports it
		}
	}
	stopWatchers()
	watching.Wait()
	for _, w := range watchers {
		o.Streams = append(o.Streams, w.result())
	}
	o.Faults = inj.annotations()
	v := check(o, 5*time.Minute)
	total := len(o.Ops)
	unknown := 0
	for _, op := range o.Ops {
		if op.Output.(output).Unknown {
			unknown++
		}
	}
	resumes := 0
	for _, w := range o.Streams {
		resumes += w.Resumes
	}
	t.Logf("%d operations (%d unknown outcome; %d checked by porcupine in %v: %s), %d serializable reads, %d revisions, %d watch streams (%d resumes after a cancel), faults %v",
		total, unknown, v.Checked, v.CheckTime.Round(time.Millisecond), v.Linearizable, len(o.Serial), o.FinalRev, len(o.Streams), resumes, inj.counts)
	if len(v.Failures) > 0 {
		dir, err := v.write(t.Name(), o)
		for i, f := range v.Failures {
			if i == 20 {
				t.Errorf("... and %d more", len(v.Failures)-i)
				break
			}
			t.Error(f)
		}
		t.Fatalf("seed %d: visualisation and seed in %s (%v)", seed, dir, err)
	}
}

// finalOutcome reads the cluster's final revision and every member's event
// history, once the clients have stopped.
func finalOutcome(t *testing.T, c *cairntest.ProcessCluster, h *history, seed uint64) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leader := c.Leader(30 * time.Second)
	head, err := leader.Client().Get(ctx, keyPrefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatalf("final read on the leader %s: %v", leader.Name, err)
	}
	o := outcome{Seed: seed, FinalRev: head.Header.Revision}
	o.Ops, o.Serial = h.snapshot()
	o.End = h.now() + 1
	for i, m := range c.Members {
		events, err := eventHistory(ctx, m.Client(), o.FinalRev)
		if err != nil {
			t.Fatalf("event history of %s: %v", m.Name, err)
		}
		if i == 0 {
			o.Events = events
			continue
		}
		if d := firstDifference(o.Events, events); d != "" {
			o.Diverged = append(o.Diverged, fmt.Sprintf("%s's event history differs from %s's: %s", m.Name, c.Members[0].Name, d))
		}
	}
	return o
}

// firstDifference describes where two event histories first differ, or "".
func firstDifference(a, b []event) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("event %d is %s, and %s", i, a[i], b[i])
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf("%d events, and %d", len(a), len(b))
	}
	return ""
}

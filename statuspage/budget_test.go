package statuspage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
	"github.com/cairnkv/cairn/statuspage"
)

// Every item of the memory budget has a measured value in /status.json,
// on the leader and on a follower, within its budget at rest; and the
// items that can be held still are seen held: the latest-records cache
// after keys are written twice, the admitted (and request) bytes while
// puts wait on a leader that lost its quorum; the unary ranges are
// counted out once gRPC has encoded them.
func TestBudgetItemsMeasured(t *testing.T) {
	c := cairntest.StartCluster(t, 3, func(cfg *cairn.Config) {
		// The held puts wait for as long as the test looks.
		cfg.RequestTimeout = time.Minute
	})
	leader := c.Leader()
	var follower *cairntest.Node
	for _, m := range c.Members {
		if m != leader {
			follower = m
		}
	}
	base, fbase := serve(t, leader.MonitorHandler()), serve(t, follower.MonitorHandler())
	cli, ctx := leader.Client, cairntest.Ctx(t)

	// Keys written twice enter the latest-records cache (the second put
	// finds the first's record); the puts return once the leader applied
	// them.
	const keys = 50
	for range 2 {
		for i := range keys {
			if _, err := cli.Put(ctx, fmt.Sprintf("budget/%02d", i), "v"); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 20 {
		if resp, err := cli.Get(ctx, "budget/", clientv3.WithPrefix()); err != nil || len(resp.Kvs) != keys {
			t.Fatalf("range: %v, %v", resp, err)
		}
	}
	since := now()
	for _, b := range []string{base, fbase} {
		rep := reportAfter(t, b, since)
		role := rep.Raft.State
		for _, it := range rep.Memory.Items {
			if it.Used == nil {
				t.Errorf("%s %s: not measured (%q)", role, it.Key, it.Note)
				continue
			}
			if it.Note == "" {
				t.Errorf("%s %s: no note says what is counted", role, it.Key)
			}
			// Items per client are a bound per request or stream; at rest
			// no client has one.
			limit := it.Bytes
			if it.PerClient != "" && it.Key != "watch-stream" {
				limit = 0
			}
			if *it.Used < 0 || *it.Used > float64(limit) {
				t.Errorf("%s %s: uses %v, budget %d (%s)", role, it.Key, *it.Used, limit, it.Note)
			}
		}
	}
	lat := item(t, reportAfter(t, base, since), "latest-cache")
	if min := float64(keys * len("budget/00")); *lat.Used < min {
		t.Errorf("latest-cache after %d keys written twice: %v bytes, want at least %v", keys, *lat.Used, min)
	}

	// The followers stop: the leader's puts wait for a quorum (or, once it
	// steps down, for a leader) and stay admitted meanwhile.
	for _, m := range c.Members {
		if m != leader {
			m.Stop()
		}
	}
	value := strings.Repeat("v", 64<<10)
	pctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for pctx.Err() == nil {
			_, _ = cli.Put(pctx, "budget/held", value)
		}
	}()
	defer wg.Wait()
	defer cancel()
	rep := waitReport(t, base, "a put of 64 KiB admitted", func(rep *statuspage.Report) bool {
		u := item(t, rep, "admitted").Used
		return *u >= float64(len(value))
	})
	for _, key := range []string{"admitted", "request"} {
		it := item(t, rep, key)
		if *it.Used < float64(len(value)) || *it.Used > float64(item(t, rep, "admitted").Bytes) {
			t.Errorf("%s while a put of %d bytes is held: %v (budget of all admitted %d; %s)",
				key, len(value), *it.Used, item(t, rep, "admitted").Bytes, it.Note)
		}
	}
}

func now() float64 { return float64(time.Now().UnixNano()) / 1e9 }

// reportAfter returns the first report of base sampled after since.
func reportAfter(t *testing.T, base string, since float64) *statuspage.Report {
	t.Helper()
	return waitReport(t, base, "a sample", func(rep *statuspage.Report) bool { return rep.Time > since })
}

// waitReport polls base's /status.json (a new sample a second) until ok
// holds, for at most 30 s.
func waitReport(t *testing.T, base, what string, ok func(*statuspage.Report) bool) *statuspage.Report {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		var rep statuspage.Report
		if err := json.Unmarshal([]byte(get(t, base+"/status.json")), &rep); err != nil {
			t.Fatal(err)
		}
		if ok(&rep) {
			return &rep
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no report shows %s after 30s; the last: %+v", what, rep.Memory.Items)
		}
	}
}

// item returns the budget item key of rep, measured.
func item(t *testing.T, rep *statuspage.Report, key string) statuspage.BudgetItem {
	t.Helper()
	for _, it := range rep.Memory.Items {
		if it.Key == key {
			if it.Used == nil {
				t.Fatalf("%s not measured: %s", key, it.Note)
			}
			return it
		}
	}
	t.Fatalf("no budget item %s", key)
	return statuspage.BudgetItem{}
}

package lessor

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestExpiryTranscripts runs the transcripts in testdata/*.txt against the
// lessor's expiry state, with time given explicitly. Each file starts from
// an empty state.
//
// To regenerate the expected output after a change of behaviour:
//
//	go test ./actors/lessor -run TestExpiryTranscripts -rewrite
//
// then read the diff: only commit the diff if you understand it.
//
// Commands (durations are Go durations; now=0s is the clock's origin):
//
//	init [min-ttl=N] [extend=D] [interval=D] [retry=D] [rate=N]
//	                      new state with these parameters (defaults: min-ttl=1
//	                      extend=0s interval=0s (no checkpoints) retry=1s
//	                      rate=1000)
//	promote now=D         body: one lease per line, "ID TTL [REMAINING]"
//	grant now=D id=N ttl=N
//	revoked id=N
//	checkpointed id=N remaining=N
//	renew now=D id=N      prints the TTL granted (0: not live) and whether a
//	                      checkpoint clearing the remaining TTL is due
//	lookup now=D id=N     prints the remaining TTL and the TTL
//	expire now=D [limit=N]        prints the leases to revoke
//	checkpoints now=D [limit=N]   prints the checkpoints to propose
//	demote
//	state                 every lease by due time, and what is held
func TestExpiryTranscripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		x := newExpiry(params{minTTL: 1, retry: int64(time.Second), rate: 1000})
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return runExpiry(t, &x, d)
		})
	})
}

func runExpiry(t *testing.T, xp **expiry, d *datadriven.TestData) string {
	x := *xp
	switch d.Cmd {
	case "init":
		p := params{minTTL: 1, retry: int64(time.Second), rate: 1000}
		if d.HasArg("min-ttl") {
			d.ScanArgs(t, "min-ttl", &p.minTTL)
		}
		if d.HasArg("rate") {
			d.ScanArgs(t, "rate", &p.rate)
		}
		p.extend = durArg(t, d, "extend", p.extend)
		p.interval = durArg(t, d, "interval", p.interval)
		p.retry = durArg(t, d, "retry", p.retry)
		*xp = newExpiry(p)
		return ""
	case "promote":
		now := durArg(t, d, "now", 0)
		x.reset()
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			if line == "" {
				continue
			}
			f := strings.Fields(line)
			id, ttl, rem := atoi(t, f[0]), atoi(t, f[1]), int64(0)
			if len(f) > 2 {
				rem = atoi(t, f[2])
			}
			x.load(now, id, ttl, rem)
		}
		x.finishLoad(now)
		return dumpExpiry(x)
	case "grant":
		var id, ttl int64
		d.ScanArgs(t, "id", &id)
		d.ScanArgs(t, "ttl", &ttl)
		x.granted(durArg(t, d, "now", 0), id, ttl)
		return dumpExpiry(x)
	case "revoked":
		var id int64
		d.ScanArgs(t, "id", &id)
		x.revoked(id)
		return dumpExpiry(x)
	case "checkpointed":
		var id, rem int64
		d.ScanArgs(t, "id", &id)
		d.ScanArgs(t, "remaining", &rem)
		x.checkpointed(id, rem)
		return dumpExpiry(x)
	case "renew":
		var id int64
		d.ScanArgs(t, "id", &id)
		ttl, clearRecorded := x.renew(durArg(t, d, "now", 0), id)
		return fmt.Sprintf("ttl=%d clear-checkpoint=%t\n", ttl, clearRecorded)
	case "lookup":
		var id int64
		d.ScanArgs(t, "id", &id)
		left, ttl, ok := x.remaining(durArg(t, d, "now", 0), id)
		if !ok {
			return "not tracked\n"
		}
		return fmt.Sprintf("remaining=%d ttl=%d\n", left, ttl)
	case "expire":
		limit := 1 << 30
		if d.HasArg("limit") {
			d.ScanArgs(t, "limit", &limit)
		}
		ids := x.expire(durArg(t, d, "now", 0), limit)
		return fmt.Sprintf("revoke %v\n", ids)
	case "checkpoints":
		limit := 1 << 30
		if d.HasArg("limit") {
			d.ScanArgs(t, "limit", &limit)
		}
		var out strings.Builder
		out.WriteString("checkpoint")
		for _, c := range x.checkpoints(durArg(t, d, "now", 0), limit) {
			fmt.Fprintf(&out, " %d:%d", c.ID, c.Remaining_TTL)
		}
		out.WriteString("\n")
		return out.String()
	case "demote":
		x.reset()
		return dumpExpiry(x)
	case "state":
		return dumpExpiry(x)
	}
	t.Fatalf("unknown command %q", d.Cmd)
	return ""
}

func dumpExpiry(x *expiry) string {
	es := slices.Clone(x.heap)
	slices.SortFunc(es, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.due, b.due), cmp.Compare(a.id, b.id))
	})
	var out strings.Builder
	for _, e := range es {
		fmt.Fprintf(&out, "%d: due=%s ttl=%d", e.id, time.Duration(e.due), e.ttl)
		if e.ckpt != 0 {
			fmt.Fprintf(&out, " checkpoint=%s", time.Duration(e.ckpt))
		}
		if e.flags&recorded != 0 {
			out.WriteString(" recorded")
		}
		if e.flags&revoking != 0 {
			out.WriteString(" revoking")
		}
		out.WriteString("\n")
	}
	fmt.Fprintf(&out, "held: %d leases, %d queued checkpoints\n", x.leases(), x.held()-x.leases())
	checkHeap(x)
	return out.String()
}

// checkHeap panics if the heap order or the index is broken.
func checkHeap(x *expiry) {
	if len(x.index) != len(x.heap) {
		panic(fmt.Sprintf("index has %d leases, heap %d", len(x.index), len(x.heap)))
	}
	for i, e := range x.heap {
		if x.index[e.id] != int32(i) {
			panic(fmt.Sprintf("index of lease %d is %d, want %d", e.id, x.index[e.id], i))
		}
		if i > 0 && x.heap[(i-1)/2].due > e.due {
			panic(fmt.Sprintf("heap order broken at %d", i))
		}
	}
}

func durArg(t *testing.T, d *datadriven.TestData, key string, def int64) int64 {
	if !d.HasArg(key) {
		return def
	}
	var s string
	d.ScanArgs(t, key, &s)
	v, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return int64(v)
}

func atoi(t *testing.T, s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestExpiryHeapRandom checks the heap and its index under random
// operations against a plain map.
func TestExpiryHeapRandom(t *testing.T) {
	x := newExpiry(params{minTTL: 1, retry: int64(time.Second), rate: 1000, interval: int64(time.Second)})
	model := map[int64]bool{}
	now := int64(0)
	seed := uint64(1)
	next := func(n int) int64 {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int64((seed >> 33) % uint64(n))
	}
	for i := 0; i < 20000; i++ {
		now += next(3) * int64(time.Millisecond) * 100
		id := next(500) + 1
		switch next(5) {
		case 0:
			x.granted(now, id, next(20)+1)
			model[id] = true
		case 1:
			x.revoked(id)
			delete(model, id)
		case 2:
			x.renew(now, id)
		case 3:
			x.expire(now, int(next(5)))
		case 4:
			x.checkpoints(now, int(next(5)))
		}
		checkHeap(x)
		checkQueue(t, x)
		if len(model) != x.leases() {
			t.Fatalf("step %d: %d leases tracked, want %d", i, x.leases(), len(model))
		}
	}
	for id := range model {
		x.revoked(id)
	}
	if x.held() != 0 || cap(x.heap) != 0 {
		t.Fatalf("after revoking everything: held %d, heap capacity %d", x.held(), cap(x.heap))
	}
}

// checkQueue checks the count of stale checkpoint-queue items and the bound
// on the queue's length.
func checkQueue(t *testing.T, x *expiry) {
	t.Helper()
	valid, long := 0, 0
	for _, s := range x.ckpts[x.ckHead:] {
		if i, ok := x.index[s.id]; ok && x.heap[i].ckpt == s.due {
			valid++
		}
	}
	for _, e := range x.heap {
		if e.ckpt != 0 {
			long++
		}
	}
	pending := len(x.ckpts) - x.ckHead
	if pending-valid != x.stale || valid != long {
		t.Fatalf("checkpoint queue: %d items, %d valid, stale count %d; %d leases scheduled", pending, valid, x.stale, long)
	}
	if pending > 2*long {
		t.Fatalf("checkpoint queue holds %d items for %d scheduled leases", pending, long)
	}
}

// TestExpiryBytesPerLease measures the heap memory the expiry state takes
// per lease, the figure the package documentation states.
func TestExpiryBytesPerLease(t *testing.T) {
	const n = 200_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := newExpiry(params{minTTL: 1, retry: int64(time.Second), rate: 1 << 30})
	for i := int64(1); i <= n; i++ {
		x.load(0, i, 60, 0)
	}
	x.finishLoad(0)
	runtime.GC()
	runtime.ReadMemStats(&after)
	perLease := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("expiry state: %.1f bytes per lease (%d leases)", perLease, n)
	if perLease > 120 {
		t.Fatalf("expiry state takes %.1f bytes per lease, want at most 120", perLease)
	}
	runtime.KeepAlive(x)
}

package logcompactor

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage"
	"github.com/cairnkv/cairn/storage/raftlog"
)

// openLog returns a raft log holding entries 1..n of size bytes of data each.
func openLog(t *testing.T, n, size int) *raftlog.Log {
	t.Helper()
	e, err := storage.Open("/data", storage.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	l, err := raftlog.Open(e.Log, raftlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ents := make([]*raftpb.Entry, n)
	for i := range ents {
		ents[i] = &raftpb.Entry{Term: proto.Uint64(1), Index: proto.Uint64(uint64(i + 1)), Data: make([]byte, size)}
	}
	hs := &raftpb.HardState{Term: proto.Uint64(1), Commit: proto.Uint64(uint64(n))}
	if err := l.Append(hs, ents, true); err != nil {
		t.Fatal(err)
	}
	return l
}

// durableAt returns a Config.Durable that reports index as flushed.
func durableAt(index uint64) func() (uint64, *raftpb.ConfState, error) {
	return func() (uint64, *raftpb.ConfState, error) {
		return index, &raftpb.ConfState{Voters: []uint64{1, 2, 3}}, nil
	}
}

func TestCompactKeepsWhatMembersBehindNeed(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     *cairnpb.LogStatus
		retention  uint64
		cutJustNow bool   // the compactor cut members off less than an interval ago
		first      uint64 // the log's first index after compacting
	}{
		// The leader's word is all a member that does not lead keeps for:
		// without it, everything applied and flushed goes.
		{"follower, no word from a leader", &cairnpb.LogStatus{}, 1 << 20, false, 81},
		{"follower, all members caught up", &cairnpb.LogStatus{MinMatch: 100, MinMatchKnown: true}, 1 << 20, false, 81},
		{"follower, a member behind", &cairnpb.LogStatus{MinMatch: 50, MinMatchKnown: true}, 1 << 20, false, 51},
		{"leader, a member behind", &cairnpb.LogStatus{Leader: true, MinMatch: 30, MinMatchKnown: true}, 1 << 20, false, 31},
		// Never past the durable applied index, whatever members hold.
		{"leader, members past applied", &cairnpb.LogStatus{Leader: true, MinMatch: 95, MinMatchKnown: true}, 1 << 20, false, 81},
		// A member further behind than the budget gets a snapshot: keep
		// only the budget's worth (entries of 1 KiB and a few bytes).
		{"follower, a member far behind", &cairnpb.LogStatus{MinMatch: 10, MinMatchKnown: true}, 40 << 10, false, 62},
		// Cut at most once an interval: meanwhile only what every member
		// holds goes.
		{"follower, a member far behind, just cut", &cairnpb.LogStatus{MinMatch: 10, MinMatchKnown: true}, 40 << 10, true, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := openLog(t, 100, 1<<10)
			c := &compactor{cfg: Config{Log: l, Durable: durableAt(80), RetentionBytes: tc.retention, Interval: time.Hour}}
			if tc.cutJustNow {
				c.lastCut = time.Now()
			}
			if err := c.compact(nil, tc.status); err != nil {
				t.Fatal(err)
			}
			if first, _ := l.FirstIndex(); first != tc.first {
				t.Fatalf("first index after compacting = %d, want %d", first, tc.first)
			}
		})
	}
}

// statusProbe stands for the raft actor: it reports every LogStatusRequest
// and answers it with status.
type statusProbe struct {
	asked  chan struct{}
	status *cairnpb.LogStatus
}

func (p *statusProbe) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*cairnpb.LogStatusRequest); ok {
		p.asked <- struct{}{}
		ctx.Respond(proto.Clone(p.status))
	}
}

func TestAppliedEntriesStartAFlushBeforeTheTick(t *testing.T) {
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	probe := &statusProbe{asked: make(chan struct{}, 16), status: &cairnpb.LogStatus{Leader: true, MinMatch: 100, MinMatchKnown: true}}
	raftPID := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return probe }))
	// The apply actor only needs to take SubscribeApplied.
	applyPID := system.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))

	l := openLog(t, 100, 64<<10) // 6.4 MiB of entries, none flushed
	flushed := make(chan struct{}, 1)
	flush := func() (<-chan struct{}, error) {
		done := make(chan struct{})
		flushed <- struct{}{}
		return done, nil
	}
	props, err := Props(Config{
		Raft: raftPID, Apply: applyPID, Log: l, Durable: durableAt(0),
		Applied: func() uint64 { return 100 }, Flush: flush,
		FlushAfterBytes: 1 << 20,
		Interval:        time.Hour, // no tick in this test
	})
	if err != nil {
		t.Fatal(err)
	}
	pid := system.Root.Spawn(props)

	// Below half of FlushAfterBytes applied, the compactor does not look.
	system.Root.Send(pid, &cairnpb.Applied{Index: 7, Bytes: 448 << 10})
	// Past it, it asks raft, sees 6.4 MiB applied and not flushed, and
	// starts a flush.
	system.Root.Send(pid, &cairnpb.Applied{Index: 8, Bytes: 64 << 10})
	select {
	case <-flushed:
	case <-time.After(10 * time.Second):
		t.Fatal("no flush after half of FlushAfterBytes was applied")
	}
	if n := len(probe.asked); n != 1 {
		t.Fatalf("the compactor asked raft %d times, want once", n)
	}
}
